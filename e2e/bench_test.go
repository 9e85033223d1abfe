package e2e

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// BenchmarkZoneStartSpread plays a tone to a zone of real node processes
// (oto into their own PulseAudio null sinks) several times and reports how
// far apart the nodes' first samples are: as the nodes report them
// (first-sample estimate vs play_at) and as recorded from the sinks.
// Run with -benchtime=1x; each iteration is one broadcast.
func BenchmarkZoneStartSpread(b *testing.B) {
	dir := b.TempDir()
	nodes := []string{"s1", "s2", "s3", "s4", "s5"}
	pulse := audiotest.StartPulse(b, nodes...)
	ctl := startController(b, filepath.Join(dir, "ctl"))
	ctl.setupCommune(b)
	for _, id := range nodes {
		cfg := ctl.enrol(b, id, "z-center", dir, "oto")
		startNode(b, id, cfg, pulse.Env(id))
	}
	ctl.waitOnline(b, nodes...)
	m := ctl.upload(b, tone(b, dir, 1000, 1))

	var reported, recorded []float64 // spreads in ms
	var offsets []float64            // |first sample - play_at| in ms
	rounds := max(b.N, 5)
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		recs := map[string]*audiotest.Recording{}
		for _, id := range nodes {
			recs[id] = pulse.Record(b, id)
		}
		var resp struct {
			Command string `json:"command"`
			PlayAt  string `json:"play_at"`
		}
		ctl.mustCall(b, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256, "delay_ms": 3000}, &resp)
		playAt, _ := time.Parse(time.RFC3339Nano, resp.PlayAt)
		evs := ctl.waitPlays(b, resp.Command, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") == len(nodes) })
		time.Sleep(300 * time.Millisecond)
		var rep []float64
		for _, e := range evs {
			if e.Type == "started" {
				rep = append(rep, float64(e.OffsetUS)/1000)
				offsets = append(offsets, math.Abs(float64(e.OffsetUS)/1000))
			}
		}
		reported = append(reported, slices.Max(rep)-slices.Min(rep))
		var rec []float64
		for _, id := range nodes {
			s, err := recs[id].Stop()
			if err != nil {
				b.Fatal(err)
			}
			tone := audiotest.Analyze(s, audiotest.Rate)
			if !tone.Found {
				b.Fatalf("%s: no tone recorded", id)
			}
			on := recs[id].Started.Add(time.Duration(float64(tone.Onset) / audiotest.Rate * float64(time.Second)))
			rec = append(rec, float64(on.Sub(playAt).Microseconds())/1000)
		}
		recorded = append(recorded, slices.Max(rec)-slices.Min(rec))
	}
	b.StopTimer()
	b.ReportMetric(median(reported), "reported-spread-ms")
	b.ReportMetric(slices.Max(reported), "reported-spread-max-ms")
	b.ReportMetric(median(recorded), "recorded-spread-ms")
	b.ReportMetric(median(offsets), "abs-offset-p50-ms")
	fmt.Printf("zone start spread over %d broadcasts to %d nodes: node-reported median %.2f ms (max %.2f), recorded median %.2f ms (parec start jitter included); |first sample - play_at| median %.2f ms\n",
		rounds, len(nodes), median(reported), slices.Max(reported), median(recorded), median(offsets))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[len(s)/2]
}

// BenchmarkNodeRSS reports the node daemon's resident memory while it plays
// a bulletin through oto into a PulseAudio sink (target <= 25 MB).
func BenchmarkNodeRSS(b *testing.B) {
	dir := b.TempDir()
	pulse := audiotest.StartPulse(b, "m1")
	ctl := startController(b, filepath.Join(dir, "ctl"))
	ctl.setupCommune(b)
	node := startNode(b, "m1", ctl.enrol(b, "m1", "z-center", dir, "oto"), pulse.Env("m1"))
	ctl.waitOnline(b, "m1")
	m := ctl.upload(b, tone(b, dir, 440, 15))
	var idle, peak int64
	idle = rssKB(node.cmd.Process.Pid)
	for b.Loop() {
		var resp struct{ Command string }
		ctl.mustCall(b, "POST", "/api/v1/play", map[string]any{"node": "m1", "media": m.SHA256, "delay_ms": 2000}, &resp)
		deadline := time.Now().Add(25 * time.Second)
		for time.Now().Before(deadline) {
			peak = max(peak, rssKB(node.cmd.Process.Pid))
			var evs []playEvent
			ctl.mustCall(b, "GET", "/api/v1/plays?item="+resp.Command, nil, &evs)
			if count(evs, "finished") == 1 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(idle)/1024, "idle-rss-MB")
	b.ReportMetric(float64(peak)/1024, "playing-rss-MB")
	fmt.Printf("radio-node RSS: %.1f MB idle, %.1f MB peak while playing a 15 s bulletin (target <= 25 MB)\n", float64(idle)/1024, float64(peak)/1024)
}

// rssKB reads VmRSS of a process, in KiB.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}
