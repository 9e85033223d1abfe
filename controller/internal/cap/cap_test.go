package cap

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func storm(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/storm.xml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseMultiLanguage(t *testing.T) {
	a, err := Parse([]byte(storm(t)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Identifier != "KTTV-2026-1207-001" || a.Sender != "canhbao@kttv.gov.vn" || a.Status != "Actual" || a.MsgType != "Alert" {
		t.Errorf("header: %+v", a)
	}
	if want := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC); !a.Sent.Equal(want) {
		t.Errorf("sent %v, want %v", a.Sent, want)
	}
	if len(a.Infos) != 3 {
		t.Fatalf("%d infos, want 3", len(a.Infos))
	}
	vi, ok := a.Vietnamese()
	if !ok || vi.Event != "Bão số 9" {
		t.Fatalf("Vietnamese info: %v %+v", ok, vi)
	}
	if got, want := vi.Text(), "Cảnh báo bão số 9. Bão số 9 đổ bộ vào 14h00 ngày 07/12/2026. Người dân không ra khỏi nhà."; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if got := a.Expires(); !got.Equal(time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %v", got)
	}
	// The French block has no language-less default confusion: en-US is default only when absent.
	if a.Infos[2].Language != "fr" {
		t.Errorf("language %q", a.Infos[2].Language)
	}
	// Written back out, it parses to the same alert.
	b, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := Parse(b)
	if err != nil {
		t.Fatalf("reparse: %v\n%s", err, b)
	}
	if a2.Key() != a.Key() || len(a2.Infos) != 3 || a2.Infos[1].Text() != vi.Text() || len(a2.Infos[1].Areas[0].Polygons[0]) != 5 {
		t.Errorf("round trip differs: %+v", a2)
	}
}

func TestNoVietnamese(t *testing.T) {
	src := strings.Replace(storm(t), "<language>vi-VN</language>", "<language>de</language>", 1)
	a, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Vietnamese(); ok {
		t.Error("found Vietnamese in an alert without it")
	}
}

func TestCovers(t *testing.T) {
	a, err := Parse([]byte(storm(t)))
	if err != nil {
		t.Fatal(err)
	}
	vi, _ := a.Vietnamese()
	for _, c := range []struct {
		name  string
		pt    Point
		codes []string
		want  bool
	}{
		{"inside the polygon", Point{10.75, 106.70}, nil, true},
		{"outside everything", Point{10.85, 106.70}, nil, false},
		{"just east of the polygon", Point{10.75, 106.81}, nil, false},
		{"inside the circle (about 3 km from its centre)", Point{10.92, 106.92}, nil, true},
		{"outside the circle (about 6.6 km)", Point{10.96, 106.90}, nil, false},
		{"named by its commune's code", Point{0, 0}, []string{"79", "26734"}, true},
		{"another code", Point{0, 0}, []string{"79", "26735"}, false},
	} {
		if got := vi.Covers(c.pt, c.codes...); got != c.want {
			t.Errorf("%s: covers %v = %v, want %v", c.name, c.pt, got, c.want)
		}
	}
	// Haversine against a known distance: one degree of latitude ~ 111.2 km.
	if d := DistanceKM(Point{10, 106}, Point{11, 106}); d < 111.1 || d > 111.3 {
		t.Errorf("one degree of latitude = %.2f km", d)
	}
}

func TestParseRefuses(t *testing.T) {
	s := storm(t)
	rep := func(old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("test alert lacks %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	for _, c := range []struct {
		name, doc, want string
	}{
		{"empty", "", "no <alert> element"},
		{"not XML", "hello", "not XML"},
		{"truncated", s[:200], "XML"},
		{"wrong namespace", rep("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1"), "want <alert"},
		{"no identifier", rep("<identifier>KTTV-2026-1207-001</identifier>", ""), "<identifier> is required"},
		{"identifier with a space", rep("KTTV-2026-1207-001", "KTTV 1"), "must not contain spaces"},
		{"no sender", rep("<sender>canhbao@kttv.gov.vn</sender>", ""), "<sender> is required"},
		{"no sent", rep("<sent>2026-12-07T06:00:00+07:00</sent>", ""), "<sent> is required"},
		{"sent in Z", rep("2026-12-07T06:00:00+07:00", "2026-12-06T23:00:00Z"), "numeric zone"},
		{"sent not a date", rep("2026-12-07T06:00:00+07:00", "2026-13-07T06:00:00+07:00"), "<sent>"},
		{"no status", rep("<status>Actual</status>", ""), "<status> is required"},
		{"bad status", rep("<status>Actual</status>", "<status>Real</status>"), "<status> \"Real\""},
		{"no msgType", rep("<msgType>Alert</msgType>", ""), "<msgType> is required"},
		{"bad msgType", rep("<msgType>Alert</msgType>", "<msgType>Warning</msgType>"), "<msgType>"},
		{"no scope", rep("<scope>Public</scope>", ""), "<scope> is required"},
		{"bad scope", rep("<scope>Public</scope>", "<scope>Everyone</scope>"), "<scope>"},
		{"restricted without restriction", rep("<scope>Public</scope>", "<scope>Restricted</scope>"), "needs <restriction>"},
		{"private without addresses", rep("<scope>Public</scope>", "<scope>Private</scope>"), "needs <addresses>"},
		{"update without references", rep("<msgType>Alert</msgType>", "<msgType>Update</msgType>"), "needs <references>"},
		{"cancel without references", rep("<msgType>Alert</msgType>", "<msgType>Cancel</msgType>"), "needs <references>"},
		{"bad references", rep("<scope>Public</scope>", "<scope>Public</scope><references>kttv,1</references>"), "<references>"},
		{"bad category", rep("<category>Safety</category>", "<category>Weather</category>"), "<category>"},
		{"no category", strings.Replace(rep("<category>Safety</category>", ""), "<language>vi-VN</language>\n    <category>Met</category>", "<language>vi-VN</language>", 1), "<category> is required"},
		{"no event", rep("<event>Bão số 9</event>", ""), "<event> is required"},
		{"bad urgency", rep("<urgency>Immediate</urgency>", "<urgency>Now</urgency>"), "<urgency>"},
		{"bad severity", rep("<severity>Extreme</severity>", "<severity>Huge</severity>"), "<severity>"},
		{"bad certainty", rep("<certainty>Observed</certainty>", "<certainty>Very Likely</certainty>"), "<certainty>"},
		{"bad responseType", rep("<responseType>Shelter</responseType>", "<responseType>Run</responseType>"), "<responseType>"},
		{"bad expires", rep("<expires>2026-12-07T18:00:00+07:00</expires>", "<expires>tomorrow</expires>"), "<expires>"},
		{"no areaDesc", rep("<areaDesc>Xã An Phú</areaDesc>", ""), "<areaDesc> is required"},
		{"open polygon", rep("10.80,106.60 10.70,106.60</polygon>\n      <circle>", "10.80,106.60 10.71,106.60</polygon>\n      <circle>"), "not closed"},
		{"short polygon", rep("<polygon>10.70,106.60 10.70,106.80 10.80,106.80 10.80,106.60 10.70,106.60</polygon>\n      <circle>", "<polygon>10.70,106.60 10.70,106.80 10.70,106.60</polygon>\n      <circle>"), "at least 4"},
		{"polygon point out of range", rep("10.70,106.80 10.80,106.80 10.80,106.60 10.70,106.60</polygon>\n      <circle>", "10.70,196.80 10.80,106.80 10.80,106.60 10.70,106.60</polygon>\n      <circle>"), "lat,lon"},
		{"circle without radius", rep("<circle>10.90,106.90 5</circle>", "<circle>10.90,106.90</circle>"), "<circle>"},
		{"circle negative radius", rep("<circle>10.90,106.90 5</circle>", "<circle>10.90,106.90 -5</circle>"), "radius"},
		{"geocode without value", rep("<value>26734</value>", ""), "<geocode>"},
		{"resource without mimeType", rep("<area>\n      <areaDesc>Xã An Phú", "<resource><resourceDesc>audio</resourceDesc></resource><area>\n      <areaDesc>Xã An Phú"), "<mimeType> is required"},
		{"resource not base64", rep("<area>\n      <areaDesc>Xã An Phú", "<resource><resourceDesc>audio</resourceDesc><mimeType>audio/ogg</mimeType><derefUri>!!!</derefUri></resource><area>\n      <areaDesc>Xã An Phú"), "base64"},
		{"external entity", `<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + strings.Replace(s[strings.Index(s, "<alert"):], "Cảnh báo bão số 9", "&x;", 1), "entity"},
		{"too large", strings.Repeat(" ", MaxSize+1), "at most"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %q, want it to say %q", err, c.want)
			}
		})
	}
}

func TestSignatureRefused(t *testing.T) {
	s := strings.Replace(storm(t), "</alert>", `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature></alert>`, 1)
	if _, err := Parse([]byte(s)); !errors.Is(err, ErrSigned) {
		t.Errorf("err %v, want ErrSigned", err)
	}
}

func FuzzParseCAP(f *testing.F) {
	f.Add(storm(f))
	f.Add(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier></alert>`)
	f.Add(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><info><area><polygon>1,2 3,4</polygon></area></info></alert>`)
	f.Fuzz(func(t *testing.T, doc string) {
		a, err := Parse([]byte(doc))
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrSigned) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrSigned", err)
			}
			return
		}
		// What parses is valid and writes back out to a document that parses.
		b, err := Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("marshalled alert does not parse: %v\n%s", err, b)
		}
		for _, in := range a.Infos {
			in.Covers(Point{10, 106}, "1")
		}
	})
}
