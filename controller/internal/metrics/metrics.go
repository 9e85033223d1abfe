// Package metrics is what the controller tells Prometheus (/metrics, text
// format): counters and histograms the fleet, scheduler and HTTP server
// update as they work, and gauges read from the registry at each scrape.
// Each controller has its own prometheus.Registry, never the global one,
// so that tests can run several controllers in one process.
//
// A nil *Metrics is valid and records nothing: parts built without one
// (unit tests, tools) need no checks.
package metrics

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "radio"

// Metrics holds one controller's collectors.
type Metrics struct {
	reg         *prometheus.Registry
	now         func() time.Time
	msgIn       *prometheus.CounterVec
	msgOut      *prometheus.CounterVec
	ingestRows  prometheus.Histogram
	ingestLag   prometheus.Histogram
	schedLag    prometheus.Histogram
	publishLag  prometheus.Histogram
	httpSeconds *prometheus.HistogramVec
}

// New makes the collectors on a registry of their own. now is the
// controller's clock (nil: time.Now); intervals are measured on it.
func New(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: now}
	m.msgIn = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "messages_in_total",
		Help: "Messages received from nodes, by kind (the topic's last level: state, events, fetch, reply)."}, []string{"kind"})
	m.msgOut = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "messages_out_total",
		Help: "Messages published to nodes, by kind (cmd, desired, chunk, ack, stream; zone_cmd, zone_chunk, zone_stream once per zone)."}, []string{"kind"})
	m.ingestRows = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "ingest_batch_rows",
		Help:    "Proof-of-play rows stored per registry transaction.",
		Buckets: []float64{1, 4, 16, 64, 256, 1024, 2048, 4096}})
	m.ingestLag = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "ingest_lag_seconds",
		Help:    "From the oldest event of a batch arriving to its commit (the node's acknowledgement waits for it).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	m.schedLag = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "scheduler_lag_seconds",
		Help:    "From a programme, zone or node change (or a refresh) until the replan it asked for has published every changed desired state.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}})
	m.publishLag = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "desired_publish_seconds",
		Help:    "Time to build, sign and publish one node's desired state until the broker has it.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}})
	m.httpSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_seconds",
		Help:    "HTTP request latency by route pattern, method and status code.",
		Buckets: prometheus.DefBuckets}, []string{"route", "method", "code"})
	m.reg.MustRegister(m.msgIn, m.msgOut, m.ingestRows, m.ingestLag, m.schedLag, m.publishLag, m.httpSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where more collectors go (Register).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Received counts a message from a node of the given kind.
func (m *Metrics) Received(kind string) {
	if m != nil {
		m.msgIn.WithLabelValues(kind).Inc()
	}
}

// Sent counts a message published to nodes.
func (m *Metrics) Sent(kind string) {
	if m != nil {
		m.msgOut.WithLabelValues(kind).Inc()
	}
}

// Since is how long ago t was on the controller's clock (0 for a nil m).
func (m *Metrics) Since(t time.Time) time.Duration {
	if m == nil {
		return 0
	}
	return m.now().Sub(t)
}

// Now is the controller's clock (zero for a nil m).
func (m *Metrics) Now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return m.now()
}

// Ingested records one proof-of-play transaction: its rows, and how long
// its oldest event waited from arrival to commit.
func (m *Metrics) Ingested(rows int, lag time.Duration) {
	if m != nil {
		m.ingestRows.Observe(float64(rows))
		m.ingestLag.Observe(lag.Seconds())
	}
}

// SchedulerLate records the scheduler's lag: from a change to its replan published.
func (m *Metrics) SchedulerLate(d time.Duration) {
	if m != nil {
		m.schedLag.Observe(max(0, d.Seconds()))
	}
}

// DesiredPublished records how long one desired state took to go out.
func (m *Metrics) DesiredPublished(d time.Duration) {
	if m != nil {
		m.publishLag.Observe(d.Seconds())
	}
}

