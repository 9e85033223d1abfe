// Package desired is the one publisher of nodes' desired state (PROTOCOL.md
// §4). It assembles a node's document (settings and zones from the
// registry, the slots the scheduler handed it, the trusted keys), numbers
// it, cuts it to one message (fit.go, the byte budget), hands it to the
// fleet to be signed and sent, and records a hash of what it sent. The scheduler hands it changed slot sets, the API
// asks it to publish nodes whose settings or zones changed; at start it
// publishes in the background, a few nodes at a time, only the nodes whose
// desired state changed or that never applied it: a country's 100,000
// nodes would otherwise hold the controller's start for minutes.
package desired

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Sender signs and sends one desired state (fleet.Fleet).
type Sender interface {
	SendDesired(ctx context.Context, d nodeproto.Desired) error
	// KeyID is the signing key's id, for the signed message's size.
	KeyID() string
	// Held tells the fleet that the node already holds d (published before
	// a restart), so that it may fetch the content d names.
	Held(node string, d nodeproto.Desired)
}

// Config of a Publisher.
type Config struct {
	Registry *registry.DB
	Fleet    Sender
	Keys     func() []nodeproto.Key
	Logger   *slog.Logger
	// Now is the controller's clock (nil: time.Now).
	Now func() time.Time
	// Workers is how many nodes are published at once in the background
	// (default 4): each waits for the broker's acknowledgement.
	Workers int
	// Pace is the least time between two background publishes (default
	// 1 ms: at most 1,000 a second), so that a start or a national
	// programme change does not flood the broker ahead of live traffic.
	Pace time.Duration
	// Retained says the broker kept retained messages across the
	// controller's restart (an external broker): a node whose desired
	// state did not change is then not sent it again even if it never
	// said it applied it. An embedded broker starts empty.
	Retained bool
	// Published, if set, is told how long each desired state took to
	// build and publish (the controller's metrics).
	Published func(time.Duration)
}

// Plan is one node's slots as the scheduler planned them: every
// occurrence before Until is among Slots.
type Plan struct {
	Slots []nodeproto.Slot
	Until time.Time
	// Force publishes even if nothing changed: a schedule cut short to fit
	// one message moves on while the plan stays the same.
	Force bool
}

// Publisher owns every node's desired state.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	locks sync.Map // node -> *sync.Mutex: assemble, number and publish one at a time
	reach sync.Map // node -> Reach of its last desired state

	mu     sync.Mutex
	plans  map[string]Plan
	sent   map[string]string // node -> hash of what it holds
	queued map[string]bool   // waiting in queue
	force  map[string]bool
	queue  []string
	wake   chan struct{}
	idle   *sync.Cond // signalled when the queue empties and nothing is in flight
	busy   int
	// planned is closed by the scheduler's first Hand: before it, a node's
	// desired state would go out without its slots.
	planned chan struct{}
	// loaded is closed once Start has read what each node holds: before
	// it, every node would look new and be sent its state again.
	loaded      chan struct{}
	plannedOnce sync.Once
}

