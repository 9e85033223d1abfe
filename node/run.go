package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/atomicfile"
	"github.com/communeradio/radio/node/internal/amp"
	"github.com/communeradio/radio/node/internal/cache"
	"github.com/communeradio/radio/node/internal/clock"
	"github.com/communeradio/radio/node/internal/fetch"
	"github.com/communeradio/radio/node/internal/heard"
	"github.com/communeradio/radio/node/internal/link"
	"github.com/communeradio/radio/node/internal/outbox"
	"github.com/communeradio/radio/node/internal/player"
	"github.com/communeradio/radio/node/internal/stream"
	"github.com/communeradio/radio/node/internal/update"
)

const (
	contentGrace   = 10 * time.Second // a play may start this late while content arrives
	slotLead       = 5 * time.Second  // hand a slot to the player this long before play_at
	slotLateStart  = 60 * time.Second // start a slot this late after a reboot rather than skip it
	eventsResend   = 10 * time.Second // re-send an unacknowledged batch after 10-20 s (jittered)
	defaultStateIv = 60 * time.Second
	maxClockBehind = 5 * time.Minute // a command issued further in the node's future means its clock is wrong
	maxStateError  = 1024            // bytes of State.Error
)

type pendingPlay struct {
	item     player.Item
	deadline time.Time
}

type agent struct {
	cfg     Config
	log     *slog.Logger
	link    *link.Link
	cache   *cache.Cache
	out     *outbox.Outbox
	play    *player.Player
	keys    nodeproto.Keyring
	st      persisted
	start   time.Time
	volume  int
	amp     bool
	ampMode string
	relay   *amp.Relay

	pending    map[string]pendingPlay // command/slot id -> waiting for content
	handed     map[string]bool        // slots given to the player (or fetch) in this run
	zoneSnap   atomic.Pointer[[]string]
	fetch      *fetch.Fetcher
	batchSent  time.Time     // when the unacknowledged events batch went out
	resendAt   time.Duration // how long after batchSent to send it again
	lastState  []byte
	stateDirty bool

	store stateStore
	// problems are what went wrong with the node's own files at start-up
	// (an unreadable state or outbox): reported in every State until a
	// restart finds the files sound.
	problems   []string
	streams    *stream.Set              // live sessions (stream.go)
	streamSnap atomic.Pointer[[]string] // their topics, for the link's goroutine
	upd        *update.Updater          // signed updates of the node itself (update.go)

	clock         *clock.Clock // the node reads the time only here (clock.go)
	clockSynced   bool         // as last seen by the loop
	clockSyncedAt time.Time    // when it became synchronised, on the corrected clock
	clockWarned   bool
	held          []heldCommand                   // commands waiting for a synchronised clock (clock.go)
	modem         atomic.Pointer[nodeproto.Modem] // health.go
	sentModem     *nodeproto.Modem                // the one in the last State sent
}

