package schedule

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Limits that keep a typo from becoming a bulletin that never stops.
const (
	MaxItemID   = 64 - len("-20060102-150405") // so that occurrence ids pass nodeproto.ValidID
	MaxRepeat   = 20
	MaxGap      = 2 * time.Hour
	MaxDuration = 24 * time.Hour
	MaxWeeks    = 52
	MaxTimes    = 100 // times of day on one daily, weekly or every line
	// MaxStartsPerDay bounds the starts in one day of a whole file (one a
	// minute, all day), so that expanding a week of it stays cheap.
	MaxStartsPerDay = 1500
	minCronGap      = time.Minute
	minYear         = 2000
	maxYear         = 2200
	maxFileBytes    = 1 << 20
)

// Error is one mistake in a schedule file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every mistake found, in file and line order. Parse and Check
// return one as their error.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Pos.File != l[j].Pos.File {
			return l[i].Pos.File < l[j].Pos.File
		}
		return l[i].Pos.Line < l[j].Pos.Line
	})
}

// ParseFile reads and parses a schedule file.
func ParseFile(name string) (*Schedule, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, ErrorList{{Pos{name, 0}, fmt.Sprintf("cannot read the schedule: %v", err)}}
	}
	return Parse(name, src)
}

// Parse parses a schedule. filename is used in error messages and to find
// file sources, which are resolved relative to its directory. The error, if
// any, is an ErrorList holding every mistake found.
func Parse(filename string, src []byte) (*Schedule, error) {
	p := &parser{file: filename, dir: filepath.Dir(filename), s: &Schedule{File: filename}}
	if len(src) > maxFileBytes {
		p.errorf(1, "the file is %d bytes; a schedule file may have at most %d", len(src), maxFileBytes)
		return nil, p.errs
	}
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	for i, raw := range strings.Split(string(src), "\n") {
		p.line(i+1, strings.TrimSuffix(raw, "\r"))
	}
	p.endItem()
	if p.stationLine == 0 {
		p.errorf(1, `the file does not say which station it is for: add a line "station <id>"`)
	}
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	return p.s, nil
}

type parser struct {
	file, dir   string
	s           *Schedule
	errs        ErrorList
	stationLine int
	ids         map[string]int // item id -> line
	cur         *draft
	perDay      int // starts in a day of the items read so far, at most
}

// draft is the bulletin being read.
type draft struct {
	item Item
	seen map[string]int // keyword -> line, for keywords given once
	rule int            // line of the recurrence
	from int            // line of from
	bad  bool           // a line of it had an error: skip the checks that would only repeat it
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos{p.file, line}, fmt.Sprintf(format, args...)})
}

var (
	topKeywords  = []string{"station", "holiday", "bulletin"}
	itemKeywords = []string{"title", "source", "target", "priority", "status", "on-interrupt", "on-holiday",
		"once", "daily", "weekly", "every", "cron", "from", "until", "except", "repeat", "duration"}
	ruleKeywords = []string{"once", "daily", "weekly", "every", "cron"}
)

