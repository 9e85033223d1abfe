package e2e

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// Alignment as people hear it: three real node processes of one zone play
// into one multi-channel PulseAudio sink (each node's sink is remapped onto
// one channel of it), recorded by a single parec. The channels share one
// sample clock, so the offset between two nodes is read from the recording
// itself, to the sample, by cross-correlating what they played: no capture
// start time to estimate, and nothing the nodes say about themselves.
//
// The sound is white noise, whose cross-correlation has a single sharp peak
// (a pure tone is ambiguous by its period).

var alignNodes = []string{"a1", "a2", "a3"}

// alignZone starts a controller and the zone's nodes on a shared sink.
func alignZone(b *testing.B, dir string) (*controller, *audiotest.Pulse, []*proc) {
	pulse := audiotest.StartPulseMix(b, alignNodes...)
	ctl := startController(b, filepath.Join(dir, "ctl"))
	ctl.setupCommune(b)
	var nodes []*proc
	for _, id := range alignNodes {
		nodes = append(nodes, startNode(b, id, ctl.enrol(b, id, "z-center", dir, "oto"), pulse.Env(id)))
	}
	ctl.waitOnline(b, alignNodes...)
	return ctl, pulse, nodes
}

// underruns counts the underruns the nodes logged: moments their writer
// was starved of CPU for longer than the device buffer, heard as a gap,
// after which a node is misaligned until it has realigned (a second).
func underruns(nodes []*proc) int {
	n := 0
	for _, p := range nodes {
		n += strings.Count(p.Log(), "sound device underrun")
	}
	return n
}

// spreads measures, in a shared recording of the nodes' channels, each
// burst of sound that starts in the first channel (bursts at least gap
// apart): the offsets of the other channels by cross-correlation, and the
// spread max - min in ms. A burst that another channel does not match
// (correlation below 0.9: that node played a gap or something else there)
// gives no offset; unmatched counts them.
func spreads(b *testing.B, all []int16, gap time.Duration) (out []float64, offsets [][]float64, unmatched int) {
	n := len(alignNodes)
	ch := make([][]int16, n)
	for i := range ch {
		ch[i] = audiotest.Channel(all, i, n)
	}
	const window = audiotest.Rate / 10 // correlate 100 ms
	const maxLag = audiotest.Rate / 20 // offsets up to ±50 ms
	const skip = audiotest.Rate / 100  // past the 10 ms fade-in
bursts:
	for _, seg := range audiotest.Segments(ch[0], audiotest.Rate, gap) {
		if seg.Length < window+2*skip {
			continue
		}
		offs := []float64{0}
		for i := 1; i < n; i++ {
			lag, score := audiotest.Lag(ch[0], ch[i], seg.Onset+skip, window, maxLag)
			if score < 0.9 {
				b.Logf("node %s: burst at %.3f s matches the first node's only to %.2f", alignNodes[i], float64(seg.Onset)/audiotest.Rate, score)
				unmatched++
				continue bursts
			}
			offs = append(offs, float64(lag)*1000/audiotest.Rate)
		}
		out = append(out, slices.Max(offs)-slices.Min(offs))
		offsets = append(offsets, offs)
	}
	return out, offsets, unmatched
}

// noise makes an MP3 of white noise (fixed seed) with ffmpeg.
func noise(b *testing.B, dir string, seconds float64) string {
	out := filepath.Join(dir, "noise.mp3")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
		"-i", fmt.Sprintf("anoisesrc=d=%g:c=white:seed=11:a=0.5:r=48000", seconds), "-ac", "1",
		"-c:a", "libmp3lame", "-b:a", "128k", out)
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, o)
	}
	return out
}

// BenchmarkAlignFile plays a file to the zone's three nodes, rounds times
// (RADIO_ALIGN_ROUNDS, default 8), and reports the spread of the nodes'
// starts as heard: median and max over broadcasts of max - min offset.
func BenchmarkAlignFile(b *testing.B) {
	dir := b.TempDir()
	ctl, pulse, nodes := alignZone(b, dir)
	m := ctl.upload(b, noise(b, dir, 1))
	rounds := max(b.N, alignRounds(b))
	var reported []float64
	// One capture for all broadcasts: a new recording stream would change
	// the sinks' latency (PulseAudio adapts it to its clients) under the
	// nodes between broadcasts.
	rec := pulse.RecordMix(b)
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		var resp struct{ Command string }
		ctl.mustCall(b, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256, "delay_ms": 3000}, &resp)
		evs := ctl.waitPlays(b, resp.Command, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") == len(alignNodes) })
		var rep []float64
		for _, e := range evs {
			if e.Type == "started" {
				rep = append(rep, float64(e.OffsetUS)/1000)
			}
		}
		reported = append(reported, slices.Max(rep)-slices.Min(rep))
	}
	time.Sleep(300 * time.Millisecond)
	all, err := rec.Stop()
	if err != nil {
		b.Fatal(err)
	}
	heard, offs, unmatched := spreads(b, all, 500*time.Millisecond)
	if len(heard)+unmatched != rounds {
		b.Fatalf("%d bursts in the recording, want %d", len(heard)+unmatched, rounds)
	}
	for r := range heard {
		b.Logf("broadcast %d: heard offsets %v ms (spread %.3f), node-reported spread %.3f ms", r, offs[r], heard[r], reported[r])
	}
	b.StopTimer()
	report(b, "file", heard, reported, unmatched, underruns(nodes))
}

