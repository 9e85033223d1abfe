package schedule

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Ho_Chi_Minh on machines without a zoneinfo database

	"github.com/robfig/cron/v3"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Zone is the time zone of every schedule. Vietnam has had no daylight saving
// time since 1975, so a local time never happens twice or not at all.
var Zone = mustZone("Asia/Ho_Chi_Minh")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is linked in: cannot happen
	}
	return loc
}

// Schedule is a station's programme as read from one file.
type Schedule struct {
	Station  string // station id
	Name     string // human name of the station, may be empty
	Holidays []Holiday
	Items    []Item
	File     string // as given to Parse
}

// Holiday is a named day or span of days on which items do not air unless
// they say on-holiday play.
type Holiday struct {
	Name string
	Days DateRange
	Pos  Pos
}

// Item is one programme item ("bulletin").
type Item struct {
	ID, Title   string
	Source      Source
	Target      Target
	Priority    string // nodeproto.PriorityNormal, PriorityHigh or PriorityEmergency
	Approved    bool
	OnInterrupt string // OnInterruptResume or OnInterruptSkip
	OnHoliday   bool   // airs on holidays too
	Rule        Rule
	From, Until Date // optional, inclusive
	Except      []DateRange
	Repeat      int           // extra plays after the first within one occurrence
	Gap         time.Duration // silence between plays
	Duration    time.Duration // declared length of one play; 0 = unknown
	Pos         Pos           // the "bulletin" line
}

// What an interrupted item does once the higher-priority item has finished.
const (
	OnInterruptResume = "resume"
	OnInterruptSkip   = "skip"
)

// Airs reports whether the item goes on air at all: approved, or an emergency.
func (it *Item) Airs() bool {
	return it.Approved || it.Priority == nodeproto.PriorityEmergency
}

// Source kinds.
const (
	SourceMedia = "media" // Media: sha256 in the media store
	SourceFile  = "file"  // Path: a recording next to the schedule file
	SourceTTS   = "tts"   // Text
	SourceRelay = "relay" // URL
	SourceLive  = "live"
)

// Source is what an item plays.
type Source struct {
	Kind  string
	Media string // SourceMedia: lowercase hex sha256
	Path  string // SourceFile: as written, slash-separated, relative to the schedule file
	Abs   string // SourceFile: resolved path, as checked by Parse
	Text  string // SourceTTS
	URL   string // SourceRelay: a stream URL, or the id of a relay channel (vov1)
}

// Playable reports whether the controller can play this source today:
// recordings, and text it renders to speech. Relays and live slots parse
// but are not yet implemented.
func (s Source) Playable() bool {
	return s.Kind == SourceMedia || s.Kind == SourceFile || s.Kind == SourceTTS
}

func (s Source) String() string {
	switch s.Kind {
	case SourceMedia:
		return "media " + s.Media
	case SourceFile:
		return "file " + s.Path
	case SourceTTS:
		return "tts " + quote(s.Text)
	case SourceRelay:
		return "relay " + s.URL
	}
	return s.Kind
}

// Target kinds.
const (
	TargetCommune = "commune" // every node of the station
	TargetZone    = "zone"
	TargetNodes   = "nodes"
)

// Target says which speaker clusters play an item.
type Target struct {
	Kind string
	IDs  []string // zone or node ids, sorted and distinct, for TargetZone and TargetNodes
}

func (t Target) String() string {
	if t.Kind == TargetCommune {
		return t.Kind
	}
	return t.Kind + " " + strings.Join(t.IDs, ",")
}

// Overlap reports whether two targets may share a node, and describes the
// shared part. Zone membership is not in the file, so a zone and a node list
// are taken to overlap: it is safer to report a clash the registry might
// rule out than to discover one on air.
func (t Target) Overlap(o Target) (string, bool) {
	switch {
	case t.Kind == TargetCommune:
		return o.String(), true
	case o.Kind == TargetCommune:
		return t.String(), true
	case t.Kind == o.Kind:
		var common []string
		for _, id := range t.IDs {
			if _, found := slices.BinarySearch(o.IDs, id); found {
				common = append(common, id)
			}
		}
		if len(common) == 0 {
			return "", false
		}
		return t.Kind + " " + strings.Join(common, ","), true
	}
	return t.String() + " and " + o.String() + " (if they share nodes)", true
}

