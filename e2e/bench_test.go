package e2e

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
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
