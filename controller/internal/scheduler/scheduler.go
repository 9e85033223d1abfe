// Package scheduler turns the communes' programmes into each node's own
// upcoming schedule: every occurrence of the next days, as slots in the
// node's desired state, with the audio to cache ahead. Nodes then play from
// their own clock and cache, so a bulletin airs even when the link (or the
// controller) is down at air time.
package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/communeradio/radio/controller/internal/desired"
	"github.com/communeradio/radio/controller/internal/metrics"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Media describes a file in the media store.
type Media struct {
	Size     int64
	Duration time.Duration
}

// Config of the scheduler. Functions are the scheduler's view of the rest of
// the controller, which keeps it testable on a fake clock.
type Config struct {
	Logger *slog.Logger
	// Horizon is how far ahead nodes get their slots (default 7 days).
	Horizon time.Duration
	// Grace is how far back an occurrence is still handed to nodes after
	// the controller was down (default 10 min): a node starts a slot up to a
	// minute late and reports older ones as missed.
	Grace time.Duration
	// Refresh is how often plans are recomputed (default 1 h).
	Refresh time.Duration
	// Targets reads, once per plan, what resolving targets needs
	// (programme.Load): the plan then resolves every occurrence against
	// that one snapshot instead of asking the registry each time.
	Targets func(ctx context.Context) (Resolver, error)
	// Media looks up a media file; ok is false if it is not in the store.
	Media func(ctx context.Context, sha string) (Media, bool)
	// Hand gives the desired-state publisher the plans of the nodes whose
	// slots changed (or whose schedule runs out: Plan.Force) at each plan.
	Hand func(plans map[string]desired.Plan)
	// LastRun and SetLastRun persist when the scheduler last planned, so a
	// restarted controller can say which occurrences fell into its downtime
	// beyond the grace window. Both optional.
	LastRun    func() time.Time
	SetLastRun func(time.Time)
	// Reach, optional, tells how far ahead the desired state last
	// published for a node reaches (fleet.Fleet.Reach; zero: unknown). A
	// node's desired state cut short to fit one message is published again
	// at every refresh once it reaches less than a day ahead, so that its
	// schedule moves on even while the plan itself does not change.
	Reach func(node string) time.Time
	// Now is the scheduler's clock (nil: time.Now).
	Now func() time.Time
	// Relays, if set, receives at every plan the relay occurrences
	// (`source relay`) of the planning window that have not ended: the
	// controller, not the nodes' schedules, airs them as live sessions.
	Relays func(ctx context.Context, relays []Relay)
	// Metrics, optional, records the scheduler's lag: from a change
	// (Kick) or a refresh tick until the replan it asked for has
	// published every changed desired state.
	Metrics *metrics.Metrics
}

// Resolver resolves an item's target within a station, for an
// occurrence at a time, to node ids with their start offset (zone
// offsets): programme.Resolve over one snapshot of the registry.
type Resolver func(station string, t schedule.Target, at time.Time) (map[string]time.Duration, error)

// Relay is one occurrence of a `source relay` item: the stream (a URL or a
// channel name) to air on Target from At to End, as session ID.
type Relay struct {
	ID       string // the occurrence id: proof of play counts it like a file's
	Station  string
	Source   string // URL or channel name, as written
	Title    string
	Target   schedule.Target
	Priority string
	Resume   bool
	At, End  time.Time
}

// Scheduler holds the current schedules and each node's planned slots.
type Scheduler struct {
	cfg       Config
	mu        sync.Mutex
	schedules map[string]*schedule.Schedule // by name
	slots     map[string][]nodeproto.Slot   // by node
	until     map[string]time.Time          // by node: how far ahead its slots were planned
	sent      map[string][32]byte           // hash of what each node was last sent
	planned   bool                          // a plan was made since start
	planTo    time.Time                     // end of the last plan's window
	wake      chan struct{}
	kicked    atomic.Pointer[time.Time] // the oldest Kick not yet replanned
}

