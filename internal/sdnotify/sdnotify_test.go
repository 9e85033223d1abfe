package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a real unixgram socket, as systemd's notify socket is, and
// points $NOTIFY_SOCKET at it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestReadyWatchdogStopping(t *testing.T) {
	c := listen(t)
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	if v, ok := os.LookupEnv("NOTIFY_SOCKET"); ok {
		t.Errorf("NOTIFY_SOCKET=%q still set: children would inherit it", v)
	}
	for _, step := range []struct {
		send func() error
		want string
	}{{n.Ready, "READY=1"}, {n.Watchdog, "WATCHDOG=1"}, {n.Stopping, "STOPPING=1"}} {
		if err := step.send(); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, c); got != step.want {
			t.Errorf("got %q, want %q", got, step.want)
		}
	}
}

func TestAbstractSocket(t *testing.T) {
	name := "@sdnotify-test-" + strconv.Itoa(os.Getpid())
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	n, _ := FromEnv()
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "READY=1" {
		t.Errorf("got %q", got)
	}
}

func TestOutsideSystemdDoesNothing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := FromEnv()
	if err != nil || n.Enabled() {
		t.Fatalf("FromEnv() = enabled %v, %v; want disabled", n.Enabled(), err)
	}
	if err := n.Ready(); err != nil {
		t.Errorf("Ready without a socket: %v", err)
	}
	var nilN *Notifier
	if err := nilN.Watchdog(); err != nil || nilN.WatchdogInterval() != 0 {
		t.Errorf("nil notifier: %v, %v", err, nilN.WatchdogInterval())
	}
}

func TestSocketGoneIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing"))
	n, _ := FromEnv()
	if err := n.Ready(); err == nil {
		t.Error("Ready to a missing socket: no error")
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		wantErr         bool
	}{
		{"for this process", "30000000", me, 30 * time.Second, false},
		{"no pid given", "5000000", "", 5 * time.Second, false},
		{"for another process", "30000000", "1", 0, false},
		{"none", "", "", 0, false},
		{"garbage", "thirty", me, 0, true},
		{"negative", "-5", me, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", "/nonexistent")
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			n, err := FromEnv()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := n.WatchdogInterval(); got != tc.want {
				t.Errorf("WatchdogInterval() = %v, want %v", got, tc.want)
			}
		})
	}
}

// Feed sends WATCHDOG=1 only for rounds whose check passed: a daemon whose
// loop is stuck stops feeding, and systemd restarts it.
func TestFeedOnlyWhileHealthy(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "2000") // checks every millisecond: the order is what counts
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// healthy, healthy, stuck, stuck, healthy again, then done.
	results := []error{nil, nil, ErrStalled, ErrStalled, nil}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan int, len(results))
	done := make(chan struct{})
	go func() {
		defer close(done)
		i := 0
		n.Feed(ctx, func(context.Context) error {
			if i >= len(results) {
				cancel()
				<-ctx.Done()
				return ctx.Err()
			}
			calls <- i
			i++
			return results[i-1]
		})
	}()
	want := []string{"WATCHDOG=1", "WATCHDOG=1",
		"STATUS=unhealthy: main loop has not run since the last check",
		"STATUS=unhealthy: main loop has not run since the last check",
		"WATCHDOG=1\nSTATUS=healthy"}
	for i, w := range want {
		if got := recv(t, c); got != w {
			t.Errorf("datagram %d = %q, want %q", i, got, w)
		}
	}
	<-done
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	b := make([]byte, 64)
	if k, err := c.Read(b); err == nil {
		t.Errorf("after ctx ended: %q", b[:k])
	}
}

func TestFeedWithoutWatchdogReturns(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "")
	n, _ := FromEnv()
	n.Feed(context.Background(), func(context.Context) error {
		t.Error("check called without a watchdog")
		return nil
	}) // returns, or the test hangs
}

func TestHeartbeat(t *testing.T) {
	c := listen(t)
	n, _ := FromEnv()
	h := NewHeartbeat(n)
	if err := h.Check(context.Background()); !errors.Is(err, ErrStalled) {
		t.Errorf("Check before any Beat = %v, want ErrStalled", err)
	}
	h.Beat()
	if got := recv(t, c); got != "READY=1" {
		t.Errorf("first Beat sent %q, want READY=1", got)
	}
	h.Beat()
	if err := h.Check(context.Background()); err != nil {
		t.Errorf("Check after Beat = %v", err)
	}
	if err := h.Check(context.Background()); !errors.Is(err, ErrStalled) {
		t.Errorf("Check with no Beat since = %v, want ErrStalled", err)
	}
	h.Beat()
	if err := h.Check(context.Background()); err != nil {
		t.Errorf("Check after a new Beat = %v", err)
	}
	// READY=1 went once only.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	b := make([]byte, 64)
	if k, err := c.Read(b); err == nil {
		t.Errorf("second datagram %q: READY=1 is sent once", b[:k])
	}
}

// A process that execs another program in its place (an update's trial)
// must hand the systemd variables on, or the new program could not feed
// the watchdog and systemd would kill it.
func TestExecEnvHandsTheVariablesOn(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		t.Fatal("FromEnv left NOTIFY_SOCKET for children")
	}
	got := strings.Join(n.ExecEnv(), " ")
	want := "NOTIFY_SOCKET=/run/systemd/notify WATCHDOG_USEC=30000000 WATCHDOG_PID=" + strconv.Itoa(os.Getpid())
	if got != want {
		t.Fatalf("ExecEnv = %q, want %q", got, want)
	}
	if env := (&Notifier{}).ExecEnv(); env != nil {
		t.Fatalf("no socket: ExecEnv = %q, want nothing", env)
	}
}