func (p *parser) line(n int, raw string) {
	text := strings.TrimSpace(raw)
	if text == "" || strings.HasPrefix(text, "#") {
		return
	}
	indented := isSpace(raw[0])
	bad := ""
	if !utf8.ValidString(raw) {
		bad = "this line is not valid UTF-8 text: save the file as UTF-8"
	}
	toks, err := lex(text)
	if bad == "" {
		bad = err
	}
	if bad != "" {
		p.errorf(n, "%s", bad)
		if p.cur != nil && indented {
			// Its keyword was there, only its value was wrong: do not
			// also report the keyword missing.
			p.cur.bad = true
			if kw, _, _ := strings.Cut(text, " "); slices.Contains(itemKeywords, kw) {
				p.cur.seen[kw] = n
				if slices.Contains(ruleKeywords, kw) && p.cur.rule == 0 {
					p.cur.rule = n
				}
			}
		}
		return
	}
	kw, args := toks[0], toks[1:]
	if indented {
		if p.cur == nil {
			p.errorf(n, "indented line outside a bulletin: %q belongs under a \"bulletin <id>\" line", kw.s)
			return
		}
		p.itemLine(n, kw, args, text)
		return
	}
	if p.cur != nil && slices.Contains(itemKeywords, kw.s) {
		// A bulletin line someone forgot to indent: say so, and read it
		// as part of the bulletin so as not to report it missing too.
		p.errorf(n, "%q belongs to a bulletin: indent it under its \"bulletin <id>\" line", kw.s)
		p.cur.bad = true
		p.itemLine(n, kw, args, text)
		return
	}
	p.endItem()
	switch kw.s {
	case "station":
		p.station(n, args, text)
	case "holiday":
		p.holiday(n, text[len(kw.s):])
	case "bulletin":
		p.bulletin(n, args)
	default:
		if slices.Contains(itemKeywords, kw.s) {
			p.errorf(n, "%q belongs to a bulletin: indent it under its \"bulletin <id>\" line", kw.s)
			return
		}
		p.errorf(n, "unknown keyword %q%s", kw.s, suggest(kw.s, topKeywords))
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func (p *parser) station(n int, args []token, text string) {
	if p.stationLine != 0 {
		p.errorf(n, "station given twice (first at line %d): one file per station", p.stationLine)
		return
	}
	p.stationLine = n
	if len(args) == 0 {
		p.errorf(n, "station needs an id, e.g. station xa-an-phu")
		return
	}
	if !nodeproto.ValidID(args[0].s) {
		p.errorf(n, "bad station id %q: use lowercase letters, digits and - _ . (at most 64)", args[0].s)
	}
	p.s.Station = args[0].s
	if len(args) > 1 {
		p.s.Name = restText(text, args[1])
	}
}

var rangeRE = regexp.MustCompile(`^([^\s.]+)(?:\s*\.\.\s*([^\s.]+))?(?:\s+(.*))?$`)

func (p *parser) holiday(n int, rest string) {
	m := rangeRE.FindStringSubmatch(strings.TrimSpace(rest))
	if m == nil {
		p.errorf(n, "write a holiday as: holiday 2027-04-30 <name>, or holiday 2027-02-05..2027-02-10 <name>")
		return
	}
	spec := m[1]
	if m[2] != "" {
		spec += ".." + m[2]
	}
	r, err := parseRange(spec, true)
	if err != "" {
		p.errorf(n, "%s", err)
		return
	}
	name := unquoteText(m[3])
	if name == "" {
		p.errorf(n, "give the holiday a name, e.g. holiday %s Quốc khánh", spec)
		return
	}
	p.s.Holidays = append(p.s.Holidays, Holiday{Name: name, Days: r, Pos: Pos{p.file, n}})
}

func (p *parser) bulletin(n int, args []token) {
	d := &draft{seen: map[string]int{}, item: Item{
		Priority:    nodeproto.PriorityNormal,
		OnInterrupt: OnInterruptResume,
		Pos:         Pos{p.file, n},
	}}
	p.cur = d
	if len(args) != 1 {
		p.errorf(n, "write a bulletin as: bulletin <id>, e.g. bulletin ban-tin-sang (the title goes on its own line)")
		d.bad = true
		if len(args) == 0 {
			return
		}
	}
	id := args[0].s
	switch {
	case !nodeproto.ValidID(id):
		p.errorf(n, "bad bulletin id %q: use lowercase letters, digits and - _ . (not first)", id)
		d.bad = true
	case len(id) > MaxItemID:
		p.errorf(n, "bulletin id %q is %d characters long; at most %d", id, len(id), MaxItemID)
		d.bad = true
	}
	if p.ids == nil {
		p.ids = map[string]int{}
	}
	if first, ok := p.ids[id]; ok {
		p.errorf(n, "duplicate bulletin id %q: already used at line %d", id, first)
		d.bad = true
	} else {
		p.ids[id] = n
	}
	d.item.ID = id
}

// endItem checks the bulletin being read as a whole and adds it.
func (p *parser) endItem() {
	d := p.cur
	if d == nil {
		return
	}
	p.cur = nil
	it := &d.item
	n := it.Pos.Line
	missing := func(kw, how string) {
		if _, ok := d.seen[kw]; !ok {
			p.errorf(n, "bulletin %q has no %s: %s", it.ID, kw, how)
			d.bad = true
		}
	}
	missing("title", `add a line "title <text>"`)
	missing("source", `add "source file <path>" or "source media <sha256>"`)
	missing("target", `add "target commune", "target zone <id>" or "target nodes <id>,<id>"`)
	if d.rule == 0 {
		p.errorf(n, "bulletin %q has no time: add once, daily, weekly, every or cron", it.ID)
		d.bad = true
	}
	if d.bad {
		return
	}
	if !it.From.IsZero() && !it.Until.IsZero() && it.Until.Compare(it.From) < 0 {
		p.errorf(d.seen["until"], "until %s is before from %s (line %d)", it.Until, it.From, d.from)
		return
	}
	r := it.Rule
	switch r.Kind {
	case RuleEvery:
		if it.From.IsZero() {
			p.errorf(d.rule, `"every %d weeks" counts weeks from a start date: add a line "from <date>"`, r.Weeks)
			return
		}
	case RuleOnce:
		if (!it.From.IsZero() && r.Date.Compare(it.From) < 0) || (!it.Until.IsZero() && r.Date.Compare(it.Until) > 0) {
			p.errorf(d.rule, "once %s is outside the from/until range", r.Date)
			return
		}
	}
	if (it.Source.Kind == SourceRelay || it.Source.Kind == SourceLive) && it.Duration == 0 {
		p.errorf(d.seen["source"], "a %s source needs a duration: add a line such as \"duration 30m\"", it.Source.Kind)
		return
	}
	perDay := r.perDay
	if r.Kind != RuleCron {
		perDay = len(r.Times)
	}
	if p.perDay+perDay > MaxStartsPerDay {
		if p.perDay > MaxStartsPerDay {
			return // said once, at the bulletin that crossed the limit
		}
		p.perDay += perDay
		p.errorf(d.rule, "bulletin %q brings the starts in one day to %d; a schedule may have at most %d a day: use fewer times, or one bulletin with repeat", it.ID, p.perDay, MaxStartsPerDay)
		return
	}
	p.perDay += perDay
	p.s.Items = append(p.s.Items, *it)
}

func (p *parser) itemLine(n int, kw token, args []token, text string) {
	d := p.cur
	it := &d.item
	fail := func(format string, a ...any) {
		p.errorf(n, format, a...)
		d.bad = true
	}
	if !slices.Contains(itemKeywords, kw.s) {
		if slices.Contains(topKeywords, kw.s) {
			fail("%q starts a new section: do not indent it", kw.s)
			return
		}
		hint := suggest(kw.s, itemKeywords)
		if best := suggested(kw.s, itemKeywords); best != "" {
			d.seen[best] = n // a misspelt keyword is not also a missing one
			if slices.Contains(ruleKeywords, best) && d.rule == 0 {
				d.rule = n
			}
		}
		fail("unknown keyword %q%s", kw.s, hint)
		return
	}
	if slices.Contains(ruleKeywords, kw.s) {
		if d.rule != 0 {
			fail("a bulletin has one recurrence: %q here, and another at line %d; use a second bulletin or a cron line", kw.s, d.rule)
			return
		}
		d.rule = n
		d.seen[kw.s] = n
	} else if kw.s != "except" {
		if first, ok := d.seen[kw.s]; ok {
			fail("%q given twice in bulletin %q (first at line %d)", kw.s, it.ID, first)
			return
		}
		d.seen[kw.s] = n
	}
	if len(args) == 0 {
		fail("%q needs a value%s", kw.s, usage(kw.s))
		return
	}
	one := func() (string, bool) {
		if len(args) != 1 {
			fail("%q takes one value, got %d%s", kw.s, len(args), usage(kw.s))
			return "", false
		}
		return args[0].s, true
	}
	// lists joins the arguments and splits them into blank-separated fields
	// whose comma lists may have blanks after the commas.
	lists := func() []string {
		var parts []string
		for _, a := range args {
			parts = append(parts, a.s)
		}
		return strings.Fields(commaRE.ReplaceAllString(strings.Join(parts, " "), ","))
	}
	switch kw.s {
	case "title":
		it.Title = restText(text, args[0])
	case "source":
		p.source(n, args, fail)
	case "target":
		p.target(lists(), fail)
	case "priority":
		v, ok := one()
		if !ok {
			return
		}
		if nodeproto.PriorityRank(v) < 0 || v == "" {
			fail("unknown priority %q: use normal (thông thường), priority (ưu tiên) or emergency (khẩn cấp)", v)
			return
		}
		it.Priority = v
	case "status":
		v, ok := one()
		if !ok {
			return
		}
		switch v {
		case "draft", "approved":
			it.Approved = v == "approved"
		default:
			fail("unknown status %q: use draft (chưa duyệt) or approved (đã duyệt)", v)
		}
	case "on-interrupt":
		v, ok := one()
		if !ok {
			return
		}
		if v != OnInterruptResume && v != OnInterruptSkip {
			fail("unknown on-interrupt %q: use resume (play the rest afterwards) or skip", v)
			return
		}
		it.OnInterrupt = v
	case "on-holiday":
		v, ok := one()
		if !ok {
			return
		}
		if v != "play" && v != "skip" {
			fail("unknown on-holiday %q: use skip or play", v)
			return
		}
		it.OnHoliday = v == "play"
	case "once":
		f := lists()
		if len(f) != 2 {
			fail("write once as: once 2026-12-01 08:00")
			return
		}
		date, err := parseDate(f[0], false)
		if err != "" {
			fail("%s", err)
			return
		}
		t, err := parseTime(f[1])
		if err != "" {
			fail("%s", err)
			return
		}
		it.Rule = Rule{Kind: RuleOnce, Date: date, Times: []TimeOfDay{t}}
	case "daily":
		f := lists()
		if len(f) != 1 {
			fail("write daily as: daily 06:30 or daily 06:30,17:00")
			return
		}
		times, err := parseTimes(f[0])
		if err != "" {
			fail("%s", err)
			return
		}
		it.Rule = Rule{Kind: RuleDaily, Times: times}
	case "weekly":
		f := lists()
		if len(f) != 2 {
			fail("write weekly as: weekly mon 07:00 or weekly mon,thu 07:00,19:00")
			return
		}
		days, err := parseWeekdays(f[0])
		if err == "" {
			var times []TimeOfDay
			if times, err = parseTimes(f[1]); err == "" {
				it.Rule = Rule{Kind: RuleWeekly, Days: days, Times: times}
				return
			}
		}
		fail("%s", err)
	case "every":
		f := lists()
		if len(f) != 5 || (f[1] != "weeks" && f[1] != "week") || f[2] != "on" {
			fail("write every as: every 2 weeks on fri 19:00")
			return
		}
		w, err := strconv.Atoi(f[0])
		if err != nil || w < 1 || w > MaxWeeks {
			fail("bad number of weeks %q: use 1 to %d", f[0], MaxWeeks)
			return
		}
		days, msg := parseWeekdays(f[3])
		if msg == "" {
			var times []TimeOfDay
			if times, msg = parseTimes(f[4]); msg == "" {
				it.Rule = Rule{Kind: RuleEvery, Weeks: w, Days: days, Times: times}
				return
			}
		}
		fail("%s", msg)
	case "cron":
		v, ok := one()
		if !ok {
			return
		}
		s, perDay, err := parseCron(v)
		if err != "" {
			fail("%s", err)
			return
		}
		it.Rule = Rule{Kind: RuleCron, Cron: v, cron: s, perDay: perDay}
	case "from", "until":
		v, ok := one()
		if !ok {
			return
		}
		date, err := parseDate(v, false)
		if err != "" {
			fail("%s", err)
			return
		}
		if kw.s == "from" {
			it.From, d.from = date, n
		} else {
			it.Until = date
		}
	case "except":
		var parts []string
		for _, a := range args {
			parts = append(parts, a.s)
		}
		list := dotsRE.ReplaceAllString(commaRE.ReplaceAllString(strings.Join(parts, " "), ","), "..")
		for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
			if f == "" {
				continue
			}
			r, err := parseRange(f, true)
			if err != "" {
				fail("%s", err)
				return
			}
			it.Except = append(it.Except, r)
		}
	case "repeat":
		if len(args) != 1 && (len(args) != 3 || args[1].s != "gap") {
			fail("write repeat as: repeat 1 gap 2m (plays once more, 2 minutes after the first ends)")
			return
		}
		r, err := strconv.Atoi(args[0].s)
		if err != nil || r < 0 || r > MaxRepeat {
			fail("bad repeat count %q: use 0 to %d (the number of extra plays)", args[0].s, MaxRepeat)
			return
		}
		it.Repeat = r
		if len(args) == 3 {
			g, err := parseDuration(args[2].s, MaxGap, true)
			if err != "" {
				fail("bad gap: %s", err)
				return
			}
			it.Gap = g
		}
	case "duration":
		v, ok := one()
		if !ok {
			return
		}
		dur, err := parseDuration(v, MaxDuration, false)
		if err != "" {
			fail("bad duration: %s", err)
			return
		}
		it.Duration = dur
	}
}

var (
	commaRE = regexp.MustCompile(`\s*,\s*`)
	dotsRE  = regexp.MustCompile(`\s*\.\.\s*`)
)

func usage(kw string) string {
	switch kw {
	case "title":
		return ", e.g. title Bản tin xã buổi sáng"
	case "source":
		return ", e.g. source file audio/ban-tin.opus"
	case "target":
		return ": commune, zone <id> or nodes <id>,<id>"
	case "priority":
		return ": normal, priority or emergency"
	case "status":
		return ": draft or approved"
	case "on-interrupt":
		return ": resume or skip"
	case "on-holiday":
		return ": skip or play"
	case "cron":
		return `, e.g. cron "0 30 6 * * mon-fri"`
	case "from", "until":
		return ", e.g. " + kw + " 2026-12-01"
	case "except":
		return ", e.g. except 2026-12-24..2026-12-26"
	case "duration":
		return ", e.g. duration 30m"
	}
	return ""
}

func (p *parser) source(n int, args []token, fail func(string, ...any)) {
	it := &p.cur.item
	kind := args[0].s
	val := ""
	if len(args) == 2 {
		val = args[1].s
	}
	if kind == SourceLive {
		if len(args) != 1 {
			fail("source live takes no value")
			return
		}
		it.Source = Source{Kind: SourceLive}
		return
	}
	if len(args) != 2 {
		fail("write the source as one of: source file <path>, source media <sha256>, source tts \"<text>\", source relay <url>, source live")
		return
	}
	switch kind {
	case SourceMedia:
		if !nodeproto.ValidMedia(val) {
			fail("bad media %q: give the file's sha256 as 64 lowercase hex digits", val)
			return
		}
		it.Source = Source{Kind: SourceMedia, Media: val}
	case SourceFile:
		rel := filepath.ToSlash(val)
		if path.IsAbs(rel) || filepath.IsAbs(val) || filepath.VolumeName(val) != "" {
			fail("write the file path relative to the schedule file, not %q", val)
			return
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			fail("the recording %q must be in the schedule's folder or below it (no ..)", val)
			return
		}
		abs := filepath.Join(p.dir, filepath.FromSlash(rel))
		st, err := os.Stat(abs)
		switch {
		case err != nil:
			fail("file %q not found (looked for %s)", val, abs)
			return
		case st.IsDir():
			fail("file %q is a folder, not a recording", val)
			return
		case st.Size() == 0:
			fail("file %q is empty", val)
			return
		}
		it.Source = Source{Kind: SourceFile, Path: rel, Abs: abs}
	case SourceTTS:
		if strings.TrimSpace(val) == "" {
			fail("source tts needs the text to read, in quotes")
			return
		}
		it.Source = Source{Kind: SourceTTS, Text: val}
	case SourceRelay:
		if nodeproto.ValidID(val) {
			it.Source = Source{Kind: SourceRelay, URL: val} // a channel the administrator keeps (vov1)
			return
		}
		u, err := url.Parse(val)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "rtmp" && u.Scheme != "rtsp" && u.Scheme != "srt") {
			fail("bad relay address %q: give a channel name (vov1) or the stream's http(s), rtmp, rtsp or srt URL", val)
			return
		}
		it.Source = Source{Kind: SourceRelay, URL: val}
	default:
		fail("unknown source %q: use file, media, tts, relay or live%s", kind, suggest(kind, []string{"file", "media", "tts", "relay", "live"}))
	}
}

