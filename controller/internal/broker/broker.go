// Package broker runs the controller's embedded MQTT broker (mochi-mqtt)
// with the access rules of PROTOCOL.md §2, and writes the equivalent
// configuration for an external Mosquitto 2. Each node authenticates with
// its own secret (username = client id = node id) and may publish only its
// own reports and read only its own topics and its zones' commands; the
// controller's account may do anything under radio/v1/.
//
// The embedded broker keeps sessions, queued messages and retained messages
// in memory only. That is enough because the protocol converges from
// retained documents the controller owns: after a controller restart it
// republishes every node's desired state, nodes re-send unacknowledged
// proof of play and re-fetch missing chunks, and commands are only for the
// moment. Deployments that want the broker itself to persist use Mosquitto
// (WriteMosquittoConfig), which runs with persistence on.
package broker

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Identity is who a connected client authenticated as.
type Identity struct {
	Node       string // node id; empty for the controller
	Controller bool
}

// Config of the embedded broker.
type Config struct {
	// Addr is the TCP listen address, e.g. "127.0.0.1:1883"; port 0 picks
	// a free port (Addr reports the real one).
	Addr string
	// TLSAddr, with TLS, adds a TLS listener (e.g. ":8883") for nodes.
	TLSAddr string
	TLS     *tls.Config
	Logger  *slog.Logger // nil: slog.Default()
	// ControllerUser and ControllerSecret are the controller's own account,
	// with full access to radio/v1/#.
	ControllerUser, ControllerSecret string
	// NodeHash returns a node's stored secret hash (HashSecret); ok is
	// false for an unknown or revoked node. It is called on every connect.
	NodeHash func(node string) (hash string, ok bool)
	// NodeZones returns the zones a node belongs to now. It is called on
	// every subscription to, and every delivery of, a zone command, so it
	// should be cheap (served from memory).
	NodeZones func(node string) []string
}

// Size limits: the protocol's (nodeproto.MaxPacket), one constant for the
// embedded broker, the Mosquitto configuration and the controller's own
// publishes (fleet), which check every message against it first.
const (
	// MaxPayload is the largest payload: a JSON document at
	// nodeproto.MaxJSONPayload (a desired state with many slots), bigger
	// than a content chunk (nodeproto.MaxChunkMsg); both must pass.
	MaxPayload = max(nodeproto.MaxJSONPayload, nodeproto.MaxChunkMsg)
	// MaxPacket is the largest MQTT packet accepted. A client sending a
	// bigger one is disconnected.
	MaxPacket = nodeproto.MaxPacket
)

// Tuning for a fleet of mostly idle nodes on flaky links.
const (
	// Per-client outbound channel (8 bytes a slot, allocated up front for
	// every client; mochi's default 8192 costs 64 KB a node). What waits
	// there for one node is a few commands and acks, at most two files'
	// outstanding chunks (2 x fleet.MaxOutstandingChunks) and live stream
	// packets (QoS 0, ten a second): 128 is 12 s of a stream beyond what
	// the socket buffers, a node too far behind to be live. A message that
	// finds it full is dropped (mochi rolls back its QoS 1 slot): the node
	// re-fetches a chunk, a stream reports the gap.
	writesPending = 128
	// QoS 1 messages held per client, online or offline (mochi's default
	// is 8192; a chunk is 16 KB). Beyond it new messages for that client
	// are dropped, as with Mosquitto's max_queued_messages. The controller
	// is not held to it: what nodes report reaches it in process (Receive).
	maxInflight = 1024
	// Each connection's read and write buffers (mochi's default 2 KiB
	// each); a bigger packet is read in more calls.
	netBuffer = 1024
	// Sessions of nodes that stay away longer are dropped (Mosquitto:
	// persistent_client_expiration 30d).
	sessionExpiry = 30 * 24 * 3600
)

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	ln   *listeners.TCP
	tls  *listeners.TCP
	log  *slog.Logger
	hook *aclHook

	inlineSubs int // subscription ids given to Receive

	closeOnce sync.Once
}

