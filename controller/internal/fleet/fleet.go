// Package fleet is the controller's side of the node protocol: it ingests
// node state, proof of play and replies into the registry, serves content
// chunks, and publishes signed commands and desired state.
package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/metrics"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Config of the fleet link.
type Config struct {
	Broker   string // tcp://127.0.0.1:1883
	User     string
	Password string
	Registry *registry.DB
	Media    *media.Store
	Signer   *signer.Signer
	Logger   *slog.Logger
	// CommandLife is how long a command stays valid (default 10 min).
	CommandLife time.Duration
	// Receive, if set, delivers what nodes publish from an in-process
	// broker (broker.Broker.Receive) instead of an MQTT subscription.
	Receive func(filter string, fn func(topic string, payload []byte, retained bool)) error
	// Now is the controller's clock (nil: time.Now).
	Now func() time.Time
	// Workers handle what nodes send (default 4); each node's messages go
	// to one worker, in order.
	Workers int
	// ChunkRate bounds the chunk bytes each node is sent per second, and
	// ChunkBurst how many it may have at once (defaults DefaultChunkRate,
	// DefaultChunkBurst).
	ChunkRate, ChunkBurst int
	// EventSkew is how far ahead of Now a proof-of-play event may be dated
	// (default 5 min, the skew a node allows a command's issue time).
	EventSkew time.Duration
	// ZonePushMax is the largest file a play command to a zone pushes on
	// the zone's chunk topic (zonepush.go; 0: DefaultZonePushMax, < 0: no
	// push, every node fetches on its own).
	ZonePushMax int64
	// Metrics counts messages by kind and times proof-of-play ingest (nil: none).
	Metrics *metrics.Metrics
	// Releases serves node binaries to the nodes an update names them
	// for (nil: none).
	Releases Releases
}

// Releases is the release store as the chunk path sees it.
type Releases interface {
	MayFetch(node, sha string) bool
	Has(sha string) bool
	ReadChunk(sha string, index int) (nodeproto.Chunk, error)
}

// Fleet talks to every node through the broker.
type Fleet struct {
	cfg          Config
	log          *slog.Logger
	client       *tracked    // publishes Close waits for (acks, commands, desired state)
	raw          mqtt.Client // chunks and refusals: nothing to wait for at Close
	events       chan eventBatch
	shards       []chan message // one queue per worker; a node always to the same one
	wg           sync.WaitGroup // ingest
	workers      sync.WaitGroup
	mu           sync.RWMutex // enqueue reads closed (many at once); Close writes it
	closed       bool
	known        sync.Map // node id -> true, a cache of registry lookups
	timeAnswered sync.Map // node id -> when its last time request was answered (clock.go)
	access       *access
	limit        *buckets
	count        *counters

	pushMu   sync.Mutex
	pushing  map[pushKey]bool // zone pushes under way
	pushQuit chan struct{}    // closed by Close
	pushWG   sync.WaitGroup
}

type eventBatch struct {
	node    string
	at      time.Time // arrival, on the controller's clock
	evs     []nodeproto.Event
	dropped []nodeproto.Event // invalid: acknowledged, not stored
}

// Start connects to the broker (retrying until ctx ends) and starts ingest.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.CommandLife <= 0 {
		cfg.CommandLife = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.ChunkRate <= 0 {
		cfg.ChunkRate = DefaultChunkRate
	}
	if cfg.ChunkBurst < nodeproto.ChunkSize {
		cfg.ChunkBurst = DefaultChunkBurst
	}
	if cfg.EventSkew <= 0 {
		cfg.EventSkew = 5 * time.Minute
	}
	if cfg.ZonePushMax == 0 {
		cfg.ZonePushMax = DefaultZonePushMax
	}
	f := &Fleet{cfg: cfg, log: cfg.Logger.With("part", "fleet"), events: make(chan eventBatch, 4096),
		limit: newBuckets(cfg.ChunkRate, cfg.ChunkBurst), pushing: map[pushKey]bool{}, pushQuit: make(chan struct{})}
	f.count = newCounters(cfg.Now, f.log)
	f.access = newAccess(func(node string) []string {
		zs, err := cfg.Registry.NodeZones(context.Background(), node)
		if err != nil {
			f.log.Warn("zones of a node", "node", node, "err", err)
		}
		return zs
	})
	if err := f.access.seed(ctx, cfg.Registry, cfg.Now()); err != nil {
		return nil, err
	}
	for range cfg.Workers {
		f.shards = append(f.shards, make(chan message, 4096))
	}
	subs := map[string]byte{}
	for _, leaf := range []string{nodeproto.LeafState, nodeproto.LeafEvents, nodeproto.LeafFetch, nodeproto.LeafReply} {
		subs[nodeproto.Root+"/node/+/"+leaf] = 1
	}
	filters := subs
	if cfg.Receive != nil {
		subs = nil // nothing to subscribe to over MQTT: Receive, below
	}
	o := mqtt.NewClientOptions().AddBroker(cfg.Broker).
		SetClientID(cfg.User).SetUsername(cfg.User).SetPassword(cfg.Password).
		SetCleanSession(false).SetOrderMatters(false).
		SetKeepAlive(30 * time.Second).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetAutoReconnect(true).SetMaxReconnectInterval(10 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { f.enqueue(m.Topic(), m.Payload(), m.Retained()) }).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Subscribe on every connect: a lost session must not lose subscriptions.
			if len(subs) > 0 {
				c.SubscribeMultiple(subs, nil)
			}
			f.log.Info("connected to broker", "broker", cfg.Broker)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { f.log.Warn("broker connection lost", "err", err) })
	f.raw = counted{Client: mqtt.NewClient(o), m: cfg.Metrics}
	f.client = &tracked{Client: f.raw}
	tok := f.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("fleet: connect %s: %w", cfg.Broker, err)
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.wg.Add(1)
	f.workers.Add(len(f.shards))
	go f.ingestLoop()
	for _, q := range f.shards {
		go f.workLoop(q)
	}
	if cfg.Receive != nil {
		// Last: retained messages are handed over at once, to the loops.
		for filter := range filters {
			if err := cfg.Receive(filter, f.enqueue); err != nil {
				f.Close()
				return nil, fmt.Errorf("fleet: %w", err)
			}
		}
	}
	return f, nil
}

