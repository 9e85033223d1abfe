// Package link is the node's one MQTT connection: persistent session,
// resubscription on every connect, a last will, and reconnects with
// exponential backoff and full jitter so that thousands of nodes do not
// return to a restarted broker in the same second.
package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Message is one received publish.
type Message struct {
	Topic   string
	Payload []byte
}

// Config of a link.
type Config struct {
	Broker      string // tcp://host:port, ssl://host:port
	ClientID    string // also the username
	Password    string
	TLS         *tls.Config
	WillTopic   string
	WillPayload []byte
	Logger      *slog.Logger
	// Subscriptions returns the topics to subscribe to on every connect.
	Subscriptions func() []string
	// QoS returns the QoS to subscribe to a topic with; nil = 1 for all.
	// Live audio is QoS 0: a packet late is a packet lost.
	QoS func(topic string) byte
	// MinBackoff and MaxBackoff bound reconnect delays (defaults 1 s, 60 s).
	MinBackoff, MaxBackoff time.Duration
	// LostWindow spreads the first reconnect after a lost connection
	// uniformly over [MinBackoff/2, LostWindow] (default 15 s): when a
	// broker restarts, all its nodes lose it at the same instant, and
	// coming back at once would knock it over again.
	LostWindow time.Duration
}

// Link is an MQTT session that keeps itself connected.
type Link struct {
	cfg    Config
	client mqtt.Client
	msgs   chan Message
	ups    chan struct{}
	mu     sync.Mutex // guards subs; held across a whole (re)subscription
	subs   map[string]bool
	lost   chan error
	retry  chan struct{} // a subscription failed: try again, with backoff
	done   chan struct{} // closed when Run returns
}

// New makes a link; Run connects it.
func New(cfg Config) *Link {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.LostWindow <= 0 {
		cfg.LostWindow = 15 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	l := &Link{cfg: cfg, msgs: make(chan Message, 256), ups: make(chan struct{}, 1), subs: map[string]bool{}, lost: make(chan error, 1), retry: make(chan struct{}, 1), done: make(chan struct{})}
	o := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.ClientID).
		SetPassword(cfg.Password).
		SetCleanSession(false).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(15 * time.Second).
		SetAutoReconnect(false). // our own loop adds jitter
		SetOrderMatters(true).   // a play then a stop must arrive in that order
		SetWriteTimeout(30 * time.Second).
		SetMaxResumePubInFlight(16).
		SetDefaultPublishHandler(l.onMessage).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case l.lost <- err:
			default:
			}
		})
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	if cfg.WillTopic != "" {
		o.SetBinaryWill(cfg.WillTopic, cfg.WillPayload, 1, true)
	}
	l.client = mqtt.NewClient(o)
	return l
}

// onMessage hands the message to the node's loop. paho acknowledges a
// message when its handler returns, so nothing is dropped here: the loop
// never waits on the network and drains the buffer quickly.
func (l *Link) onMessage(_ mqtt.Client, m mqtt.Message) {
	select {
	case l.msgs <- Message{Topic: m.Topic(), Payload: m.Payload()}:
	case <-l.done:
	}
}

// Messages delivers received publishes.
func (l *Link) Messages() <-chan Message { return l.msgs }

// Up signals each (re)connection, after subscriptions are in place.
func (l *Link) Up() <-chan struct{} { return l.ups }

// Connected reports whether the link is up now.
func (l *Link) Connected() bool { return l.client.IsConnectionOpen() }

// ClockFloor is a time before which the system clock cannot be right: a Pi
// has no real-time clock and boots in the past until NTP sets it, and every
// certificate would then look "not yet valid".
var ClockFloor = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// waitForClock polls now every interval until it is past ClockFloor; it
// returns false if ctx ends first.
func waitForClock(ctx context.Context, now func() time.Time, every time.Duration) bool {
	for now().Before(ClockFloor) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(every):
		}
	}
	return true
}

// Run keeps the link connected until ctx ends, then disconnects cleanly
// (which does not fire the last will; the node publishes offline itself).
func (l *Link) Run(ctx context.Context) {
	if l.cfg.TLS != nil && time.Now().Before(ClockFloor) {
		l.cfg.Logger.Warn("link: the clock is not set yet (no NTP?); waiting before verifying TLS certificates", "now", time.Now())
		if !waitForClock(ctx, time.Now, 5*time.Second) {
			return
		}
		l.cfg.Logger.Info("link: clock set; connecting", "now", time.Now())
	}
	go l.retrySubscriptions(ctx)
	attempt := 0
	for ctx.Err() == nil {
		err := l.connect(ctx)
		var d time.Duration
		if err == nil {
			attempt = 0
			select {
			case l.ups <- struct{}{}:
			default:
			}
			select {
			case <-ctx.Done():
			case err = <-l.lost:
				l.cfg.Logger.Warn("link: connection lost", "err", err)
			}
			if ctx.Err() != nil {
				break
			}
			d = jitter(l.cfg.MinBackoff/2, l.cfg.LostWindow)
		} else {
			l.cfg.Logger.Warn("link: connect failed", "broker", l.cfg.Broker, "err", err, "attempt", attempt+1)
			d = Backoff(attempt, l.cfg.MinBackoff, l.cfg.MaxBackoff)
			attempt++
		}
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	if l.client.IsConnected() {
		l.client.Disconnect(500)
	}
	close(l.done)
}

// Backoff returns a delay drawn uniformly from [lo/2, min(hi, lo*2^attempt)]
// ("full jitter" with a floor), so reconnecting nodes spread out.
func Backoff(attempt int, lo, hi time.Duration) time.Duration {
	ceil := lo << min(attempt, 30)
	if ceil > hi || ceil <= 0 {
		ceil = hi
	}
	return jitter(lo/2, ceil)
}

// jitter is a delay drawn uniformly from [lo, hi].
func jitter(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rand.Int64N(int64(hi-lo)+1))
}