// Rule kinds.
const (
	RuleOnce   = "once"
	RuleDaily  = "daily"
	RuleWeekly = "weekly"
	RuleEvery  = "every" // every Weeks weeks on Days
	RuleCron   = "cron"
)

// Rule is an item's recurrence.
type Rule struct {
	Kind   string
	Date   Date           // RuleOnce
	Times  []TimeOfDay    // RuleOnce (one), RuleDaily, RuleWeekly, RuleEvery; sorted
	Days   []time.Weekday // RuleWeekly, RuleEvery; Monday first
	Weeks  int            // RuleEvery
	Cron   string         // RuleCron, as written
	cron   cron.Schedule  // RuleCron, in Zone
	perDay int            // RuleCron: the most starts in a day
}

func (r Rule) String() string {
	times := make([]string, len(r.Times))
	for i, t := range r.Times {
		times[i] = t.String()
	}
	ts := strings.Join(times, ",")
	switch r.Kind {
	case RuleOnce:
		return "once " + r.Date.String() + " " + ts
	case RuleDaily:
		return "daily " + ts
	case RuleWeekly:
		return "weekly " + weekdays(r.Days) + " " + ts
	case RuleEvery:
		return fmt.Sprintf("every %d weeks on %s %s", r.Weeks, weekdays(r.Days), ts)
	case RuleCron:
		return "cron " + quote(r.Cron)
	}
	return r.Kind
}

func weekdays(days []time.Weekday) string {
	s := make([]string, len(days))
	for i, d := range days {
		s[i] = strings.ToLower(d.String()[:3])
	}
	return strings.Join(s, ",")
}

// TimeOfDay is a local wall-clock time in seconds after midnight.
type TimeOfDay int32

func (t TimeOfDay) String() string {
	return fmt.Sprintf("%02d:%02d:%02d", t/3600, t/60%60, t%60)
}

// Date is a calendar day. In a DateRange, Year 0 means every year.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the date of t in Vietnam.
func DateOf(t time.Time) Date {
	y, m, d := t.In(Zone).Date()
	return Date{y, m, d}
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string {
	if d.Year == 0 {
		return fmt.Sprintf("%02d-%02d", int(d.Month), d.Day)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// At is the instant of the local time t on day d.
func (d Date) At(t TimeOfDay) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, int(t), 0, Zone)
}

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date {
	y, m, dd := time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// Weekday of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Compare returns -1, 0 or +1. With a Year of 0 on either side only month
// and day are compared.
func (d Date) Compare(o Date) int {
	if d.Year != 0 && o.Year != 0 && d.Year != o.Year {
		return cmpInt(d.Year, o.Year)
	}
	if d.Month != o.Month {
		return cmpInt(int(d.Month), int(o.Month))
	}
	return cmpInt(d.Day, o.Day)
}

// days since 1970-01-01, for week arithmetic.
func (d Date) unixDays() int {
	return int(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DateRange is an inclusive span of days. A yearly range (Year 0 on both
// ends) may wrap around New Year: 12-31..01-01.
type DateRange struct{ From, To Date }

// Yearly reports whether the range repeats every year.
func (r DateRange) Yearly() bool { return r.From.Year == 0 }

// Contains reports whether day d (with a year) is in the range.
func (r DateRange) Contains(d Date) bool {
	if r.Yearly() && r.From.Compare(r.To) > 0 {
		return d.Compare(r.From) >= 0 || d.Compare(r.To) <= 0
	}
	return d.Compare(r.From) >= 0 && d.Compare(r.To) <= 0
}

func (r DateRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + ".." + r.To.String()
}

// Pos is a place in a schedule file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Quote writes s as a quoted text value of a schedule file.
func Quote(s string) string { return quote(s) }

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
