package programme

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
	"github.com/communeradio/radio/controller/internal/tts"
	"github.com/communeradio/radio/internal/atomicfile"
)

var zoneVN = schedule.Zone

// Store keeps the programme files (one per station, *.radio) in a
// directory, checks them against the registry and hands them to the
// scheduler. Its methods are safe for concurrent use: each programme has
// its own lock, so a save in one commune never waits for another's.
type Store struct {
	Dir       string
	Media     *media.Store
	Registry  *registry.DB
	Scheduler *scheduler.Scheduler
	// TTS renders typed notices (source tts) into media; nil: they are
	// refused with a clear error.
	TTS    *tts.Service
	Logger *slog.Logger
	// Now is the controller's clock (nil: time.Now).
	Now func() time.Time

	locks sync.Map // programme name -> *sync.Mutex, held across a read-change-write
	// saving is read-held by every save (saves of different files still
	// run at once) and write-held by Exclusive: a media delete checks no
	// programme names the recording and deletes it with no save between.
	saving sync.RWMutex

	mu    sync.Mutex
	cache map[string]*snapshot // by programme name: the last file read or saved, parsed once

	ingested sync.Map // identity of a `source file` recording -> its media sha256

	recorded map[string]map[[2]string]string // programme -> (station, occurrence) -> what was last recorded of it (under mu)
}

// snapshot is a programme as last read or saved: its text, its parse
// (prepared: recordings of file and tts sources filled in), and the
// fingerprint of each bulletin, so that a save compares bulletins without
// parsing the old text again.
type snapshot struct {
	src []byte
	*parsed
	history []saved // the last versions saved, oldest first
}

// parsed is a programme's parse with each bulletin's fingerprint
// (Bulletin.Version) and place, each worked out once.
type parsed struct {
	sc     *schedule.Schedule // nil when the text does not parse
	prints map[string]string  // bulletin id -> Bulletin.Version
	byID   map[string]*schedule.Item
}

func index(sc *schedule.Schedule) *parsed {
	p := &parsed{sc: sc, prints: make(map[string]string, len(sc.Items)), byID: make(map[string]*schedule.Item, len(sc.Items))}
	for i := range sc.Items {
		it := &sc.Items[i]
		p.prints[it.ID], p.byID[it.ID] = FromItem(it).Version, it
	}
	return p
}

// item is bulletin id of the parse, nil if none.
func (p *parsed) item(id string) *schedule.Item {
	if p == nil {
		return nil
	}
	return p.byID[id]
}

// same reports whether it means what bulletin it.ID of p means.
func (p *parsed) same(it *schedule.Item, print string) bool {
	return p != nil && p.byID[it.ID] != nil && p.prints[it.ID] == print
}

// saved is one version of a programme, for telling a stale edit what
// changed since.
type saved struct {
	version string
	prints  map[string]string // bulletin id -> fingerprint (content, approval, pending change)
	titles  map[string]string
	by      string
	at      time.Time
}

const keepVersions = 64

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// CheckName says what is wrong with a programme's name ("" if nothing).
func CheckName(name string) string {
	if !nameRE.MatchString(name) {
		return fmt.Sprintf("schedule name %q: use a-z, 0-9, - _ . (e.g. the commune's id)", name)
	}
	return ""
}

// Path is where programme name is kept.
func (s *Store) Path(name string) string { return filepath.Join(s.Dir, name+schedule.Ext) }

func (s *Store) lock(name string) func() {
	s.saving.RLock()
	m, _ := s.locks.LoadOrStore(name, new(sync.Mutex))
	m.(*sync.Mutex).Lock()
	return func() {
		m.(*sync.Mutex).Unlock()
		s.saving.RUnlock()
	}
}

// Exclusive waits until no programme is being saved and holds every save
// off until the returned function is called.
func (s *Store) Exclusive() (unlock func()) {
	s.saving.Lock()
	return s.saving.Unlock
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// File is a programme file as it is now.
type File struct {
	Name, Path string
	Station    string // its station line; for a file not made yet, ""
	Src        []byte
	Exists     bool
	// Version names the programme as it is now (its text and the changes
	// waiting for approval): an edit says which version it changes.
	Version string
}

// file is a programme read under its lock.
type file struct {
	File
	snap    *snapshot
	reviews reviews
}

// Read reads a programme (it may not exist yet).
func (s *Store) Read(name string) (File, error) {
	if msg := CheckName(name); msg != "" {
		return File{}, errs("%s", msg)
	}
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	return f.File, err
}

// read reads a programme's file and review state; the parse of a text
// already seen is reused.
func (s *Store) read(name string) (*file, error) {
	f := &file{File: File{Name: name, Path: s.Path(name)}}
	src, err := os.ReadFile(f.Path)
	switch {
	case err == nil:
		f.Exists, f.Src, f.Station = true, src, StationOf(src)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("programme: %w", err)
	}
	if f.reviews, err = readReviews(f.Path); err != nil {
		return nil, err
	}
	s.mu.Lock()
	snap := s.cache[name]
	s.mu.Unlock()
	if snap == nil || !bytes.Equal(snap.src, src) {
		// Changed behind the controller's back, or never read: parse it.
		snap = &snapshot{src: src, parsed: &parsed{}}
		if f.Exists {
			if sc, err := schedule.Parse(f.Path, src); err == nil {
				snap.parsed = index(sc)
			}
		}
		if old := s.snapshot(name); old != nil {
			snap.history = old.history
		}
		s.setSnapshot(name, snap)
	}
	f.snap = snap
	f.Version = version(src, f.reviews)
	return f, nil
}

func (s *Store) snapshot(name string) *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache[name]
}

