package schedule

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// checkNow is the "now" of the Check tests: a Monday.
var checkNow = time.Date(2026, 11, 23, 0, 0, 0, 0, Zone)

func TestExamplesPassCheck(t *testing.T) {
	// What `radio-controller -check schedules/*` gets: README.md and the
	// audio folder among the schedules.
	args, err := filepath.Glob("../../../schedules/*")
	if err != nil {
		t.Fatal(err)
	}
	if err := check(checkNow, args...); err != nil {
		t.Errorf("check(schedules/*) = %v", err)
	}
	if err := Check(args...); err != nil { // the next 35 days from today
		t.Errorf("Check(schedules/*) = %v", err)
	}
}

func TestCheckNoFiles(t *testing.T) {
	err := check(checkNow, "../../../schedules/README.md")
	if err == nil || !strings.Contains(err.Error(), "no .radio schedule files") {
		t.Errorf("check(README.md) = %v, want no schedule files", err)
	}
	err = check(checkNow, "testdata/nonexistent.radio")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/nonexistent.radio:0: cannot read") {
		t.Errorf("check(nonexistent) = %v", err)
	}
}

func TestCheckOneFilePerStation(t *testing.T) {
	src, err := os.ReadFile("../../../schedules/xa-ta-van.radio")
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.radio")
	if err := os.WriteFile(copyPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	orig := "../../../schedules/xa-ta-van.radio"
	if err := check(checkNow, orig, "../../../schedules/./xa-ta-van.radio"); err != nil {
		t.Errorf("the same file twice: %v", err)
	}
	err = check(checkNow, orig, copyPath)
	if err == nil || !strings.Contains(err.Error(), `station "xa-ta-van" is also scheduled in`) {
		t.Errorf("two files for one station: %v", err)
	}
}

// TestBroken runs each file of testdata/broken through Check, as
// `radio-controller -check` does, and wants exactly one error at a line.
func TestBroken(t *testing.T) {
	tests := []struct {
		file string
		line int
		msg  string
	}{
		{"unknown-keyword.radio", 6, `unknown keyword "sorce" (did you mean "source"?)`},
		{"bad-time.radio", 9, `bad time "25:61": the hour must be 00-23`},
		{"bad-cron.radio", 9, `bad cron "0 30 6 * *": it has 5 fields; write 6 fields: second minute hour`},
		{"unknown-priority.radio", 10, `unknown priority "urgent": use normal (thông thường), priority (ưu tiên) or emergency (khẩn cấp)`},
		{"missing-target.radio", 4, `bulletin "ban-tin" has no target: add "target commune"`},
		{"until-before-from.radio", 11, `until 2026-01-31 is before from 2026-03-01 (line 10)`},
		{"duplicate-id.radio", 11, `duplicate bulletin id "ban-tin": already used at line 4`},
		{"overlap.radio", 4, `"ban-tin-xa" at 2026-11-23 06:30:00-06:40:00 overlaps "thong-bao" (testdata/broken/overlap.radio:12) at 06:35:00-06:38:00 on commune; both are normal: move one or give one a higher priority (and 24 more times in the next 35 days)`},
		{"missing-file.radio", 6, `file "audio/khong-co.opus" not found (looked for testdata/broken/audio/khong-co.opus)`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/broken/" + tt.file
			err := check(checkNow, path)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("check(%s) = %v, want an ErrorList", path, err)
			}
			if len(list) != 1 {
				t.Fatalf("check(%s): %d errors, want 1:\n%v", path, len(list), err)
			}
			wantPrefix := path + ":" + strconv.Itoa(tt.line) + ": "
			if got := list[0].Error(); !strings.HasPrefix(got, wantPrefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("got  %s\nwant %s...%s", got, wantPrefix, tt.msg)
			}
		})
	}
}

const head = "station xa-thu\n"

// item is a valid bulletin whose lines can be added to or replaced.
func item(extra ...string) string {
	lines := map[string]string{
		"title":  "Bản tin",
		"source": "media 450aa4f6b9ae77ea37a744cc3257c174694a0b23b46bac6006810852a5ddb1b9",
		"target": "commune",
		"daily":  "06:30",
	}
	order := []string{"title", "source", "target", "daily"}
	for _, e := range extra {
		kw, val, _ := strings.Cut(e, " ")
		if _, ok := lines[kw]; !ok {
			order = append(order, kw)
		}
		lines[kw] = val
	}
	var b strings.Builder
	b.WriteString("bulletin b\n")
	for _, kw := range order {
		if lines[kw] == "-" {
			continue
		}
		b.WriteString("  " + kw + " " + lines[kw] + "\n")
	}
	return b.String()
}