func (p *parser) target(f []string, fail func(string, ...any)) {
	it := &p.cur.item
	switch f[0] {
	case TargetCommune:
		if len(f) != 1 {
			fail("target commune takes no ids: it means every node of the station")
			return
		}
		it.Target = Target{Kind: TargetCommune}
	case TargetZone, TargetNodes, "zones", "node":
		kind := TargetZone
		if strings.HasPrefix(f[0], "node") {
			kind = TargetNodes
		}
		if len(f) != 2 {
			fail("write the target as: target %s <id>[,<id>...]", kind)
			return
		}
		ids := strings.Split(f[1], ",")
		for _, id := range ids {
			if !nodeproto.ValidID(id) {
				fail("bad %s id %q: use lowercase letters, digits and - _ .", strings.TrimSuffix(kind, "s"), id)
				return
			}
		}
		slices.Sort(ids)
		it.Target = Target{Kind: kind, IDs: slices.Compact(ids)}
	default:
		fail("unknown target %q: use commune, zone <id> or nodes <id>,<id>", f[0])
	}
}

// token is a word or a quoted string of a line; off is where it starts.
type token struct {
	s   string
	off int
}

// lex splits a trimmed line into tokens. The message is empty on success.
func lex(text string) ([]token, string) {
	var toks []token
	for i := 0; i < len(text); {
		if isSpace(text[i]) {
			i++
			continue
		}
		start := i
		if text[i] != '"' {
			for i < len(text) && !isSpace(text[i]) {
				i++
			}
			toks = append(toks, token{text[start:i], start})
			continue
		}
		var b strings.Builder
		i++
		for {
			if i >= len(text) {
				return nil, "a quote is not closed: add the closing \""
			}
			c := text[i]
			if c == '"' {
				i++
				break
			}
			if c == '\\' && i+1 < len(text) && (text[i+1] == '"' || text[i+1] == '\\') {
				c = text[i+1]
				i++
			}
			b.WriteByte(c)
			i++
		}
		if i < len(text) && !isSpace(text[i]) {
			return nil, "put a blank after the closing quote"
		}
		toks = append(toks, token{b.String(), start})
	}
	return toks, ""
}

