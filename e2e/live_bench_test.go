package e2e

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/communeradio/radio/internal/audiotest"
)

// BenchmarkLiveMouthToSpeaker measures live audio from the moment a sound
// is "spoken" to the moment it comes out of real nodes' sinks, on
// loopback. A client takes the station through the API as the live page
// does and sends Ogg Opus pages of 20 ms up the same WebSocket, each when
// its audio has been "spoken" (at the wall time of its last sample): a
// beep every 3 s. The latency of a beep is its onset in a node's sink
// recording minus the instant it was spoken. Not included: the browser's
// own capture and MediaRecorder's chunking (up to 100 ms with the page's
// timeslice). Reported: p50/p99 over every beep on every node, and the
// bytes per node per minute on the stream topic (signed packets).
// Run with -benchtime=1x.
func BenchmarkLiveMouthToSpeaker(b *testing.B) {
	dir := b.TempDir()
	nodes := []string{"m1", "m2"}
	pulse := audiotest.StartPulse(b, nodes...)
	ctl := startController(b, filepath.Join(dir, "ctl"))
	ctl.setupCommune(b)
	for _, id := range nodes {
		startNode(b, id, ctl.enrol(b, id, "z-center", dir, "oto"), pulse.Env(id))
	}
	ctl.waitOnline(b, nodes...)
	pw := ctl.createUser(b, "an", "Nguyễn Văn An", "officer", "x-an-phu")

	const beeps, every = 8, 3 * time.Second
	src := filepath.Join(dir, "beeps.ogg")
	dur := float64(beeps) * every.Seconds()
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "sine=frequency=1000:sample_rate=48000:duration="+ftoa(dur),
		"-af", "volume='if(lt(mod(t,3),0.15),0.5,0)':eval=frame", "-ac", "1",
		"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", src).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	raw, _ := os.ReadFile(src)
	pages := oggPages(b, raw)

	var lat []float64
	var bytesPerMin float64
	b.ResetTimer()
	for round := 0; round < max(b.N, 1); round++ {
		web := webClient(b, ctl.url, "an", pw)
		code, body := web.call("POST", "/api/v1/live", map[string]string{"zone": "z-center", "title": "Đo độ trễ"})
		var tk struct {
			WS string `json:"ws"`
		}
		if json.Unmarshal([]byte(body), &tk); code != http.StatusCreated || tk.WS == "" {
			b.Fatalf("start: HTTP %d %s", code, body)
		}
		d := websocket.Dialer{Jar: web.c.Jar}
		conn, _, err := d.Dial("ws"+strings.TrimPrefix(ctl.url, "http")+tk.WS, http.Header{"Origin": {ctl.url}})
		if err != nil {
			b.Fatalf("socket: %v", err)
		}
		recs := map[string]*audiotest.Recording{}
		for _, id := range nodes {
			recs[id] = pulse.Record(b, id)
		}
		var session string
		go func() { // the controller's messages: {"type":"started","session":...}
			for {
				_, m, err := conn.ReadMessage()
				if err != nil {
					return
				}
				var msg struct{ Session string }
				if json.Unmarshal(m, &msg) == nil && msg.Session != "" && session == "" {
					session = msg.Session
				}
			}
		}()
		// Speak: every page when its last sample has been spoken (the
		// granule position counts Opus's 312-sample pre-skip too).
		t0 := time.Now()
		for _, p := range pages {
			if p.end > 0 {
				time.Sleep(time.Until(t0.Add(time.Duration(p.end-312) * time.Second / 48000)))
			}
			if err := conn.WriteMessage(websocket.BinaryMessage, p.data); err != nil {
				b.Fatalf("send: %v", err)
			}
		}
		conn.WriteMessage(websocket.TextMessage, []byte("stop"))
		time.Sleep(3 * time.Second) // the last beep through the latency
		conn.Close()
		for _, id := range nodes {
			s, _ := recs[id].Stop()
			segs := audiotest.Segments(s, audiotest.Rate, 500*time.Millisecond)
			for _, g := range segs {
				on := recs[id].TimeOf(g.Onset)
				k := int(on.Sub(t0) / every) // the beep spoken last before it
				spoken := t0.Add(time.Duration(k) * every)
				if k < 0 || k >= beeps || g.Length < audiotest.Rate/20 {
					continue
				}
				lat = append(lat, float64(on.Sub(spoken).Microseconds())/1000)
			}
			b.Logf("%s: %d of %d beeps heard", id, len(segs), beeps)
		}
		var plays []playEvent
		ctl.mustCall(b, "GET", "/api/v1/plays?node=m1", nil, &plays)
		for _, e := range plays {
			if e.ItemID == session && e.Type == "finished" {
				b.Logf("m1: finished after %d ms, %d gap(s) of %d ms", e.PlayedMS, e.Gaps, e.GapMS)
			}
		}
		bytesPerMin = streamBytesPerMinute(pages, dur)
	}
	b.StopTimer()
	if len(lat) < beeps*len(nodes)/2 {
		b.Fatalf("heard %d beeps of %d", len(lat), beeps*len(nodes))
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(bytesPerMin/1024, "KiB/node/min")
	b.Logf("mouth-to-speaker over %d beeps on %d nodes: p50 %.0f ms, p99 %.0f ms (min %.0f, max %.0f)",
		len(lat), len(nodes), q(0.5), q(0.99), lat[0], lat[len(lat)-1])
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// streamBytesPerMinute is what a node receives for a minute of a session:
// the Opus frames as ffmpeg made them, in 100 ms packets of 5 frames, each
// with the packet's header (about 30 bytes with the session id) and its
// 64-byte signature, plus 2 bytes a frame.
func streamBytesPerMinute(pages []oggPage, seconds float64) float64 {
	var audio int
	for _, p := range pages {
		if p.end > 0 {
			audio += p.payload
		}
	}
	frames := seconds * 50
	packets := frames / 5
	return (float64(audio) + frames*2 + packets*(30+64)) / seconds * 60
}

type oggPage struct {
	data    []byte
	end     int64 // granule position: samples to the end of this page's audio
	payload int
}

// oggPages splits an Ogg file into its pages.
func oggPages(t testing.TB, b []byte) []oggPage {
	var out []oggPage
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			t.Fatalf("not an Ogg page at %d bytes from the end", len(b))
		}
		n := int(b[26])
		size := 27 + n
		payload := 0
		for _, s := range b[27 : 27+n] {
			payload += int(s)
		}
		size += payload
		out = append(out, oggPage{data: b[:size], end: int64(binary.LittleEndian.Uint64(b[6:14])), payload: payload})
		b = b[size:]
	}
	return out
}
