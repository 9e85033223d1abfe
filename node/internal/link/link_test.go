package link

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestBackoffSpreadsAndIsBounded(t *testing.T) {
	lo, hi := time.Second, time.Minute
	for attempt := 0; attempt < 40; attempt++ {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := Backoff(attempt, lo, hi)
			if d < lo/2 || d > hi {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, lo/2, hi)
			}
			seen[d/time.Millisecond] = true
		}
		if len(seen) < 50 {
			t.Errorf("attempt %d: only %d distinct delays in 200 draws; want jitter", attempt, len(seen))
		}
	}
}

// 1,000 links (the node's real reconnect policy, real MQTT connections)
// come back to a restarted broker spread out in time, not in one burst.
func TestThousandLinksReconnectSpreadOut(t *testing.T) {
	const n = 1000
	addr := freeAddr(t)
	var mu sync.Mutex
	var connects []time.Time
	startBroker := func() *mochi.Server {
		srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv.AddHook(new(auth.AllowHook), nil)
		var err error
		for i := 0; i < 50; i++ { // the port may linger a moment after the old broker closed
			if err = srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve()
		return srv
	}
	srv := startBroker()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		l := New(Config{Broker: "tcp://" + addr, ClientID: fmt.Sprintf("n%04d", i), Password: "x", Logger: log,
			Subscriptions: func() []string { return nil }, MinBackoff: time.Second, MaxBackoff: 30 * time.Second})
		wg.Add(2)
		go func() { defer wg.Done(); l.Run(ctx) }()
		go func() {
			defer wg.Done()
			for {
				select {
				case <-l.Up():
					mu.Lock()
					connects = append(connects, time.Now())
					mu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	waitFor := func(k int, within time.Duration) {
		deadline := time.Now().Add(within)
		for {
			mu.Lock()
			got := len(connects)
			mu.Unlock()
			if got >= k {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d connects within %v", got, k, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(n, 60*time.Second)
	mu.Lock()
	connects = nil
	mu.Unlock()
	srv.Close()
	restart := time.Now()
	time.Sleep(500 * time.Millisecond)
	srv = startBroker()
	defer srv.Close()
	waitFor(n, 90*time.Second)
	mu.Lock()
	ts := append([]time.Time(nil), connects...)
	mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	pct := func(p float64) time.Duration { return ts[int(p*float64(len(ts)-1))].Sub(restart) }
	buckets := map[int64]int{}
	for _, x := range ts {
		buckets[x.Sub(restart).Milliseconds()/100]++
	}
	busiest := 0
	for _, c := range buckets {
		busiest = max(busiest, c)
	}
	t.Logf("reconnects after the broker restart: min %v p10 %v p50 %v p90 %v max %v; busiest 100 ms holds %d of %d",
		pct(0), pct(0.1), pct(0.5), pct(0.9), pct(1), busiest, n)
	if pct(0.9)-pct(0.1) < time.Second {
		t.Errorf("reconnects bunched: p10..p90 spans %v", pct(0.9)-pct(0.1))
	}
	if busiest > n/4 {
		t.Errorf("%d of %d nodes reconnected within one 100 ms", busiest, n)
	}
	cancel()
	wg.Wait()
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A box that boots with its clock in the past (no real-time clock, NTP not
// yet done) does not try TLS until the clock is set, and gives up waiting
// when it is stopped.
func TestWaitForClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		clock := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // what a Pi says at boot
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		done := make(chan bool, 1)
		go func() { done <- waitForClock(context.Background(), now, 5*time.Second) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("waitForClock returned while the clock was still in 2000")
		default:
		}
		mu.Lock()
		clock = ClockFloor.Add(300 * 24 * time.Hour) // NTP has run
		mu.Unlock()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		select {
		case ok := <-done:
			if !ok {
				t.Error("waitForClock = false after the clock was set")
			}
		default:
			t.Fatal("waitForClock still waiting after the clock was set")
		}

		ctx, cancel := context.WithCancel(context.Background())
		mu.Lock()
		clock = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		mu.Unlock()
		go func() { done <- waitForClock(ctx, now, 5*time.Second) }()
		time.Sleep(time.Minute)
		cancel()
		synctest.Wait()
		if ok := <-done; ok {
			t.Error("waitForClock = true after being stopped with the clock unset")
		}
	})
}

// zoneGate is a broker ACL that refuses subscriptions to one topic until
// opened, as a broker does while it does not yet know the node joined a
// zone its desired state already lists.
type zoneGate struct {
	mochi.HookBase
	topic   string
	open    atomic.Bool
	refused atomic.Int32
}

func (h *zoneGate) ID() string { return "zone-gate" }
func (h *zoneGate) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (h *zoneGate) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (h *zoneGate) OnACLCheck(_ *mochi.Client, topic string, write bool) bool {
	if write || topic != h.topic || h.open.Load() {
		return true
	}
	h.refused.Add(1)
	return false
}

// A zone subscription the broker refuses is tried again, with backoff, on
// the same connection: the zone's commands arrive once the broker allows it.
func TestRefusedZoneSubscriptionIsRetried(t *testing.T) {
	const zone = "radio/v1/zone/z1/cmd"
	gate := &zoneGate{topic: zone}
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InlineClient: true})
	if err := srv.AddHook(gate, nil); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	var zones atomic.Bool
	l := New(Config{Broker: "tcp://" + addr, ClientID: "n1", Password: "x", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Subscriptions: func() []string {
			if zones.Load() {
				return []string{"radio/v1/node/n1/cmd", zone}
			}
			return []string{"radio/v1/node/n1/cmd"}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-l.Up():
	case <-time.After(20 * time.Second):
		t.Fatal("link not up within 20 s")
	}
	zones.Store(true)              // the desired state names the zone...
	l.Resubscribe()                // ...before the broker lets the node in
	for gate.refused.Load() == 0 { // the broker refused it once
		time.Sleep(10 * time.Millisecond)
	}
	gate.open.Store(true)
	deadline := time.After(20 * time.Second)
	for {
		if err := srv.Publish(zone, []byte("play"), false, 1); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-l.Messages():
			if m.Topic != zone {
				t.Fatalf("got %s, want the zone command", m.Topic)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("the zone command never arrived: the refused subscription was not retried")
		}
	}
}