// Run runs the node daemon until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StateInterval <= 0 {
		cfg.StateInterval = defaultStateIv
	}
	log := cfg.Logger.With("node", cfg.ID)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("node: data dir: %w", err)
	}
	c, err := cache.Open(filepath.Join(cfg.DataDir, "cache"), cfg.CacheMaxMB<<20)
	if err != nil {
		return err
	}
	ob, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox"))
	if err != nil {
		return err
	}
	clk, err := clock.New(clock.Config{Sources: cfg.ClockSources, SyncFile: cfg.ClockSyncFile, Offset: cfg.ClockOffset})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	clk.CheckSystem(ctx)
	meter := startHeard(ctx, cfg, log, clk.Now)
	pcfg := player.Config{Logger: log, Output: cfg.AudioOutput, Now: clk.Now}
	if meter != nil {
		pcfg.Tap = meter.Played
	}
	pl, err := player.New(pcfg)
	if err != nil {
		return fmt.Errorf("node: audio: %w", err)
	}
	defer pl.Close()

	a := &agent{cfg: cfg, log: log, cache: c, out: ob, play: pl, clock: clk, start: time.Now(), volume: 70, ampMode: "auto",
		pending: map[string]pendingPlay{}, handed: map[string]bool{}, store: stateStore{dir: cfg.DataDir}}
	var problem string
	if a.st, problem = a.store.load(log); problem != "" {
		a.problems = append(a.problems, problem)
	}
	var ampProblem string
	a.relay, ampProblem = openRelay(cfg, log)
	defer a.relay.Close() // the amplifier off when the node stops
	if ampProblem != "" {
		a.problems = append(a.problems, ampProblem)
	}
	if problem := ob.Problem(); problem != "" {
		log.Error("proof-of-play outbox damaged", "problem", problem, "epoch", ob.Epoch())
		a.problems = append(a.problems, problem)
	}
	a.streams = stream.NewSet(newDecoder)
	a.keys = nodeproto.Keyring{}
	keys := cfg.ControllerKeys
	if len(a.st.Keys) > 0 {
		keys = a.st.Keys
	}
	for _, k := range keys {
		a.keys[k.ID] = k.Pub
	}
	if d := a.st.Desired; d != nil {
		a.volume = d.Volume
		if d.Amp != "" {
			a.ampMode = d.Amp
		}
	}
	pl.SetVolume(a.volume)
	a.snapZones()

	will, _ := json.Marshal(nodeproto.State{Node: cfg.ID, Online: false})
	tlsConf, err := brokerTLS(cfg)
	if err != nil {
		return err
	}
	a.link = link.New(link.Config{
		Broker: cfg.Broker, ClientID: cfg.ID, Password: cfg.Secret, Logger: log, TLS: tlsConf,
		WillTopic: nodeproto.NodeTopic(cfg.ID, nodeproto.LeafState), WillPayload: will,
		Subscriptions: a.subscriptions, QoS: streamQoS,
	})
	a.fetch = fetch.New(fetch.Config{Cache: c, Logger: log, Connected: a.link.Connected, Send: a.sendFetch})
	a.newUpdater()
	defer a.upd.Close()
	linkCtx, stopLink := context.WithCancel(context.Background())
	linkDone := make(chan struct{})
	go func() { a.link.Run(linkCtx); close(linkDone) }()
	go clk.Watch(linkCtx)
	go a.watchModem(linkCtx)
	a.clockTick()
	log.Info("node started", "broker", cfg.Broker, "audio", pl.Backend(), "outbox", ob.Len())

	events := measured(ctx, meter, pl.Events())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	stateTick := time.NewTicker(cfg.StateInterval)
	defer stateTick.Stop()
	goodbye := func() {
		// Say goodbye while the link is up: a clean disconnect does not
		// fire the last will.
		off, _ := json.Marshal(nodeproto.State{Node: cfg.ID, Online: false, TS: a.now().UnixMilli()})
		a.link.Publish(nodeproto.NodeTopic(cfg.ID, nodeproto.LeafState), true, off)
		stopLink()
		<-linkDone
	}
	for {
		select {
		case <-ctx.Done():
			goodbye()
			return nil
		case r := <-a.upd.Done():
			if re := a.onUpdateResult(r); re != nil {
				goodbye()
				return re
			}
		case <-a.link.Up():
			a.batchSent = time.Time{}
			a.publishState(true)
			a.upd.LinkUp()
			a.flushEvents()
			a.fetch.Pump(time.Now())
		case m := <-a.link.Messages():
			a.handle(m)
		case ev := <-events:
			a.onPlayerEvent(ev.Event, ev.Heard)
		case <-tick.C:
			a.tick(a.now())
			if cfg.Alive != nil {
				cfg.Alive()
			}
		case <-stateTick.C:
			a.publishState(true)
		}
	}
}

