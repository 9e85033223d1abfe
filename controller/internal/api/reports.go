package api

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// The reports resource: scheduled against aired, and the week calendar of
// a programme with what became of its past occurrences.

// OccurrenceRow is one scheduled occurrence on one node: scheduled vs aired.
type OccurrenceRow struct {
	Occurrence string    `json:"occurrence"`
	Item       string    `json:"item"`
	Title      string    `json:"title"`
	Station    string    `json:"station"`
	Node       string    `json:"node"`
	At         time.Time `json:"at"`
	Priority   string    `json:"priority"`
	Status     string    `json:"status"` // played, partly played, unheard, missed, playing, upcoming
	Reason     string    `json:"reason,omitempty"`
	PlayedMS   int64     `json:"played_ms"`
	// Heard is what the node's capture made of it (PROTOCOL.md §7):
	// "heard", "not heard", "not measured" (no capture), "" if it did not
	// play; with the correlation and level (dBFS) that decided it.
	Heard     string   `json:"heard,omitempty"`
	HeardCorr *float64 `json:"heard_corr,omitempty"`
	HeardDB   *float64 `json:"heard_db,omitempty"`
}

// occurrenceReport lists, for each occurrence of [from, to) (default: today
// in Vietnam time) and each node, what actually aired.
func (a *API) occurrenceReport(w http.ResponseWriter, r *http.Request) error {
	out, err := a.occurrenceRows(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// occurrenceReportCSV is the scheduled-vs-aired report as a spreadsheet,
// the form a commune files with the province.
func (a *API) occurrenceReportCSV(w http.ResponseWriter, r *http.Request) error {
	out, err := a.occurrenceRows(r)
	if err != nil {
		return err
	}
	names := map[string]string{}
	nodeName := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n, _ := a.cfg.Registry.GetNode(r.Context(), id)
		names[id] = n.Name
		return n.Name
	}
	cw := csvStart(w, "doi-chieu-lich-phat.csv", "Giờ phát theo lịch (giờ Việt Nam)", "Bản tin", "Đài", "Cụm loa", "Mã cụm loa",
		"Mức ưu tiên", "Kết quả", "Đã phát (giây)", "Lý do", "Mã lần phát", "Micrô nghe thấy")
	for _, o := range out {
		cw.Write([]string{vnTime(o.At), cell(o.Title), o.Station, cell(nodeName(o.Node)), o.Node, word(priorityWords, o.Priority),
			word(statusWords, o.Status), strconv.FormatFloat(float64(o.PlayedMS)/1000, 'f', 1, 64), cell(o.Reason), o.Occurrence,
			word(heardWords, o.Heard)})
	}
	cw.Flush()
	return cw.Error()
}

// occurrenceRows lists, for each occurrence of the request's period and
// each node, what actually aired.
func (a *API) occurrenceRows(r *http.Request) ([]OccurrenceRow, error) {
	from, to, err := period(r, a.now())
	if err != nil {
		return nil, err
	}
	return a.reportRows(r, r.URL.Query().Get("station"), from, to)
}

// reportRows lists, for each occurrence of [from, to) and each node, what
// actually aired, in the stations the caller may see (only station's, if
// given).
func (a *API) reportRows(r *http.Request, station string, from, to time.Time) ([]OccurrenceRow, error) {
	ctx := r.Context()
	stations, err := a.stationsInScope(r)
	if err != nil {
		return nil, err
	}
	if station != "" {
		if _, ok := stations[station]; !ok {
			return nil, forbidden("station " + station)
		}
	}
	var want []string
	for st := range stations {
		if station == "" || st == station {
			want = append(want, st)
		}
	}
	// What was due comes from the history recorded when it was planned,
	// never from today's programme: a later change or deletion does not
	// rewrite it.
	due, err := a.cfg.Registry.ListOccurrences(ctx, want, from, to)
	if err != nil {
		return nil, err
	}
	now := a.now()
	out := []OccurrenceRow{}
	for _, h := range due {
		o := programme.Due(h)
		relayFailed, err := a.relayFailures(ctx, o)
		if err != nil {
			return nil, err
		}
		for _, node := range h.Nodes {
			row := OccurrenceRow{Occurrence: h.ID, Item: h.Item, Title: h.Title, Station: h.Station, Node: node, At: o.At, Priority: h.Priority}
			evs, err := a.cfg.Registry.ListPlayEvents(ctx, registry.PlayFilter{NodeID: node, ItemID: h.ID, Limit: 50})
			if err != nil {
				return nil, err
			}
			res := programme.Outcome(programme.Fold(evs), o, relayFailed[h.ID], now)
			row.Status, row.Reason, row.PlayedMS = res.Status, res.Reason, res.PlayedMS
			row.Heard, row.HeardCorr, row.HeardDB = registry.HeardOf(evs)
			out = append(out, row)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Node < out[j].Node
	})
	return out, nil
}

// CalendarEntry is one occurrence of a bulletin, for the week calendar.
type CalendarEntry struct {
	Occurrence string    `json:"occurrence"`
	Item       string    `json:"item"`
	Title      string    `json:"title"`
	At         time.Time `json:"at"`
	End        time.Time `json:"end,omitzero"`
	Priority   string    `json:"priority"`
	Status     string    `json:"status"`
	Airs       bool      `json:"airs"`
}

func (a *API) scheduleOccurrences(w http.ResponseWriter, r *http.Request) error {
	f, _, err := a.programmeFile(r, false, "")
	if err != nil {
		return err
	}
	sc, err := a.cfg.Schedules.Schedule(f.Name)
	if err != nil {
		return a.programmeErr(f.Name, err)
	}
	from, to, err := period(r, a.now())
	if err != nil {
		return err
	}
	out := []CalendarEntry{}
	if sc == nil {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	now := a.now()
	if from.Before(now) {
		// What was due is history: as it was planned, with what became of it.
		end := to
		if now.Before(end) {
			end = now
		}
		past, err := a.pastEntries(r, f.Name, sc.Station, from, end)
		if err != nil {
			return err
		}
		out = append(out, past...)
		from = end
	}
	if from.Before(to) {
		for _, o := range sc.Occurrences(from, to, a.cfg.Schedules.Durations(r.Context())) {
			out = append(out, CalendarEntry{Occurrence: o.ID(), Item: o.Item.ID, Title: o.Item.Title, At: o.At, End: o.End,
				Priority: o.Item.Priority, Status: map[bool]string{true: "approved", false: "draft"}[o.Item.Approved], Airs: o.Item.Airs()})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pastEntries are the calendar's entries of programme name due in
// [from, to): its recorded occurrences with what became of each across its
// nodes, from the occurrence report's rows: aired (every node played it to
// the end), partly (some did, or some only in part), missed (none did; a
// play into a silent sink was heard by nobody and counts as none); one
// still playing, or whose nodes have not reported yet, stays approved.
func (a *API) pastEntries(r *http.Request, name, station string, from, to time.Time) ([]CalendarEntry, error) {
	rows, err := a.reportRows(r, station, from, to)
	if err != nil {
		return nil, err
	}
	type tally struct{ n, played, some, open int }
	by := map[string]*tally{}
	for _, row := range rows {
		t := by[row.Occurrence]
		if t == nil {
			t = &tally{}
			by[row.Occurrence] = t
		}
		t.n++
		switch row.Status {
		case "played":
			t.played++
		case "partly played":
			t.some++
		case "playing", "upcoming":
			t.open++
		}
	}
	due, err := a.cfg.Registry.ListOccurrences(r.Context(), []string{station}, from, to)
	if err != nil {
		return nil, err
	}
	var out []CalendarEntry
	for _, h := range due {
		if h.Schedule != name {
			continue
		}
		e := CalendarEntry{Occurrence: h.ID, Item: h.Item, Title: h.Title, At: h.At.In(schedule.Zone), End: h.End, Priority: h.Priority,
			Status: "approved", Airs: true}
		switch t := by[h.ID]; {
		case t == nil || t.open > 0:
		case t.played == t.n:
			e.Status = "aired"
		case t.played+t.some > 0:
			e.Status = "partly"
		default:
			e.Status = "missed"
		}
		out = append(out, e)
	}
	return out, nil
}

// period reads ?from=&to= (default: today in Vietnam), at most 32 days.
func period(r *http.Request, today time.Time) (from, to time.Time, err error) {
	q := r.URL.Query()
	now := today.In(schedule.Zone)
	from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, schedule.Zone)
	to = from.Add(24 * time.Hour)
	if v := q.Get("from"); v != "" {
		if from, err = parseTime(v, "from"); err != nil {
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = parseTime(v, "to"); err != nil {
			return
		}
	}
	if to.Sub(from) > 32*24*time.Hour || !to.After(from) {
		err = errorf(http.StatusBadRequest, "choose a period of at most 32 days, from before to")
	}
	return
}