// Close handles what was received, stores proof of play, sends its
// acknowledgements and waits (a few seconds at most) until the broker has
// them; only then does it disconnect. Messages arriving meanwhile are left
// to the nodes, which send them again.
func (f *Fleet) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	for _, q := range f.shards {
		close(q)
	}
	f.mu.Unlock()
	f.stopPushes()
	f.workers.Wait()
	close(f.events)
	f.wg.Wait()
	if n := f.client.flush(5 * time.Second); n > 0 {
		f.log.Warn("closing: the broker did not take every last message", "pending", n)
	}
	f.client.Disconnect(1000)
}

func (f *Fleet) handle(m message) {
	id, leaf, ok := nodeproto.ParseNodeTopic(m.topic)
	if !ok {
		f.log.Warn("message on unexpected topic dropped", "topic", m.topic)
		return
	}
	if !f.isNode(id) {
		f.log.Warn("message from unknown node dropped", "node", id, "topic", m.topic)
		return
	}
	log := f.log.With("node", id)
	payload := m.payload
	var err error
	switch leaf {
	case nodeproto.LeafState, nodeproto.LeafEvents, nodeproto.LeafFetch, nodeproto.LeafReply:
		f.cfg.Metrics.Received(leaf) // a fixed set of labels
	}
	switch leaf {
	case nodeproto.LeafState:
		err = f.onState(id, payload, m.retained)
	case nodeproto.LeafEvents:
		err = f.onEvents(id, payload)
	case nodeproto.LeafFetch:
		err = f.onFetch(id, payload)
	case nodeproto.LeafReply:
		err = f.onReply(id, payload)
	default:
		return // our own publishes are not subscribed; anything else is ignored
	}
	if err != nil {
		log.Warn("bad message dropped", "leaf", leaf, "bytes", len(payload), "err", err)
	}
}

func (f *Fleet) isNode(id string) bool {
	if _, ok := f.known.Load(id); ok {
		return true
	}
	if n, err := f.cfg.Registry.GetNode(context.Background(), id); err != nil || n.Revoked {
		return false
	}
	f.known.Store(id, true)
	return true
}

// Forget drops a node from the lookup cache (after revocation), with what
// it was given and its chunk budget.
func (f *Fleet) Forget(id string) {
	f.known.Delete(id)
	f.timeAnswered.Delete(id)
	f.access.forget(id)
	f.limit.forget(id)
}

func (f *Fleet) onState(id string, payload []byte, retained bool) error {
	var s nodeproto.State
	if err := nodeproto.Decode(payload, &s); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Node != id {
		return fmt.Errorf("state names node %q on node %q's topic", s.Node, id)
	}
	if s.ClockReq > 0 && s.Online {
		// Before storing: the node is waiting. A retained state handed over
		// again (a reconnect) is answered too: the node drops an answer to
		// a request it no longer has.
		f.answerTime(id, s.ClockReq)
	}
	at := f.cfg.Now()
	return f.cfg.Registry.UpsertNodeState(context.Background(), registry.NodeState{NodeID: id, Online: s.Online, State: payload, UpdatedAt: at})
}

