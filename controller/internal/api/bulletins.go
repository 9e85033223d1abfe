package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Bulletin is one programme item as the web UI edits it. The schedule
// file stays the source of truth: a bulletin is written into it as text
// (Format) and read back by the parser, which checks it.
type Bulletin struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	Source      bSource     `json:"source"`
	Target      bTarget     `json:"target"`
	Priority    string      `json:"priority,omitempty"`
	Status      string      `json:"status,omitempty"` // draft, approved; ignored on PUT
	OnInterrupt string      `json:"on_interrupt,omitempty"`
	OnHoliday   string      `json:"on_holiday,omitempty"`
	Recurrence  bRecurrence `json:"recurrence"`
	From        string      `json:"from,omitempty"`
	Until       string      `json:"until,omitempty"`
	Except      []string    `json:"except,omitempty"`
	Repeat      int         `json:"repeat,omitempty"`
	Gap         string      `json:"gap,omitempty"`
	Duration    string      `json:"duration,omitempty"`
	Line        int         `json:"line,omitempty"` // in the file, read only
	// Version names the bulletin's content (read only): an approval that
	// sends it back approves that content, not a later change.
	Version string `json:"version,omitempty"`
}

type bSource struct {
	Kind  string `json:"kind"`
	Media string `json:"media,omitempty"`
	Path  string `json:"path,omitempty"`
	Text  string `json:"text,omitempty"`
	URL   string `json:"url,omitempty"`
	// Audio is the rendering of a tts source (read only), to listen to
	// before approving; the text is what the bulletin says.
	Audio string `json:"audio,omitempty"`
}

type bTarget struct {
	Kind string   `json:"kind"`
	IDs  []string `json:"ids,omitempty"`
}

type bRecurrence struct {
	Kind     string   `json:"kind"`
	Date     string   `json:"date,omitempty"`
	Times    []string `json:"times,omitempty"`
	Weekdays []string `json:"weekdays,omitempty"`
	Weeks    int      `json:"weeks,omitempty"`
	Cron     string   `json:"cron,omitempty"`
}

func bulletinFromItem(it *schedule.Item) Bulletin {
	b := Bulletin{ID: it.ID, Title: it.Title, Priority: it.Priority, OnInterrupt: it.OnInterrupt,
		Source: bSource{Kind: it.Source.Kind, Media: it.Source.Media, Path: it.Source.Path, Text: it.Source.Text, URL: it.Source.URL},
		Target: bTarget{Kind: it.Target.Kind, IDs: it.Target.IDs}, Repeat: it.Repeat, Line: it.Pos.Line}
	b.Status = map[bool]string{true: "approved", false: "draft"}[it.Approved]
	b.OnHoliday = map[bool]string{true: "play", false: "skip"}[it.OnHoliday]
	if it.Source.Kind == schedule.SourceFile || it.Source.Kind == schedule.SourceTTS {
		// Ingested or rendered at load: the file or text is what the
		// officer wrote, and what its version names.
		b.Source.Media = ""
	}
	if it.Source.Kind == schedule.SourceTTS {
		b.Source.Audio = it.Source.Media
	}
	r := it.Rule
	b.Recurrence = bRecurrence{Kind: r.Kind, Weeks: r.Weeks, Cron: r.Cron}
	if !r.Date.IsZero() {
		b.Recurrence.Date = r.Date.String()
	}
	for _, t := range r.Times {
		s := t.String() // 06:30:00
		if t%60 == 0 {
			s = s[:5]
		}
		b.Recurrence.Times = append(b.Recurrence.Times, s)
	}
	for _, d := range r.Days {
		b.Recurrence.Weekdays = append(b.Recurrence.Weekdays, strings.ToLower(d.String()[:3]))
	}
	if !it.From.IsZero() {
		b.From = it.From.String()
	}
	if !it.Until.IsZero() {
		b.Until = it.Until.String()
	}
	for _, e := range it.Except {
		b.Except = append(b.Except, e.String())
	}
	if it.Gap > 0 {
		b.Gap = schedule.FormatDuration(it.Gap)
	}
	if it.Duration > 0 {
		b.Duration = schedule.FormatDuration(it.Duration)
	}
	b.Version = b.version()
	return b
}

