package e2e

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// BenchmarkCAPAlert posts CAP alerts to a controller with real node
// processes (oto into their own PulseAudio null sinks) and reports, over
// every node of every round: the time from the POST to the node's first
// sample (its "started" proof of play; each alert has a new text, so text
// to speech, the attention signal and the nodes' fetch of the new audio
// are included), the time to answer the POST, and the time from posting
// the Cancel to the last node's stop. RADIO_BENCH_NODES sets the number of
// nodes (default 5); each iteration is one alert (at least 5 rounds).
func BenchmarkCAPAlert(b *testing.B) {
	n := 5
	if v, err := strconv.Atoi(os.Getenv("RADIO_BENCH_NODES")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	var nodes []string
	for i := range n {
		nodes = append(nodes, fmt.Sprintf("b%d", i+1))
	}
	pulse := audiotest.StartPulse(b, nodes...)
	ctl := startController(b, filepath.Join(dir, "ctl"))
	ctl.setupCommune(b)
	for i, id := range nodes {
		cfg := ctl.enrolWith(b, id, dir, "oto", "node", "add", id, "st-1", "-lat", fmt.Sprint(10.75+float64(i)*0.001), "-lon", "106.70")
		startNode(b, id, cfg, pulse.Env(id))
	}
	ctl.waitOnline(b, nodes...)

	type ev struct {
		NodeID string    `json:"node_id"`
		Type   string    `json:"type"`
		At     time.Time `json:"at"`
	}
	wait := func(item, typ string) []ev {
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var evs []ev
			ctl.mustCall(b, "GET", "/api/v1/plays?item="+item+"&type="+typ, nil, &evs)
			if len(evs) == 1 {
				return evs
			}
		}
		b.Fatalf("no %s event for %s", typ, item)
		return nil
	}
	var first, answer, cancelAll []float64 // ms
	rounds := max(b.N, 5)
	b.ResetTimer()
	for r := range rounds {
		now := time.Now()
		alert := capAlert{ID: fmt.Sprintf("BENCH-%d", r), Status: "Actual", MsgType: "Alert", Sent: now, Expires: now.Add(time.Hour),
			Headline: fmt.Sprintf("Cảnh báo lũ số %d", r+1), Description: fmt.Sprintf("Mực nước sông lên %d mét lúc %d giờ.", r+3, r+10),
			Area: "<polygon>10.70,106.65 10.70,106.75 10.90,106.75 10.90,106.65 10.70,106.65</polygon>"}
		t0 := time.Now()
		code, res := postCAPQuiet(b, ctl, ctl.token, alert.xml())
		answer = append(answer, ms(time.Since(t0)))
		if code != http.StatusAccepted || len(res.Nodes) != n {
			b.Fatalf("alert %d: HTTP %d %+v", r, code, res)
		}
		var p warningProgress
		ctl.mustCall(b, "GET", "/api/v1/warnings/"+res.Warning, nil, &p)
		for _, x := range p.Nodes {
			first = append(first, ms(wait(x.Command, "started")[0].At.Sub(t0)))
		}
		cancel := capAlert{ID: fmt.Sprintf("BENCH-%d-cancel", r), Status: "Actual", MsgType: "Cancel", Sent: now.Add(time.Second),
			Refs: "canhbao@kttv.gov.vn," + alert.ID + "," + alert.Sent.In(vn).Format("2006-01-02T15:04:05-07:00"), Headline: "Hủy", Area: alert.Area}
		t1 := time.Now()
		if code, res := postCAPQuiet(b, ctl, ctl.token, cancel.xml()); code != http.StatusOK || res.Outcome != "cancelled" {
			b.Fatalf("cancel %d: HTTP %d %+v", r, code, res)
		}
		last := 0.0
		for _, x := range p.Nodes {
			last = math.Max(last, ms(wait(x.Command, "interrupted")[0].At.Sub(t1)))
		}
		cancelAll = append(cancelAll, last)
	}
	b.StopTimer()
	b.ReportMetric(pct(first, 50), "first-sample-p50-ms")
	b.ReportMetric(pct(first, 99), "first-sample-p99-ms")
	b.ReportMetric(pct(answer, 50), "post-answered-p50-ms")
	b.ReportMetric(pct(cancelAll, 50), "cancel-everywhere-p50-ms")
	b.ReportMetric(slices.Max(cancelAll), "cancel-everywhere-max-ms")
	fmt.Printf("CAP alert -> first sample on %d nodes over %d alerts: p50 %.0f ms, p99 %.0f ms (POST answered p50 %.0f ms: TTS, attention signal, commands); cancel -> stopped everywhere p50 %.0f ms, max %.0f ms\n",
		n, rounds, pct(first, 50), pct(first, 99), pct(answer, 50), pct(cancelAll, 50), slices.Max(cancelAll))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct is the nearest-rank percentile.
func pct(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}
