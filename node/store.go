package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/atomicfile"
)

// persisted is what the node must remember across restarts to refuse
// replays and to keep playing its schedule with no link.
type persisted struct {
	Desired *nodeproto.Desired `json:"desired,omitempty"`
	Keys    []nodeproto.Key    `json:"keys,omitempty"` // rotated keys; empty = the config's
	Seen    map[string]int64   `json:"seen"`           // command id -> expires (unix ms)
	Slots   map[string]int64   `json:"slots"`          // schedule slot ids handled -> play_at
}

// Files of the node's state. The state holds the rotated controller keys,
// the applied desired revision and the command ids seen: losing it would
// send the node back to its enrolment keys (after a rotation it could then
// verify nothing) and reopen replays. So a second copy is kept beside
// it, and a state that cannot be read is loud, never silently reset.
const (
	stateFile   = "node-state.json"
	backupFile  = "node-state.json.bak"     // a second copy, written after the state file
	corruptFile = "node-state.json.corrupt" // an unreadable state, kept for whoever investigates
)

// stateStore saves persisted atomically, twice.
type stateStore struct {
	dir string
}

// load reads the state, falling back to its backup copy when the state
// file is unreadable. problem is "" when the state file was read as it is;
// otherwise it says what was wrong and what was recovered, for the node's
// State and logs.
func (s *stateStore) load(log *slog.Logger) (p persisted, problem string) {
	main := filepath.Join(s.dir, stateFile)
	err := readState(main, &p)
	if err == nil {
		return p.init(), ""
	}
	if errors.Is(err, os.ErrNotExist) {
		if _, berr := os.Stat(filepath.Join(s.dir, backupFile)); errors.Is(berr, os.ErrNotExist) {
			return p.init(), "" // a new node
		}
	} else if rerr := os.Rename(main, filepath.Join(s.dir, corruptFile)); rerr != nil {
		log.Error("keeping the unreadable node state aside", "err", rerr)
	}
	p = persisted{}
	berr := readState(filepath.Join(s.dir, backupFile), &p)
	if berr != nil {
		problem = fmt.Sprintf("node state unreadable (%v) and its backup too (%v): back to the enrolment keys, seen commands forgotten", err, berr)
		log.Error("node state lost", "err", err, "backup_err", berr)
		return persisted{}.init(), problem
	}
	problem = fmt.Sprintf("node state unreadable (%v): recovered its backup copy (desired rev %d, %d keys)", err, p.rev(), len(p.Keys))
	log.Error("node state unreadable: recovered its backup copy", "err", err, "desired_rev", p.rev(), "keys", len(p.Keys))
	p = p.init()
	if serr := s.save(&p); serr != nil { // a good state file again, before anything else changes
		log.Error("saving recovered node state", "err", serr)
	}
	return p, problem
}

func readState(path string, p *persisted) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, p); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// save writes p to the state file, then the same to the backup, each
// atomically: a crash at any point leaves at least one good copy, and a
// state file damaged later still has a twin with the latest command ids.
func (s *stateStore) save(p *persisted) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("node state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.dir, stateFile), b, 0o600); err != nil {
		return fmt.Errorf("node state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.dir, backupFile), b, 0o600); err != nil {
		return fmt.Errorf("node state backup: %w", err)
	}
	return nil
}

func (p persisted) init() persisted {
	if p.Seen == nil {
		p.Seen = map[string]int64{}
	}
	if p.Slots == nil {
		p.Slots = map[string]int64{}
	}
	return p
}

func (p *persisted) rev() int64 {
	if p.Desired == nil {
		return 0
	}
	return p.Desired.Rev
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

// nowPlaying is written when an item starts and removed when it ends; one
// left behind at start-up means the node died mid-play.
type nowPlaying struct {
	ID       string `json:"id"`
	Media    string `json:"media"`
	Priority string `json:"priority"`
	PlayAt   int64  `json:"play_at"`
	Since    int64  `json:"since"`
}