func (s *Store) setSnapshot(name string, snap *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		s.cache = map[string]*snapshot{}
	}
	s.cache[name] = snap
}

// version names a programme's text and pending changes.
func version(src []byte, rv reviews) string {
	h := sha256.New()
	h.Write(src)
	ids := make([]string, 0, len(rv))
	for id, r := range rv {
		if r.Pending != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(h, "\x00%s\x00%s", id, rv[id].Pending)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// StationOf reads the station line of a programme without parsing it all
// (a broken file still belongs to its station).
func StationOf(src []byte) string {
	for _, l := range strings.Split(strings.TrimPrefix(string(src), "\ufeff"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "station" && (l[0] != ' ' && l[0] != '\t') {
			return f[1]
		}
	}
	return ""
}

// LoadAll loads every programme in Dir. A broken file is logged and left
// out; the others still air.
func (s *Store) LoadAll(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*"+schedule.Ext))
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), schedule.Ext)
		unlock := s.lock(name)
		err := func() error {
			f, err := s.read(name)
			if err != nil {
				return err
			}
			p, err := s.prepareSrc(ctx, f.Path, f.Src, nil)
			if err != nil {
				return err
			}
			s.install(name, f.Src, p, f.reviews, "", time.Time{})
			sc := p.sc
			s.logger().Info("schedule loaded", "file", p, "items", len(sc.Items))
			return nil
		}()
		unlock()
		if err != nil {
			s.logger().Error("schedule not loaded; fix it and upload it again", "file", p, "err", err)
		}
	}
}

// install makes a checked programme the current one: the scheduler airs
// it, and its parse is kept for the next save.
func (s *Store) install(name string, src []byte, p *parsed, rv reviews, by string, at time.Time) {
	sc := p.sc
	snap := &snapshot{src: src, parsed: p}
	if old := s.snapshot(name); old != nil {
		snap.history = slices.Clone(old.history)
	}
	sv := saved{version: version(src, rv), prints: map[string]string{}, titles: map[string]string{}, by: by, at: at}
	for i := range sc.Items {
		it := &sc.Items[i]
		p := snap.prints[it.ID]
		if it.Approved {
			p += "+approved"
		}
		if r := rv[it.ID]; r != nil && r.Pending != "" {
			p += "+pending:" + r.Pending
		}
		sv.prints[it.ID], sv.titles[it.ID] = p, it.Title
	}
	snap.history = append(snap.history, sv)
	if len(snap.history) > keepVersions {
		snap.history = slices.Delete(snap.history, 0, len(snap.history)-keepVersions)
	}
	s.setSnapshot(name, snap)
	if s.Scheduler != nil {
		s.Scheduler.Set(name, sc)
	}
}

// write saves a programme's text and review state, then installs it.
func (s *Store) write(f *file, src []byte, p *parsed, rv reviews, by string) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("programme: %w", err)
	}
	if !bytes.Equal(src, f.Src) || !f.Exists {
		if err := atomicfile.Write(f.Path, src, 0o640); err != nil {
			return fmt.Errorf("programme: saving %s: %w", f.Name, err)
		}
	}
	if err := writeReviews(f.Path, rv); err != nil {
		return err
	}
	s.install(f.Name, src, p, rv, by, s.now())
	s.recordHistory(context.Background(), f.Name, p.sc)
	return nil
}

// Delete removes a programme: nothing of it airs any more.
func (s *Store) Delete(name string) error {
	unlock := s.lock(name)
	defer unlock()
	p := s.Path(name)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrNotFound
		}
		return fmt.Errorf("programme: %w", err)
	}
	os.Remove(p + reviewExt)
	s.mu.Lock()
	delete(s.cache, name)
	s.mu.Unlock()
	if s.Scheduler != nil {
		s.Scheduler.Set(name, nil)
	}
	s.recordHistory(context.Background(), name, nil)
	return nil
}