// BenchmarkAlignLive relays a live source (noise bursts, 1 s every 2 s,
// served over HTTP at the real-time rate as an Icecast server would) to the
// zone's three nodes through a programme's `source relay`, and reports the
// spread of each burst's start as heard.
func BenchmarkAlignLive(b *testing.B) {
	dir := b.TempDir()
	ctl, pulse, nodes := alignZone(b, dir)
	bursts := max(b.N, alignRounds(b))
	up := httptest.NewServer(pacedWAV(bursts))
	b.Cleanup(up.Close)

	start := time.Now().Add(15 * time.Second).Truncate(time.Second)
	dur := time.Duration(2*bursts+2) * time.Second
	src := fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin tiep-song
  title Tiếp sóng
  source relay %s/live.wav
  target zone z-center
  status approved
  duration %s
  once %s
`, up.URL, dur, at(start))
	var resp map[string]any
	if code := ctl.call(b, "PUT", "/api/v1/schedules/x-an-phu", []byte(src), &resp); code != http.StatusOK {
		b.Fatalf("saving schedule: HTTP %d %v", code, resp)
	}
	rec := pulse.RecordMix(b)
	b.ResetTimer()
	item := occurrenceID("tiep-song", start)
	ctl.waitPlays(b, item, dur+60*time.Second, func(e []playEvent) bool {
		return count(e, "finished")+count(e, "interrupted") == len(alignNodes)
	})
	b.StopTimer()
	all, err := rec.Stop()
	if err != nil {
		b.Fatal(err)
	}
	heard, offs, unmatched := spreads(b, all, 500*time.Millisecond)
	if len(heard) < bursts/2 {
		b.Fatalf("%d bursts heard alike on every node, want about %d", len(heard), bursts)
	}
	for r := range heard {
		b.Logf("burst %d: heard offsets %v ms (spread %.3f)", r, offs[r], heard[r])
	}
	report(b, "live", heard, nil, unmatched, underruns(nodes))
}

func report(b *testing.B, what string, heard, reported []float64, unmatched, underruns int) {
	b.ReportMetric(float64(underruns), "underruns")
	b.ReportMetric(float64(unmatched), "unmatched")
	b.ReportMetric(median(heard), "heard-spread-ms")
	b.ReportMetric(slices.Max(heard), "heard-spread-max-ms")
	line := fmt.Sprintf("alignment (%s) over %d starts to %d nodes, heard in one shared capture: spread median %.3f ms, max %.3f ms",
		what, len(heard), len(alignNodes), median(heard), slices.Max(heard))
	if reported != nil {
		b.ReportMetric(median(reported), "reported-spread-ms")
		line += fmt.Sprintf("; node-reported spread median %.3f ms, max %.3f ms", median(reported), slices.Max(reported))
	}
	line += fmt.Sprintf("; %d starts not heard alike on every node; %d underruns logged by the nodes", unmatched, underruns)
	fmt.Println(line)
}

// pacedWAV serves an endless-looking WAV stream (mono s16le 48 kHz) at the
// real-time rate: bursts of white noise, 1 s each, 2 s apart, then silence.
func pacedWAV(bursts int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const rate = audiotest.Rate
		w.Header().Set("Content-Type", "audio/wav")
		hdr := make([]byte, 44)
		copy(hdr, "RIFF")
		binary.LittleEndian.PutUint32(hdr[4:], 0xFFFFFFFF)
		copy(hdr[8:], "WAVEfmt ")
		binary.LittleEndian.PutUint32(hdr[16:], 16)
		binary.LittleEndian.PutUint16(hdr[20:], 1)
		binary.LittleEndian.PutUint16(hdr[22:], 1)
		binary.LittleEndian.PutUint32(hdr[24:], rate)
		binary.LittleEndian.PutUint32(hdr[28:], rate*2)
		binary.LittleEndian.PutUint16(hdr[32:], 2)
		binary.LittleEndian.PutUint16(hdr[34:], 16)
		copy(hdr[36:], "data")
		binary.LittleEndian.PutUint32(hdr[40:], 0xFFFFFFFF)
		if _, err := w.Write(hdr); err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(11, 12))
		const chunk = rate / 50 // 20 ms
		buf := make([]byte, 2*chunk)
		began := time.Now()
		total := (2*bursts + 30) * rate
		for done := 0; done < total; done += chunk {
			for i := 0; i < chunk; i++ {
				pos := done + i
				var v int16
				// Sound from 1 s on, every other second, for the bursts.
				if sec := pos / rate; sec >= 1 && sec%2 == 1 && sec < 2*bursts {
					v = int16(rng.IntN(32768) - 16384)
				}
				binary.LittleEndian.PutUint16(buf[2*i:], uint16(v))
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			// Never more than 0.5 s ahead of real time, like a live source.
			if ahead := time.Duration(done-rate/2) * time.Second / rate; ahead > time.Since(began) {
				select {
				case <-time.After(ahead - time.Since(began)):
				case <-r.Context().Done():
					return
				}
			}
		}
	})
}

// alignRounds is RADIO_ALIGN_ROUNDS, default 8: broadcasts (files) or
// bursts (live) measured.
func alignRounds(b *testing.B) int {
	v := os.Getenv("RADIO_ALIGN_ROUNDS")
	if v == "" {
		return 8
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("RADIO_ALIGN_ROUNDS=%q", v)
	}
	return n
}