func (f *Fleet) onEvents(id string, payload []byte) error {
	var e nodeproto.Events
	if err := nodeproto.Decode(payload, &e); err != nil {
		return err
	}
	if e.Node != id {
		return fmt.Errorf("events name node %q on node %q's topic", e.Node, id)
	}
	if len(e.Events) == 0 || len(e.Events) > nodeproto.MaxEvents {
		return fmt.Errorf("%d events in one message, want 1..%d", len(e.Events), nodeproto.MaxEvents)
	}
	// Store the valid events; acknowledge the invalid ones too (logged), so
	// one bad record cannot block a node's outbox forever.
	b := eventBatch{node: id, at: f.cfg.Now()}
	for _, ev := range e.Events {
		if err := f.checkEvent(id, &ev); err != nil {
			f.log.Warn("bad message dropped: invalid proof-of-play event", "node", id, "seq", ev.Seq, "err", err)
			b.dropped = append(b.dropped, ev)
			continue
		}
		b.evs = append(b.evs, ev)
	}
	f.events <- b
	return nil
}

// ingestLoop batches proof of play from all nodes into one transaction at a
// time and acknowledges each node's events only after the commit.
func (f *Fleet) ingestLoop() {
	defer f.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var batch []eventBatch
	n := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		var rows []registry.PlayEvent
		now := f.cfg.Now()
		oldest := now
		for _, b := range batch {
			if b.at.Before(oldest) {
				oldest = b.at
			}
			for _, ev := range b.evs {
				rows = append(rows, toRow(b.node, ev, now))
			}
		}
		res, err := f.cfg.Registry.StorePlayEvents(context.Background(), rows)
		if err != nil {
			// Not acknowledged: the nodes keep the events and send them again.
			f.log.Error("storing proof of play", "rows", len(rows), "err", err)
			batch, n = batch[:0], 0
			return
		}
		f.cfg.Metrics.Ingested(len(rows), f.cfg.Now().Sub(oldest))
		for _, c := range res.Conflicts {
			// Stored and flagged, so acknowledging it loses nothing; but two
			// records under one name mean a forged or reused number.
			f.log.Warn("proof of play conflict: a record arrived under a stored (node, epoch, seq) with other content; both kept and flagged (is the node's secret used by someone else?)",
				"node", c.NodeID, "epoch", c.Epoch, "seq", c.Seq, "type", c.Type, "item", c.ItemID)
		}
		for _, b := range batch {
			f.ack(b)
		}
		batch, n = batch[:0], 0
	}
	for {
		select {
		case b, ok := <-f.events:
			if !ok {
				flush()
				return
			}
			batch = append(batch, b)
			n += len(b.evs)
			if n >= 2000 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// ack acknowledges a node's stored (and refused) events: one Ack per epoch,
// naming it, so that it can never delete another epoch's records.
func (f *Fleet) ack(b eventBatch) {
	var epochs []string
	seqs := map[string][]uint64{}
	for _, evs := range [][]nodeproto.Event{b.dropped, b.evs} {
		for _, ev := range evs {
			if _, ok := seqs[ev.Epoch]; !ok {
				epochs = append(epochs, ev.Epoch)
			}
			seqs[ev.Epoch] = append(seqs[ev.Epoch], ev.Seq)
		}
	}
	for _, e := range epochs {
		ack, _ := json.Marshal(nodeproto.Ack{Epoch: &e, Seqs: seqs[e]})
		f.client.Publish(nodeproto.NodeTopic(b.node, nodeproto.LeafAck), 1, false, ack)
	}
}

func toRow(node string, ev nodeproto.Event, now time.Time) registry.PlayEvent {
	r := registry.PlayEvent{NodeID: node, Epoch: ev.Epoch, Seq: ev.Seq, Type: ev.Type, ItemID: ev.ID, Media: ev.Media,
		At: time.UnixMilli(ev.At), OffsetUS: ev.OffsetUS, PlayedMS: ev.PlayedMS, Priority: ev.Priority,
		Reason: ev.Reason, ReceivedAt: now, Silent: ev.Audio == nodeproto.AudioSilent, Gaps: ev.Gaps, GapMS: ev.GapMS,
		Heard: ev.Heard, HeardCorr: ev.HeardCorr, HeardDB: ev.HeardDB, HeardBgDB: ev.HeardBgDB}
	if ev.PlayAt > 0 {
		r.PlayAt = time.UnixMilli(ev.PlayAt)
	}
	return r
}

// Target names who a command goes to: one node or one zone.
type Target struct {
	Node string `json:"node,omitempty"`
	Zone string `json:"zone,omitempty"`
}

func (t Target) String() string {
	if t.Zone != "" {
		return "zone:" + t.Zone
	}
	return "node:" + t.Node
}

// ErrNoTarget is returned when a command names neither or both of node and zone.
var ErrNoTarget = errors.New("name exactly one node or one zone")

// newCommandID returns a fresh command id, issued at now.
func newCommandID(now time.Time) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "c-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Send signs a command, records it and publishes it. c.ID, Issued and
// Expires are filled in when empty; the target fields are set from t.
func (f *Fleet) Send(ctx context.Context, t Target, c nodeproto.Command, by string) (nodeproto.Command, error) {
	if (t.Node == "") == (t.Zone == "") {
		return c, ErrNoTarget
	}
	now := f.cfg.Now()
	if c.ID == "" {
		c.ID = newCommandID(now)
	}
	c.Node, c.Zone = t.Node, t.Zone
	c.Issued = now.UnixMilli()
	if c.Expires == 0 {
		c.Expires = now.Add(f.cfg.CommandLife).UnixMilli()
	}
	if c.Play != nil && c.Play.PlayAt > 0 && c.Expires < c.Play.PlayAt+60_000 {
		c.Expires = c.Play.PlayAt + 60_000
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	env, err := f.cfg.Signer.Sign(c)
	if err != nil {
		return c, err
	}
	topic := nodeproto.NodeTopic(t.Node, nodeproto.LeafCmd)
	if t.Zone != "" {
		topic = nodeproto.ZoneCmdTopic(t.Zone)
	}
	if err := checkSize(topic, env); err != nil {
		return c, err // before it is recorded as sent
	}
	body, _ := json.Marshal(c)
	rec := registry.Command{ID: c.ID, Type: c.Type, Target: t.String(), IssuedAt: now,
		ExpiresAt: time.UnixMilli(c.Expires), Body: body, CreatedBy: by}
	if c.Play != nil {
		rec.Media = c.Play.Media
		if c.Play.PlayAt > 0 {
			rec.PlayAt = time.UnixMilli(c.Play.PlayAt)
		}
	}
	if err := f.cfg.Registry.InsertCommand(ctx, rec); err != nil {
		return c, err
	}
	f.access.addCommand(c.ID, rec.Target, rec.Media, rec.ExpiresAt, now)
	if err := f.publishWait(topic, false, env); err != nil {
		return c, fmt.Errorf("the broker did not take the command (is it running?): %w", err)
	}
	if t.Zone != "" && c.Play != nil {
		f.pushZone(t.Zone, c.Play.Media, c.Play.Size) // after the command: nodes know they want it
	}
	return c, nil
}

// SendDesired signs a node's desired state, numbered and cut to one
// message by its publisher (controller/internal/desired), and publishes it
// retained. The node may fetch the content it names from then on.
func (f *Fleet) SendDesired(ctx context.Context, d nodeproto.Desired) error {
	if err := d.Validate(); err != nil {
		return err
	}
	env, err := f.cfg.Signer.Sign(d)
	if err != nil {
		return err
	}
	// Before publishing: the node fetches its content as soon as it has it.
	f.access.setDesired(d)
	if err := f.publishWait(nodeproto.NodeTopic(d.Node, nodeproto.LeafDesired), true, env); err != nil {
		return fmt.Errorf("publishing desired state of %s: %w", d.Node, err)
	}
	return nil
}

// KeyID is the key desired state is signed with, for its size.
func (f *Fleet) KeyID() string { return f.cfg.Signer.Key().ID }

// publish sends a message at QoS 1 once checkSize lets it through: a
// message the broker would refuse would cut the controller's connection,
// and paho would send it again after every reconnect.
func (f *Fleet) publish(topic string, retained bool, payload []byte) (mqtt.Token, error) {
	if err := checkSize(topic, payload); err != nil {
		return nil, err
	}
	return f.client.Publish(topic, 1, retained, payload), nil
}

// publishWait publishes and waits until the broker has the message.
func (f *Fleet) publishWait(topic string, retained bool, payload []byte) error {
	tok, err := f.publish(topic, retained, payload)
	if err != nil {
		return err
	}
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("no answer from the broker within 10 s")
	}
	return tok.Error()
}

// PublishStream publishes one signed StreamPacket of a live session on the
// target's stream topic (PROTOCOL.md §10): QoS 0, not retained, once per
// zone; the broker fans it out.
func (f *Fleet) PublishStream(t Target, packet []byte) error {
	if (t.Node == "") == (t.Zone == "") {
		return ErrNoTarget
	}
	topic := nodeproto.NodeTopic(t.Node, nodeproto.LeafStream)
	if t.Zone != "" {
		topic = nodeproto.ZoneStreamTopic(t.Zone)
	}
	tok := f.raw.Publish(topic, 0, false, packet)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("fleet: stream packet to %s not taken by the broker: %v", t, tok.Error())
	}
	return nil
}