func (l *Link) connect(ctx context.Context) error {
	select { // a loss reported during a failed attempt is stale now
	case <-l.lost:
	default:
	}
	tok := l.client.Connect()
	if !tok.WaitTimeout(20 * time.Second) {
		return errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	topics := l.cfg.Subscriptions()
	filters := map[string]byte{}
	for _, t := range topics {
		filters[t] = l.qos(t)
	}
	l.subs = map[string]bool{}
	if len(filters) > 0 {
		st := l.client.SubscribeMultiple(filters, nil)
		if !st.WaitTimeout(20*time.Second) || st.Error() != nil {
			l.client.Disconnect(0)
			return fmt.Errorf("subscribe: %v", st.Error())
		}
		l.granted(st, topics)
	}
	l.cfg.Logger.Info("link: connected", "broker", l.cfg.Broker, "subscriptions", len(l.subs), "wanted", len(topics))
	return nil
}

// granted records the topics the broker accepted (mu held). A topic it
// refused (SUBACK 0x80: a zone the broker does not yet know the node is
// in, as the desired state can arrive before the broker's view changes)
// is logged and tried again later, with backoff, not left until the next
// reconnect while the zone's commands go unheard.
func (l *Link) granted(tok mqtt.Token, topics []string) {
	codes := map[string]byte{}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		codes = st.Result()
	}
	refused := false
	for _, t := range topics {
		if c, ok := codes[t]; ok && c >= 0x80 {
			l.cfg.Logger.Warn("link: subscription refused by the broker; will retry", "topic", t, "code", c)
			refused = true
			continue
		}
		l.subs[t] = true
	}
	if refused {
		l.wantRetry()
	}
}

func (l *Link) wantRetry() {
	select {
	case l.retry <- struct{}{}:
	default:
	}
}

// retrySubscriptions retries failed subscriptions with backoff until they
// succeed, the connection is lost (the reconnect subscribes anew) or ctx ends.
func (l *Link) retrySubscriptions(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.retry:
		}
		for attempt := 0; ; attempt++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(Backoff(attempt, l.cfg.MinBackoff, l.cfg.MaxBackoff)):
			}
			if l.resubscribe() {
				break
			}
		}
	}
}

func (l *Link) qos(topic string) byte {
	if l.cfg.QoS == nil {
		return 1
	}
	return l.cfg.QoS(topic)
}

func filters2set(ts []string) map[string]bool {
	m := map[string]bool{}
	for _, t := range ts {
		m[t] = true
	}
	return m
}

// Resubscribe brings live subscriptions in line with Subscriptions() (after
// the zones changed), in the background. A subscription that fails is
// retried with backoff.
func (l *Link) Resubscribe() {
	go func() {
		if !l.resubscribe() {
			l.wantRetry()
		}
	}()
}

// resubscribe reports whether every wanted subscription is in place (or the
// link is down: then the next connect subscribes to everything).
func (l *Link) resubscribe() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.client.IsConnectionOpen() {
		return true
	}
	want := filters2set(l.cfg.Subscriptions())
	var add, drop []string
	for t := range want {
		if !l.subs[t] {
			add = append(add, t)
		}
	}
	for t := range l.subs {
		if !want[t] {
			drop = append(drop, t)
		}
	}
	ok := true
	for _, t := range add {
		tok := l.client.Subscribe(t, l.qos(t), nil)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			l.cfg.Logger.Warn("link: subscribe failed; will retry", "topic", t, "err", tok.Error())
			ok = false
			continue
		}
		before := len(l.subs)
		l.granted(tok, []string{t})
		ok = ok && len(l.subs) > before
	}
	if len(drop) > 0 {
		l.client.Unsubscribe(drop...).WaitTimeout(10 * time.Second)
		for _, t := range drop {
			delete(l.subs, t)
		}
	}
	return ok
}

// ErrOffline is returned by Publish while the link is down.
var ErrOffline = errors.New("link: offline")

// Publish queues a QoS 1 message without waiting for the broker: the
// node's loop must never stall on a slow link (a bulletin is due). paho
// keeps it until acknowledged and resends it after a reconnect; what must
// not be lost (proof of play) is also kept by its caller until the
// controller's own acknowledgement. While offline it fails at once.
func (l *Link) Publish(topic string, retained bool, payload []byte) error {
	if !l.client.IsConnectionOpen() {
		return ErrOffline
	}
	tok := l.client.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	default:
		return nil
	}
}
