// Package sdnotify tells systemd how a daemon is doing, by the notify
// protocol of sd_notify(3): READY=1 once it serves, WATCHDOG=1 while its main
// loop runs, STOPPING=1 on the way out. The packaged units are Type=notify
// with WatchdogSec=, so a daemon that hangs (alive but stuck) is restarted
// the same as one that crashes; a box nobody visits must recover by itself.
//
// It is written here rather than imported: the protocol is one datagram of
// text to the unix socket named by $NOTIFY_SOCKET. Outside systemd (no
// NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Notifier sends state datagrams to systemd. The zero value and nil do
// nothing.
type Notifier struct {
	socket   string        // $NOTIFY_SOCKET; "@name" is an abstract socket (Go maps it)
	interval time.Duration // $WATCHDOG_USEC when it is meant for this process
}

// FromEnv reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. It unsets
// them, as sd_notify's unset_environment does, so that child processes
// (ffmpeg, espeak-ng) cannot speak for the daemon.
func FromEnv() (*Notifier, error) {
	n := &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
	usec, pid := os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID")
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	if usec == "" {
		return n, nil
	}
	// WATCHDOG_PID names the process the watchdog is for; a variable
	// inherited from a parent is not ours.
	if pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return n, nil
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us <= 0 {
		return n, fmt.Errorf("sdnotify: WATCHDOG_USEC=%q is not a positive number of microseconds", usec)
	}
	n.interval = time.Duration(us) * time.Microsecond
	return n, nil
}

// ExecEnv is what a process that replaces itself with another program
// (syscall.Exec: same PID, so systemd still supervises it) must hand on so
// that the new program can say READY=1 and feed the watchdog: FromEnv took
// these variables out of the environment.
func (n *Notifier) ExecEnv() []string {
	if n == nil || n.socket == "" {
		return nil
	}
	env := []string{"NOTIFY_SOCKET=" + n.socket}
	if n.interval > 0 {
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(n.interval.Microseconds(), 10), "WATCHDOG_PID="+strconv.Itoa(os.Getpid()))
	}
	return env
}

// Enabled reports whether there is a socket to notify.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval is how often systemd wants WATCHDOG=1 at the latest; 0
// when no watchdog is set for this process.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.interval
}

// Send writes one state datagram ("READY=1", "STATUS=...", lines joined by
// newlines). Without a socket it does nothing.
func (n *Notifier) Send(state string) error {
	if !n.Enabled() {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", n.socket, err)
	}
	return nil
}

// Ready tells systemd the daemon serves (Type=notify units count as started
// only then).
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Stopping tells systemd the daemon is shutting down on purpose.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Watchdog feeds the watchdog once.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// Feed feeds the watchdog every half interval for as long as check passes,
// until ctx ends. When check fails it sends nothing that round (and
// reports the failure in STATUS=), so systemd restarts a daemon that stays
// unhealthy for a whole WatchdogSec. Without a watchdog it returns at once.
func (n *Notifier) Feed(ctx context.Context, check func(context.Context) error) {
	iv := n.WatchdogInterval()
	if iv <= 0 || !n.Enabled() {
		return
	}
	t := time.NewTicker(iv / 2)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, iv/2)
		err := check(cctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			failing = true
			n.Send("STATUS=unhealthy: " + oneLine(err.Error()))
		case err == nil && failing:
			failing = false
			n.Send("WATCHDOG=1\nSTATUS=healthy")
		case err == nil:
			n.Watchdog()
		}
	}
}

func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// Heartbeat is the health of a main loop that calls Beat on every turn:
// Check fails when it has not turned since the last Check. The first Beat
// also sends READY=1, so a daemon counts as started once its loop runs.
type Heartbeat struct {
	n     *Notifier
	beats atomic.Uint64
	ready sync.Once

	mu   sync.Mutex
	seen uint64
}

// NewHeartbeat returns a heartbeat that reports readiness through n.
func NewHeartbeat(n *Notifier) *Heartbeat { return &Heartbeat{n: n} }

// ErrStalled is Check's error when the loop has not turned.
var ErrStalled = errors.New("main loop has not run since the last check")

// Beat records one turn of the loop. It is cheap: call it on every turn.
func (h *Heartbeat) Beat() {
	h.beats.Add(1)
	h.ready.Do(func() { h.n.Ready() })
}

// Check passes when Beat was called since the previous Check.
func (h *Heartbeat) Check(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.beats.Load()
	if b == h.seen {
		return ErrStalled
	}
	h.seen = b
	return nil
}