// version is a short hash of what the bulletin says, its approval aside.
func (b Bulletin) version() string {
	b.Status, b.Line, b.Version, b.Source.Audio = "", 0, "", ""
	j, _ := json.Marshal(b)
	h := sha256.Sum256(j)
	return hex.EncodeToString(h[:8])
}

var wordRE = regexp.MustCompile(`^[^\s"]+$`)

// text writes the bulletin as a schedule block, always as a draft. Values
// are only checked for what could break the line structure; the parser
// checks the rest and says what is wrong in an officer's terms.
func (b Bulletin) text() (string, error) {
	var bad []string
	word := func(field, v string) string {
		if v != "" && !wordRE.MatchString(v) {
			bad = append(bad, fmt.Sprintf("%s %q: no blanks or quotes allowed", field, v))
		}
		return v
	}
	oneLine := func(field, v string) string {
		if strings.ContainsAny(v, "\r\n") {
			bad = append(bad, field+": must be one line")
		}
		return v
	}
	words := func(field string, vs []string) string {
		for _, v := range vs {
			word(field, v)
		}
		return strings.Join(vs, ",")
	}
	var sb strings.Builder
	line := func(kw, v string) {
		if v != "" {
			fmt.Fprintf(&sb, "    %-12s %s\n", kw, v)
		}
	}
	fmt.Fprintf(&sb, "bulletin %s\n", word("id", b.ID))
	if strings.TrimSpace(b.Title) == "" {
		bad = append(bad, "title: give the bulletin a title")
	}
	line("title", schedule.Quote(oneLine("title", strings.TrimSpace(b.Title))))
	switch b.Source.Kind {
	case schedule.SourceMedia:
		line("source", "media "+word("recording", b.Source.Media))
	case schedule.SourceFile:
		line("source", "file "+word("file", b.Source.Path))
	case schedule.SourceTTS:
		line("source", "tts "+schedule.Quote(oneLine("text", b.Source.Text)))
	case schedule.SourceRelay:
		line("source", "relay "+word("stream address", b.Source.URL))
	case schedule.SourceLive:
		line("source", "live")
	case "":
		bad = append(bad, "source: choose a recording")
	default:
		bad = append(bad, fmt.Sprintf("source kind %q: want media, file, tts, relay or live", b.Source.Kind))
	}
	switch b.Target.Kind {
	case schedule.TargetCommune:
		line("target", "commune")
	case schedule.TargetZone, schedule.TargetNodes:
		if len(b.Target.IDs) == 0 {
			bad = append(bad, "target: choose at least one zone or speaker cluster")
		}
		line("target", b.Target.Kind+" "+words("target", b.Target.IDs))
	default:
		bad = append(bad, "target: choose the whole commune, zones or speaker clusters")
	}
	line("priority", word("priority", b.Priority))
	line("status", "draft")
	line("on-interrupt", word("on-interrupt", b.OnInterrupt))
	line("on-holiday", word("on-holiday", b.OnHoliday))
	rc := b.Recurrence
	times := strings.Join(rc.Times, ", ")
	for _, t := range rc.Times {
		word("time", t)
	}
	switch rc.Kind {
	case schedule.RuleOnce:
		line("once", word("date", rc.Date)+" "+times)
	case schedule.RuleDaily:
		line("daily", times)
	case schedule.RuleWeekly:
		line("weekly", words("weekdays", rc.Weekdays)+" "+times)
	case schedule.RuleEvery:
		line("every", fmt.Sprintf("%d weeks on %s %s", rc.Weeks, words("weekdays", rc.Weekdays), times))
	case schedule.RuleCron:
		line("cron", schedule.Quote(oneLine("cron", rc.Cron)))
	default:
		bad = append(bad, "recurrence: choose once, daily, weekly, every N weeks or cron")
	}
	line("from", word("from", b.From))
	line("until", word("until", b.Until))
	if len(b.Except) > 0 {
		line("except", words("except", b.Except))
	}
	if b.Repeat != 0 {
		v := strconv.Itoa(b.Repeat)
		if b.Gap != "" {
			v += " gap " + word("gap", b.Gap)
		}
		line("repeat", v)
	}
	line("duration", word("duration", b.Duration))
	if len(bad) > 0 {
		return "", &scheduleErrors{msgs: bad}
	}
	return sb.String(), nil
}