// brokerTLS is the TLS configuration for ssl:// (tls://, mqtts://) brokers.
func brokerTLS(cfg Config) (*tls.Config, error) {
	u, err := url.Parse(cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("node: broker %q: %w", cfg.Broker, err)
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps":
	default:
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("node: ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("node: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	return c, nil
}

// subscriptions runs on the link's goroutine: it reads the zones from a
// snapshot the agent publishes, never from the agent's own state.
func (a *agent) subscriptions() []string {
	t := []string{}
	// The stream topics are wanted from the connect on, not from a session's
	// command: packets published before a subscription is in place are lost
	// (QoS 0), and a session's first ones leave the controller within
	// milliseconds of its command (PROTOCOL.md §10, rule 1).
	for _, leaf := range []string{nodeproto.LeafDesired, nodeproto.LeafCmd, nodeproto.LeafChunk, nodeproto.LeafAck, nodeproto.LeafStream} {
		t = append(t, nodeproto.NodeTopic(a.cfg.ID, leaf))
	}
	if zs := a.zoneSnap.Load(); zs != nil {
		for _, z := range *zs {
			t = append(t, nodeproto.ZoneCmdTopic(z), nodeproto.ZoneChunkTopic(z), nodeproto.ZoneStreamTopic(z))
		}
	}
	// A session whose zone the node has since left still plays to its end.
	for _, st := range a.streamTopics() {
		if !slices.Contains(t, st) {
			t = append(t, st)
		}
	}
	return t
}

func (a *agent) snapZones() {
	zs := append([]string(nil), a.zones()...)
	a.zoneSnap.Store(&zs)
}

func (a *agent) zones() []string {
	if a.st.Desired == nil {
		return nil
	}
	return a.st.Desired.Zones
}

// handle dispatches one received message. Nothing here may panic or stop the
// loop on bad input: errors are logged and, for commands, replied.
func (a *agent) handle(m link.Message) {
	if isStreamTopic(m.Topic) {
		a.handleStream(m)
		return
	}
	if zone, ok := nodeproto.ParseZoneTopic(m.Topic); ok {
		a.handleCommand(m.Payload, "", zone)
		return
	}
	if zone, ok := nodeproto.ParseZoneChunkTopic(m.Topic); ok {
		a.handlePushedChunk(zone, m.Payload)
		return
	}
	id, leaf, ok := nodeproto.ParseNodeTopic(m.Topic)
	if !ok || id != a.cfg.ID {
		a.log.Warn("message on unexpected topic dropped", "topic", m.Topic)
		return
	}
	switch leaf {
	case nodeproto.LeafCmd:
		a.handleCommand(m.Payload, id, "")
	case nodeproto.LeafDesired:
		a.handleDesired(m.Payload)
	case nodeproto.LeafChunk:
		if !a.upd.Chunk(m.Payload) {
			a.handleChunk(m.Payload)
		}
	case nodeproto.LeafAck:
		var ack nodeproto.Ack
		if err := nodeproto.Decode(m.Payload, &ack); err != nil {
			a.log.Warn("bad ack dropped", "err", err)
			return
		}
		if err := ack.Validate(); err != nil {
			a.log.Warn("bad ack dropped", "err", err)
			return
		}
		if n := a.out.Ack(ack); n > 0 {
			a.batchSent = time.Time{}
			a.stateDirty = true
			a.flushEvents()
		}
	default:
		a.log.Warn("message on unknown leaf dropped", "topic", m.Topic)
	}
}

func (a *agent) reply(cmd string, err error) {
	r := nodeproto.Reply{Node: a.cfg.ID, Cmd: cmd, OK: err == nil, TS: a.now().UnixMilli()}
	if err != nil {
		var pe *nodeproto.Error
		if errors.As(err, &pe) {
			r.Code, r.Reason = pe.Code, pe.Reason
		} else {
			r.Code, r.Reason = nodeproto.CodeInvalid, err.Error()
		}
		a.log.Warn("refused", "cmd", cmd, "code", r.Code.String(), "reason", r.Reason)
	}
	b, _ := json.Marshal(r)
	if perr := a.link.Publish(nodeproto.NodeTopic(a.cfg.ID, nodeproto.LeafReply), false, b); perr != nil {
		a.log.Debug("reply not sent", "err", perr)
	}
}

func (a *agent) handleCommand(payload []byte, node, zone string) {
	var c nodeproto.Command
	if err := a.keys.Open(payload, &c); err != nil {
		a.reply(nodeproto.PeekID(payload), err)
		return
	}
	if c.Type == nodeproto.CmdTime && node != "" && c.Node == node && c.Validate() == nil {
		a.handleTime(&c) // it sets the clock the checks below need
		return
	}
	if !a.clock.Synced() && c.Validate() == nil && a.hold(payload, node, zone) {
		return // acted on once the clock is synchronised (clock.go)
	}
	if err := a.checkCommand(&c, node, zone, a.now()); err != nil {
		a.reply(c.ID, err)
		return
	}
	a.st.Seen[c.ID] = c.Expires
	if err := a.store.save(&a.st); err != nil {
		a.log.Error("saving state", "err", err)
	}
	if c.Type == nodeproto.CmdStream {
		a.reply(c.ID, a.openStream(&c, payload))
		return
	}
	if c.Type == nodeproto.CmdUpdate {
		a.onUpdateCommand(&c)
		return
	}
	if zone != "" && c.Type == nodeproto.CmdPlay {
		a.fetch.AwaitPush(c.Play.Media, c.Play.Size, time.Now())
	}
	a.reply(c.ID, a.execute(&c))
}

func (a *agent) checkCommand(c *nodeproto.Command, node, zone string, now time.Time) error {
	if err := c.Validate(); err != nil {
		return err
	}
	switch {
	case node != "" && c.Node != node:
		return nodeproto.Errf(nodeproto.CodeWrongTarget, fmt.Sprintf("command for node %q arrived on node %q's topic", c.Node, node))
	case zone != "" && c.Zone != zone:
		return nodeproto.Errf(nodeproto.CodeWrongTarget, fmt.Sprintf("command for zone %q arrived on zone %q's topic", c.Zone, zone))
	case zone != "" && !slices.Contains(a.zones(), zone):
		return nodeproto.Errf(nodeproto.CodeWrongTarget, fmt.Sprintf("this node is not in zone %q", zone))
	case c.Type == nodeproto.CmdTime:
		return nodeproto.Errf(nodeproto.CodeWrongTarget, "a time answer belongs on the node's own topic")
	case !a.clock.Synced():
		return nodeproto.Errf(nodeproto.CodeClock, "the node's clock is not synchronised yet: it cannot judge expiry")
	case now.Before(link.ClockFloor):
		return nodeproto.Errf(nodeproto.CodeClock, "the node's clock is not set yet (no NTP?)")
	case c.Issued > now.Add(maxClockBehind).UnixMilli():
		return nodeproto.Errf(nodeproto.CodeClock, fmt.Sprintf("issued %s in the node's future: the node's clock is behind", time.UnixMilli(c.Issued).Sub(now).Round(time.Second)))
	case now.UnixMilli() > c.Expires:
		return nodeproto.Errf(nodeproto.CodeExpired, fmt.Sprintf("expired %s ago", now.Sub(time.UnixMilli(c.Expires)).Round(time.Second)))
	}
	if _, seen := a.st.Seen[c.ID]; seen {
		return nodeproto.Errf(nodeproto.CodeReplayed, "command id already seen")
	}
	return nil
}

func (a *agent) execute(c *nodeproto.Command) error {
	switch c.Type {
	case nodeproto.CmdPlay:
		p := c.Play
		it := player.Item{ID: c.ID, Media: p.Media, Priority: nodeproto.PriorityRank(p.Priority), Volume: -1,
			Repeat: p.Repeat, Gap: time.Duration(p.GapMS) * time.Millisecond, Resume: p.Resume}
		if p.PlayAt > 0 {
			it.PlayAt = time.UnixMilli(p.PlayAt)
		}
		if p.Volume != nil {
			it.Volume = *p.Volume
		}
		return a.schedule(it, p.Size)
	case nodeproto.CmdStop:
		id := ""
		if c.Stop != nil {
			id = c.Stop.ID
		}
		// Items still waiting for their content are stopped too, and
		// reported as the player reports a queued item it drops.
		for pid, p := range a.pending {
			if id == "" || pid == id {
				delete(a.pending, pid)
				a.stopped(p.item)
			}
		}
		a.play.Stop(id)
	case nodeproto.CmdVolume:
		a.volume = *c.Volume
		a.play.SetVolume(a.volume)
		a.stateDirty = true
	case nodeproto.CmdAmp:
		if *c.Amp {
			a.ampMode = "on"
		} else {
			a.ampMode = "off"
		}
		a.applyAmp(a.now())
	}
	return nil
}

// schedule hands an item to the player when its content is cached, or
// fetches the content first.
func (a *agent) schedule(it player.Item, size int64) error {
	if path, ok := a.cache.Path(it.Media); ok {
		it.Path = path
		a.ampFor(&it, a.now())
		if err := a.play.Play(it); err != nil {
			return nodeproto.Errf(nodeproto.CodeAudio, err.Error())
		}
		return nil
	}
	start := it.PlayAt
	if start.IsZero() {
		start = a.now()
	}
	a.pending[it.ID] = pendingPlay{item: it, deadline: start.Add(contentGrace)}
	if err := a.fetch.Want(it.Media, size, time.Now()); err != nil {
		delete(a.pending, it.ID)
		if errors.Is(err, cache.ErrDiskFull) {
			return nodeproto.Errf(nodeproto.CodeDiskFull, err.Error())
		}
		return nodeproto.Errf(nodeproto.CodeContent, err.Error())
	}
	return nil
}

// sendFetch asks the controller for chunks of a file.
func (a *agent) sendFetch(f nodeproto.Fetch) error {
	b, _ := json.Marshal(f)
	return a.link.Publish(nodeproto.NodeTopic(a.cfg.ID, nodeproto.LeafFetch), false, b)
}

func (a *agent) handleChunk(payload []byte) {
	if r, ok := a.fetch.Chunk(payload, time.Now()); ok {
		a.fetched(r)
	}
}

// handlePushedChunk takes a chunk pushed to one of the node's zones
// (PROTOCOL.md §6); the fetcher keeps it only if it is fetching its file.
func (a *agent) handlePushedChunk(zone string, payload []byte) {
	if !slices.Contains(a.zones(), zone) {
		a.log.Warn("pushed chunk of a zone this node is not in dropped", "zone", zone)
		return
	}
	if r, ok := a.fetch.Pushed(zone, payload, time.Now()); ok {
		a.fetched(r)
	}
}

// fetched plays what waited for a file once it is complete, and fails it
// when the file was given up.
func (a *agent) fetched(r fetch.Result) {
	switch {
	case r.StoreFailed:
		a.stateDirty = true
	case r.GaveUp:
		for id, p := range a.pending {
			if p.item.Media == r.Media {
				delete(a.pending, id)
				a.fail(p.item, nodeproto.CodeHashMismatch.String())
			}
		}
	case r.Complete:
		a.stateDirty = true
		for id, p := range a.pending {
			if p.item.Media == r.Media {
				delete(a.pending, id)
				if err := a.schedule(p.item, r.Size); err != nil {
					a.fail(p.item, err.Error())
				}
			}
		}
	}
}

func (a *agent) handleDesired(payload []byte) {
	var d nodeproto.Desired
	if err := a.keys.Open(payload, &d); err != nil {
		a.reply("desired", err)
		return
	}
	tag := fmt.Sprintf("desired:%d", d.Rev)
	if err := d.Validate(); err != nil {
		a.reply(tag, err)
		return
	}
	d.ExpandSlots() // the compact form of a dense programme (PROTOCOL.md §4)
	if d.Node != a.cfg.ID {
		a.reply(tag, nodeproto.Errf(nodeproto.CodeWrongTarget, fmt.Sprintf("desired state for node %q", d.Node)))
		return
	}
	if cur := a.st.Desired; cur != nil && d.Rev <= cur.Rev {
		if d.Rev < cur.Rev {
			a.reply(tag, nodeproto.Errf(nodeproto.CodeReplayed, fmt.Sprintf("revision %d is not newer than %d", d.Rev, cur.Rev)))
		}
		return // the same retained document again after a reconnect
	}
	a.st.Desired = &d
	if len(d.Keys) > 0 {
		a.st.Keys = d.Keys
		a.keys = nodeproto.Keyring{}
		for _, k := range d.Keys {
			a.keys[k.ID] = k.Pub
		}
	}
	if err := a.store.save(&a.st); err != nil {
		a.log.Error("saving state", "err", err)
	}
	a.volume = d.Volume
	a.play.SetVolume(d.Volume)
	if d.Amp != "" {
		a.ampMode = d.Amp
	}
	a.applyAmp(a.now())
	a.snapZones()
	a.link.Resubscribe()
	a.syncContent()
	a.stateDirty = true
	a.log.Info("desired state applied", "rev", d.Rev, "zones", d.Zones, "slots", len(d.Schedule), "schedule_until", d.HorizonUntil)
	a.reply(tag, nil)
}

// syncContent fetches what desired state needs and protects it from eviction.
func (a *agent) syncContent() {
	d := a.st.Desired
	if d == nil {
		return
	}
	now := time.Now()
	for _, c := range d.Content {
		a.fetch.Want(c.Media, c.Size, now)
	}
	for _, s := range d.Schedule {
		a.fetch.Want(s.Media, s.Size, now)
	}
	a.refreshKeep()
}

// refreshKeep protects from eviction what desired state, pending plays and
// transfers in progress need.
func (a *agent) refreshKeep() {
	var keep []string
	if d := a.st.Desired; d != nil {
		for _, c := range d.Content {
			keep = append(keep, c.Media)
		}
		for _, s := range d.Schedule {
			keep = append(keep, s.Media)
		}
	}
	for _, p := range a.pending {
		keep = append(keep, p.item.Media)
	}
	keep = append(keep, a.fetch.Media()...)
	if cur := a.play.Now(); cur != nil {
		keep = append(keep, cur.Media)
	}
	a.cache.Keep(keep)
}

// dropUnneededFetches stops transfers nothing waits for any more (a stopped
// or failed play, a slot removed from the schedule).
func (a *agent) dropUnneededFetches() {
	need := map[string]bool{}
	for _, p := range a.pending {
		need[p.item.Media] = true
	}
	if d := a.st.Desired; d != nil {
		for _, c := range d.Content {
			need[c.Media] = true
		}
		for _, s := range d.Schedule {
			need[s.Media] = true
		}
	}
	a.fetch.Retain(need)
}

// tick runs once a second: schedule slots, content deadlines, retries.
func (a *agent) tick(now time.Time) {
	for id, p := range a.pending {
		if now.After(p.deadline) {
			delete(a.pending, id)
			a.fail(p.item, nodeproto.CodeContent.String())
		}
	}
	if a.clockTick() {
		now = a.now() // the clock was just set: the time may have jumped
	}
	a.expireHeld()
	a.healthTick()
	a.runSlots(now)
	a.checkStreams(now)
	a.dropUnneededFetches()
	a.refreshKeep()
	// The fetcher times its waits on the system clock's monotonic reading,
	// as every other call into it does: not on the node's dates, which a
	// correction moves away from it.
	a.fetch.Pump(time.Now())
	if !a.batchSent.IsZero() && now.Sub(a.batchSent) > a.resendAt {
		a.batchSent = time.Time{}
	}
	a.flushEvents()
	a.applyAmp(now)
	a.upd.Tick()
	if a.stateDirty {
		a.publishState(false)
	}
	if now.Second() == 0 && a.clockSynced {
		a.st.prune(now)
	}
}

// runSlots plays the desired schedule from the node's own clock and cache,
// so bulletins air with the link down.
func (a *agent) runSlots(now time.Time) {
	d := a.st.Desired
	if d == nil || !a.clockSynced {
		return // a slot's time means nothing on a clock not yet set
	}
	for _, s := range d.Schedule {
		if _, done := a.st.Slots[s.ID]; done || a.handed[s.ID] {
			continue
		}
		at := time.UnixMilli(s.PlayAt)
		if at.Sub(now) > slotLead {
			continue
		}
		// Handed over now; durably done only once it starts or fails, so a
		// restart before air time hands it over again.
		a.handed[s.ID] = true
		it := player.Item{ID: s.ID, Media: s.Media, PlayAt: at, Priority: nodeproto.PriorityRank(s.Priority), Volume: -1,
			Repeat: s.Repeat, Gap: time.Duration(s.GapMS) * time.Millisecond, Resume: s.Resume}
		if s.Volume != nil {
			it.Volume = *s.Volume
		}
		if now.Sub(at) > slotLateStart {
			a.fail(it, a.missedReason(at))
			continue
		}
		if err := a.schedule(it, s.Size); err != nil {
			a.fail(it, err.Error())
		}
	}
}

// slotDone records durably that a schedule slot started or failed, so it
// is never played twice.
func (a *agent) slotDone(id string, playAt int64) {
	if d := a.st.Desired; d != nil && !a.handed[id] {
		found := false
		for _, s := range d.Schedule {
			found = found || s.ID == id
		}
		if !found {
			return // a command, not a slot
		}
	}
	if _, ok := a.st.Slots[id]; ok {
		return
	}
	a.st.Slots[id] = playAt
	if err := a.store.save(&a.st); err != nil {
		a.log.Error("saving state", "err", err)
	}
}

func (a *agent) fail(it player.Item, reason string) {
	ev := nodeproto.Event{Type: nodeproto.EventFailed, ID: it.ID, Media: it.Media, At: a.now().UnixMilli(),
		Priority: priorityName(it.Priority), Reason: reason}
	if !it.PlayAt.IsZero() {
		ev.PlayAt = it.PlayAt.UnixMilli()
	}
	a.record(ev)
	a.slotDone(it.ID, ev.PlayAt)
}

// stopped reports an item that a stop command dropped before it started.
func (a *agent) stopped(it player.Item) {
	ev := nodeproto.Event{Type: nodeproto.EventInterrupted, ID: it.ID, Media: it.Media, At: a.now().UnixMilli(),
		Priority: priorityName(it.Priority), Reason: "stopped"}
	if !it.PlayAt.IsZero() {
		ev.PlayAt = it.PlayAt.UnixMilli()
	}
	a.record(ev)
}

func priorityName(rank int) string {
	switch rank {
	case 1:
		return nodeproto.PriorityHigh
	case 2:
		return nodeproto.PriorityEmergency
	}
	return nodeproto.PriorityNormal
}

func (a *agent) onPlayerEvent(ev player.Event, h *heard.Result) {
	pe := nodeproto.Event{Type: ev.Type, ID: ev.ID, Media: ev.Media, At: ev.At.UnixMilli(),
		PlayedMS: ev.Played.Milliseconds(), Priority: priorityName(ev.Priority), Reason: ev.Reason,
		Gaps: ev.Gaps, GapMS: ev.Gap.Milliseconds()}
	setHeard(&pe, h)
	if ev.Type != nodeproto.EventFailed && a.play.Backend() == nodeproto.AudioSilent {
		pe.Audio = nodeproto.AudioSilent // played, but nobody heard it
	}
	a.streamEvent(ev)
	if !ev.PlayAt.IsZero() {
		pe.PlayAt = ev.PlayAt.UnixMilli()
		if ev.Type == nodeproto.EventStarted {
			pe.OffsetUS = ev.At.Sub(ev.PlayAt).Microseconds()
		}
	}
	np := filepath.Join(a.cfg.DataDir, "nowplaying.json")
	if ev.Type == nodeproto.EventStarted || ev.Type == nodeproto.EventFailed {
		a.slotDone(ev.ID, pe.PlayAt)
	}
	switch ev.Type {
	case nodeproto.EventStarted, nodeproto.EventResumed:
		b, _ := json.Marshal(nowPlaying{ID: ev.ID, Media: ev.Media, Priority: pe.Priority, PlayAt: pe.PlayAt, Since: pe.At})
		if err := atomicfile.Write(np, b, 0o644); err != nil {
			a.log.Error("saving what is playing", "err", err)
		}
	default:
		if cur := a.play.Now(); cur == nil {
			os.Remove(np)
		}
	}
	a.record(pe)
	a.stateDirty = true
}

// recoverNowPlaying reports an item cut short by a crash or power loss.
func (a *agent) recoverNowPlaying() {
	np := filepath.Join(a.cfg.DataDir, "nowplaying.json")
	b, err := os.ReadFile(np)
	if err != nil {
		return
	}
	var n nowPlaying
	if json.Unmarshal(b, &n) == nil && n.ID != "" {
		ev := nodeproto.Event{Type: nodeproto.EventInterrupted, ID: n.ID, Media: n.Media, At: a.now().UnixMilli(),
			PlayAt: n.PlayAt, Priority: n.Priority, Reason: "node restarted"}
		if info, err := os.Stat(np); err == nil {
			ev.PlayedMS = max(0, info.ModTime().UnixMilli()-n.Since) // at least; the file is written at start
		}
		a.record(ev)
	}
	os.Remove(np)
}

// record appends an event to the durable outbox and tries to send it.
func (a *agent) record(ev nodeproto.Event) {
	ev.ID = truncate(ev.ID, nodeproto.MaxEventID)
	ev.Reason = truncate(ev.Reason, nodeproto.MaxEventReason)
	ev, err := a.out.Append(ev)
	if err != nil {
		a.log.Error("proof of play not stored", "err", err, "event", ev.Type, "id", ev.ID)
		return
	}
	a.log.Info("proof of play", "seq", ev.Seq, "event", ev.Type, "id", ev.ID, "offset_us", ev.OffsetUS, "reason", ev.Reason)
	a.flushEvents()
}

// flushEvents sends the oldest unacknowledged events, one batch at a time.
func (a *agent) flushEvents() {
	if !a.batchSent.IsZero() || !a.link.Connected() {
		return
	}
	evs := a.out.Pending(nodeproto.MaxEvents)
	if len(evs) == 0 {
		return
	}
	b, _ := json.Marshal(nodeproto.Events{Node: a.cfg.ID, Events: evs})
	if err := a.link.Publish(nodeproto.NodeTopic(a.cfg.ID, nodeproto.LeafEvents), false, b); err != nil {
		a.log.Debug("events not sent", "err", err)
		return
	}
	a.batchSent = a.now()
	// Jittered: the nodes of a zone send their reports within the same
	// millisecond, and must not all re-send them in the same one too.
	a.resendAt = eventsResend + rand.N(eventsResend)
}

func (a *agent) publishState(force bool) {
	vol := a.volume
	s := nodeproto.State{Node: a.cfg.ID, Online: true, Version: a.cfg.Version, Arch: runtime.GOARCH,
		Volume: &vol, Amp: a.amp, Audio: a.play.Backend(), CacheBytes: a.cache.Usage(), Outbox: a.out.Len()}
	if a.st.Desired != nil {
		s.DesiredRev = a.st.Desired.Rev
		s.ScheduleUntil = a.st.Desired.HorizonUntil // how far ahead it can play on its own
	}
	s.Error = truncate(strings.Join(a.problems, "; "), maxStateError)
	if cur := a.play.Now(); cur != nil {
		s.Playing = &nodeproto.NowPlaying{ID: cur.ID, Media: cur.Media, Priority: priorityName(cur.Priority), Since: cur.Since.UnixMilli()}
	}
	a.reportedHealth(&s)
	cmp, _ := json.Marshal(s) // without the ever-changing fields, to see if anything changed
	if !force && string(cmp) == string(a.lastState) {
		a.stateDirty = false
		return
	}
	s.TS = a.now().UnixMilli()
	s.UptimeS = int64(time.Since(a.start).Seconds())
	a.healthState(&s)
	s.DiskFree = a.cache.FreeDisk()
	b, _ := json.Marshal(s)
	if err := a.link.Publish(nodeproto.NodeTopic(a.cfg.ID, nodeproto.LeafState), true, b); err != nil {
		return // stays dirty; sent on the next tick or Up
	}
	a.lastState, a.sentModem = cmp, s.Modem
	a.stateDirty = false
}

// truncate cuts s to at most n bytes, on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