// New makes a scheduler.
func New(cfg Config) *Scheduler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = 7 * 24 * time.Hour
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Minute
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scheduler{cfg: cfg, schedules: map[string]*schedule.Schedule{}, slots: map[string][]nodeproto.Slot{}, until: map[string]time.Time{},
		sent: map[string][32]byte{}, wake: make(chan struct{}, 1)}
}

// Set replaces (or, with nil, removes) a named schedule and replans soon.
func (s *Scheduler) Set(name string, sc *schedule.Schedule) {
	s.mu.Lock()
	if sc == nil {
		delete(s.schedules, name)
	} else {
		s.schedules[name] = sc
	}
	s.mu.Unlock()
	s.Kick()
}

// Schedules returns the current schedules by name.
func (s *Scheduler) Schedules() map[string]*schedule.Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*schedule.Schedule, len(s.schedules))
	for k, v := range s.schedules {
		out[k] = v
	}
	return out
}

// Kick asks for a replan now (a schedule, zone or node changed).
func (s *Scheduler) Kick() {
	now := s.cfg.Now()
	s.kicked.CompareAndSwap(nil, &now)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Slots returns a node's planned slots (for its desired state).
func (s *Scheduler) Slots(node string) []nodeproto.Slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]nodeproto.Slot(nil), s.slots[node]...)
}

// Planned returns a node's planned slots and how far ahead they were
// planned: every occurrence before until is among them (the desired
// state's HorizonUntil). until is zero before the first plan.
func (s *Scheduler) Planned(node string) (slots []nodeproto.Slot, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.until[node]
	if !ok {
		until = s.planTo
	}
	return append([]nodeproto.Slot(nil), s.slots[node]...), until
}

// Content lists the media a node's slots need, to cache ahead.
func Content(slots []nodeproto.Slot) []nodeproto.ContentRef {
	seen := map[string]bool{}
	var out []nodeproto.ContentRef
	for _, sl := range slots {
		if !seen[sl.Media] {
			seen[sl.Media] = true
			out = append(out, nodeproto.ContentRef{Media: sl.Media, Size: sl.Size})
		}
	}
	return out
}

// ReportDowntime logs the occurrences due while the controller was down,
// before the grace window: the controller does not send them again. Nodes
// that already held them (slots are sent days ahead) played them on their
// own, and their proof of play says so.
func (s *Scheduler) ReportDowntime(ctx context.Context, now time.Time) {
	if s.cfg.LastRun == nil {
		return
	}
	last := s.cfg.LastRun()
	cutoff := now.Add(-s.cfg.Grace)
	if last.IsZero() || !last.Before(cutoff) {
		return
	}
	for name, sc := range s.Schedules() {
		for _, o := range sc.Occurrences(last, cutoff, nil) {
			if o.Item.Airs() {
				s.cfg.Logger.Warn("scheduler: occurrence fell while the controller was down, before the grace window; not sent again (nodes that held it played it from their own schedule)",
					"schedule", name, "occurrence", o.ID(), "due", o.At, "grace", s.cfg.Grace)
			}
		}
	}
}

// Run replans at start, every Refresh and on Kick, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	asked := s.cfg.Now()
	for {
		s.Replan(ctx, s.cfg.Now())
		s.cfg.Metrics.SchedulerLate(s.cfg.Now().Sub(asked))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			asked = s.cfg.Now()
		case <-s.wake:
			asked = s.cfg.Now()
			if k := s.kicked.Swap(nil); k != nil {
				asked = *k
			}
		}
	}
}