// Start listens and serves until Close.
func Start(cfg Config) (*Broker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ControllerUser == "" || cfg.ControllerSecret == "" || cfg.NodeHash == nil || cfg.NodeZones == nil {
		return nil, errors.New("broker: ControllerUser, ControllerSecret, NodeHash and NodeZones are required")
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = writesPending
	caps.MaximumInflight = maxInflight
	caps.MaximumPacketSize = MaxPacket
	caps.MaximumSessionExpiryInterval = sessionExpiry
	// No broker-imposed message expiry. mochi applies this cap not only to
	// queued messages but also to retained ones (deleted once older than
	// the cap, clearExpiredRetainedMessages), and a node's retained desired
	// state may rightly stay unchanged for months. Queued messages are
	// bounded by maxInflight and by the session expiry instead; commands
	// carry their own signed expiry. MQTT 5 publishers' own expiry is kept.
	caps.MaximumMessageExpiryInterval = 0
	// mochi checks the ACL before resolving an MQTT 5 topic alias; with
	// aliases off an alias-only publish has an empty topic and is denied.
	caps.TopicAliasMaximum = 0

	hook := &aclHook{cfg: cfg, log: cfg.Logger}
	srv := mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		Logger:                   slog.New(newMochiHandler(cfg.Logger.Handler())).With("part", "mochi"),
		SysTopicResendInterval:   60,   // nobody may read $SYS; don't rebuild it every second
		InlineClient:             true, // Receive: the controller's in-process subscriptions
		ClientNetReadBufferSize:  netBuffer,
		ClientNetWriteBufferSize: netBuffer,
	})
	hook.srv = srv
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ln := listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr})
	if err := srv.AddListener(ln); err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", cfg.Addr, err)
	}
	b := &Broker{srv: srv, ln: ln, log: cfg.Logger, hook: hook}
	if cfg.TLS != nil && cfg.TLSAddr != "" {
		b.tls = listeners.NewTCP(listeners.Config{ID: "tls", Address: cfg.TLSAddr, TLSConfig: cfg.TLS})
		if err := srv.AddListener(b.tls); err != nil {
			srv.Close()
			return nil, fmt.Errorf("broker: listen %s (TLS): %w", cfg.TLSAddr, err)
		}
	}
	// Serve starts the listeners' accept loops in goroutines and returns.
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	cfg.Logger.Info("broker listening", "addr", b.Addr(), "tls", b.TLSAddr())
	return b, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.ln.Address() }

// Receive hands every message published on filter to fn, inside this
// process: no connection, no in-flight window and no outbound queue to
// overflow, which a single MQTT client, the controller, meets when 10,000
// nodes report at once. fn runs in the publishing client's goroutine, so
// a slow fn slows that client down rather than losing its messages.
func (b *Broker) Receive(filter string, fn func(topic string, payload []byte, retained bool)) error {
	b.inlineSubs++
	return b.srv.Subscribe(filter, b.inlineSubs, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, append([]byte(nil), pk.Payload...), pk.FixedHeader.Retain) // fn may keep it
	})
}

// TLSAddr is the address of the TLS listener, if any.
func (b *Broker) TLSAddr() string {
	if b.tls == nil {
		return ""
	}
	return b.tls.Address()
}

// Disconnect cuts a node's live connection and drops its session
// (subscriptions and queued messages). Call it after the node's credentials
// were revoked or rotated (NodeHash no longer accepts the old secret), so
// that it cannot come straight back; a node that connects again with new
// credentials starts a fresh session and converges from its retained
// desired state. The node's last will is published as for any lost
// connection, except that mochi skips it when the cut comes before it has
// started reading the connection (right after CONNACK).
func (b *Broker) Disconnect(node string) {
	cl, ok := b.srv.Clients.Get(node)
	if !ok {
		return
	}
	// Mark first, then look. A live connection's own goroutine drops the
	// session when it sees the connection end (OnDisconnect), as mochi
	// does for clean sessions. A connection already closed may or may not
	// have passed OnDisconnect yet: whichever side takes the mark drops it.
	b.hook.purge.Store(cl, true)
	if cl.Closed() {
		if _, mine := b.hook.purge.LoadAndDelete(cl); mine {
			b.hook.dropSession(cl)
		}
		b.log.Info("broker: offline session dropped", "node", node)
		return
	}
	b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	b.log.Info("broker: node disconnected", "node", node)
}

// Close stops the broker and disconnects every client. It may be called
// more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.srv.Close() })
	return nil
}

// aclHook authenticates clients and enforces the topic rules of PROTOCOL.md
// §2. It is the only auth hook: mochi denies everything without one, and
// grants an ACL check if any hook does.
type aclHook struct {
	mqtt.HookBase
	cfg   Config
	log   *slog.Logger
	srv   *mqtt.Server
	purge sync.Map // *mqtt.Client -> true: drop the session on disconnect
}

func (h *aclHook) ID() string { return "radio-acl" }

func (h *aclHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSubscribed, mqtt.OnDisconnect:
		return true
	}
	return false
}

// identify maps a connect to an identity, or gives the reason to refuse it.
func (h *aclHook) identify(clientID string, pk packets.Packet) (Identity, string) {
	user := string(pk.Connect.Username)
	pass := string(pk.Connect.Password)
	switch {
	case !pk.Connect.UsernameFlag || user == "":
		return Identity{}, "anonymous"
	case clientID != user:
		// One node must not take over another's session by its client id.
		return Identity{}, "client id differs from username"
	case user == h.cfg.ControllerUser:
		if subtle.ConstantTimeCompare([]byte(pass), []byte(h.cfg.ControllerSecret)) != 1 {
			return Identity{}, "bad controller secret"
		}
		return Identity{Controller: true}, ""
	case !nodeproto.ValidID(user):
		return Identity{}, "invalid node id"
	}
	hash, ok := h.cfg.NodeHash(user)
	if !ok {
		CheckSecret(dummyHash, pass) // same work as a known node: ids are not probed by timing
		return Identity{}, "unknown or revoked node"
	}
	if !CheckSecret(hash, pass) {
		return Identity{}, "bad secret"
	}
	// mochi publishes a last will without an ACL check: a node may leave a
	// will only where it could publish itself (its state, per §3).
	if pk.Connect.WillFlag && !NodeAllowed(user, pk.Connect.WillTopic, true, h.cfg.NodeZones) {
		return Identity{}, "last will on a foreign topic " + pk.Connect.WillTopic
	}
	return Identity{Node: user}, ""
}

