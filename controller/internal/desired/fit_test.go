package desired

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// desiredWith is a desired state with perDay starts a day on one node for
// days days from start, alternating between two media files, plus a file
// no slot needs.
func desiredWith(start time.Time, perDay, days int) nodeproto.Desired {
	a, b, other := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	d := nodeproto.Desired{Node: "n1", Rev: 123456, Issued: start.UnixMilli(), Volume: 70, Amp: "auto",
		Content:      []nodeproto.ContentRef{{Media: a, Size: 40000}, {Media: b, Size: 50000}, {Media: other, Size: 60000}},
		HorizonUntil: start.Add(time.Duration(days) * 24 * time.Hour).UnixMilli()}
	step := 24 * time.Hour / time.Duration(perDay)
	for i := 0; i < perDay*days; i++ {
		at := start.Add(time.Duration(i) * step)
		m := a
		if i%2 == 1 {
			m = b
		}
		if i >= perDay { // from the second day on only b: a is then needed by the first day only
			m = b
		}
		d.Schedule = append(d.Schedule, nodeproto.Slot{ID: fmt.Sprintf("ban-tin-%d", i), Media: m, Size: 40000,
			PlayAt: at.UnixMilli(), Priority: "normal", Title: "Bản tin thời sự buổi sáng", Resume: true})
	}
	return d
}

func TestFitDesired(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	const kid = "k-0123456789ab"
	// 10:17:23 Vietnam time: neither a whole hour nor a midnight.
	now := time.Date(2026, 12, 7, 10, 17, 23, 0, schedule.Zone)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name           string
		perDay, days   int
		wantCut        bool
		wantUntil      time.Time // zero: only checked to be >= now + 24 h
		wantMidnight   bool
		wantErr        error
		wantContentLen int
		wantCompact    bool // slots name their file by its place in content
		anyCut         bool // a cut at a whole hour or a midnight
	}{
		{name: "small programme: all of it", perDay: 10, days: 7, wantUntil: now.Add(7 * day), wantContentLen: 3},
		// 300 a day (2,100 slots) do not fit in full, but do in the compact form.
		{name: "compact: all of it", perDay: 300, days: 7, wantUntil: now.Add(7 * day), wantContentLen: 3, wantCompact: true},
		// 600 a day fit for about four days, compact: cut at a local midnight.
		{name: "cut at a midnight", perDay: 600, days: 7, wantCut: true, wantMidnight: true, wantContentLen: 3, wantCompact: true},
		// 1,800 a day: more than 24 h but less than up to the second midnight: a whole hour.
		{name: "cut at a whole hour", perDay: 1800, days: 7, wantCut: true, wantContentLen: 3, wantCompact: true},
		// 1,500 a day, the most a programme file may hold: more than a day ahead.
		{name: "1,500 a day", perDay: 1500, days: 7, wantCut: true, anyCut: true, wantContentLen: 3, wantCompact: true},
		// 3,000 a day: not even 24 h fit in 256 KiB.
		{name: "not even a day fits", perDay: 3000, days: 7, wantErr: ErrScheduleTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desiredWith(now, tc.perDay, tc.days)
			got, planned, err := fitDesired(d, kid, now, nodeproto.MaxJSONPayload)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			env, err := nodeproto.Sign(kid, priv, got)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := signedSize(got, kid); n != len(env) {
				t.Errorf("signedSize = %d, signed envelope is %d bytes", n, len(env))
			}
			if len(env) > nodeproto.MaxJSONPayload {
				t.Errorf("signed desired state is %d bytes, limit %d", len(env), nodeproto.MaxJSONPayload)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("cut desired state does not validate: %v", err)
			}
			until := time.UnixMilli(got.HorizonUntil)
			if !tc.wantUntil.IsZero() && !until.Equal(tc.wantUntil) {
				t.Errorf("horizon_until = %v, want %v", until, tc.wantUntil)
			}
			if until.Before(now.Add(day)) {
				t.Errorf("horizon_until = %v, less than a day after %v", until, now)
			}
			if (!planned.IsZero()) != tc.wantCut {
				t.Errorf("planned = %v, want a cut: %v", planned, tc.wantCut)
			}
			if compact := len(got.Schedule) > 0 && got.Schedule[0].Content > 0; compact != tc.wantCompact {
				t.Errorf("compact form: %v, want %v", compact, tc.wantCompact)
			}
			if tc.wantCut {
				if l := until.In(schedule.Zone); l.Minute() != 0 || l.Second() != 0 || (!tc.anyCut && tc.wantMidnight != (l.Hour() == 0)) {
					t.Errorf("cut at %v: want a whole hour (a midnight: %v)", l, tc.wantMidnight)
				}
				// The cut keeps every slot before it, and one more hour would not fit.
				kept := 0
				for _, s := range d.Schedule {
					if s.PlayAt < got.HorizonUntil {
						kept++
					}
				}
				if kept != len(got.Schedule) {
					t.Errorf("%d slots kept, %d are before the cut", len(got.Schedule), kept)
				}
				more := compactSlots(cutDesired(d, until.Add(time.Hour).UnixMilli()))
				if n, _ := signedSize(more, kid); !tc.wantMidnight && !tc.anyCut && n <= nodeproto.MaxJSONPayload {
					t.Errorf("an hour more (%d bytes) would have fit too", n)
				}
			}
			if len(got.Content) != tc.wantContentLen {
				t.Errorf("content %v, want %d files", got.Content, tc.wantContentLen)
			}
		})
	}

	t.Run("content only dropped slots need goes", func(t *testing.T) {
		d := desiredWith(now, 1800, 7) // cut at less than two days
		// a is needed from the first day only: make the second day need
		// a file of its own, which a cut at less than two days drops.
		only := strings.Repeat("d", 64)
		d.Content = append(d.Content, nodeproto.ContentRef{Media: only, Size: 1})
		for i := range d.Schedule {
			if time.UnixMilli(d.Schedule[i].PlayAt).After(now.Add(3 * day)) {
				d.Schedule[i].Media = only
			}
		}
		got, _, err := fitDesired(d, kid, now, nodeproto.MaxJSONPayload)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Content {
			if c.Media == only {
				t.Errorf("content keeps %s, which only the dropped slots need", only)
			}
		}
		if len(got.Content) != 3 {
			t.Errorf("content %v, want a, b and the file no slot names", got.Content)
		}
	})
}
