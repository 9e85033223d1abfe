// Package clock is the node's time. A box without a real-time clock boots
// in 1970 or at its last shutdown time, and NTP steps its clock later:
// until a source says the clock is right the node must not act on anything
// timed (PROTOCOL.md §1). The node reads the time only through a Clock, so
// that a correction learnt from the controller reaches everything at once:
// the agent, the player and the dates of proof of play.
//
// Sources, in order: the system's own NTP state (systemd-timesyncd's flag
// file or `timedatectl`, else `chronyc tracking`), then the controller's
// time measured over one MQTT round trip (a request in the node's State,
// answered by a signed `time` command), or a battery-backed real-time clock
// the configuration vouches for. Once synchronised, the clock stays trusted
// for the life of the process: the system keeps time once it is set, even
// while its NTP server is out of reach.
package clock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Source names for Config.Sources.
const (
	SourceSystem     = "system"     // NTP state of the box (timesyncd, chrony)
	SourceController = "controller" // the controller's time over a round trip
	SourceRTC        = "rtc"        // the box keeps time itself: trusted as set
)

// DefaultSources are used when Config.Sources is empty.
var DefaultSources = []string{SourceSystem, SourceController}

// DefaultSyncFile is where systemd-timesyncd marks the clock synchronised.
const DefaultSyncFile = "/run/systemd/timesync/synchronized"

// MaxControllerError is the largest error bound (half the round trip) of
// an answer from the controller that sets the clock: a slower one is
// dropped and the node asks again.
const MaxControllerError = time.Second

// Request intervals for the controller's time: while unsynchronised, and
// afterwards to follow the drift of the box's crystal.
const (
	askUnsynced = 5 * time.Second
	askRefresh  = 10 * time.Minute
)

// Config of a clock. The zero value is the system clock with the default
// sources.
type Config struct {
	Sources  []string
	SyncFile string // default DefaultSyncFile
	// Offset simulates a box whose system clock is this far off (tests and
	// demonstrations): it holds until the system source says synchronised,
	// as NTP would step it; meanwhile only the sync file speaks for the
	// system (timedatectl and chronyc know nothing of the simulation).
	Offset time.Duration
	// System is the system clock (nil: time.Now); mono measures round
	// trips and must not jump (nil: time.Now's monotonic reading).
	System func() time.Time
	mono   func() time.Time
}

// Status says whether the clock can be trusted.
type Status struct {
	Synced  bool
	Source  string        // nodeproto.Clock* when synced
	ErrorMS int64         // error bound of a controller-set clock
	Offset  time.Duration // correction learnt from the controller
}

// Clock is the node's time; safe for concurrent use.
type Clock struct {
	cfg     Config
	sources map[string]bool

	mu        sync.Mutex
	simulated time.Duration // Config.Offset until the system source syncs
	corr      time.Duration // from the controller's time
	st        Status
	req       int64     // outstanding request for the controller's time
	reqSent   time.Time // on mono
	askedAt   time.Time // on mono
	sampledAt time.Time // on mono: last accepted controller answer
}

// New makes a clock; it checks the source names.
func New(cfg Config) (*Clock, error) {
	if len(cfg.Sources) == 0 {
		cfg.Sources = DefaultSources
	}
	if cfg.SyncFile == "" {
		cfg.SyncFile = DefaultSyncFile
	}
	if cfg.System == nil {
		cfg.System = time.Now
	}
	if cfg.mono == nil {
		cfg.mono = time.Now
	}
	c := &Clock{cfg: cfg, sources: map[string]bool{}, simulated: cfg.Offset}
	for _, s := range cfg.Sources {
		switch s {
		case SourceSystem, SourceController, SourceRTC:
			c.sources[s] = true
		default:
			return nil, fmt.Errorf("clock: source %q: want system, controller or rtc", s)
		}
	}
	if c.sources[SourceRTC] {
		c.st = Status{Synced: true, Source: nodeproto.ClockRTC}
	}
	return c, nil
}

// Now is the node's wall time, without a monotonic reading: times compare
// by their dates, which move when the clock is corrected.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	d := c.simulated + c.corr
	c.mu.Unlock()
	return c.cfg.System().Add(d).Round(0)
}

// Status says whether the clock is synchronised, and by what.
func (c *Clock) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Synced reports whether timed messages may be acted on.
func (c *Clock) Synced() bool { return c.Status().Synced }

