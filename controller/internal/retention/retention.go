// Package retention keeps the controller's records as long as a yearly
// report needs them and no longer: once a day it removes proof of play,
// audit entries, commands and replies older than the retention window, and
// recordings that no programme, command or record inside the window still
// names. Without it the registry and the media folder only ever grow.
package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// MinMonths is the shortest retention allowed, and the default: a yearly
// report (Circular 39/2020 asks stations to account for what aired) needs
// the whole previous year whatever day it is made on.
const MinMonths = 13

// Config of a Sweeper.
type Config struct {
	Registry *registry.DB
	Media    *media.Store
	// Months of records kept (0: MinMonths; fewer than MinMonths is refused).
	Months int
	// SchedulesDir holds the programme files; every sha256 written in one
	// keeps that recording, whether or not the file loads.
	SchedulesDir string
	// Loaded returns the programmes the scheduler runs (their file sources
	// were ingested, so their recordings appear in no file).
	Loaded func() map[string]*schedule.Schedule
	// Lock, if set, is held for a whole sweep; a backup holds it too, so
	// that no recording goes while it is being copied.
	Lock sync.Locker
	// Batch is the most rows one transaction removes (default
	// registry.DefaultPruneBatch).
	Batch  int
	Now    func() time.Time // the controller's clock
	Logger *slog.Logger
}

// CheckMonths validates a retention setting and applies the default.
func CheckMonths(months int) (int, error) {
	switch {
	case months == 0:
		return MinMonths, nil
	case months < MinMonths:
		return 0, fmt.Errorf("retention of %d months is too short: keep at least %d months, so that a yearly report finds the whole year", months, MinMonths)
	}
	return months, nil
}

// Sweeper removes what is out of the retention window.
type Sweeper struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and makes a Sweeper.
func New(cfg Config) (*Sweeper, error) {
	m, err := CheckMonths(cfg.Months)
	if err != nil {
		return nil, err
	}
	cfg.Months = m
	if cfg.Now == nil || cfg.Registry == nil || cfg.Media == nil {
		return nil, fmt.Errorf("retention: Registry, Media and Now are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Lock == nil {
		cfg.Lock = new(sync.Mutex)
	}
	return &Sweeper{cfg: cfg, log: cfg.Logger.With("part", "retention")}, nil
}

// Cutoff is the start of the retention window at now.
func (s *Sweeper) Cutoff(now time.Time) time.Time { return now.AddDate(0, -s.cfg.Months, 0) }

// Result says what one sweep removed.
type Result struct {
	Cutoff  time.Time
	Records registry.PruneStats
	Media   []string // sha256 of the recordings removed
	Bytes   int64    // their size
}

// Sweep removes once what is older than the window.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	s.cfg.Lock.Lock()
	defer s.cfg.Lock.Unlock()
	res := Result{Cutoff: s.Cutoff(s.cfg.Now())}
	var err error
	res.Records, err = s.cfg.Registry.Prune(ctx, res.Cutoff, s.cfg.Batch)
	if res.Records.Total() > 0 {
		s.log.Info("removed records older than the retention window", "before", res.Cutoff.Format(time.DateOnly),
			"play_events", res.Records.PlayEvents, "audit", res.Records.Audit, "commands", res.Records.Commands, "replies", res.Records.Replies)
	}
	if err != nil {
		return res, err
	}
	err = s.sweepMedia(ctx, &res)
	if len(res.Media) > 0 {
		s.log.Info("removed recordings nothing refers to any more", "count", len(res.Media), "bytes", res.Bytes, "before", res.Cutoff.Format(time.DateOnly))
	}
	return res, err
}

// sweepMedia removes the recordings that neither the registry (commands,
// records inside the window, recent uploads) nor any programme names. The
// registry's rows go first, each in a transaction that checks again that
// nothing names it; then the programmes are read again, and a recording a
// programme saved in the meantime names gets its row back and keeps its
// file. Only then are the files removed.
func (s *Sweeper) sweepMedia(ctx context.Context, res *Result) error {
	named, err := s.named()
	if err != nil {
		return err
	}
	unused, err := s.cfg.Registry.UnusedMedia(ctx, res.Cutoff)
	if err != nil {
		return err
	}
	var gone []registry.Media
	for _, m := range unused {
		if named[m.SHA256] {
			continue
		}
		ok, err := s.cfg.Registry.DeleteUnusedMedia(ctx, m.SHA256, res.Cutoff)
		if err != nil {
			return err
		}
		if ok {
			gone = append(gone, m)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	if named, err = s.named(); err != nil {
		// Cannot tell whether a programme took one up meanwhile: keep them all.
		for _, m := range gone {
			s.cfg.Registry.PutMedia(ctx, m)
		}
		return err
	}
	for _, m := range gone {
		if named[m.SHA256] {
			s.log.Warn("a programme named a recording while it was being removed: kept", "sha256", m.SHA256)
			if err := s.cfg.Registry.PutMedia(ctx, m); err != nil {
				return err
			}
			continue
		}
		if err := s.cfg.Media.Delete(m.SHA256); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("removing an unused recording's file", "sha256", m.SHA256, "err", err)
			continue
		}
		s.log.Info("removed unused recording", "sha256", m.SHA256, "name", m.Name, "bytes", m.Size, "uploaded", m.CreatedAt.Format(time.DateOnly))
		res.Media = append(res.Media, m.SHA256)
		res.Bytes += m.Size
	}
	return nil
}

// sha256Token finds media ids in a programme file's text.
var sha256Token = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// named returns every recording a programme names: the loaded ones, and
// any 64-hex-digit word in a programme file (one that does not load today,
// or is being written, still keeps what it names).
func (s *Sweeper) named() (map[string]bool, error) {
	out := map[string]bool{}
	if s.cfg.Loaded != nil {
		for _, sc := range s.cfg.Loaded() {
			for _, it := range sc.Items {
				if it.Source.Media != "" {
					out[it.Source.Media] = true
				}
			}
		}
	}
	if s.cfg.SchedulesDir == "" {
		return out, nil
	}
	files, err := filepath.Glob(filepath.Join(s.cfg.SchedulesDir, "*"+schedule.Ext+"*"))
	if err != nil {
		return nil, fmt.Errorf("retention: programmes: %w", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("retention: programme %s: %w", f, err)
		}
		for _, sha := range sha256Token.FindAll(b, -1) {
			out[string(sha)] = true
		}
	}
	return out, nil
}

// Run sweeps once now and then every day at 03:00 Vietnam time on the
// controller's clock, when nothing airs, until ctx ends. A failed sweep is
// logged and tried again the next day; it never stops the controller.
func (s *Sweeper) Run(ctx context.Context) {
	vn, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		vn = time.FixedZone("ICT", 7*3600)
	}
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("retention sweep failed; trying again tomorrow", "err", err)
		}
		now := s.cfg.Now().In(vn)
		next := time.Date(now.Year(), now.Month(), now.Day(), 3, 0, 0, 0, vn)
		if !next.After(now) {
			next = next.AddDate(0, 0, 1)
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