// Replan computes every node's slots for [now-Grace, now+Horizon) and
// publishes the desired state of nodes whose slots changed.
func (s *Scheduler) Replan(ctx context.Context, now time.Time) {
	plan, until := s.plan(ctx, now)
	if s.cfg.SetLastRun != nil {
		s.cfg.SetLastRun(now)
	}
	s.mu.Lock()
	var changed []string
	nodes := map[string]bool{}
	for n := range plan {
		nodes[n] = true
	}
	for n := range s.slots {
		nodes[n] = true
	}
	s.slots, s.until, s.planTo = plan, until, now.Add(s.cfg.Horizon)
	handed := map[string]desired.Plan{}
	for n := range nodes {
		h := slotsHash(plan[n])
		short := s.runsOut(n, now, until)
		if h == s.sent[n] && !short {
			continue
		}
		changed = append(changed, n)
		s.sent[n] = h
		to, ok := until[n]
		if !ok {
			to = s.planTo
		}
		handed[n] = desired.Plan{Slots: plan[n], Until: to, Force: short}
	}
	s.mu.Unlock()
	s.cfg.Hand(handed) // even empty: the publisher waits for the first plan
	if len(changed) > 0 {
		s.cfg.Logger.Info("scheduler: changed schedules handed to the publisher", "nodes", len(changed))
	}
}