// scheduleErrors is a 400 with the list of mistakes, for the form.
type scheduleErrors struct{ msgs []string }

func (e *scheduleErrors) Error() string { return strings.Join(e.msgs, "; ") }

// scheduleFile is a programme file and the station it belongs to.
type scheduleFile struct {
	name, path, station string
	src                 []byte
	exists              bool
}

// loadScheduleFile reads a schedule and checks the caller may see (or, with
// write, change) its station. A schedule that does not exist yet belongs to
// the station newStation, or else to the station of the same id.
func (a *API) loadScheduleFile(r *http.Request, write bool, newStation ...string) (scheduleFile, string, error) {
	name, path, err := a.schedulePath(r)
	if err != nil {
		return scheduleFile{}, "", err
	}
	f := scheduleFile{name: name, path: path, station: name}
	if len(newStation) > 0 && newStation[0] != "" {
		f.station = newStation[0]
	}
	f.src, err = os.ReadFile(path)
	switch {
	case err == nil:
		f.exists = true
		f.station = stationOf(f.src)
	case !errors.Is(err, os.ErrNotExist):
		return f, "", err
	}
	if f.station == "" {
		return f, "", errorf(http.StatusConflict, "schedule %s names no station: fix its station line", name)
	}
	area, err := a.allowStation(r, f.station, write)
	if errors.Is(err, registry.ErrNotFound) && !f.exists {
		return f, "", errorf(http.StatusNotFound, "no schedule %s, and no station of that id to make one for", name)
	}
	return f, area, err
}

