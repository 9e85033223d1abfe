package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifySocket is a stand-in for systemd's notify socket: a real unixgram
// socket whose datagrams the test reads in order.
func notifySocket(t *testing.T, path string) <-chan string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			out <- string(buf[:n])
		}
	}()
	return out
}

// next returns the next datagram but STATUS= lines (a check that failed on
// a loaded machine says so there, and sends no WATCHDOG=1), failing after a
// generous wait.
func next(t *testing.T, who string, c <-chan string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m := <-c:
			if strings.HasPrefix(m, "STATUS=") {
				continue
			}
			return strings.TrimSuffix(m, "\nSTATUS=healthy")
		case <-timeout:
			t.Fatalf("%s: no datagram on its notify socket", who)
			return ""
		}
	}
}

// TestDaemonsNotifySystemd runs both daemons as the packaged units do
// (Type=notify, WatchdogSec=) with a real notify socket: each says READY=1,
// then feeds the watchdog, then says STOPPING=1 when told to stop.
func TestDaemonsNotifySystemd(t *testing.T) {
	dir := t.TempDir()
	// The controller's health is checked every 100 ms; the node's main
	// loop turns once a second, so its watchdog needs more than 2 s (the
	// unit sets 30 s): 4 s, a check every 2 s.
	env := func(sock, usec string) []string {
		return []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=" + usec}
	}
	csock := filepath.Join(dir, "controller.sock")
	cmsgs := notifySocket(t, csock)
	p := start(t, "controller", env(csock, "200000"), bin+"/radio-controller", "-data", filepath.Join(dir, "ctl"),
		"-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0")
	ctl := &controller{proc: p, dir: filepath.Join(dir, "ctl")}
	ctl.url = p.wait(t, `controller ready" http=(http://[0-9.:]+)`, 60*time.Second)
	ctl.mqtt = p.wait(t, `controller ready".*broker=tcp://([0-9.:]+)`, time.Second)
	tok, err := os.ReadFile(filepath.Join(ctl.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	ctl.token = strings.TrimSpace(string(tok))
	if got := next(t, "controller", cmsgs); got != "READY=1" {
		t.Fatalf("controller's first datagram %q, want READY=1", got)
	}
	for i := 0; i < 3; i++ {
		if got := next(t, "controller", cmsgs); got != "WATCHDOG=1" {
			t.Fatalf("controller datagram %q, want WATCHDOG=1", got)
		}
	}

	ctl.setupCommune(t)
	cfg := ctl.enrol(t, "n-sd", "", dir, "silent")
	nsock := filepath.Join(dir, "node.sock")
	nmsgs := notifySocket(t, nsock)
	node := start(t, "node", env(nsock, "4000000"), bin+"/radio-node", "-config", cfg)
	if got := next(t, "node", nmsgs); got != "READY=1" {
		t.Fatalf("node's first datagram %q, want READY=1", got)
	}
	for i := 0; i < 2; i++ {
		if got := next(t, "node", nmsgs); got != "WATCHDOG=1" {
			t.Fatalf("node datagram %q, want WATCHDOG=1", got)
		}
	}

	for _, d := range []struct {
		name string
		p    *proc
		msgs <-chan string
	}{{"node", node, nmsgs}, {"controller", p, cmsgs}} {
		d.p.stop()
		// What it sent up to its exit: watchdog feeds, then STOPPING=1.
		for m := next(t, d.name, d.msgs); m != "STOPPING=1"; m = next(t, d.name, d.msgs) {
			if m != "WATCHDOG=1" {
				t.Fatalf("%s: datagram %q while stopping, want WATCHDOG=1 or STOPPING=1", d.name, m)
			}
		}
	}
}