// slotsHash identifies a node's slots, to tell a changed plan (hashed
// field by field: JSON took a third of a national plan's time).
func slotsHash(slots []nodeproto.Slot) [32]byte {
	h := sha256.New()
	var b []byte
	for _, sl := range slots {
		vol := int64(-1)
		if sl.Volume != nil {
			vol = int64(*sl.Volume)
		}
		b = b[:0]
		for _, str := range []string{sl.ID, sl.Media, sl.Priority, sl.Title} {
			b = binary.AppendUvarint(b, uint64(len(str)))
			b = append(b, str...)
		}
		for _, v := range []int64{sl.Size, int64(sl.Content), sl.PlayAt, int64(sl.Repeat), sl.GapMS, vol} {
			b = binary.AppendVarint(b, v)
		}
		if sl.Resume {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// runsOut reports whether node's last desired state, cut short of its
// plan, reaches less than a day ahead of now.
func (s *Scheduler) runsOut(node string, now time.Time, until map[string]time.Time) bool {
	if s.cfg.Reach == nil {
		return false
	}
	r := s.cfg.Reach(node)
	to, ok := until[node]
	if !ok {
		to = now.Add(s.cfg.Horizon)
	}
	return !r.IsZero() && r.Before(to) && r.Before(now.Add(nodeproto.MinHorizonMS*time.Millisecond))
}

// lateSend is how late a slot that was never sent is still sent: a node
// starts a slot up to a minute late (an approval at 06:29:58 whose plan
// is made at 06:30:01 still airs), and reports an older one as missed.
const lateSend = 45 * time.Second

// The grace window is for a controller that was down: at its first plan
// after a start, occurrences of the last Grace are sent (nodes play them up
// to a minute late, or report them missed). Later plans keep the past slots
// already sent, but never add a past one: a bulletin approved or changed
// after its time is not a missed bulletin, and nodes are not told to report
// it as one.
//
// until holds, for a node whose plan was cut to nodeproto.MaxSchedule
// slots, the time of the first occurrence left out.
func (s *Scheduler) plan(ctx context.Context, now time.Time) (plan map[string][]nodeproto.Slot, until map[string]time.Time) {
	from, to := now.Add(-s.cfg.Grace), now.Add(s.cfg.Horizon)
	plan, until = map[string][]nodeproto.Slot{}, map[string]time.Time{}
	s.mu.Lock()
	first := !s.planned
	s.planned = true
	sentBefore := map[[2]string]bool{}
	for n, slots := range s.slots {
		for _, sl := range slots {
			sentBefore[[2]string{n, sl.ID}] = true
		}
	}
	s.mu.Unlock()
	resolve, err := s.cfg.Targets(ctx)
	if err != nil {
		// Keep the last plan: nodes keep their schedules until the
		// registry answers again.
		s.cfg.Logger.Error("scheduler: reading nodes and zones; plan kept", "err", err)
		s.mu.Lock()
		plan, until = s.slots, s.until
		s.mu.Unlock()
		return plan, until
	}
	// Media asked once per file and plan, not once per occurrence.
	type info struct {
		m  Media
		ok bool
	}
	media := map[string]info{}
	lookup := func(sha string) (Media, bool) {
		i, seen := media[sha]
		if !seen {
			i.m, i.ok = s.cfg.Media(ctx, sha)
			media[sha] = i
		}
		return i.m, i.ok
	}
	var relays []Relay
	for name, sc := range s.Schedules() {
		durations := func(it schedule.Item) time.Duration {
			if sha := mediaOf(it); sha != "" {
				if m, ok := lookup(sha); ok {
					return m.Duration
				}
			}
			return 0
		}
		for _, o := range sc.Occurrences(from, to, durations) {
			it := o.Item
			if !it.Airs() {
				continue
			}
			if it.Source.Kind == schedule.SourceRelay {
				if end := o.At.Add(it.Duration); end.After(now) {
					relays = append(relays, Relay{ID: o.ID(), Station: sc.Station, Source: it.Source.URL, Title: it.Title,
						Target: it.Target, Priority: it.Priority, Resume: it.OnInterrupt != schedule.OnInterruptSkip, At: o.At, End: end})
				}
				continue
			}
			sha := mediaOf(*it)
			if sha == "" {
				continue // tts and live come with their own issue
			}
			m, ok := lookup(sha)
			if !ok {
				s.cfg.Logger.Warn("scheduler: media not in the store; occurrence skipped", "schedule", name, "item", it.ID, "media", sha)
				continue
			}
			past := o.At.Before(now)
			if past && first {
				s.cfg.Logger.Warn("scheduler: occurrence was due while the controller was down; sent within the grace window",
					"occurrence", o.ID(), "due", o.At, "grace", s.cfg.Grace)
			}
			targets, err := resolve(sc.Station, it.Target, o.At)
			if err != nil {
				s.cfg.Logger.Warn("scheduler: target", "schedule", name, "item", it.ID, "err", err)
				continue
			}
			for node, offset := range targets {
				at := o.At.Add(offset)
				if past && !first && !sentBefore[[2]string{node, o.ID()}] && now.Sub(at) > lateSend {
					continue
				}
				sl := nodeproto.Slot{ID: o.ID(), Media: sha, Size: m.Size, PlayAt: o.At.Add(offset).UnixMilli(),
					Priority: it.Priority, Title: it.Title, Repeat: it.Repeat, GapMS: it.Gap.Milliseconds(),
					Resume: it.OnInterrupt != schedule.OnInterruptSkip}
				plan[node] = append(plan[node], sl)
			}
		}
	}
	if s.cfg.Relays != nil {
		sort.Slice(relays, func(i, j int) bool { return relays[i].ID < relays[j].ID })
		s.cfg.Relays(ctx, relays)
	}
	for n := range plan {
		sort.Slice(plan[n], func(i, j int) bool {
			if plan[n][i].PlayAt != plan[n][j].PlayAt {
				return plan[n][i].PlayAt < plan[n][j].PlayAt
			}
			return plan[n][i].ID < plan[n][j].ID
		})
		if len(plan[n]) > nodeproto.MaxSchedule {
			// A clean cut: none of the occurrences at the first one left out.
			cut := plan[n][nodeproto.MaxSchedule].PlayAt
			k := sort.Search(len(plan[n]), func(i int) bool { return plan[n][i].PlayAt >= cut })
			s.cfg.Logger.Warn("scheduler: too many slots for one node; the latest are left for the next refresh", "node", n, "slots", len(plan[n]), "kept", k)
			plan[n], until[n] = plan[n][:k], time.UnixMilli(cut)
		}
	}
	return plan, until
}

// mediaOf is the sha256 an item plays, if it is a stored file.
func mediaOf(it schedule.Item) string {
	switch it.Source.Kind {
	case schedule.SourceMedia:
		return it.Source.Media
	case schedule.SourceFile:
		return it.Source.Media // filled in when the file was ingested
	case schedule.SourceTTS:
		return it.Source.Media // filled in when the text was rendered
	}
	return ""
}
