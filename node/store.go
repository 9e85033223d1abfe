package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// persisted is what the node must remember across restarts to refuse
// replays and to keep playing its schedule with no link.
type persisted struct {
	Desired *nodeproto.Desired `json:"desired,omitempty"`
	Keys    []nodeproto.Key    `json:"keys,omitempty"` // rotated keys; empty = the config's
	Seen    map[string]int64   `json:"seen"`           // command id -> expires (unix ms)
	Slots   map[string]int64   `json:"slots"`          // schedule slot ids handled -> play_at
}

func loadPersisted(dir string) persisted {
	p := persisted{Seen: map[string]int64{}, Slots: map[string]int64{}}
	b, err := os.ReadFile(filepath.Join(dir, "node-state.json"))
	if err == nil {
		json.Unmarshal(b, &p)
	}
	if p.Seen == nil {
		p.Seen = map[string]int64{}
	}
	if p.Slots == nil {
		p.Slots = map[string]int64{}
	}
	return p
}

// prune forgets command ids past their expiry and slots long gone.
func (p *persisted) prune(now time.Time) {
	ms := now.UnixMilli()
	for id, exp := range p.Seen {
		if exp < ms {
			delete(p.Seen, id)
		}
	}
	for id, at := range p.Slots {
		if at < ms-8*24*3600*1000 {
			delete(p.Slots, id)
		}
	}
}

func (p *persisted) save(dir string) error {
	b, _ := json.Marshal(p)
	return writeAtomic(filepath.Join(dir, "node-state.json"), b)
}

// nowPlaying is written when an item starts and removed when it ends; one
// left behind at start-up means the node died mid-play.
type nowPlaying struct {
	ID       string `json:"id"`
	Media    string `json:"media"`
	Priority string `json:"priority"`
	PlayAt   int64  `json:"play_at"`
	Since    int64  `json:"since"`
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
