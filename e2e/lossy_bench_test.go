package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// linkProfile is what a mobile link does to the node's one TCP connection.
// This machine's kernel has no netem, so the link is a TCP proxy between
// the node and the broker: every chunk the broker sends is held for delay ±
// jitter (in order: TCP delivers in order), and with probability loss it
// waits a retransmission more (stall), the head-of-line blocking a lost
// segment causes. The node's own traffic gets the delay only.
type linkProfile struct {
	name   string
	delay  time.Duration
	jitter time.Duration
	loss   float64
	stall  time.Duration
}

// lossyProxy listens on 127.0.0.1 and forwards each connection to upstream
// through the profile.
func lossyProxy(t testing.TB, upstream string, p linkProfile) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			go pipeDelayed(u, c, p, true)  // broker -> node: delay, jitter, stalls
			go pipeDelayed(c, u, p, false) // node -> broker: delay only
		}
	}()
	return l.Addr().String()
}

func pipeDelayed(src, dst net.Conn, p linkProfile, impaired bool) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 4096)
	var once sync.Once
	done := func() { once.Do(func() { src.Close(); dst.Close() }) }
	go func() {
		defer done()
		for c := range q {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.b); err != nil {
				return
			}
		}
	}()
	var last time.Time
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			at := time.Now().Add(p.delay)
			if impaired {
				if p.jitter > 0 {
					at = at.Add(time.Duration(rand.Int64N(int64(2*p.jitter))) - p.jitter)
				}
				if rand.Float64() < p.loss {
					at = at.Add(p.stall)
				}
			}
			if at.Before(last) {
				at = last // in order, as TCP delivers
			}
			last = at
			q <- chunk{append([]byte(nil), buf[:n]...), at}
		}
		if err != nil {
			close(q)
			if err != io.EOF {
				done()
			}
			return
		}
	}
}

// BenchmarkLiveOverLossyLink speaks live (Ogg Opus pages sent up the live
// WebSocket in real time, as BenchmarkLiveMouthToSpeaker does) to a node
// whose link to the broker is a mobile-like one, and reports the holes the
// node played as silence (its proof of play: gaps, gap_ms) for each link
// profile, with the voice budget (600 ms) and with the relay budget (1.5 s).
// Run with -benchtime=1x.
func BenchmarkLiveOverLossyLink(b *testing.B) {
	profiles := []linkProfile{
		{name: "loopback"},
		{name: "4G", delay: 30 * time.Millisecond, jitter: 20 * time.Millisecond, loss: 0.005, stall: 200 * time.Millisecond},
		{name: "3G", delay: 100 * time.Millisecond, jitter: 60 * time.Millisecond, loss: 0.02, stall: 300 * time.Millisecond},
		{name: "poor 3G", delay: 200 * time.Millisecond, jitter: 150 * time.Millisecond, loss: 0.05, stall: 600 * time.Millisecond},
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "voice.ogg")
	const seconds = 20
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=500:sample_rate=48000:duration=%d", seconds),
		"-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", src).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	raw, _ := os.ReadFile(src)
	pages := oggPages(b, raw)

	type result struct {
		profile, budget string
		gaps            int
		gapMS, playedMS int64
	}
	var results []result
	b.ResetTimer()
	for _, budget := range []string{"600ms", "1500ms"} {
		ctl := startController(b, filepath.Join(dir, "ctl-"+budget), "-voice-latency", budget)
		ctl.setupCommune(b)
		pw := ctl.createUser(b, "an", "Nguyễn Văn An", "officer", "x-an-phu")
		for i, p := range profiles {
			id := fmt.Sprintf("j%d", i)
			nodeDir := filepath.Join(dir, "nodes-"+budget) // each controller's nodes their own state
			os.MkdirAll(nodeDir, 0o750)
			cfgPath := ctl.enrol(b, id, "", nodeDir, "silent")
			// The node reaches the broker through the profile's link.
			cfg, _ := os.ReadFile(cfgPath)
			cfg = []byte(strings.Replace(string(cfg), ctl.mqtt, lossyProxy(b, ctl.mqtt, p), 1))
			os.WriteFile(cfgPath, cfg, 0o600)
			node := startNode(b, id, cfgPath, nil)
			ctl.waitOnline(b, id)

			web := webClient(b, ctl.url, "an", pw)
			code, body := web.call("POST", "/api/v1/live", map[string]string{"node": id, "title": "Thử đường truyền " + p.name})
			var tk struct{ Session, WS string }
			if json.Unmarshal([]byte(body), &tk); code != http.StatusCreated {
				b.Fatalf("start: HTTP %d %s", code, body)
			}
			d := websocket.Dialer{Jar: web.c.Jar}
			conn, _, err := d.Dial("ws"+strings.TrimPrefix(ctl.url, "http")+tk.WS, http.Header{"Origin": {ctl.url}})
			if err != nil {
				b.Fatalf("socket: %v", err)
			}
			t0 := time.Now()
			for _, pg := range pages {
				if pg.end > 0 {
					time.Sleep(time.Until(t0.Add(time.Duration(pg.end-312) * time.Second / 48000)))
				}
				conn.WriteMessage(websocket.BinaryMessage, pg.data)
			}
			conn.WriteMessage(websocket.TextMessage, []byte("stop"))
			evs := ctl.waitPlays(b, tk.Session, time.Minute, func(e []playEvent) bool {
				return count(e, "finished")+count(e, "interrupted") == 1
			})
			conn.Close()
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if _, body := web.call("GET", "/api/v1/live", nil); strings.TrimSpace(body) == "[]" {
					break // the station is free for the next profile
				}
			}
			for _, e := range evs {
				if e.Type == "finished" || e.Type == "interrupted" {
					results = append(results, result{p.name, budget, e.Gaps, e.GapMS, e.PlayedMS})
				}
			}
			node.kill()
		}
	}
	b.StopTimer()
	for _, r := range results {
		b.Logf("%-9s budget %-6s: %2d hole(s), %5d ms of silence in %5d ms played (%.1f%%)", r.profile, r.budget, r.gaps, r.gapMS, r.playedMS,
			100*float64(r.gapMS)/float64(max(r.playedMS, 1)))
		b.ReportMetric(float64(r.gapMS)/float64(max(r.playedMS, 1))*100, "%silence-"+strings.ReplaceAll(r.profile, " ", "")+"-"+r.budget)
	}
}
