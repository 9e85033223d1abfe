// Package fetch is the node's transfer state machine for media files: it
// asks the controller for missing chunks a window at a time, re-asks those
// left unanswered, waits while the controller pushes a file to a zone or
// after it refused one, and stores what arrives in the cache (PROTOCOL.md
// §6). It knows nothing of plays: it tells its caller when a file is
// complete or given up, and the caller plays or fails what waited for it.
package fetch

import (
	"errors"
	"log/slog"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/cache"
)

const (
	// Window is how many chunk requests are outstanding per file.
	Window = 8
	// Timeout is how long an unanswered chunk request waits before it is
	// asked again.
	Timeout = 10 * time.Second
	// RefusedWait is how long the node waits after the controller refused
	// a file (PROTOCOL.md §6): just after a controller restart its desired
	// state may not be republished yet.
	RefusedWait = 15 * time.Second
	// PushWait holds a zone play's file back from the node's own fetch:
	// this long after the zone play arrived, and after each pushed chunk.
	PushWait = 2 * time.Second
	// MaxHashFailures is how many times a whole file may fail its hash
	// before the node gives it up.
	MaxHashFailures = 3
)

// Config is what a Fetcher needs from the node.
type Config struct {
	Cache *cache.Cache
	// Send publishes one fetch request; an error means the link is down
	// and the round stops.
	Send func(nodeproto.Fetch) error
	// Connected says whether requests can be sent at all.
	Connected func() bool
	Logger    *slog.Logger
}

// Result says what a stored chunk did to its file.
type Result struct {
	Media string
	Size  int64
	// Complete: the file is whole and verified in the cache.
	Complete bool
	// GaveUp: the file failed its hash MaxHashFailures times and is dropped.
	GaveUp bool
	// StoreFailed: the cache could not store the chunk (disk full, say).
	StoreFailed bool
}

type transfer struct {
	size     int64
	inflight map[int]time.Time
	failures int       // whole-file hash mismatches
	refused  time.Time // the controller refused the file: ask again only after RefusedWait
	// pushUntil holds the node's own fetch back while the controller pushes
	// the file to a zone (PROTOCOL.md §6, zone push).
	pushUntil time.Time
}

// Fetcher holds the files being fetched. It is not safe for concurrent use:
// the node's one event loop drives it.
type Fetcher struct {
	cfg       Config
	transfers map[string]*transfer
}

// New returns a Fetcher with nothing in transfer.
func New(cfg Config) *Fetcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Connected == nil {
		cfg.Connected = func() bool { return true }
	}
	return &Fetcher{cfg: cfg, transfers: map[string]*transfer{}}
}

// Want starts fetching media if it is neither cached nor being fetched. Its
// error is the cache's (cache.ErrDiskFull, a bad reference).
func (f *Fetcher) Want(media string, size int64, now time.Time) error {
	if f.cfg.Cache.Has(media) {
		return nil
	}
	if _, ok := f.transfers[media]; ok {
		return nil
	}
	if _, err := f.cfg.Cache.Missing(media, size); err != nil {
		return err
	}
	f.transfers[media] = &transfer{size: size, inflight: map[int]time.Time{}}
	f.Pump(now)
	return nil
}

// AwaitPush holds back the node's own fetch of a zone play's file: the
// controller pushes it to the zone right after the command (PROTOCOL.md
// §6), and 10,000 nodes fetching it at once would race that one push.
func (f *Fetcher) AwaitPush(media string, size int64, now time.Time) {
	if f.cfg.Cache.Has(media) {
		return
	}
	t, ok := f.transfers[media]
	if !ok {
		if _, err := f.cfg.Cache.Missing(media, size); err != nil {
			return // the play reports it
		}
		t = &transfer{size: size, inflight: map[int]time.Time{}}
		f.transfers[media] = t
	}
	t.pushUntil = now.Add(PushWait)
}

// Pump keeps up to Window chunk requests outstanding per file, re-asking
// those unanswered for Timeout.
func (f *Fetcher) Pump(now time.Time) {
	if !f.cfg.Connected() {
		return
	}
	for media, t := range f.transfers {
		if now.Sub(t.refused) < RefusedWait || now.Before(t.pushUntil) {
			continue
		}
		missing, err := f.cfg.Cache.Missing(media, t.size)
		if err != nil {
			f.cfg.Logger.Warn("fetch", "media", media, "err", err)
			continue
		}
		ask := t.toAsk(missing, now)
		if len(ask) == 0 {
			continue
		}
		if err := f.cfg.Send(nodeproto.Fetch{Media: media, Chunks: ask}); err != nil {
			return
		}
		for _, i := range ask {
			t.inflight[i] = now
		}
	}
}

