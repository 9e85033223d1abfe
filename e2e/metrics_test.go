package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the controller's /metrics as Prometheus would.
func (c *controller) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	if c.metrics == "" {
		t.Fatal("the controller's ready line names no metrics URL")
	}
	resp, err := http.Get(c.metrics)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: not Prometheus text: %v", err)
	}
	return fams
}

// metric is the value of the series of name with the given labels (a
// counter, gauge, or a histogram's count); ok is false when absent.
func metric(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// Two nodes play three commands while Prometheus would scrape: the
// connected and enrolled counts, the messages by kind (one zone command
// per play, each node's replies and proof of play, an acknowledgement
// per events message), the play route's latency count and the registry
// size all read what happened; a revoked node leaves the connected count.
// Every metric the shipped Grafana dashboard queries is in the scrape.
func TestMetricsDuringRun(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, dir)
	ctl.setupCommune(t)
	for _, id := range []string{"m1", "m2"} {
		startNode(t, id, ctl.enrol(t, id, "z-center", dir, "silent"), nil)
	}
	ctl.waitOnline(t, "m1", "m2")

	fams := ctl.scrape(t)
	for _, c := range []struct {
		state string
		want  float64
	}{{"connected", 2}, {"known", 2}, {"revoked", 0}} {
		if got, ok := metric(fams, "radio_nodes", "state", c.state); !ok || got != c.want {
			t.Errorf("radio_nodes{state=%q} = %v (present %v), want %v", c.state, got, ok, c.want)
		}
	}
	before, _ := metric(fams, "radio_messages_in_total", "kind", "events")

	const plays = 3
	m := ctl.upload(t, tone(t, dir, 440, 0.5))
	for range plays {
		var resp struct {
			Command string `json:"command"`
		}
		ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256, "delay_ms": 1500}, &resp)
		ctl.waitPlays(t, resp.Command, time.Minute, func(e []playEvent) bool { return count(e, "finished") == 2 })
	}

	// Acknowledgements go out just after the commit the API reads: wait
	// until every events message has its one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		fams = ctl.scrape(t)
		in, _ := metric(fams, "radio_messages_in_total", "kind", "events")
		acks, _ := metric(fams, "radio_messages_out_total", "kind", "ack")
		if in == acks || time.Now().After(deadline) {
			if in != acks {
				t.Errorf("%v events messages in, %v acks out: want one ack each (one epoch per node)", in, acks)
			}
			// started and finished of 3 plays on 2 nodes: 12 events,
			// sent in at least one message per play and node, at most one each.
			if got := in - before; got < 2*plays || got > 4*plays {
				t.Errorf("events messages in during the plays: %v, want %d..%d", got, 2*plays, 4*plays)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, _ := metric(fams, "radio_messages_out_total", "kind", "zone_cmd"); got != plays {
		t.Errorf("zone commands out: %v, want %d (one per play)", got, plays)
	}
	if got, _ := metric(fams, "radio_messages_in_total", "kind", "reply"); got < 2*plays {
		t.Errorf("replies in: %v, want at least %d (each node answers each command)", got, 2*plays)
	}
	if got, _ := metric(fams, "radio_messages_in_total", "kind", "state"); got < 2 {
		t.Errorf("states in: %v, want at least one per node", got)
	}
	if got, _ := metric(fams, "radio_messages_out_total", "kind", "desired"); got < 2 {
		t.Errorf("desired states out: %v, want at least one per node", got)
	}
	if got, _ := metric(fams, "radio_http_request_seconds", "route", "POST /api/v1/play", "code", "202"); got != plays {
		t.Errorf("timed POST /api/v1/play requests: %v, want %d", got, plays)
	}
	if got, _ := metric(fams, "radio_ingest_batch_rows"); got < 1 {
		t.Errorf("ingest batches: %v, want at least one", got)
	}
	if got, _ := metric(fams, "radio_desired_publish_seconds"); got < 2 {
		t.Errorf("desired publish timings: %v, want at least one per node", got)
	}
	if got, ok := metric(fams, "radio_refused_total", "reason", "fetch_not_given"); !ok || got != 0 {
		t.Errorf("refused fetch_not_given: %v (present %v), want 0 and exported", got, ok)
	}
	info, err := os.Stat(dir + "/registry.db")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := metric(fams, "radio_sqlite_bytes"); got < float64(info.Size()) {
		t.Errorf("radio_sqlite_bytes %v, want at least the database file's %d", got, info.Size())
	}

	// Every metric the dashboard queries exists.
	checkDashboard(t, fams)

	ctl.mustCall(t, "POST", "/api/v1/nodes/m2/revoke", nil, nil)
	fams = ctl.scrape(t)
	for _, c := range []struct {
		state string
		want  float64
	}{{"connected", 1}, {"known", 1}, {"revoked", 1}} {
		if got, _ := metric(fams, "radio_nodes", "state", c.state); got != c.want {
			t.Errorf("after revoking m2: radio_nodes{state=%q} = %v, want %v", c.state, got, c.want)
		}
	}
}

// checkDashboard finds every radio_* metric name in the Grafana
// dashboard's queries in the scrape (a histogram's _bucket, _sum and
// _count by the histogram's name).
func checkDashboard(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	b, err := os.ReadFile("../controller/grafana/radio.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	names := map[string]string{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, n := range regexp.MustCompile(`radio_[a-z0-9_]+`).FindAllString(q.Expr, -1) {
				names[n] = p.Title
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("dashboard queries only %d metrics: %v", len(names), names)
	}
	var missing []string
	for n, panel := range names {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if h, ok := fams[n[:max(0, len(n)-len(suffix))]]; ok && len(n) > len(suffix) && n[len(n)-len(suffix):] == suffix && h.GetType() == dto.MetricType_HISTOGRAM {
				base = n[:len(n)-len(suffix)]
			}
		}
		if f, ok := fams[base]; !ok || len(f.Metric) == 0 {
			missing = append(missing, n+" ("+panel+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard queries metrics the controller does not export: %v", missing)
	}
}
