package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// Coverage is what provincial staff check: every station of their area,
// what kind it is (IP, FM, wired), how many of its speaker clusters are
// online, and whether today's bulletins actually played on them.
type Coverage struct {
	Time     time.Time         `json:"time"`
	Day      string            `json:"day"` // today in Vietnam
	Totals   CoverageTotals    `json:"totals"`
	Communes []CommuneCoverage `json:"communes"`
	Stations []StationCoverage `json:"stations"`
}

// AirCounts counts node-occurrences of today's bulletins that should have
// started by now: aired (played to the end), partly (started, cut short),
// missed (failed, or no report 10 minutes after their end), unheard
// (played into a node's silent sink: no sound device, so nobody heard it;
// the occurrence report's "unheard"). The rest of Due is on air or not yet
// reported.
//
// Heard, NotHeard and NotMeasured split the node-occurrences that played
// (started) by what the node's capture made of them (PROTOCOL.md §7
// "heard"): heard, played but not heard (a broken amplifier, a cut cable),
// or not measured (a node with no microphone or line-in, never counted as
// not heard).
type AirCounts struct {
	Due         int `json:"due"`
	Aired       int `json:"aired"`
	Partly      int `json:"partly"`
	Missed      int `json:"missed"`
	Unheard     int `json:"unheard"`
	Heard       int `json:"heard"`
	NotHeard    int `json:"not_heard"`
	NotMeasured int `json:"not_measured"`
}

func (c *AirCounts) add(o AirCounts) {
	c.Due += o.Due
	c.Aired += o.Aired
	c.Partly += o.Partly
	c.Missed += o.Missed
	c.Unheard += o.Unheard
	c.Heard += o.Heard
	c.NotHeard += o.NotHeard
	c.NotMeasured += o.NotMeasured
}

// CoverageTotals sums up the area.
type CoverageTotals struct {
	Stations int `json:"stations"`
	IP       int `json:"ip"`
	FM       int `json:"fm"`
	Wired    int `json:"wired"`
	Nodes    int `json:"nodes"`
	Online   int `json:"online"`
	NoSound  int `json:"no_sound"` // online clusters with no sound device
	AirCounts
}

// CommuneCoverage sums up one commune.
type CommuneCoverage struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ParentID string `json:"parent_id,omitempty"`
	Stations int    `json:"stations"`
	Nodes    int    `json:"nodes"`
	Online   int    `json:"online"`
	NoSound  int    `json:"no_sound"`
	AirCounts
}

// StationCoverage is one station.
type StationCoverage struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind"`
	AreaID     string     `json:"area_id"`
	AreaName   string     `json:"area_name"`
	Nodes      int        `json:"nodes"`
	Online     int        `json:"online"`
	NoSound    int        `json:"no_sound"` // online but playing into a silent sink: a warning
	LastReport *time.Time `json:"last_report,omitempty"`
	LastPlay   *time.Time `json:"last_play,omitempty"`
	AirCounts
}