// toAsk is the missing chunks to request now: those never asked or asked
// longer than Timeout ago, up to the window.
func (t *transfer) toAsk(missing []int, now time.Time) []int {
	waiting := func(i int) bool {
		at, ok := t.inflight[i]
		return ok && now.Sub(at) < Timeout
	}
	outstanding := 0
	for _, i := range missing {
		if waiting(i) {
			outstanding++
		}
	}
	var ask []int
	for _, i := range missing {
		if outstanding+len(ask) >= Window {
			break
		}
		if !waiting(i) {
			ask = append(ask, i)
		}
	}
	return ask
}

// Chunk handles a message on the node's own chunk topic: a chunk it asked
// for, or the controller's refusal of a file. ok is false when nothing was
// stored (a refusal, a bad or unasked-for chunk).
func (f *Fetcher) Chunk(payload []byte, now time.Time) (r Result, ok bool) {
	if ref, isRefusal := nodeproto.UnmarshalChunkRefusal(payload); isRefusal {
		if t, ok := f.transfers[ref.Media]; ok {
			f.cfg.Logger.Warn("the controller refused a file; asking again later", "media", ref.Media, "code", ref.Code.String(), "wait", RefusedWait)
			t.refused = now
			clear(t.inflight)
		}
		return Result{}, false
	}
	ch, err := nodeproto.UnmarshalChunk(payload)
	if err != nil {
		f.cfg.Logger.Warn("chunk dropped", "err", err)
		if media, i, ok := nodeproto.PeekChunk(payload); ok {
			if t, ok := f.transfers[media]; ok {
				delete(t.inflight, i) // ask again now, not after the timeout
				f.Pump(now)
			}
		}
		return Result{}, false
	}
	t, ok := f.transfers[ch.Media]
	if !ok {
		return Result{}, false // not asked for (a duplicate after completion)
	}
	return f.store(t, ch, now), true
}

// Pushed handles a chunk pushed to one of the node's zones: stored if the
// node is fetching its file, dropped unstored otherwise, as it would only
// take cache room (PROTOCOL.md §6). A bad one is dropped: if it stays
// missing, the node fetches it once the push is over.
func (f *Fetcher) Pushed(zone string, payload []byte, now time.Time) (r Result, ok bool) {
	ch, err := nodeproto.UnmarshalChunk(payload)
	if err != nil {
		f.cfg.Logger.Warn("pushed chunk dropped", "zone", zone, "err", err)
		return Result{}, false
	}
	t, ok := f.transfers[ch.Media]
	if !ok {
		return Result{}, false // not wanted, or already held
	}
	t.pushUntil = now.Add(PushWait)
	return f.store(t, ch, now), true
}

// store stores a verified chunk of a file being fetched, fetched or pushed
// alike.
func (f *Fetcher) store(t *transfer, ch nodeproto.Chunk, now time.Time) Result {
	r := Result{Media: ch.Media, Size: ch.Size}
	delete(t.inflight, ch.Index)
	if ch.Size != t.size {
		f.cfg.Logger.Warn("chunk dropped: size differs from the command's", "media", ch.Media, "size", ch.Size, "want", t.size)
		return r // asked again on the next round
	}
	defer f.Pump(now)
	done, err := f.cfg.Cache.Put(ch)
	switch {
	case errors.Is(err, cache.ErrHashMismatch):
		t.inflight = map[int]time.Time{}
		t.failures++
		if t.failures < MaxHashFailures {
			f.cfg.Logger.Error("assembled media does not match its hash; fetching again", "media", ch.Media, "attempt", t.failures)
			return r
		}
		f.cfg.Logger.Error("media keeps failing its hash check; giving up", "media", ch.Media)
		delete(f.transfers, ch.Media)
		f.cfg.Cache.Abandon(ch.Media)
		r.GaveUp = true
	case err != nil:
		f.cfg.Logger.Error("storing chunk", "media", ch.Media, "err", err)
		r.StoreFailed = true
	case done:
		delete(f.transfers, ch.Media)
		f.cfg.Logger.Info("media complete", "media", ch.Media, "bytes", ch.Size)
		r.Complete = true
	}
	return r
}

// Retain stops the transfers of files need does not name (a stopped or
// failed play, a slot removed from the schedule) and drops their partial
// files, which would only take room.
func (f *Fetcher) Retain(need map[string]bool) {
	for m := range f.transfers {
		if !need[m] {
			delete(f.transfers, m)
			f.cfg.Cache.Abandon(m)
		}
	}
}

// Media lists the files in transfer, for the cache's keep list.
func (f *Fetcher) Media() []string {
	m := make([]string, 0, len(f.transfers))
	for k := range f.transfers {
		m = append(m, k)
	}
	return m
}

// Fetching reports whether media is in transfer.
func (f *Fetcher) Fetching(media string) bool {
	_, ok := f.transfers[media]
	return ok
}
