// Package outbox is the node's durable proof-of-play queue: every event is on
// disk before it is sent, and stays there until the controller acknowledges
// that it stored it.
//
// A record is named (epoch, seq). Seq only grows within an epoch, across
// restarts; the epoch is a random id chosen when the outbox is created and
// again whenever the outbox cannot trust its counter (missing, unreadable,
// behind its records). Without it a lost counter would restart at 1 and the
// controller, which stores each name once, would take the new records for
// ones it already holds and acknowledge them away.
package outbox

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/communeradio/radio/internal/atomicfile"
)

// Outbox is safe for concurrent use.
type Outbox struct {
	dir      string
	mu       sync.Mutex
	epoch    string         // current epoch
	seq      uint64         // last sequence number handed out in it
	evs      map[key][]byte // pending events, as JSON
	problems []string       // what Open found wrong
}

// key names one record.
type key struct {
	epoch string
	seq   uint64
}

// MaxPending bounds the events kept on disk; past it the oldest are dropped
// (and counted) so that a node cut off for months cannot fill its disk.
const MaxPending = 100000

// Files of the outbox directory besides the records.
const (
	epochFile  = "epoch"
	seqFile    = "seq"
	corruptDir = "corrupt" // unreadable records, kept for whoever investigates
)

// Open loads the outbox in dir, creating it if needed. What it finds wrong
// (an unreadable counter or record) does not stop it: it starts a new epoch
// where numbers could repeat, keeps unreadable records aside, and says so in
// Problem. Only an outbox it cannot write is an error.
func Open(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{dir: dir, evs: map[key][]byte{}}
	if err := o.loadRecords(); err != nil {
		return nil, err
	}
	fresh := len(o.evs) == 0 && !exists(filepath.Join(dir, seqFile))
	epoch, eerr := readEpoch(filepath.Join(dir, epochFile))
	seq, serr := readSeq(filepath.Join(dir, seqFile))
	switch {
	case errors.Is(eerr, os.ErrNotExist) && fresh:
		// A new outbox.
	case errors.Is(eerr, os.ErrNotExist):
		// An outbox from before epochs: its records keep epoch "", the new
		// ones start an epoch.
	case eerr != nil:
		o.problems = append(o.problems, fmt.Sprintf("outbox epoch unreadable (%v): started a new epoch", eerr))
	case serr != nil:
		o.problems = append(o.problems, fmt.Sprintf("outbox counter of epoch %s unreadable (%v): started a new epoch", epoch, serr))
	case seq < o.maxSeq(epoch):
		o.problems = append(o.problems, fmt.Sprintf("outbox counter of epoch %s at %d is behind its records (%d): started a new epoch", epoch, seq, o.maxSeq(epoch)))
	default:
		o.epoch, o.seq = epoch, seq
		return o, nil
	}
	if err := o.newEpoch(); err != nil {
		return nil, err
	}
	return o, nil
}

// loadRecords reads the pending records, setting aside those it cannot read.
func (o *Outbox) loadRecords() error {
	ents, err := os.ReadDir(o.dir)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	var bad []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), atomicfile.TempSuffix) {
			os.Remove(filepath.Join(o.dir, e.Name())) // torn write from a crash
			continue
		}
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		k, b, err := readRecord(filepath.Join(o.dir, e.Name()), name)
		if err != nil {
			bad = append(bad, e.Name())
			if merr := o.setAside(e.Name()); merr != nil {
				return merr
			}
			continue
		}
		o.evs[k] = b
	}
	if len(bad) > 0 {
		o.problems = append(o.problems, fmt.Sprintf("%d unreadable outbox records kept in %s (%s)", len(bad), filepath.Join(o.dir, corruptDir), strings.Join(bad[:min(len(bad), 3)], ", ")))
	}
	return nil
}

// readRecord reads one record file: <epoch>-<seq>.json, or <seq>.json from
// before epochs. Its content must agree with its name.
func readRecord(path, name string) (key, []byte, error) {
	var k key
	seqPart := name
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		k.epoch, seqPart = name[:i], name[i+1:]
	}
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if err != nil {
		return k, nil, fmt.Errorf("name %q", name)
	}
	k.seq = seq
	b, err := os.ReadFile(path)
	if err != nil {
		return k, nil, err
	}
	var ev nodeproto.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return k, nil, err
	}
	if ev.Seq != k.seq || ev.Epoch != k.epoch {
		return k, nil, fmt.Errorf("%s holds epoch %q seq %d", name, ev.Epoch, ev.Seq)
	}
	return k, b, nil
}