// restText is the text of the line from token t on: a quoted string alone is
// unquoted, anything else is taken as written.
func restText(text string, t token) string {
	return unquoteText(text[t.off:])
}

func unquoteText(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, `"`) {
		if toks, err := lex(s); err == "" && len(toks) == 1 {
			return toks[0].s
		}
	}
	return s
}

var (
	isoDate   = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	yearlyDay = regexp.MustCompile(`^(\d{2})-(\d{2})$`)
	dmyDate   = regexp.MustCompile(`^(\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}))?$`)
)

// parseDate reads 2027-04-30, or with yearly 04-30 too (Year 0).
func parseDate(s string, yearly bool) (Date, string) {
	var y, m, d int
	if g := isoDate.FindStringSubmatch(s); g != nil {
		y, _ = strconv.Atoi(g[1])
		m, _ = strconv.Atoi(g[2])
		d, _ = strconv.Atoi(g[3])
		if y < minYear || y > maxYear {
			return Date{}, fmt.Sprintf("bad date %q: the year must be %d-%d", s, minYear, maxYear)
		}
	} else if g := yearlyDay.FindStringSubmatch(s); g != nil && yearly {
		m, _ = strconv.Atoi(g[1])
		d, _ = strconv.Atoi(g[2])
	} else {
		hint := "write dates as YYYY-MM-DD, e.g. 2027-04-30"
		if yearly {
			hint += ", or MM-DD (04-30) for every year"
		}
		if g := dmyDate.FindStringSubmatch(s); g != nil {
			dd, _ := strconv.Atoi(g[1])
			mm, _ := strconv.Atoi(g[2])
			if g[3] != "" {
				hint = fmt.Sprintf("write dates as YYYY-MM-DD: %s-%02d-%02d", g[3], mm, dd)
			} else if yearly {
				hint = fmt.Sprintf("write dates as YYYY-MM-DD, or %02d-%02d for every year", mm, dd)
			}
		}
		return Date{}, fmt.Sprintf("bad date %q: %s", s, hint)
	}
	if m < 1 || m > 12 {
		return Date{}, fmt.Sprintf("bad date %q: the month must be 01-12", s)
	}
	leapYear := y
	if y == 0 {
		leapYear = 2000 // 02-29 every year means: in leap years
	}
	if last := time.Date(leapYear, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day(); d < 1 || d > last {
		return Date{}, fmt.Sprintf("bad date %q: %s has %d days", s, time.Month(m), last)
	}
	return Date{y, time.Month(m), d}, ""
}

// parseRange reads a date or an inclusive range a..b.
func parseRange(s string, yearly bool) (DateRange, string) {
	a, b, isRange := strings.Cut(s, "..")
	from, err := parseDate(a, yearly)
	if err != "" {
		return DateRange{}, err
	}
	if !isRange {
		return DateRange{from, from}, ""
	}
	to, err := parseDate(b, yearly)
	if err != "" {
		return DateRange{}, err
	}
	switch {
	case (from.Year == 0) != (to.Year == 0):
		return DateRange{}, fmt.Sprintf("bad range %q: give the year on both ends or on neither", s)
	case from.Year != 0 && to.Compare(from) < 0:
		return DateRange{}, fmt.Sprintf("bad range %q: it ends before it starts", s)
	}
	return DateRange{from, to}, ""
}

var timeRE = regexp.MustCompile(`^(\d{1,2}):(\d{2})(?::(\d{2}))?$`)

func parseTime(s string) (TimeOfDay, string) {
	g := timeRE.FindStringSubmatch(s)
	if g == nil {
		return 0, fmt.Sprintf("bad time %q: write times as HH:MM or HH:MM:SS, e.g. 06:30", s)
	}
	h, _ := strconv.Atoi(g[1])
	m, _ := strconv.Atoi(g[2])
	sec := 0
	if g[3] != "" {
		sec, _ = strconv.Atoi(g[3])
	}
	switch {
	case h > 23:
		return 0, fmt.Sprintf("bad time %q: the hour must be 00-23", s)
	case m > 59:
		return 0, fmt.Sprintf("bad time %q: the minutes must be 00-59", s)
	case sec > 59:
		return 0, fmt.Sprintf("bad time %q: the seconds must be 00-59", s)
	}
	return TimeOfDay(h*3600 + m*60 + sec), ""
}

func parseTimes(s string) ([]TimeOfDay, string) {
	fields := strings.Split(s, ",")
	if len(fields) > MaxTimes {
		return nil, fmt.Sprintf("%d times on one line; at most %d (a cron line can say more)", len(fields), MaxTimes)
	}
	var out []TimeOfDay
	for _, f := range fields {
		t, err := parseTime(f)
		if err != "" {
			return nil, err
		}
		out = append(out, t)
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			return nil, fmt.Sprintf("time %s is listed twice", out[i])
		}
	}
	return out, ""
}