// TestParseErrors wants each source to give exactly these "line: message"
// errors (messages matched by fragment).
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line: fragment"
	}{
		{"no station", item(), []string{`1: does not say which station`}},
		{"station twice", head + head, []string{`2: station given twice (first at line 1)`}},
		{"bad station", "station Xa An Phu\n", []string{`1: bad station id "Xa"`}},
		{"indented outside", head + "  daily 06:30\n", []string{`2: indented line outside a bulletin`}},
		{"unindented item keyword", head + strings.Replace(item(), "  title", "title", 1), []string{`3: "title" belongs to a bulletin: indent it`}},
		{"unindented item keyword outside", head + "title x\n", []string{`2: "title" belongs to a bulletin: indent it`}},
		{"indented top keyword", head + item() + "  bulletin c\n", []string{`7: "bulletin" starts a new section: do not indent it`}},
		{"unknown top keyword", head + "holliday 04-30 x\n", []string{`2: unknown keyword "holliday" (did you mean "holiday"?)`}},
		{"unclosed quote", head + item(`title "Bản tin`), []string{`3: a quote is not closed`}},
		{"bad utf8", head + item("title \xff\xfe"), []string{`3: not valid UTF-8`}},
		{"all errors", head + item("daily 24:00", "priority high", "status ok"), []string{
			`6: bad time "24:00": the hour must be 00-23`,
			`7: unknown priority "high"`,
			`8: unknown status "ok": use draft (chưa duyệt) or approved (đã duyệt)`}},
		{"minutes", head + item("daily 06:60"), []string{`6: bad time "06:60": the minutes must be 00-59`}},
		{"seconds", head + item("daily 06:30:60"), []string{`6: the seconds must be 00-59`}},
		{"time format", head + item("daily 6h30"), []string{`6: bad time "6h30": write times as HH:MM`}},
		{"time twice", head + item("daily 06:30,6:30"), []string{`6: time 06:30:00 is listed twice`}},
		{"two rules", head + item("weekly mon 07:00"), []string{`7: a bulletin has one recurrence: "weekly" here, and another at line 6`}},
		{"no rule", head + item("daily -"), []string{`2: bulletin "b" has no time`}},
		{"no source", head + item("source -"), []string{`2: bulletin "b" has no source`}},
		{"no title", head + item("title -"), []string{`2: bulletin "b" has no title`}},
		{"twice", head + item("target zone a"), []string{}}, // replaced, not repeated
		{"key twice", head + item("priority normal") + "  priority emergency\n", []string{`8: "priority" given twice in bulletin "b" (first at line 7)`}},
		{"bad id", strings.Replace(head+item(), "bulletin b", "bulletin Ban_Tin", 1), []string{`2: bad bulletin id "Ban_Tin"`}},
		{"long id", strings.Replace(head+item(), "bulletin b", "bulletin "+strings.Repeat("a", 49), 1), []string{`2: is 49 characters long; at most 48`}},
		{"bulletin title on line", strings.Replace(head+item(), "bulletin b", "bulletin b Bản tin", 1), []string{`2: write a bulletin as: bulletin <id>`}},
		{"bad weekday", head + item("daily -", "weekly monday 07:00"), []string{`6: bad weekday "monday"`}},
		{"backwards weekdays", head + item("daily -", "weekly sun-mon 07:00"), []string{`6: bad weekday range "sun-mon": weeks run Monday to Sunday`}},
		{"weekly syntax", head + item("daily -", "weekly 07:00"), []string{`6: write weekly as`}},
		{"every syntax", head + item("daily -", "every 2 weeks fri 07:00"), []string{`6: write every as`}},
		{"every weeks", head + item("daily -", "every 0 weeks on fri 07:00", "from 2026-01-01"), []string{`6: bad number of weeks "0"`}},
		{"every no from", head + item("daily -", "every 2 weeks on fri 07:00"), []string{`6: "every 2 weeks" counts weeks from a start date`}},
		{"cron both days", head + item("daily -", `cron "0 0 9 24-30 * sat"`), []string{`6: gives both a day of the month (24-30) and a weekday (sat)`}},
		{"cron never", head + item("daily -", `cron "0 0 9 30 2 *"`), []string{`6: it never fires`}},
		{"cron too often", head + item("daily -", `cron "*/10 * 6 * * *"`), []string{`6: it fires more than once a minute (06:00:00 and 06:00:10)`}},
		{"cron tz", head + item("daily -", `cron "TZ=UTC 0 0 6 * * *"`), []string{`6: no time zone prefix`}},
		{"cron descriptor", head + item("daily -", `cron "@daily"`), []string{`6: descriptors such as @daily`}},
		{"cron range", head + item("daily -", `cron "0 0 25 * * *"`), []string{`6: bad cron "0 0 25 * * *": end of range (25) above maximum (23)`}},
		{"cron unquoted", head + item("daily -", `cron 0 0 6 * * *`), []string{`6: "cron" takes one value, got 6`}},
		{"date format dmy", head + item("from 30/4/2027"), []string{`7: bad date "30/4/2027": write dates as YYYY-MM-DD: 2027-04-30`}},
		{"date feb 29", head + item("daily -", "once 2027-02-29 06:00"), []string{`6: bad date "2027-02-29": February has 28 days`}},
		{"date month", head + item("until 2027-13-01"), []string{`7: the month must be 01-12`}},
		{"date year", head + item("until 1999-12-31"), []string{`7: the year must be 2000-2200`}},
		{"once outside", head + item("daily -", "once 2026-12-01 06:00", "from 2027-01-01"), []string{`6: once 2026-12-01 is outside the from/until range`}},
		{"except backwards", head + item("except 2026-12-26..2026-12-24"), []string{`7: bad range "2026-12-26..2026-12-24": it ends before it starts`}},
		{"except mixed", head + item("except 12-24..2026-12-26"), []string{`7: give the year on both ends or on neither`}},
		{"holiday no name", head + "holiday 2026-09-02\n", []string{`2: give the holiday a name`}},
		{"holiday bad", head + "holiday Tết 2027-02-06\n", []string{`2: bad date "Tết"`}},
		{"holiday dmy yearly", head + "holiday 2/9 Quốc khánh\n", []string{`2: write dates as YYYY-MM-DD, or 09-02 for every year`}},
		{"repeat syntax", head + item("repeat 2 every 1m"), []string{`7: write repeat as: repeat 1 gap 2m`}},
		{"repeat count", head + item("repeat 99"), []string{`7: bad repeat count "99": use 0 to 20`}},
		{"gap", head + item("repeat 1 gap 2 phút"), []string{`7: write repeat as`}},
		{"gap unit", head + item("repeat 1 gap 2min"), []string{`7: bad gap: "2min": write durations like 30s, 2m or 1h30m`}},
		{"gap too long", head + item("repeat 1 gap 3h"), []string{`7: bad gap: "3h" is too long: at most 2h0m0s`}},
		{"duration zero", head + item("duration 0s"), []string{`7: bad duration: "0s": it must be more than zero`}},
		{"duration fraction", head + item("duration 1.5s"), []string{`7: use whole seconds`}},
		{"media", head + item("source media abc"), []string{`4: bad media "abc": give the file's sha256`}},
		{"absolute file", head + item("source file /etc/passwd"), []string{`4: write the file path relative to the schedule file`}},
		{"folder file", head + item("source file broken"), []string{`4: file "broken" is a folder`}},
		{"source kind", head + item("source mp3 x.mp3"), []string{`4: unknown source "mp3"`}},
		{"source live arg", head + item("source live now", "duration 1h"), []string{`4: source live takes no value`}},
		{"relay url", head + item("source relay ftp://vov.example/vov1", "duration 1h"), []string{`4: bad relay address "ftp://vov.example/vov1"`}},
		{"relay channel with capitals", head + item("source relay VOV1", "duration 1h"), []string{`4: bad relay address "VOV1"`}},
		{"relay duration", head + item("source relay https://x.example/s"), []string{`4: a relay source needs a duration`}},
		{"tts empty", head + item(`source tts ""`), []string{`4: source tts needs the text to read`}},
		{"target kind", head + item("target village a"), []string{`5: unknown target "village"`}},
		{"target id", head + item("target zone Thôn-1"), []string{`5: bad zone id "Thôn-1"`}},
		{"target commune ids", head + item("target commune a"), []string{`5: target commune takes no ids`}},
		{"on-interrupt", head + item("on-interrupt stop"), []string{`7: unknown on-interrupt "stop"`}},
		{"on-holiday", head + item("on-holiday yes"), []string{`7: unknown on-holiday "yes"`}},
		{"empty value", head + item("priority"), []string{`7: "priority" needs a value: normal, priority or emergency`}},
		{"misspelt rule", head + item("daily -", "daly 06:30"), []string{`6: unknown keyword "daly" (did you mean "daily"?)`}},
		{"quote glued", head + item(`title "a"b`), []string{`3: put a blank after the closing quote`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("testdata/t.radio", []byte(tt.src))
			var got []string
			var list ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			for _, e := range list {
				if e.Pos.File != "testdata/t.radio" {
					t.Errorf("error in file %q", e.Pos.File)
				}
				got = append(got, strconv.Itoa(e.Pos.Line)+": "+e.Msg)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s\nsource:\n%s", len(got), len(tt.want), strings.Join(got, "\n"), tt.src)
			}
			for i := range got {
				line, frag, _ := strings.Cut(tt.want[i], ": ")
				if !strings.HasPrefix(got[i], line+": ") || !strings.Contains(got[i], frag) {
					t.Errorf("error %d:\ngot  %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	src := "\uFEFF# Lịch thử\r\n" + `station xa-thu "Xã Thử \""
holiday 2027-02-04 .. 2027-02-10 Tết Nguyên đán
holiday 12-31..01-01 Tết Dương lịch

bulletin a
	title   "Bản tin \"sáng\" #1"
	source  tts "Xin chào bà con"
	target  nodes n2 , n1,n2
	priority emergency
	on-interrupt skip
	on-holiday play
	every   2 weeks on t2-t4,cn 06:30:15, 06:00
	from    2026-11-25
	until   2027-03-01
	except  2026-12-24..2026-12-26, 2027-01-15 ,12-30
	repeat  2 gap 90s
	duration 1m

bulletin b
    title Bản tin #2 — chiều
    source live
    target zones z1,z2
    status approved
    cron "0 */30 6-7 * * mon-fri"
    duration 30m
`
	s, err := Parse("t.radio", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Schedule{
		Station: "xa-thu",
		Name:    `Xã Thử "`,
		File:    "t.radio",
		Holidays: []Holiday{
			{"Tết Nguyên đán", DateRange{Date{2027, 2, 4}, Date{2027, 2, 10}}, Pos{"t.radio", 3}},
			{"Tết Dương lịch", DateRange{Date{0, 12, 31}, Date{0, 1, 1}}, Pos{"t.radio", 4}},
		},
		Items: []Item{{
			ID: "a", Title: `Bản tin "sáng" #1`,
			Source:      Source{Kind: SourceTTS, Text: "Xin chào bà con"},
			Target:      Target{Kind: TargetNodes, IDs: []string{"n1", "n2"}},
			Priority:    "emergency",
			OnInterrupt: OnInterruptSkip,
			OnHoliday:   true,
			Rule: Rule{Kind: RuleEvery, Weeks: 2, Times: []TimeOfDay{6 * 3600, 6*3600 + 30*60 + 15},
				Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Sunday}},
			From:  Date{2026, 11, 25},
			Until: Date{2027, 3, 1},
			Except: []DateRange{{Date{2026, 12, 24}, Date{2026, 12, 26}}, {Date{2027, 1, 15}, Date{2027, 1, 15}},
				{Date{0, 12, 30}, Date{0, 12, 30}}},
			Repeat: 2, Gap: 90 * time.Second, Duration: time.Minute,
			Pos: Pos{"t.radio", 6},
		}, {
			ID: "b", Title: "Bản tin #2 — chiều",
			Source:      Source{Kind: SourceLive},
			Target:      Target{Kind: TargetZone, IDs: []string{"z1", "z2"}},
			Priority:    "normal",
			Approved:    true,
			OnInterrupt: OnInterruptResume,
			Rule:        Rule{Kind: RuleCron, Cron: "0 */30 6-7 * * mon-fri"},
			Duration:    30 * time.Minute,
			Pos:         Pos{"t.radio", 20},
		}},
	}
	if diff := cmp.Diff(want, s, cmpopts.IgnoreUnexported(Rule{})); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if got, want := s.Items[0].Rule.String(), "every 2 weeks on mon,tue,wed,sun 06:00:00,06:30:15"; got != want {
		t.Errorf("Rule.String() = %q, want %q", got, want)
	}
	if !s.Items[0].Source.Playable() || s.Items[1].Source.Playable() {
		t.Error("tts sources are playable (rendered to speech), live ones not yet")
	}
	if !s.Items[0].Airs() {
		t.Error("an emergency draft airs")
	}
}

func TestFileSource(t *testing.T) {
	s, err := ParseFile("../../../schedules/xa-an-phu.radio")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range s.Items {
		if it.Source.Kind == SourceFile {
			if want := filepath.FromSlash("../../../schedules/audio/thong-bao-dau-tuan.opus"); it.Source.Abs != want || it.Source.Path != "audio/thong-bao-dau-tuan.opus" {
				t.Errorf("file source = %+v, want Abs %s", it.Source, want)
			}
			return
		}
	}
	t.Error("no file source in the example")
}
