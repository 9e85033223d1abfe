// Package broker runs the controller's embedded MQTT broker (mochi-mqtt) with
// the protocol's access rules, and writes the equivalent configuration for
// an external Mosquitto. Each node authenticates with its own secret
// (username = client id = node id) and may touch only its own topics and
// read its zones' commands.
//
// The embedded broker keeps sessions and retained messages in memory: after
// a controller restart the controller republishes every node's desired
// state, and nodes re-send whatever was not acknowledged, so nothing a node
// needs is lost. Deployments that want broker persistence use Mosquitto.
package broker

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Config of the embedded broker.
type Config struct {
	Addr string // TCP listen address, e.g. 127.0.0.1:1883 (port 0 = any)
	// TLSAddr, with TLS, adds a TLS listener (e.g. 0.0.0.0:8883) for nodes.
	TLSAddr                          string
	TLS                              *tls.Config
	Logger                           *slog.Logger
	ControllerUser, ControllerSecret string
	// NodeHash returns a node's stored secret hash; ok is false for an
	// unknown or revoked node.
	NodeHash func(node string) (hash string, ok bool)
	// NodeZones returns the zones a node belongs to now.
	NodeZones func(node string) []string
}

// MaxPacket is the largest MQTT packet accepted: a JSON message at its limit
// plus the topic and headers.
const MaxPacket = nodeproto.MaxJSONPayload + 4096

// Broker is a running embedded broker.
type Broker struct {
	srv *mqtt.Server
	ln  *listeners.TCP
	tls *listeners.TCP
	log *slog.Logger
}

// Start listens and serves.
func Start(cfg Config) (*Broker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ControllerUser == "" || cfg.ControllerSecret == "" || cfg.NodeHash == nil || cfg.NodeZones == nil {
		return nil, errors.New("broker: controller credentials, NodeHash and NodeZones are required")
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = 512             // per-client queue; the default 8192 costs ~64 KB a node
	caps.MaximumPacketSize = MaxPacket                // bigger packets are refused
	caps.MaximumMessageExpiryInterval = 7 * 24 * 3600 // queued messages for an offline node
	caps.MaximumSessionExpiryInterval = 30 * 24 * 3600
	// mochi logs every disconnect at warn level; fleets disconnect all day.
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(levelFilter{Handler: cfg.Logger.Handler(), min: slog.LevelError}).With("part", "mochi"),
	})
	if err := srv.AddHook(&aclHook{cfg: cfg}, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ln := listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr})
	if err := srv.AddListener(ln); err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", cfg.Addr, err)
	}
	b := &Broker{srv: srv, ln: ln, log: cfg.Logger}
	if cfg.TLS != nil && cfg.TLSAddr != "" {
		b.tls = listeners.NewTCP(listeners.Config{ID: "tls", Address: cfg.TLSAddr, TLSConfig: cfg.TLS})
		if err := srv.AddListener(b.tls); err != nil {
			return nil, fmt.Errorf("broker: listen %s (TLS): %w", cfg.TLSAddr, err)
		}
	}
	go func() {
		if err := srv.Serve(); err != nil {
			cfg.Logger.Error("broker stopped", "err", err)
		}
	}()
	return b, nil
}

// TLSAddr is the address of the TLS listener, if any.
func (b *Broker) TLSAddr() string {
	if b.tls == nil {
		return ""
	}
	return b.tls.Address()
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.ln.Address() }

// Disconnect cuts a node's live connection (after revocation: it cannot
// come back, its credentials no longer pass).
func (b *Broker) Disconnect(node string) {
	if cl, ok := b.srv.Clients.Get(node); ok {
		b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		b.log.Info("broker: node disconnected", "node", node)
	}
}

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

// levelFilter drops records below min.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{Handler: f.Handler.WithAttrs(a), min: f.min}
}

func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{Handler: f.Handler.WithGroup(g), min: f.min}
}

// aclHook authenticates clients and enforces the topic rules of PROTOCOL.md §2.
type aclHook struct {
	mqtt.HookBase
	cfg Config
}

func (h *aclHook) ID() string { return "radio-acl" }

func (h *aclHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *aclHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	pass := string(pk.Connect.Password)
	if user == "" || cl.ID != user {
		return false // client id must equal username, so one node cannot pose as another's session
	}
	if user == h.cfg.ControllerUser {
		return constantEqual(pass, h.cfg.ControllerSecret)
	}
	if !nodeproto.ValidID(user) {
		return false
	}
	hash, ok := h.cfg.NodeHash(user)
	if !ok || !CheckSecret(hash, pass) {
		return false
	}
	// mochi publishes a last will without an ACL check: a node may only
	// leave a will on a topic it could publish to itself (its state).
	if pk.Connect.WillFlag && !NodeAllowed(user, pk.Connect.WillTopic, true, h.cfg.NodeZones) {
		return false
	}
	return true
}

func (h *aclHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if user == h.cfg.ControllerUser && cl.ID == user {
		return strings.HasPrefix(topic, nodeproto.Root+"/")
	}
	return NodeAllowed(user, topic, write, h.cfg.NodeZones)
}

// NodeAllowed is the per-node rule: publish only its own reports; read only
// its own desired/cmd/chunk/ack and its zones' commands. Filters with
// wildcards are never allowed to nodes.
func NodeAllowed(node, topic string, write bool, zones func(string) []string) bool {
	if !nodeproto.ValidID(node) {
		return false
	}
	if id, leaf, ok := nodeproto.ParseNodeTopic(topic); ok && id == node {
		switch leaf {
		case nodeproto.LeafState, nodeproto.LeafEvents, nodeproto.LeafFetch, nodeproto.LeafReply:
			return write
		case nodeproto.LeafDesired, nodeproto.LeafCmd, nodeproto.LeafChunk, nodeproto.LeafAck:
			return !write
		}
		return false
	}
	if z, ok := nodeproto.ParseZoneTopic(topic); ok && !write {
		return slices.Contains(zones(node), z)
	}
	return false
}

func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