var dayNames = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
	"t2": time.Monday, "t3": time.Tuesday, "t4": time.Wednesday, "t5": time.Thursday,
	"t6": time.Friday, "t7": time.Saturday, "cn": time.Sunday,
}

// mondayFirst maps a weekday to 0 (Monday) .. 6 (Sunday).
func mondayFirst(d time.Weekday) int { return (int(d) + 6) % 7 }

func parseWeekdays(s string) ([]time.Weekday, string) {
	var set [7]bool
	for _, f := range strings.Split(strings.ToLower(s), ",") {
		a, b, isRange := strings.Cut(f, "-")
		from, ok1 := dayNames[a]
		to, ok2 := dayNames[b]
		if !isRange {
			to, ok2 = from, ok1
		}
		if !ok1 || !ok2 {
			return nil, fmt.Sprintf("bad weekday %q: use mon,tue,wed,thu,fri,sat,sun (or t2..t7, cn), or a range like mon-fri", f)
		}
		if mondayFirst(to) < mondayFirst(from) {
			return nil, fmt.Sprintf("bad weekday range %q: weeks run Monday to Sunday", f)
		}
		for i := mondayFirst(from); i <= mondayFirst(to); i++ {
			set[i] = true
		}
	}
	var days []time.Weekday
	for i, on := range set {
		if on {
			days = append(days, time.Weekday((i+1)%7))
		}
	}
	return days, ""
}