// coverage answers from the registry's memory (areas, stations, and the
// live mirror of every node): a province is thousands of stations, the country ~10,000 with
// ~100,000 clusters, and the answer must stay well under a second.
func (a *API) coverage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	reg := a.cfg.Registry
	areaList, err := reg.ListAreas(ctx)
	if err != nil {
		return err
	}
	areas := map[string]registry.Area{}
	for _, ar := range areaList {
		areas[ar.ID] = ar
	}
	want := sc.has
	if q := r.URL.Query().Get("area"); q != "" {
		if _, ok := areas[q]; !ok {
			return errorf(http.StatusNotFound, "area %q %v", q, registry.ErrNotFound)
		}
		if !sc.has(q) {
			return forbidden("area " + q)
		}
		want = func(id string) bool { return sc.has(id) && (id == q || areas[id].ParentID == q) }
	}
	stations, err := reg.ListStations(ctx, "")
	if err != nil {
		return err
	}
	now := a.now()
	local := now.In(schedule.Zone)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, schedule.Zone)
	cov := Coverage{Time: now.UTC(), Day: day.Format("2006-01-02"), Communes: []CommuneCoverage{}, Stations: []StationCoverage{}}
	for _, st := range stations {
		if !want(st.AreaID) {
			continue
		}
		cov.Stations = append(cov.Stations, StationCoverage{ID: st.ID, Name: st.Name, Kind: st.Kind, AreaID: st.AreaID, AreaName: areas[st.AreaID].Name})
	}
	// What was due comes from the history recorded when it was planned
	// (as in the occurrence report), never from today's programme: a
	// programme replaced or deleted since does not rewrite what aired.
	due, err := reg.DayOccurrences(ctx, day)
	if err != nil {
		return err
	}
	failed := map[string]string{}
	if relays(cov.Stations, due, now) { // the audit log is long: read it only for relays
		if failed, err = reg.RelayFailuresSince(ctx, day); err != nil {
			return err
		}
	}

	// Clusters and plays, station by station, from the registry's
	// in-memory mirror: each node is looked up once, then read in place.
	read := reg.ReadLive(day, func(lr registry.LiveReader) {
		var views []registry.NodeView
		for i := range cov.Stations {
			s := &cov.Stations[i]
			views = views[:0]
			lr.StationNodes(s.ID, func(_ string, v registry.NodeView) { views = append(views, v) })
			for _, v := range views {
				s.Nodes++
				l, reported, lastPlay := v.Liveness()
				if l.Online {
					s.Online++
					if l.NoSound {
						s.NoSound++
					}
				}
				if reported && (s.LastReport == nil || l.UpdatedAt.After(*s.LastReport)) {
					t := l.UpdatedAt
					s.LastReport = &t
				}
				if !lastPlay.IsZero() && (s.LastPlay == nil || lastPlay.After(*s.LastPlay)) {
					t := lastPlay
					s.LastPlay = &t
				}
			}
			tallyPlays(s, due[s.ID], lr, failed, now)
		}
	})
	if !read {
		// Only when the day asked for lies outside the mirror (it reaches
		// back registry.LiveWindow on the controller's one clock): say which
		// days can be asked for instead of failing.
		return errorf(http.StatusBadRequest, "coverage is counted for today (%s) and yesterday only; for older days use the occurrence report (Báo cáo lịch phát)",
			now.In(schedule.Zone).Format("02/01/2006"))
	}

	communes := map[string]*CommuneCoverage{}
	for i := range cov.Stations {
		s := &cov.Stations[i]
		t := &cov.Totals
		t.Stations++
		switch s.Kind {
		case "ip":
			t.IP++
		case "fm":
			t.FM++
		case "wired":
			t.Wired++
		}
		t.Nodes += s.Nodes
		t.Online += s.Online
		t.NoSound += s.NoSound
		t.add(s.AirCounts)
		c := communes[s.AreaID]
		if c == nil {
			ar := areas[s.AreaID]
			c = &CommuneCoverage{ID: ar.ID, Name: ar.Name, ParentID: ar.ParentID}
			communes[s.AreaID] = c
		}
		c.Stations++
		c.Nodes += s.Nodes
		c.Online += s.Online
		c.NoSound += s.NoSound
		c.add(s.AirCounts)
	}
	for _, c := range communes {
		cov.Communes = append(cov.Communes, *c)
	}
	sort.Slice(cov.Communes, func(i, j int) bool { return cov.Communes[i].ID < cov.Communes[j].ID })
	// Compact: a country's answer is megabytes.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return json.NewEncoder(w).Encode(cov)
}

// tallyPlays counts station s's node-occurrences due by now of today's
// recorded occurrences (occ, in time order), and what became of them: the
// nodes and outcomes of the occurrence report (the recorded nodes,
// programme.Outcome), read from the registry's live mirror. failed holds
// the relay occurrences the controller could not air.
func tallyPlays(s *StationCoverage, occ []registry.Occurrence, lr registry.LiveReader, failed map[string]string, now time.Time) {
	for _, h := range occ {
		if h.At.After(now) {
			break
		}
		o := programme.Due(h)
		for _, node := range h.Nodes {
			var oc registry.PlayOutcome
			if v, ok := lr.View(node); ok {
				oc = v.Outcome(h.ID)
			}
			s.Due++
			switch programme.Outcome(programme.Record{PlayOutcome: oc}, o, failed[h.ID], now).Status {
			case programme.Unheard:
				s.Unheard++
			case programme.Played:
				s.Aired++
			case programme.Partly:
				s.Partly++
			case programme.Missed:
				s.Missed++
			}
			switch oc.HeardVerdict() {
			case registry.HeardYes:
				s.Heard++
			case registry.HeardNo:
				s.NotHeard++
			case registry.HeardNotMeasured:
				s.NotMeasured++
			}
		}
	}
}

// relays reports whether any of stations' occurrences due by now relays a
// stream.
func relays(stations []StationCoverage, due map[string][]registry.Occurrence, now time.Time) bool {
	for _, s := range stations {
		for _, h := range due[s.ID] {
			if h.At.After(now) {
				break
			}
			if h.Source == schedule.SourceRelay {
				return true
			}
		}
	}
	return false
}
