package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
	"github.com/communeradio/radio/controller/internal/tts"
)

// Schedules keeps the programme files (one per station, *.radio) in a
// directory, checks them against the registry and hands them to the
// scheduler.
type Schedules struct {
	Dir       string
	Media     *media.Store
	Registry  *registry.DB
	Scheduler *scheduler.Scheduler
	// TTS renders typed notices (source tts) into media; nil: they are
	// refused with a clear error.
	TTS    *tts.Service
	Logger *slog.Logger
	// Now is the controller's clock (nil: time.Now).
	Now func() time.Time

	mu sync.Mutex // held across a file's read-change-write
}

var scheduleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// LoadAll loads every schedule file in Dir. A broken file is logged and left
// out; the others still air.
func (s *Schedules) LoadAll(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*"+schedule.Ext))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), schedule.Ext)
		b, err := os.ReadFile(f)
		if err == nil {
			var sc *schedule.Schedule
			if sc, err = s.prepare(ctx, f, b); err == nil {
				s.Scheduler.Set(name, sc)
				s.Logger.Info("schedule loaded", "file", f, "items", len(sc.Items))
				continue
			}
		}
		s.Logger.Error("schedule not loaded; fix it and upload it again", "file", f, "err", err)
	}
}

// prepare parses a schedule and checks it against the registry: the
// station, zones and nodes exist, media is in the store (file sources are
// ingested now), and no two bulletins of equal priority overlap.
func (s *Schedules) prepare(ctx context.Context, path string, src []byte) (*schedule.Schedule, error) {
	sc, err := schedule.Parse(path, src)
	if err != nil {
		return nil, err
	}
	var errs schedule.ErrorList
	bad := func(it *schedule.Item, format string, a ...any) {
		errs = append(errs, &schedule.Error{Pos: it.Pos, Msg: fmt.Sprintf(format, a...)})
	}
	st, err := s.Registry.GetStation(ctx, sc.Station)
	if err != nil {
		return nil, schedule.ErrorList{{Pos: schedule.Pos{File: path, Line: 1}, Msg: fmt.Sprintf("station %q is not registered: add it first (radioctl station add)", sc.Station)}}
	}
	for i := range sc.Items {
		it := &sc.Items[i]
		switch it.Source.Kind {
		case schedule.SourceMedia:
			if _, err := s.Registry.GetMedia(ctx, it.Source.Media); err != nil {
				bad(it, "media %s is not in the media library: upload the recording first", it.Source.Media)
			}
		case schedule.SourceFile:
			sha, err := s.ingest(ctx, it.Source.Abs)
			if err != nil {
				bad(it, "recording %s: %v", it.Source.Path, err)
				continue
			}
			it.Source.Media = sha
		case schedule.SourceTTS:
			sha, err := s.Speak(ctx, st.AreaID, it.Source.Text)
			if err != nil {
				bad(it, "text to speech: %v", err)
				continue
			}
			it.Source.Media = sha
		case schedule.SourceRelay:
			if msg := s.checkRelaySource(ctx, it.Source.URL); msg != "" {
				bad(it, "%s", msg)
			}
		}
		if _, err := s.Resolve(ctx, sc.Station, it.Target); err != nil {
			bad(it, "target %s: %v", it.Target, err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	now := s.now()
	for _, c := range sc.Conflicts(now, now.Add(35*24*time.Hour), s.durations(ctx)) {
		pos := c.A.Item.Pos
		errs = append(errs, &schedule.Error{Pos: pos, Msg: strings.TrimPrefix(c.String(), pos.String()+": ")})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return sc, nil
}

func (s *Schedules) ingest(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := s.Media.Ingest(ctx, f, filepath.Base(path))
	if err != nil {
		return "", err
	}
	err = s.Registry.PutMedia(ctx, registry.Media{SHA256: info.SHA256, Name: filepath.Base(path), SourceFormat: info.SourceFormat,
		Size: info.Size, DurationMS: info.DurationMS, CreatedAt: s.now(), CreatedBy: "schedule"})
	return info.SHA256, err
}

// Speak renders a typed notice with the commune's pronunciation list and
// puts the audio in the commune's media library, as an upload would be:
// from then on it is ordinary media (approved, scheduled, replayed and
// reported like a recording). The same text is rendered once.
func (s *Schedules) Speak(ctx context.Context, area, text string) (string, error) {
	r, err := s.Render(ctx, area, text)
	if err != nil {
		return "", err
	}
	err = s.Registry.PutMedia(ctx, registry.Media{SHA256: r.SHA256, Name: "tts: " + excerpt(text, 60), SourceFormat: "tts " + r.Voice,
		Size: r.Size, DurationMS: r.DurationMS, CreatedAt: s.now(), CreatedBy: "tts"})
	if err == nil && area != "" {
		err = s.Registry.LinkMedia(ctx, r.SHA256, area, "tts", s.now())
	}
	if err != nil {
		return "", fmt.Errorf("tts: storing the rendering: %w", err)
	}
	return r.SHA256, nil
}

// Render normalises text with the area's pronunciation list and renders it.
func (s *Schedules) Render(ctx context.Context, area, text string) (tts.Rendered, error) {
	if s.TTS == nil {
		return tts.Rendered{}, fmt.Errorf("%w: this controller has no text-to-speech engine configured", tts.ErrEngineMissing)
	}
	lex := tts.Lexicon{}
	if area != "" {
		entries, err := s.Registry.TTSLexicon(ctx, area)
		if err != nil {
			return tts.Rendered{}, err
		}
		for _, e := range entries {
			lex[e.Word] = e.Spoken
		}
	}
	return s.TTS.Render(ctx, text, lex)
}

func excerpt(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func (s *Schedules) durations(ctx context.Context) func(schedule.Item) time.Duration {
	return func(it schedule.Item) time.Duration {
		if it.Source.Media == "" {
			return 0
		}
		if m, ok := s.MediaInfo(ctx, it.Source.Media); ok {
			return m.Duration
		}
		return 0
	}
}

// MediaInfo is the scheduler's view of the media library.
func (s *Schedules) MediaInfo(ctx context.Context, sha string) (scheduler.Media, bool) {
	m, err := s.Registry.GetMedia(ctx, sha)
	if err != nil || !s.Media.Has(sha) {
		return scheduler.Media{}, false
	}
	return scheduler.Media{Size: m.Size, Duration: time.Duration(m.DurationMS) * time.Millisecond}, true
}

// Resolve lists the nodes a target covers within a station, with each
// node's start offset (its zone's).
func (s *Schedules) Resolve(ctx context.Context, station string, t schedule.Target) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	switch t.Kind {
	case schedule.TargetCommune:
		nodes, err := s.Registry.ListNodes(ctx, station)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if !n.Revoked {
				out[n.ID] = 0
			}
		}
	case schedule.TargetZone:
		for _, id := range t.IDs {
			z, err := s.Registry.GetZone(ctx, id)
			if err != nil {
				return nil, err
			}
			if z.StationID != station {
				return nil, fmt.Errorf("zone %s belongs to station %s", id, z.StationID)
			}
			for _, n := range z.Nodes {
				out[n] = time.Duration(z.OffsetMS) * time.Millisecond
			}
		}
	case schedule.TargetNodes:
		for _, id := range t.IDs {
			n, err := s.Registry.GetNode(ctx, id)
			if err != nil {
				return nil, err
			}
			if n.StationID != station {
				return nil, fmt.Errorf("node %s belongs to station %s", id, n.StationID)
			}
			out[id] = 0
		}
	default:
		return nil, fmt.Errorf("unknown target kind %q", t.Kind)
	}
	return out, nil
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request) error {
	type row struct {
		Name    string `json:"name"`
		Station string `json:"station"`
		Items   int    `json:"items"`
		Drafts  int    `json:"drafts"`
	}
	schedules, err := a.schedulesInScope(r)
	if err != nil {
		return err
	}
	out := []row{}
	for name, sc := range schedules {
		drafts := 0
		for _, it := range sc.Items {
			if !it.Approved {
				drafts++
			}
		}
		out = append(out, row{name, sc.Station, len(sc.Items), drafts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) schedulePath(r *http.Request) (string, string, error) {
	name := r.PathValue("name")
	if !scheduleName.MatchString(name) {
		return "", "", errorf(http.StatusBadRequest, "schedule name %q: use a-z, 0-9, - _ . (e.g. the commune's id)", name)
	}
	return name, filepath.Join(a.cfg.Schedules.Dir, name+schedule.Ext), nil
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) error {
	f, _, err := a.loadScheduleFile(r, false)
	if err != nil {
		return err
	}
	if !f.exists {
		return errorf(http.StatusNotFound, "no such schedule")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(f.src)
	return nil
}

// putSchedule saves a whole schedule file after checking it; every mistake
// comes back with its line so the officer can fix them all at once. Only a
// leader (or an administrator) may approve: an officer's new or changed
// bulletins are saved as drafts, and the answer lists them.
func (a *API) putSchedule(w http.ResponseWriter, r *http.Request) error {
	src, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return err
	}
	if len(src) > 1<<20 {
		return errorf(http.StatusRequestEntityTooLarge, "a schedule file is at most 1 MB")
	}
	s := a.cfg.Schedules
	s.mu.Lock()
	defer s.mu.Unlock()
	f, area, err := a.loadScheduleFile(r, true, stationOf(src))
	if err != nil {
		return err
	}
	if st := stationOf(src); !f.exists && st != "" && st != f.name && principal(r).Role != registry.RoleAdmin {
		// The web app finds a station's programme by the station's id: a
		// file named after another station would take that name from it.
		return errorf(http.StatusBadRequest, "name a new programme after its station: PUT /api/v1/schedules/%s", st)
	}
	if st := stationOf(src); st != "" && st != f.station {
		if area, err = a.allowStation(r, st, true); err != nil {
			return err
		}
		f.station = st
	}
	var back []string
	if !principal(r).CanApprove() {
		if src, back, err = reviewApprovals(f.path, f.src, src); err != nil {
			return a.scheduleErr(f, err)
		}
	}
	sc, err := a.saveSchedule(r, f, src)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("%d items", len(sc.Items))
	if len(back) > 0 {
		detail += "; waiting for approval: " + strings.Join(back, ", ")
	}
	a.audit(r, area, "schedule.save", f.name, detail)
	resp := map[string]any{"name": f.name, "station": sc.Station, "items": len(sc.Items)}
	if len(back) > 0 {
		resp["drafts"] = back
		resp["note"] = "new or changed bulletins are drafts until the commune's leader approves them"
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// saveSchedule checks src against the registry and, if it is right, writes
// it and hands it to the scheduler. Mistakes come back as a 400 with one
// message a line.
func (a *API) saveSchedule(r *http.Request, f scheduleFile, src []byte) (*schedule.Schedule, error) {
	sc, err := a.cfg.Schedules.prepare(r.Context(), f.path, src)
	if err != nil {
		return nil, a.scheduleErr(f, err)
	}
	var foreign []string
	for _, it := range sc.Items {
		// What the caller adds or changes (an administrator's bulletin with
		// a recording of no commune stays as it is).
		if it.Source.Kind == schedule.SourceMedia && !(f.exists && sameBulletin(f.path, f.src, src, it.ID)) {
			if _, err := a.allowMedia(r, it.Source.Media); err != nil {
				foreign = append(foreign, fmt.Sprintf("%s.radio:%d: bulletin %s: recording %s is not in your media library: upload it first", f.name, it.Pos.Line, it.ID, it.Source.Media))
			}
		}
	}
	if len(foreign) > 0 {
		return nil, &scheduleErrors{msgs: foreign}
	}
	if sc.Station != f.station {
		if _, err := a.allowStation(r, sc.Station, true); err != nil {
			return nil, err
		}
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, src, 0o640); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return nil, err
	}
	a.cfg.Schedules.Scheduler.Set(f.name, sc)
	return sc, nil
}

// scheduleErr turns the parser's or the checks' mistakes into messages an
// officer can act on, naming the file as they know it.
func (a *API) scheduleErr(f scheduleFile, err error) error {
	var list schedule.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	msgs := make([]string, len(list))
	for i, e := range list {
		m := strings.ReplaceAll(e.Error(), f.path, f.name+schedule.Ext)
		if strings.Contains(m, "not found (looked for") {
			m += "; through the API, upload the recording first (radioctl media upload) and write: source media <its sha256>"
		}
		msgs[i] = m
	}
	return &scheduleErrors{msgs: msgs}
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	s := a.cfg.Schedules
	s.mu.Lock()
	defer s.mu.Unlock()
	f, area, err := a.loadScheduleFile(r, true)
	if err != nil {
		return err
	}
	if !f.exists {
		return errorf(http.StatusNotFound, "no such schedule")
	}
	if err := os.Remove(f.path); err != nil {
		return err
	}
	a.cfg.Schedules.Scheduler.Set(f.name, nil)
	a.audit(r, area, "schedule.delete", f.name, "")
	writeJSON(w, http.StatusOK, map[string]string{"deleted": f.name})
	return nil
}

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
	ctx := r.Context()
	q := r.URL.Query()
	from, to, err := period(r, a.now())
	if err != nil {
		return nil, err
	}
	stations, err := a.stationsInScope(r)
	if err != nil {
		return nil, err
	}
	if st := q.Get("station"); st != "" {
		if _, ok := stations[st]; !ok {
			return nil, forbidden("station " + st)
		}
	}
	sch := a.cfg.Schedules
	out := []OccurrenceRow{}
	for name, sc := range sch.Scheduler.Schedules() {
		if st := q.Get("station"); st != "" && st != sc.Station {
			continue
		}
		if _, ok := stations[sc.Station]; !ok {
			continue
		}
		for _, o := range sc.Occurrences(from, to, sch.durations(ctx)) {
			if !o.Item.Airs() || o.At.Before(sch.Scheduler.AiringSince(name, o.Item.ID)) {
				continue // not on air yet at that time: nobody's to have played
			}
			nodes, err := sch.Resolve(ctx, sc.Station, o.Item.Target)
			if err != nil {
				continue
			}
			relayFailed, err := a.relayFailures(ctx, o)
			if err != nil {
				return nil, err
			}
			for node := range nodes {
				row := OccurrenceRow{Occurrence: o.ID(), Item: o.Item.ID, Title: o.Item.Title, Station: sc.Station, Node: node,
					At: o.At, Priority: o.Item.Priority}
				evs, err := a.cfg.Registry.ListPlayEvents(ctx, registry.PlayFilter{NodeID: node, ItemID: o.ID(), Limit: 50})
				if err != nil {
					return nil, err
				}
				row.Status, row.Reason, row.PlayedMS = outcome(evs, o, a.now())
				row.Heard, row.HeardCorr, row.HeardDB = registry.HeardOf(evs)
				if failed, ok := relayFailed[o.ID()]; ok {
					row.Status, row.Reason, row.PlayedMS = "missed", failed, 0 // nodes heard only silence
				}
				out = append(out, row)
			}
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

// outcome classifies what a node reported for one occurrence. One played
// into the node's silent sink is "unheard" whatever else it reported: the
// box kept time but nobody heard it, so it was not aired (the coverage
// view counts it the same way).
func outcome(evs []registry.PlayEvent, o schedule.Occurrence, now time.Time) (status, reason string, played int64) {
	var finished, interrupted, failed, started, silent bool
	for _, e := range evs {
		played = max(played, e.PlayedMS)
		silent = silent || e.Silent && e.Type != "failed"
		switch e.Type {
		case "finished":
			finished = true
		case "interrupted":
			interrupted = true
			reason = e.Reason
		case "failed":
			failed = true
			reason = e.Reason
		case "started", "resumed":
			started = true
		}
	}
	switch {
	case silent:
		return "unheard", noSoundReason, played
	case finished:
		return "played", "", played
	case interrupted:
		return "partly played", reason, played
	case failed:
		return "missed", reason, 0
	case started:
		return "playing", "", played
	}
	end := o.End
	if end.IsZero() {
		end = o.At
	}
	if now.After(end.Add(10 * time.Minute)) {
		return "missed", "no report from the node", 0
	}
	return "upcoming", "", 0
}

func (s *Schedules) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