// New returns a Publisher; Run publishes what is queued.
func New(cfg Config) *Publisher {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Pace <= 0 {
		cfg.Pace = time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Keys == nil {
		cfg.Keys = func() []nodeproto.Key { return nil }
	}
	p := &Publisher{cfg: cfg, log: cfg.Logger, plans: map[string]Plan{}, sent: map[string]string{},
		queued: map[string]bool{}, force: map[string]bool{}, wake: make(chan struct{}, 1), planned: make(chan struct{}), loaded: make(chan struct{})}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// Start reads, in the background, what was last published to each node
// and queues every node, to be published by Run where its desired state
// changed or the node may not hold it. It returns at once: for a country's
// 100,000 nodes the read takes a good part of a second of CPU, and the
// API answers meanwhile; publishing (Run, Publish) waits for it. A failed
// read is logged and tried again every 5 s until ctx ends.
func (p *Publisher) Start(ctx context.Context) {
	go func() {
		for {
			err := p.load(ctx)
			if err == nil {
				close(p.loaded)
				return
			}
			if ctx.Err() != nil {
				return
			}
			p.log.Error("desired state: reading what each node holds; trying again in 5 s", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
}

func (p *Publisher) load(ctx context.Context) error {
	syncs, err := p.cfg.Registry.DesiredSyncs(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	for node, s := range syncs {
		if s.Hash != "" && (p.cfg.Retained || (s.Applied == s.Rev && s.Rev > 0)) {
			p.sent[node] = s.Hash // it holds this: send again only what differs
		}
		p.enqueue(node, false)
	}
	p.mu.Unlock()
	p.log.Info("desired state: publishing in the background where it changed", "nodes", len(syncs))
	return nil
}

// Hand takes the scheduler's changed plans and queues their nodes. The
// scheduler calls it after every plan, the first one too even if empty.
func (p *Publisher) Hand(plans map[string]Plan) {
	p.mu.Lock()
	for node, pl := range plans {
		p.plans[node] = pl
		p.enqueue(node, pl.Force)
	}
	p.mu.Unlock()
	p.plannedOnce.Do(func() { close(p.planned) })
}

// Queue asks for node's desired state to be published in the background.
func (p *Publisher) Queue(nodes ...string) {
	p.mu.Lock()
	for _, n := range nodes {
		p.enqueue(n, false)
	}
	p.mu.Unlock()
}

func (p *Publisher) enqueue(node string, force bool) {
	if force {
		p.force[node] = true
	}
	if !p.queued[node] {
		p.queued[node] = true
		p.queue = append(p.queue, node)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Wait returns once Start has read what nodes hold and nothing is queued
// or being published (for tests and benchmarks).
func (p *Publisher) Wait() {
	<-p.loaded
	p.mu.Lock()
	for len(p.queue) > 0 || p.busy > 0 {
		p.idle.Wait()
	}
	p.mu.Unlock()
}

// Run publishes queued nodes, Workers at a time and at most one per Pace,
// until ctx ends. A node whose publish failed is queued again after a
// while.
func (p *Publisher) Run(ctx context.Context) {
	if p.ready(ctx) != nil {
		return
	}
	sem := make(chan struct{}, p.cfg.Workers)
	pace := time.NewTicker(p.cfg.Pace)
	defer pace.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		p.mu.Lock()
		var node string
		var force bool
		if len(p.queue) > 0 {
			node, p.queue = p.queue[0], p.queue[1:]
			delete(p.queued, node)
			force = p.force[node]
			delete(p.force, node)
			p.busy++
		}
		p.mu.Unlock()
		if node == "" {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			}
			continue
		}
		select {
		case <-ctx.Done():
			p.done()
			return
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem; p.done() }()
			if err := p.publish(ctx, node, force); err != nil && ctx.Err() == nil {
				p.log.Warn("publishing desired state; trying again in 30 s", "node", node, "err", err)
				time.AfterFunc(30*time.Second, func() { p.Queue(node) })
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
	}
}

// ready waits for the first plan and for Start's read of what nodes hold.
func (p *Publisher) ready(ctx context.Context) error {
	for _, c := range []chan struct{}{p.planned, p.loaded} {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c:
		}
	}
	return nil
}

func (p *Publisher) done() {
	p.mu.Lock()
	p.busy--
	if len(p.queue) == 0 && p.busy == 0 {
		p.idle.Broadcast()
	}
	p.mu.Unlock()
}

// Publish assembles and publishes node's desired state now, unless the
// node already holds the same. Revoked nodes get nothing.
func (p *Publisher) Publish(ctx context.Context, node string) error {
	return p.publish(ctx, node, false)
}

// PublishNodes publishes the nodes' desired state now, Workers at a time,
// and returns the first error (the others are still published).
func (p *Publisher) PublishNodes(ctx context.Context, nodes ...string) error {
	if len(nodes) == 1 {
		return p.Publish(ctx, nodes[0])
	}
	sem := make(chan struct{}, p.cfg.Workers)
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for _, n := range nodes {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := p.Publish(ctx, n); err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func (p *Publisher) publish(ctx context.Context, node string, force bool) error {
	if err := p.ready(ctx); err != nil {
		return err
	}
	mu, _ := p.locks.LoadOrStore(node, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	d, ok, err := p.assemble(ctx, node)
	if err != nil || !ok {
		return err
	}
	h := Hash(d)
	p.mu.Lock()
	same := p.sent[node] == h
	p.mu.Unlock()
	if same && !force {
		d.Node = node
		p.cfg.Fleet.Held(node, d)
		return nil
	}
	began := p.cfg.Now()
	if err := p.send(ctx, node, d, h); err != nil {
		return err
	}
	if p.cfg.Published != nil {
		p.cfg.Published(p.cfg.Now().Sub(began))
	}
	p.mu.Lock()
	p.sent[node] = h
	p.mu.Unlock()
	return nil
}

// send numbers d with a new revision (recording its hash h with it: if
// sending then fails, the retry in 30 s finds h not yet sent, and after a
// restart the node has not applied the revision), cuts a schedule too large for one
// message to fit (Fit), never below a day ahead: beyond that it is refused
// with ErrScheduleTooLarge and the node keeps its last desired state.
// Reach tells how far the result reaches.
func (p *Publisher) send(ctx context.Context, node string, d nodeproto.Desired, h string) error {
	rev, err := p.cfg.Registry.NumberDesired(ctx, node, h)
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	d.Node, d.Rev, d.Issued = node, rev, now.UnixMilli()
	if d.Amp == "" {
		d.Amp = "auto"
	}
	d, planned, err := fitDesired(d, p.cfg.Fleet.KeyID(), now, nodeproto.MaxJSONPayload)
	r := Reach{Until: time.UnixMilli(d.HorizonUntil), Planned: planned, Slots: len(d.Schedule), At: now}
	if d.HorizonUntil == 0 {
		r.Until = time.Time{}
	}
	if err != nil {
		r.Error = err.Error()
		if old, ok := p.Reach(node); ok { // what the node still holds
			r.Until, r.Slots = old.Until, old.Slots
		}
		p.reach.Store(node, r)
		return fmt.Errorf("desired state of %s: %w", node, err)
	}
	if !planned.IsZero() {
		p.log.Warn("desired state cut to fit one message", "node", node, "until", r.Until, "planned", planned, "slots", r.Slots)
	}
	if err := p.cfg.Fleet.SendDesired(ctx, d); err != nil {
		return err
	}
	p.reach.Store(node, r)
	return nil
}

// Reach returns what the last desired state built for node reached.
func (p *Publisher) Reach(node string) (Reach, bool) {
	v, ok := p.reach.Load(node)
	if !ok {
		return Reach{}, false
	}
	return v.(Reach), true
}

// assemble builds node's desired state; ok is false for a revoked node.
func (p *Publisher) assemble(ctx context.Context, node string) (d nodeproto.Desired, ok bool, err error) {
	n, err := p.cfg.Registry.GetNode(ctx, node)
	if err != nil {
		return d, false, err
	}
	if n.Revoked {
		return d, false, nil
	}
	set, err := p.cfg.Registry.GetNodeSettings(ctx, node)
	if err != nil {
		return d, false, err
	}
	p.mu.Lock()
	pl := p.plans[node]
	p.mu.Unlock()
	d = nodeproto.Desired{Volume: set.Volume, Amp: set.Amp, Zones: n.Zones,
		Schedule: pl.Slots, Content: Content(pl.Slots), Keys: p.cfg.Keys()}
	if !pl.Until.IsZero() {
		d.HorizonUntil = pl.Until.UnixMilli()
	}
	return d, true, nil
}

// Hash identifies what a desired state asks of a node: everything but its
// revision, time and horizon (the horizon moves at every plan while the
// slots stay the same).
func Hash(d nodeproto.Desired) string {
	d.Rev, d.Issued, d.HorizonUntil, d.Node = 0, 0, 0, ""
	if d.Amp == "" {
		d.Amp = "auto" // as the fleet sends it
	}
	b, _ := json.Marshal(d)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Content lists the media slots need, to cache ahead.
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