// HTTP wraps h to time every request by the route pattern that served it
// (set by the http.ServeMux inside h; "other" when none matched), so the
// label has one value per route, never one per URL.
func (m *Metrics) HTTP(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "other"
		}
		m.httpSeconds.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Observe(m.now().Sub(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush, Hijack (the live
// websocket) and deadlines of the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a handler that takes it over: the live
// websocket (gorilla/websocket asks the writer itself, not through
// Unwrap).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Flush passes a streaming handler's flush on.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// NodeCounts is what the registry says of the fleet at a scrape.
type NodeCounts struct {
	Known, Revoked, Online int
	// Health of online nodes, from their latest State (PROTOCOL.md §9).
	ClockUnsynced, Silent int
	MaxCPUTempC           float64 // hottest online node's CPU, °C; 0 when none reports it
	MinDiskFree           int64   // least free disk of an online node, bytes; -1 when none reports it
}

// Sources are read at each scrape.
type Sources struct {
	Nodes   func(ctx context.Context) (NodeCounts, error)
	Refused func() map[string]uint64 // node messages refused since start, by reason
	DBFiles []string                 // the SQLite file and its -wal: their sizes add up
	// KnownRefusals are exported as 0 before they first happen, so that a
	// dashboard's query finds the series.
	KnownRefusals []string
}

// Watch registers a collector that reads s at each scrape.
func (m *Metrics) Watch(s Sources) {
	m.reg.MustRegister(&scrape{s: s})
}

var (
	descNodes = prometheus.NewDesc(Namespace+"_nodes", "Enrolled nodes by state: known (not revoked), revoked, connected (online now).", []string{"state"}, nil)
	descClock = prometheus.NewDesc(Namespace+"_nodes_clock_unsynced", "Online nodes whose State says their clock is not synchronised (they play nothing time-bound).", nil, nil)
	descQuiet = prometheus.NewDesc(Namespace+"_nodes_silent", "Online nodes playing into their silent sink (no sound device).", nil, nil)
	descTemp  = prometheus.NewDesc(Namespace+"_node_cpu_temp_max_celsius", "The hottest online node's CPU temperature.", nil, nil)
	descDisk  = prometheus.NewDesc(Namespace+"_node_disk_free_min_bytes", "The least free disk space of an online node's data directory.", nil, nil)
	descRef   = prometheus.NewDesc(Namespace+"_refused_total", "Node messages the controller refused, by reason.", []string{"reason"}, nil)
	descDB    = prometheus.NewDesc(Namespace+"_sqlite_bytes", "Size of the SQLite registry (database file and write-ahead log).", nil, nil)
	descUp    = prometheus.NewDesc(Namespace+"_registry_scrape_ok", "1 when the registry answered this scrape's queries.", nil, nil)
)

type scrape struct{ s Sources }

func (c *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descClock, descQuiet, descTemp, descDisk, descRef, descDB, descUp} {
		ch <- d
	}
}

func (c *scrape) Collect(ch chan<- prometheus.Metric) {
	if c.s.Nodes != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := c.s.Nodes(ctx)
		cancel()
		ok := 0.0
		if err == nil {
			ok = 1
			ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(n.Known), "known")
			ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(n.Revoked), "revoked")
			ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(n.Online), "connected")
			ch <- prometheus.MustNewConstMetric(descClock, prometheus.GaugeValue, float64(n.ClockUnsynced))
			ch <- prometheus.MustNewConstMetric(descQuiet, prometheus.GaugeValue, float64(n.Silent))
			ch <- prometheus.MustNewConstMetric(descTemp, prometheus.GaugeValue, n.MaxCPUTempC)
			if n.MinDiskFree >= 0 {
				ch <- prometheus.MustNewConstMetric(descDisk, prometheus.GaugeValue, float64(n.MinDiskFree))
			}
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, ok)
	}
	if c.s.Refused != nil {
		r := c.s.Refused()
		for _, k := range c.s.KnownRefusals {
			if _, ok := r[k]; !ok {
				r[k] = 0
			}
		}
		for reason, n := range r {
			ch <- prometheus.MustNewConstMetric(descRef, prometheus.CounterValue, float64(n), reason)
		}
	}
	if len(c.s.DBFiles) > 0 {
		var size int64
		for _, f := range c.s.DBFiles {
			if fi, err := os.Stat(f); err == nil {
				size += fi.Size()
			}
		}
		ch <- prometheus.MustNewConstMetric(descDB, prometheus.GaugeValue, float64(size))
	}
}
