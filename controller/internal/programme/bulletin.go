package programme

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/communeradio/radio/controller/internal/schedule"
)

// Bulletin is one programme item as the web UI edits it. The schedule
// file stays the source of truth: a bulletin is written into it as text
// (Format) and read back by the parser, which checks it.
type Bulletin struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Source      Source     `json:"source"`
	Target      Target     `json:"target"`
	Priority    string     `json:"priority,omitempty"`
	Status      string     `json:"status,omitempty"` // draft, approved; ignored on PUT
	OnInterrupt string     `json:"on_interrupt,omitempty"`
	OnHoliday   string     `json:"on_holiday,omitempty"`
	Recurrence  Recurrence `json:"recurrence"`
	From        string     `json:"from,omitempty"`
	Until       string     `json:"until,omitempty"`
	Except      []string   `json:"except,omitempty"`
	Repeat      int        `json:"repeat,omitempty"`
	Gap         string     `json:"gap,omitempty"`
	Duration    string     `json:"duration,omitempty"`
	Line        int        `json:"line,omitempty"` // in the file, read only
	// Version names the bulletin's content: an approval approves that
	// content, not a later change; an edit that sends it back changes that
	// content, and is refused (Stale) when it is not the current one.
	Version string `json:"version,omitempty"`
	// Pending is a change to an approved bulletin waiting for a leader
	// (read only): the bulletin itself is what airs meanwhile.
	Pending *Bulletin `json:"pending,omitempty"`
	// Review says who submitted the bulletin (or its pending change) and
	// whether a leader sent it back, with their comment (read only).
	Review *Review `json:"review,omitempty"`
}

// MaxTitle bounds a bulletin's title, in characters: it is shown on
// phones, in reports and on the nodes' state.
const MaxTitle = 200

type Source struct {
	Kind  string `json:"kind"`
	Media string `json:"media,omitempty"`
	Path  string `json:"path,omitempty"`
	Text  string `json:"text,omitempty"`
	URL   string `json:"url,omitempty"`
	// Audio is the rendering of a tts source (read only), to listen to
	// before approving; the text is what the bulletin says.
	Audio string `json:"audio,omitempty"`
}

type Target struct {
	Kind string   `json:"kind"`
	IDs  []string `json:"ids,omitempty"`
}

type Recurrence struct {
	Kind     string   `json:"kind"`
	Date     string   `json:"date,omitempty"`
	Times    []string `json:"times,omitempty"`
	Weekdays []string `json:"weekdays,omitempty"`
	Weeks    int      `json:"weeks,omitempty"`
	Cron     string   `json:"cron,omitempty"`
}

// FromItem is the web form's view of a parsed item.
func FromItem(it *schedule.Item) Bulletin {
	b := Bulletin{ID: it.ID, Title: it.Title, Priority: it.Priority, OnInterrupt: it.OnInterrupt,
		Source: Source{Kind: it.Source.Kind, Media: it.Source.Media, Path: it.Source.Path, Text: it.Source.Text, URL: it.Source.URL},
		Target: Target{Kind: it.Target.Kind, IDs: it.Target.IDs}, Repeat: it.Repeat, Line: it.Pos.Line}
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
	b.Recurrence = Recurrence{Kind: r.Kind, Weeks: r.Weeks, Cron: r.Cron}
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
	b.Status, b.Line, b.Version, b.Source.Audio, b.Pending, b.Review = "", 0, "", "", nil, nil
	j, _ := json.Marshal(b)
	h := sha256.Sum256(j)
	return hex.EncodeToString(h[:8])
}

var wordRE = regexp.MustCompile(`^[^\s"]+$`)

// text writes the bulletin as a schedule block, always as a draft. Values
// are only checked for what could break the line structure; the parser
// checks the rest and says what is wrong in an officer's terms.
func (b Bulletin) Text() (string, error) {
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
	if n := utf8.RuneCountInString(strings.TrimSpace(b.Title)); n > MaxTitle {
		bad = append(bad, fmt.Sprintf("title: at most %d characters (this one has %d): shorten it; nothing was cut", MaxTitle, n))
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
		return "", &Errors{Msgs: bad}
	}
	return sb.String(), nil
}
