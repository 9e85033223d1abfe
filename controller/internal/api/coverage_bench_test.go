package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// seedCountry adds a country's worth of stations to the registry straight
// through SQL (in one transaction; the registry's API enrols one node per
// transaction): 34 provinces, 10,000 IP stations with 10 speaker clusters
// each, all reporting, each station with a daily programme, and today's
// 06:30 bulletin played to the end everywhere; today's occurrences are
// recorded as history, as the programme store records them.
func seedCountry(b *testing.B, e *env, stations, perStation int) {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+e.db+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	exec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	now := e.clock.Now()
	played := time.Date(now.Year(), now.Month(), now.Day(), 6, 30, 0, 0, schedule.Zone)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, schedule.Zone)
	enrolled := now.AddDate(0, -1, 0) // before today's bulletins: they are due on every node
	for p := 0; p < 34; p++ {
		exec("INSERT INTO areas(id, kind, name) VALUES (?, 'province', ?)", fmt.Sprintf("tinh-%02d", p), fmt.Sprintf("Tỉnh %d", p))
	}
	seq := 0
	for s := 0; s < stations; s++ {
		area, st := fmt.Sprintf("xa-%05d", s), fmt.Sprintf("dai-%05d", s)
		exec("INSERT INTO areas(id, parent_id, kind, name) VALUES (?, ?, 'commune', ?)", area, fmt.Sprintf("tinh-%02d", s%34), "Xã "+area)
		exec("INSERT INTO stations(id, area_id, name, kind) VALUES (?, ?, ?, 'ip')", st, area, "Đài "+area)
		for n := 0; n < perStation; n++ {
			node := fmt.Sprintf("%s-%02d", st, n)
			exec("INSERT INTO nodes(id, station_id, name, secret_hash, created_at) VALUES (?, ?, ?, 'x', ?)", node, st, node, enrolled.UnixMilli())
			exec("INSERT INTO node_state(node_id, online, state, updated_at) VALUES (?, ?, '{}', ?)", node, n != 0, now.UnixMilli())
			for _, typ := range []string{"started", "finished"} {
				seq++
				exec("INSERT INTO play_events(node_id, seq, type, item_id, media, at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
					node, seq, typ, "ban-tin-"+played.Format("20060102-150405"), shaA, played.UnixMilli(), now.UnixMilli())
			}
		}
		src := fmt.Sprintf("station %s\nbulletin ban-tin\n    title Bản tin xã\n    source media %s\n    target commune\n    status approved\n    daily 06:30, 17:00\n    duration 5m\n", st, shaA)
		sc, err := schedule.Parse(st+".radio", []byte(src))
		if err != nil {
			b.Fatal(err)
		}
		e.clock.Add(day.Sub(now)) // the programmes were set at midnight, before today's bulletins
		e.sch.Scheduler.Set(st, sc)
		e.clock.Add(now.Sub(day))
		// What is due today, recorded as the programme store records it
		// when a programme is planned (registry.PlanOccurrences): coverage
		// counts from these rows, not from today's programme.
		nodes := make([]string, perStation)
		for n := range nodes {
			nodes[n] = fmt.Sprintf("%s-%02d", st, n)
		}
		list, _ := json.Marshal(nodes)
		for _, o := range sc.Occurrences(day, day.Add(24*time.Hour), nil) {
			exec(`INSERT INTO occurrences(station_id, id, schedule, item_id, title, priority, source, target, at, end_at, nodes, planned_at)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, st, o.ID(), st, o.Item.ID, o.Item.Title, o.Item.Priority, o.Item.Source.Kind,
				o.Item.Target.String(), o.At.UnixMilli(), max(o.End.UnixMilli(), 0), string(list), day.UnixMilli())
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := e.reg.ReloadLive(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCoverage is the coverage view's server time (the handler and
// JSON, over HTTP on loopback) for the whole country as an administrator
// and for one province (~290 stations) as provincial staff.
// Target (DESIGN.md): < 200 ms for ~10,000 stations / 100,000 nodes.
func BenchmarkCoverage(b *testing.B) {
	e := newEnv(b)
	t0 := time.Now()
	seedCountry(b, e, 10_000, 10)
	b.Logf("seeded 10,000 stations, 100,000 nodes, 200,000 proof-of-play records in %v", time.Since(t0).Round(time.Millisecond))
	ctx := context.Background()
	hash, _ := HashPassword(testPassword)
	if err := e.reg.CreateUser(ctx, userProvince("tinh-07"), hash); err != nil {
		b.Fatal(err)
	}
	prov := e.login("staff-tinh-07")
	for _, c := range []struct {
		name string
		cl   *client
		want int
	}{
		{"country", e.tokenClient(), 10_003},
		{"province", prov, 294},
	} {
		b.Run(c.name, func(b *testing.B) {
			get := func() {
				if r := e.do(c.cl, "GET", "/api/v1/coverage", nil); r.status != 200 {
					b.Fatalf("%d %s", r.status, r.body[:min(200, len(r.body))])
				}
			}
			// The first call after a start (or a reseed) fills the caches.
			t0 := time.Now()
			get()
			first := time.Since(t0)
			cpu0 := cpuTime()
			for b.Loop() {
				get()
			}
			// CPU time too: on a shared machine the wall clock says more about
			// the neighbours than about the view.
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(first.Milliseconds()), "first-ms")
			var v Coverage
			r := e.do(c.cl, "GET", "/api/v1/coverage", nil)
			if err := jsonUnmarshal(r.body, &v); err != nil || v.Totals.Stations != c.want || v.Totals.Aired == 0 {
				b.Fatalf("coverage: %d stations (want %d), %+v, %v", v.Totals.Stations, c.want, v.Totals, err)
			}
			b.ReportMetric(float64(v.Totals.Stations), "stations")
			b.ReportMetric(float64(v.Totals.Nodes), "nodes")
			b.ReportMetric(float64(len(r.body))/1e6, "MB/answer")
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func userProvince(area string) registry.User {
	return registry.User{ID: "u-" + area, Username: "staff-" + area, Role: registry.RoleProvince, AreaID: area}
}

// BenchmarkReplan is one full plan of the national dataset (seedCountry:
// 10,000 stations, 100,000 nodes, two daily bulletins each, a week ahead):
// every node's slots computed and handed to the publisher (here a no-op).
// The scheduler reads nodes and zones once per plan and each file once.
func BenchmarkReplan(b *testing.B) {
	e := newEnv(b)
	seedCountry(b, e, 10_000, 10)
	// The recording itself, which the scheduler looks for in the store.
	file := filepath.Join(filepath.Dir(e.db), "media", shaA[:2], shaA+".opus")
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(file, make([]byte, 1000), 0o640); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cpu0 := cpuTime()
	for b.Loop() {
		e.sch.Scheduler.Replan(ctx, e.clock.Now())
	}
	// CPU time too: on a shared machine the wall clock says more about
	// the neighbours than about the plan.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(len(e.sch.Scheduler.Slots("dai-00001-01"))), "slots/node")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