func (h *aclHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	_, why := h.identify(cl.ID, pk)
	if why != "" {
		h.log.Info("broker: connect refused", "client", cl.ID, "user", string(pk.Connect.Username),
			"remote", cl.Net.Remote, "reason", why)
		return false
	}
	return true
}

// OnACLCheck is asked for publishes (write), subscriptions (the filter) and,
// since mochi v2.4.0, every delivery to a subscriber (the topic).
func (h *aclHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	var ok bool
	if user == h.cfg.ControllerUser && cl.ID == user {
		ok = ControllerAllowed(topic)
	} else {
		ok = NodeAllowed(user, topic, write, h.cfg.NodeZones)
	}
	if !ok && write {
		// mochi drops a denied QoS 0 publish, and cuts an MQTT 3.1.1 client
		// off for a denied QoS 1 one (MQTT 5 gets a PUBACK 0x87).
		h.log.Info("broker: publish denied", "client", cl.ID, "topic", topic)
	}
	return ok
}

func (h *aclHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] >= packets.ErrUnspecifiedError.Code {
			h.log.Info("broker: subscription refused", "client", cl.ID, "filter", f.Filter, "code", codes[i])
		}
	}
}

func (h *aclHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if code := (packets.Code{}); errors.As(err, &code) && code.Code == packets.ErrPacketTooLarge.Code {
		h.log.Warn("broker: client cut off for an oversized packet", "client", cl.ID, "limit", MaxPacket)
	}
	if _, ok := h.purge.LoadAndDelete(cl); ok && !expire {
		h.dropSession(cl)
	}
}

// dropSession forgets a session (subscriptions, queued messages, the
// client entry) the way mochi does when a clean session disconnects.
func (h *aclHook) dropSession(cl *mqtt.Client) {
	if cl.IsTakenOver() {
		return // a new connection owns the id now
	}
	cl.ClearInflights()
	h.srv.UnsubscribeClient(cl)
	if cur, ok := h.srv.Clients.Get(cl.ID); ok && cur == cl {
		h.srv.Clients.Delete(cl.ID)
	}
}

// ControllerAllowed is the controller account's rule: anything under
// radio/v1/, nothing else (no $SYS, no bare #).
func ControllerAllowed(topic string) bool {
	return strings.HasPrefix(topic, nodeproto.Root+"/")
}

// NodeAllowed is the per-node rule of PROTOCOL.md §2: publish (write) only
// radio/v1/node/{node}/{state,events,fetch,reply}; subscribe and receive
// only radio/v1/node/{node}/{desired,cmd,chunk,ack,stream} and
// radio/v1/zone/{z}/{cmd,chunk,stream} for z in zones(node). Filters with wildcards and
// shared subscriptions never match, so nodes may not use them.
func NodeAllowed(node, topic string, write bool, zones func(string) []string) bool {
	if !nodeproto.ValidID(node) {
		return false
	}
	if id, leaf, ok := nodeproto.ParseNodeTopic(topic); ok {
		if id != node {
			return false
		}
		switch leaf {
		case nodeproto.LeafState, nodeproto.LeafEvents, nodeproto.LeafFetch, nodeproto.LeafReply:
			return write
		case nodeproto.LeafDesired, nodeproto.LeafCmd, nodeproto.LeafChunk, nodeproto.LeafAck, nodeproto.LeafStream:
			return !write
		}
		return false
	}
	if z, ok := zoneReadable(topic); ok && !write {
		return slices.Contains(zones(node), z)
	}
	return false
}

// zoneReadable splits the zone topics a node may read:
// radio/v1/zone/{zone}/cmd, radio/v1/zone/{zone}/chunk (a file pushed once
// for the whole zone, PROTOCOL.md §6) and radio/v1/zone/{zone}/stream (a
// live session's packets, §10). Nobody but the controller writes any of
// them: a node that could would speak to all its neighbours.
func zoneReadable(topic string) (string, bool) {
	if z, ok := nodeproto.ParseZoneTopic(topic); ok {
		return z, true
	}
	if z, ok := nodeproto.ParseZoneChunkTopic(topic); ok {
		return z, true
	}
	rest, ok := strings.CutSuffix(topic, "/"+nodeproto.LeafStream)
	if !ok {
		return "", false
	}
	z, ok := strings.CutPrefix(rest, nodeproto.Root+"/zone/")
	if !ok || !nodeproto.ValidID(z) || nodeproto.ZoneStreamTopic(z) != topic {
		return "", false
	}
	return z, true
}