// Watch polls the system source until ctx ends: every 10 s while the
// clock is not synchronised, every minute after (a synchronised system
// clock ends a controller correction: it is the better source).
func (c *Clock) Watch(ctx context.Context) {
	if !c.sources[SourceSystem] {
		return
	}
	for {
		c.CheckSystem(ctx)
		wait := 10 * time.Second
		if c.Synced() {
			wait = time.Minute
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// CheckSystem asks the system source once.
func (c *Clock) CheckSystem(ctx context.Context) {
	if !c.sources[SourceSystem] {
		return
	}
	src, ok := c.systemSynced(ctx)
	if !ok {
		return
	}
	c.mu.Lock()
	if !c.st.Synced || c.st.Source == nodeproto.ClockController {
		c.simulated, c.corr = 0, 0 // NTP stepped the clock
		c.st = Status{Synced: true, Source: src}
	}
	c.mu.Unlock()
}

// systemSynced asks the box whether its clock is synchronised.
func (c *Clock) systemSynced(ctx context.Context) (string, bool) {
	if _, err := os.Stat(c.cfg.SyncFile); err == nil {
		return nodeproto.ClockNTP, true
	}
	if c.cfg.Offset != 0 {
		return "", false // a simulated clock: only the sync file speaks for it
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "timedatectl", "show", "-p", "NTPSynchronized", "--value").Output(); err == nil {
		if strings.TrimSpace(string(out)) == "yes" {
			return nodeproto.ClockNTP, true
		}
	}
	if out, err := exec.CommandContext(ctx, "chronyc", "-n", "tracking").Output(); err == nil {
		if leapNormal(string(out)) {
			return nodeproto.ClockChrony, true
		}
	}
	return "", false
}

// leapNormal reads chronyc tracking's "Leap status : Normal", which it
// says only while it is synchronised to a source.
func leapNormal(tracking string) bool {
	for _, l := range strings.Split(tracking, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "Leap status" {
			return strings.TrimSpace(v) == "Normal"
		}
	}
	return false
}

// Ask returns a new request for the controller's time, to send in the
// node's State, or 0 when none is due: every 5 s while unsynchronised,
// every 10 minutes while the controller's time is the source.
func (c *Clock) Ask() int64 {
	mono := c.cfg.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.due(mono) {
		return 0
	}
	c.req = max(1, c.cfg.System().Add(c.simulated+c.corr).UnixMilli()) // never 0: 0 is no request
	c.reqSent, c.askedAt = mono, mono
	return c.req
}

// Due reports whether Ask would make a request now.
func (c *Clock) Due() bool {
	mono := c.cfg.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.due(mono)
}

func (c *Clock) due(mono time.Time) bool {
	if !c.sources[SourceController] {
		return false
	}
	every := askUnsynced
	switch {
	case c.st.Synced && c.st.Source != nodeproto.ClockController:
		return false
	case c.st.Synced:
		every = askRefresh
		if mono.Sub(c.sampledAt) < every {
			return false
		}
	}
	return c.askedAt.IsZero() || mono.Sub(c.askedAt) >= every
}

// Errors of Answer.
var (
	ErrNotAsked = errors.New("clock: an answer to no outstanding request (old, or replayed)")
	ErrTooSlow  = errors.New("clock: the round trip was too slow to set the clock")
)

// Answer takes the controller's time (ms, when it answered) for request
// req. The controller read its clock between the request and this answer,
// so the time now is controller + rtt/2, give or take rtt/2.
func (c *Clock) Answer(req, controllerMS int64) (Status, error) {
	mono := c.cfg.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	if req == 0 || req != c.req {
		return c.st, ErrNotAsked
	}
	c.req = 0
	rtt := mono.Sub(c.reqSent)
	if rtt/2 > MaxControllerError {
		return c.st, fmt.Errorf("%w: %v", ErrTooSlow, rtt)
	}
	if c.st.Synced && c.st.Source != nodeproto.ClockController {
		return c.st, nil // the system's own source is better
	}
	now := time.UnixMilli(controllerMS).Add(rtt / 2)
	c.corr = now.Sub(c.cfg.System().Add(c.simulated))
	c.sampledAt = mono
	c.st = Status{Synced: true, Source: nodeproto.ClockController, ErrorMS: (rtt/2 + time.Millisecond).Milliseconds(), Offset: c.corr}
	return c.st, nil
}