func (o *Outbox) setAside(name string) error {
	d := filepath.Join(o.dir, corruptDir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.Rename(filepath.Join(o.dir, name), filepath.Join(d, name)); err != nil {
		return fmt.Errorf("outbox: setting aside %s: %w", name, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func readEpoch(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	e := strings.TrimSpace(string(b))
	if e == "" || !nodeproto.ValidEpoch(e) {
		return "", fmt.Errorf("epoch file holds %q", truncate(string(b), 40))
	}
	return e, nil
}

func readSeq(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("seq file holds %q", truncate(string(b), 40))
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// newEpoch starts a new epoch at seq 0. The epoch goes to disk before the
// counter: a crash between the two leaves the new epoch with the old, higher
// counter (unused numbers), never the old epoch with a counter set back.
func (o *Outbox) newEpoch() error {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("outbox: new epoch: %w", err)
	}
	epoch := hex.EncodeToString(b)
	if err := atomicfile.Write(filepath.Join(o.dir, epochFile), []byte(epoch+"\n"), 0o644); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(o.dir, seqFile), []byte("0\n"), 0o644); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.epoch, o.seq = epoch, 0
	return nil
}

func (o *Outbox) maxSeq(epoch string) uint64 {
	var m uint64
	for k := range o.evs {
		if k.epoch == epoch {
			m = max(m, k.seq)
		}
	}
	return m
}

// Epoch is the current epoch: what new events carry.
func (o *Outbox) Epoch() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}

// Problem says what Open found wrong with the outbox on disk ("" if nothing).
func (o *Outbox) Problem() string {
	return strings.Join(o.problems, "; ")
}

// Append assigns the current epoch and the next sequence number to ev,
// writes it durably and returns it with Epoch and Seq set.
func (o *Outbox) Append(ev nodeproto.Event) (nodeproto.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ev.Epoch, ev.Seq = o.epoch, o.seq+1
	// The counter goes to disk first: a crash between the two writes leaves a
	// gap in the numbers, never a number used twice.
	if err := atomicfile.Write(filepath.Join(o.dir, seqFile), []byte(strconv.FormatUint(ev.Seq, 10)+"\n"), 0o644); err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	o.seq = ev.Seq
	b, err := json.Marshal(ev)
	if err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	k := key{ev.Epoch, ev.Seq}
	if err := atomicfile.Write(o.path(k), b, 0o644); err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	o.evs[k] = b
	if len(o.evs) > MaxPending {
		o.remove(slices.MinFunc(slices.Collect(maps.Keys(o.evs)), o.order))
	}
	return ev, nil
}

// order sorts records oldest first: those of earlier epochs, then the
// current epoch's by number.
func (o *Outbox) order(a, b key) int {
	if (a.epoch == o.epoch) != (b.epoch == o.epoch) {
		if a.epoch == o.epoch {
			return 1
		}
		return -1
	}
	return cmp.Or(strings.Compare(a.epoch, b.epoch), cmp.Compare(a.seq, b.seq))
}

// Pending returns up to n unacknowledged events, oldest first.
func (o *Outbox) Pending(n int) []nodeproto.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(o.evs), o.order)
	if len(keys) > n {
		keys = keys[:n]
	}
	out := make([]nodeproto.Event, 0, len(keys))
	for _, k := range keys {
		var ev nodeproto.Event
		json.Unmarshal(o.evs[k], &ev)
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

// Ack drops the acknowledged events: those of the ack's epoch (of any epoch
// for an ack from a controller that predates epochs). Unknown ones are
// ignored (a duplicate ack). It returns how many were dropped.
func (o *Outbox) Ack(a nodeproto.Ack) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	epochs := []string{}
	if a.Epoch != nil {
		epochs = append(epochs, *a.Epoch)
	} else {
		for k := range o.evs {
			if !slices.Contains(epochs, k.epoch) {
				epochs = append(epochs, k.epoch)
			}
		}
	}
	n := 0
	for _, s := range a.Seqs {
		for _, e := range epochs {
			if _, ok := o.evs[key{e, s}]; ok {
				o.remove(key{e, s})
				n++
			}
		}
	}
	return n
}

func (o *Outbox) remove(k key) {
	delete(o.evs, k)
	if err := os.Remove(o.path(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = err // left on disk: it is re-sent after a restart and deduplicated by the controller
	}
}

func (o *Outbox) path(k key) string {
	if k.epoch == "" {
		return filepath.Join(o.dir, fmt.Sprintf("%020d.json", k.seq))
	}
	return filepath.Join(o.dir, fmt.Sprintf("%s-%020d.json", k.epoch, k.seq))
}