func parseDuration(s string, max time.Duration, zeroOK bool) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil || strings.ContainsAny(s, "µnu"):
		return 0, fmt.Sprintf("%q: write durations like 30s, 2m or 1h30m", s)
	case d < 0 || (d == 0 && !zeroOK):
		return 0, fmt.Sprintf("%q: it must be more than zero", s)
	case d > max:
		return 0, fmt.Sprintf("%q is too long: at most %s", s, max)
	case d%time.Second != 0:
		return 0, fmt.Sprintf("%q: use whole seconds", s)
	}
	return d, ""
}

func anyDay(field string) bool { return field == "*" || field == "?" }

var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// cronRef is where a cron spec is tried out at parse time; any instant does.
var cronRef = time.Date(2026, 1, 1, 0, 0, 0, 0, Zone)

func parseCron(spec string) (s cron.Schedule, perDay int, msg string) {
	const how = `; write 6 fields: second minute hour day-of-month month day-of-week, e.g. "0 30 6 * * mon-fri"`
	f := strings.Fields(spec)
	switch {
	case strings.HasPrefix(spec, "@"):
		return nil, 0, fmt.Sprintf("bad cron %q: descriptors such as @daily are not accepted%s", spec, how)
	case len(f) > 0 && strings.Contains(f[0], "="):
		return nil, 0, fmt.Sprintf("bad cron %q: no time zone prefix, schedules are always in Vietnam time%s", spec, how)
	case len(f) != 6:
		return nil, 0, fmt.Sprintf("bad cron %q: it has %d fields%s", spec, len(f), how)
	case !anyDay(f[3]) && !anyDay(f[5]):
		// Cron fires when either the day of the month or the weekday
		// matches, which surprises everyone who writes both.
		return nil, 0, fmt.Sprintf("bad cron %q: it gives both a day of the month (%s) and a weekday (%s), and cron then fires on either; keep one and put * in the other", spec, f[3], f[5])
	}
	defer func() {
		if r := recover(); r != nil { // robfig/cron v3.0.1 panics on some malformed specs
			s, perDay, msg = nil, 0, fmt.Sprintf("bad cron %q%s", spec, how)
		}
	}()
	parsed, err := cronParser.Parse(spec)
	if err != nil {
		return nil, 0, fmt.Sprintf("bad cron %q: %v%s", spec, err, how)
	}
	ss, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, 0, fmt.Sprintf("bad cron %q%s", spec, how)
	}
	ss.Location = Zone // the parser defaults to time.Local, the machine's zone
	first := ss.Next(cronRef)
	if first.IsZero() {
		return nil, 0, fmt.Sprintf("bad cron %q: it never fires (is the day in that month?)", spec)
	}
	// Two fires closer than a minute anywhere in a day show up in its first
	// day of fires from any start, since the fields repeat within a day.
	// Counting them gives the most starts it makes in a day.
	perDay = 1
	for t := first; perDay <= MaxStartsPerDay; {
		next := ss.Next(t)
		if next.IsZero() || next.Sub(first) >= 24*time.Hour {
			break
		}
		if next.Sub(t) < minCronGap {
			return nil, 0, fmt.Sprintf("bad cron %q: it fires more than once a minute (%s and %s)", spec,
				t.In(Zone).Format("15:04:05"), next.In(Zone).Format("15:04:05"))
		}
		t = next
		perDay++
	}
	return ss, perDay, ""
}

// suggest returns ` (did you mean "x"?)` for the closest word within two edits.
func suggest(word string, words []string) string {
	if best := suggested(word, words); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func suggested(word string, words []string) string {
	best, bestD := "", 3
	for _, w := range words {
		if d := editDistance(word, w); d < bestD && d < len(w) {
			best, bestD = w, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