// stationOf reads the station line of a schedule file without parsing it
// all (a broken file still belongs to its station).
func stationOf(src []byte) string {
	for _, l := range strings.Split(strings.TrimPrefix(string(src), "\ufeff"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "station" && !isBlankStart(l) {
			return f[1]
		}
	}
	return ""
}

func isBlankStart(l string) bool { return l != "" && (l[0] == ' ' || l[0] == '\t') }

// readSchedule parses the schedule of the request, which the caller may
// see; sc is nil when it does not exist yet.
func (a *API) readSchedule(r *http.Request) (*schedule.Schedule, error) {
	f, _, err := a.loadScheduleFile(r, false)
	if err != nil || !f.exists {
		return nil, err
	}
	sc, err := schedule.Parse(f.path, f.src)
	if err != nil {
		return nil, a.scheduleErr(f, err)
	}
	return sc, nil
}

// schedulesInScope returns the loaded schedules of the stations the caller
// may see, by name.
func (a *API) schedulesInScope(r *http.Request) (map[string]*schedule.Schedule, error) {
	stations, err := a.stationsInScope(r)
	if err != nil {
		return nil, err
	}
	out := map[string]*schedule.Schedule{}
	for name, sc := range a.cfg.Schedules.Scheduler.Schedules() {
		if _, ok := stations[sc.Station]; ok {
			out[name] = sc
		}
	}
	return out, nil
}

func (a *API) listBulletins(w http.ResponseWriter, r *http.Request) error {
	sc, err := a.readSchedule(r)
	if err != nil {
		return err
	}
	out := []Bulletin{}
	if sc != nil {
		loaded := a.cfg.Schedules.Scheduler.Schedules()[r.PathValue("name")]
		for i := range sc.Items {
			b := bulletinFromItem(&sc.Items[i])
			if b.Source.Kind == schedule.SourceTTS && loaded != nil {
				// The file says what to read; its rendering is in the loaded programme.
				if it := findItem(loaded, b.ID); it.Source.Kind == schedule.SourceTTS && it.Source.Text == b.Source.Text {
					b.Source.Audio = it.Source.Media
				}
			}
			out = append(out, b)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putBulletin creates or replaces one bulletin. Any change makes it a draft
// again: only a leader's approval puts it on air.
func (a *API) putBulletin(w http.ResponseWriter, r *http.Request) error {
	var b Bulletin
	if err := readJSON(r, &b); err != nil {
		return err
	}
	id := r.PathValue("id")
	if b.ID == "" {
		b.ID = id
	}
	if b.ID != id {
		return errorf(http.StatusBadRequest, "the bulletin's id (%s) is not the one in the address (%s)", b.ID, id)
	}
	if err := nodeproto.CheckID("bulletin", id); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	s := a.cfg.Schedules
	s.mu.Lock()
	defer s.mu.Unlock()
	f, area, err := a.loadScheduleFile(r, true)
	if err != nil {
		return err
	}
	text, err := b.text()
	if err != nil {
		return err
	}
	src := f.src
	if !f.exists {
		src = []byte(fmt.Sprintf("# Programme of station %s, made in the web UI.\nstation %s\n", f.station, f.station))
	}
	_, existed := schedule.BlockText(src, id)
	newSrc := schedule.ReplaceBlock(src, id, text)
	if existed && sameBulletin(f.path, src, newSrc, id) {
		// Nothing changed but maybe the layout: keep the file and its approval.
		newSrc = src
	} else if err := a.checkDraft(r, f, newSrc, id); err != nil {
		return err
	}
	if !principal(r).CanApprove() {
		if err := checkApprovals(f.path, src, newSrc); err != nil {
			return a.scheduleErr(f, err)
		}
	}
	sc, err := a.saveSchedule(r, f, newSrc)
	if err != nil {
		return err
	}
	it := findItem(sc, id)
	action := "bulletin.create"
	if existed {
		action = "bulletin.change"
	}
	a.audit(r, area, action, f.name+"/"+id, "status "+bulletinFromItem(it).Status)
	writeJSON(w, http.StatusOK, bulletinFromItem(it))
	return nil
}

func findItem(sc *schedule.Schedule, id string) *schedule.Item {
	for i := range sc.Items {
		if sc.Items[i].ID == id {
			return &sc.Items[i]
		}
	}
	return &schedule.Item{ID: id}
}

func (a *API) deleteBulletin(w http.ResponseWriter, r *http.Request) error {
	s := a.cfg.Schedules
	s.mu.Lock()
	defer s.mu.Unlock()
	f, area, err := a.loadScheduleFile(r, true)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	src, ok := schedule.RemoveBlock(f.src, id)
	if !ok || !f.exists {
		return errorf(http.StatusNotFound, "no bulletin %s in schedule %s", id, f.name)
	}
	if !principal(r).CanApprove() {
		if err := checkApprovals(f.path, f.src, src); err != nil {
			return a.scheduleErr(f, err)
		}
	}
	if _, err := a.saveSchedule(r, f, src); err != nil {
		return err
	}
	a.audit(r, area, "bulletin.delete", f.name+"/"+id, "")
	writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
	return nil
}

// approveBulletin is a leader's approval: the bulletin goes on air.
func (a *API) approveBulletin(w http.ResponseWriter, r *http.Request) error {
	if !principal(r).CanApprove() {
		return errorf(http.StatusForbidden, "only the commune's leader (or an administrator) approves bulletins")
	}
	var req struct {
		Version string `json:"version"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(r, &req); err != nil {
			return err
		}
	}
	s := a.cfg.Schedules
	s.mu.Lock()
	defer s.mu.Unlock()
	f, area, err := a.loadScheduleFile(r, true)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	src, ok := schedule.SetStatus(f.src, id, true)
	if !ok || !f.exists {
		return errorf(http.StatusNotFound, "no bulletin %s in schedule %s", id, f.name)
	}
	if sc, err := schedule.Parse(f.path, src); err == nil {
		if v := bulletinFromItem(findItem(sc, id)).Version; req.Version != "" && req.Version != v {
			return errorf(http.StatusConflict, "the bulletin was changed after you opened it: look at it again, then approve")
		}
		if msg := passed(findItem(sc, id), a.now()); msg != "" {
			return &scheduleErrors{msgs: []string{msg + ": the officer must choose a new time before it can be approved"}}
		}
	}
	sc, err := a.saveSchedule(r, f, src)
	if err != nil {
		return err
	}
	a.audit(r, area, "bulletin.approve", f.name+"/"+id, "")
	writeJSON(w, http.StatusOK, bulletinFromItem(findItem(sc, id)))
	return nil
}

// Approval is a draft waiting for a leader.
type Approval struct {
	Schedule string   `json:"schedule"`
	Station  string   `json:"station"`
	Bulletin Bulletin `json:"bulletin"`
}

func (a *API) listApprovals(w http.ResponseWriter, r *http.Request) error {
	schedules, err := a.schedulesInScope(r)
	if err != nil {
		return err
	}
	out := []Approval{}
	for name, sc := range schedules {
		for i := range sc.Items {
			if !sc.Items[i].Approved {
				out = append(out, Approval{Schedule: name, Station: sc.Station, Bulletin: bulletinFromItem(&sc.Items[i])})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Schedule != out[j].Schedule {
			return out[i].Schedule < out[j].Schedule
		}
		return out[i].Bulletin.Line < out[j].Bulletin.Line
	})
	writeJSON(w, http.StatusOK, out)
	return nil
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
	sc, err := a.readSchedule(r)
	if err != nil {
		return err
	}
	from, to, err := period(r, a.now())
	if err != nil {
		return err
	}
	out := []CalendarEntry{}
	if sc != nil {
		for _, o := range sc.Occurrences(from, to, a.cfg.Schedules.durations(r.Context())) {
			out = append(out, CalendarEntry{Occurrence: o.ID(), Item: o.Item.ID, Title: o.Item.Title, At: o.At, End: o.End,
				Priority: o.Item.Priority, Status: map[bool]string{true: "approved", false: "draft"}[o.Item.Approved], Airs: o.Item.Airs()})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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

// reviewApprovals keeps an officer from approving: every approved bulletin
// of src that is new, or differs from its approved version in old, is
// turned back into a draft. It returns the new text and those bulletins,
// and refuses a text in which it could not do so.
func reviewApprovals(path string, old, src []byte) ([]byte, []string, error) {
	back := unapproved(path, old, src)
	for _, id := range back {
		src, _ = schedule.SetStatus(src, id, false)
	}
	if err := checkApprovals(path, old, src); err != nil {
		return nil, nil, err
	}
	return src, back, nil
}

// unapproved lists the bulletins approved in src that are not approved,
// meaning the same, in old: what only a leader may put on air.
func unapproved(path string, old, src []byte) []string {
	sc, err := schedule.Parse(path, src)
	if err != nil {
		return nil
	}
	var oldSc *schedule.Schedule
	if len(old) > 0 {
		oldSc, _ = schedule.Parse(path, old)
	}
	var out []string
	for i := range sc.Items {
		it := &sc.Items[i]
		if !it.Approved {
			continue
		}
		if oldSc != nil && findItem(oldSc, it.ID).Approved && sameBulletin(path, old, src, it.ID) {
			continue
		}
		out = append(out, it.ID)
	}
	slices.Sort(out)
	return out
}

// checkApprovals is the last word before an officer's change is saved: it
// must not put anything on air that a leader has not approved as it is.
// Whatever the text editing did, this reads the result as the scheduler will.
func checkApprovals(path string, old, src []byte) error {
	if _, err := schedule.Parse(path, src); err != nil {
		return err // nothing is saved that could not be checked
	}
	if ids := unapproved(path, old, src); len(ids) > 0 {
		return &scheduleErrors{msgs: []string{fmt.Sprintf("bulletin(s) %s would air without a leader's approval: write them with status draft (one \"bulletin <id>\" line each, the id unquoted) and ask the commune's leader to approve them",
			strings.Join(ids, ", "))}}
	}
	return nil
}

// sameBulletin reports whether bulletin id means the same in two versions
// of a file, whatever its layout or approval: both parse, and every field
// but the status is equal.
func sameBulletin(path string, a, b []byte, id string) bool {
	sa, err1 := schedule.Parse(path, a)
	sb, err2 := schedule.Parse(path, b)
	if err1 != nil || err2 != nil {
		return false
	}
	ia, ib := findItem(sa, id), findItem(sb, id)
	if ia.Pos.Line == 0 || ib.Pos.Line == 0 {
		return false // not in both
	}
	ba, bb := bulletinFromItem(ia), bulletinFromItem(ib)
	ba.Status, bb.Status, ba.Line, bb.Line = "", "", 0, 0
	ja, _ := json.Marshal(ba)
	jb, _ := json.Marshal(bb)
	return string(ja) == string(jb)
}

// conflictHorizon is how far ahead a programme is checked for clashes.
const conflictHorizon = 35 * 24 * time.Hour

// checkDraft tells the officer at once, when they save a bulletin, what a
// leader's approval would run into: a one-off time already past, or an
// approved bulletin of the same priority on the same speakers at the same
// time.
func (a *API) checkDraft(r *http.Request, f scheduleFile, src []byte, id string) error {
	sc, err := schedule.Parse(f.path, src)
	if err != nil {
		return nil // the full check that follows says what is wrong
	}
	it := findItem(sc, id)
	now := a.now()
	if msg := passed(it, now); msg != "" {
		return &scheduleErrors{msgs: []string{msg + ": choose a time in the future"}}
	}
	it.Approved = true // as if the leader approved it (other drafts do not air: no clash)
	var msgs []string
	seen := map[string]bool{} // the first clash with each other bulletin says enough
	for _, c := range sc.Conflicts(now, now.Add(conflictHorizon), a.cfg.Schedules.durations(r.Context())) {
		other := c.B
		if c.B.Item.ID == id {
			other = c.A
		} else if c.A.Item.ID != id {
			continue
		}
		if seen[other.Item.ID] {
			continue
		}
		seen[other.Item.ID] = true
		msgs = append(msgs, fmt.Sprintf("at %s it would play at the same time as %q (%s), on the same speakers (%s) and with the same priority: choose another time, other speakers or another priority",
			other.At.In(schedule.Zone).Format("02/01/2006 15:04"), other.Item.Title, other.Item.ID, c.Target))
	}
	if len(msgs) > 0 {
		return &scheduleErrors{msgs: msgs}
	}
	return nil
}

// passed says whether a one-off bulletin's time is already past.
func passed(it *schedule.Item, now time.Time) string {
	if it.Rule.Kind != schedule.RuleOnce || len(it.Rule.Times) == 0 {
		return ""
	}
	at := it.Rule.Date.At(it.Rule.Times[len(it.Rule.Times)-1])
	if at.After(now) {
		return ""
	}
	return fmt.Sprintf("its time, %s (Vietnam time), has already passed", at.Format("02/01/2006 15:04"))
}
