// Package outbox is the node's durable proof-of-play queue: every event is on
// disk before it is sent, and stays there until the controller acknowledges
// that it stored it. Sequence numbers only grow, across restarts.
package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Outbox is safe for concurrent use.
type Outbox struct {
	dir string
	mu  sync.Mutex
	seq uint64            // last sequence number handed out
	evs map[uint64][]byte // pending events by seq, as JSON
}

// MaxPending bounds the events kept on disk; past it the oldest are dropped
// (and counted) so that a node cut off for months cannot fill its disk.
const MaxPending = 100000

// Open loads the outbox in dir, creating it if needed.
func Open(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{dir: dir, evs: map[uint64][]byte{}}
	if b, err := os.ReadFile(filepath.Join(dir, "seq")); err == nil {
		o.seq, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			if strings.HasSuffix(e.Name(), ".tmp") {
				os.Remove(filepath.Join(dir, e.Name())) // torn write from a crash
			}
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		var ev nodeproto.Event
		if err != nil || json.Unmarshal(b, &ev) != nil || ev.Seq != seq {
			os.Remove(filepath.Join(dir, e.Name())) // unreadable: cannot be sent anyway
			continue
		}
		o.evs[seq] = b
		o.seq = max(o.seq, seq)
	}
	return o, nil
}

// Append assigns the next sequence number to ev, writes it durably and
// returns it with Seq set.
func (o *Outbox) Append(ev nodeproto.Event) (nodeproto.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ev.Seq = o.seq + 1
	// The counter goes to disk first: a crash between the two writes leaves a
	// gap in the numbers, never a number used twice.
	if err := writeFileSync(filepath.Join(o.dir, "seq"), []byte(strconv.FormatUint(ev.Seq, 10))); err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	o.seq = ev.Seq
	b, _ := json.Marshal(ev)
	if err := writeFileSync(o.path(ev.Seq), b); err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	o.evs[ev.Seq] = b
	if len(o.evs) > MaxPending {
		oldest := slices.Min(slices.Collect(maps.Keys(o.evs)))
		o.remove(oldest)
	}
	return ev, nil
}

// Pending returns up to n unacknowledged events, oldest first.
func (o *Outbox) Pending(n int) []nodeproto.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	seqs := slices.Sorted(maps.Keys(o.evs))
	if len(seqs) > n {
		seqs = seqs[:n]
	}
	out := make([]nodeproto.Event, 0, len(seqs))
	for _, s := range seqs {
		var ev nodeproto.Event
		json.Unmarshal(o.evs[s], &ev)
		out = append(out, ev)
	}
	return out
}

// Len is the number of unacknowledged events.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.evs)
}

// Ack drops acknowledged events. Unknown seqs are ignored (a duplicate ack).
func (o *Outbox) Ack(seqs []uint64) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range seqs {
		if _, ok := o.evs[s]; ok {
			o.remove(s)
			n++
		}
	}
	return n
}

func (o *Outbox) remove(seq uint64) {
	delete(o.evs, seq)
	if err := os.Remove(o.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = err // left on disk: it is re-sent after a restart and deduplicated by the controller
	}
}

func (o *Outbox) path(seq uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%020d.json", seq))
}

// writeFileSync writes via a temporary file, fsyncs and renames, so a crash
// leaves either the old or the new content.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
