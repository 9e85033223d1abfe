// Package cap reads OASIS Common Alerting Protocol 1.2 alerts: it parses
// the XML, checks it against the rules of the CAP 1.2 schema and
// specification (required elements, enumerations, date and geometry
// formats, references), and answers which points an alert's areas cover.
// It knows nothing of nodes or playback: the warning package decides what
// an alert does; this one only says what it is. The same types write the
// alerts back out (Marshal) for the controller's Atom feed.
package cap

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Namespace is the XML namespace of CAP 1.2 alerts.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// MaxSize bounds an alert document (bytes); an embedded audio resource
// has to fit in it.
const MaxSize = 8 << 20

// Sentinel errors; every error of Parse wraps one of them.
var (
	// ErrInvalid: the document is not a valid CAP 1.2 alert.
	ErrInvalid = errors.New("not a valid CAP 1.2 alert")
	// ErrSigned: the alert carries an XML signature this controller cannot
	// verify. It is refused rather than trusted as if it had been checked.
	ErrSigned = errors.New("the alert carries an XML <Signature> this controller cannot verify")
)

// Enumerations of the CAP 1.2 schema.
var (
	Statuses    = []string{"Actual", "Exercise", "System", "Test", "Draft"}
	MsgTypes    = []string{"Alert", "Update", "Cancel", "Ack", "Error"}
	Scopes      = []string{"Public", "Restricted", "Private"}
	Categories  = []string{"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"}
	Responses   = []string{"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"}
	Urgencies   = []string{"Immediate", "Expected", "Future", "Past", "Unknown"}
	Severities  = []string{"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
	Certainties = []string{"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
)

// Alert is a parsed, valid CAP 1.2 alert.
type Alert struct {
	Identifier  string
	Sender      string
	Sent        time.Time
	Status      string
	MsgType     string
	Source      string
	Scope       string
	Restriction string
	Addresses   string
	Codes       []string
	Note        string
	References  []Ref
	Incidents   string
	Infos       []Info
}

// Ref names an earlier alert (the references element).
type Ref struct {
	Sender     string
	Identifier string
	Sent       time.Time
}

// Info is one info block: the alert in one language.
type Info struct {
	Language     string // "en-US" when the alert does not say
	Categories   []string
	Event        string
	ResponseType []string
	Urgency      string
	Severity     string
	Certainty    string
	Audience     string
	Effective    time.Time // zero when absent
	Onset        time.Time
	Expires      time.Time
	SenderName   string
	Headline     string
	Description  string
	Instruction  string
	Web          string
	Contact      string
	Resources    []Resource
	Areas        []Area
}

// Resource is an attached file.
type Resource struct {
	Desc     string
	MimeType string
	Size     int64
	URI      string
	Data     []byte // derefUri, decoded
	Digest   string
}

// Area is where an info block applies.
type Area struct {
	Desc     string
	Polygons []Polygon
	Circles  []Circle
	Geocodes []Geocode
}

// Point is a WGS 84 position.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Polygon is a closed ring of points (the first equals the last).
type Polygon []Point

// Circle is a centre and a radius in kilometres.
type Circle struct {
	Center   Point
	RadiusKM float64
}

// Geocode is a value in a named coding scheme.
type Geocode struct {
	ValueName string
	Value     string
}

// Key identifies an alert: sender, identifier and sent time, as
// references name it.
func (a *Alert) Key() Ref { return Ref{Sender: a.Sender, Identifier: a.Identifier, Sent: a.Sent} }

// String is the references form "sender,identifier,sent".
func (r Ref) String() string { return r.Sender + "," + r.Identifier + "," + FormatTime(r.Sent) }

// FormatTime writes a CAP dateTime ("2026-12-07T06:30:00+07:00").
func FormatTime(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

// Expires is when the alert ends: the latest expires of its info blocks
// (zero: no info says).
func (a *Alert) Expires() time.Time {
	var out time.Time
	for _, in := range a.Infos {
		if in.Expires.After(out) {
			out = in.Expires
		}
	}
	return out
}

// Vietnamese returns the first info block in Vietnamese (language "vi" or
// "vi-VN", any case).
func (a *Alert) Vietnamese() (Info, bool) {
	for _, in := range a.Infos {
		l := strings.ToLower(in.Language)
		if l == "vi" || l == "vi-vn" {
			return in, true
		}
	}
	return Info{}, false
}

// Text is what a speaker says for an info block: headline, description and
// instruction, each ending a sentence.
func (in Info) Text() string {
	var parts []string
	for _, s := range []string{in.Headline, in.Description, in.Instruction} {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.ContainsAny(s[len(s)-1:], ".!?") {
			s += "."
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// Audio returns the first audio resource that carries its content.
func (in Info) Audio() (Resource, bool) {
	for _, r := range in.Resources {
		if strings.HasPrefix(strings.ToLower(r.MimeType), "audio/") {
			return r, true
		}
	}
	return Resource{}, false
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Parse reads and validates one CAP 1.2 alert.
func Parse(b []byte) (*Alert, error) {
	if len(b) > MaxSize {
		return nil, invalid("the document is %d bytes, at most %d", len(b), MaxSize)
	}
	var w wireAlert
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.Entity = nil // no entities beyond XML's own: nothing is expanded or fetched
	if err := d.Decode(&w); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalid("no <alert> element: the document is empty or not XML")
		}
		return nil, invalid("XML: %v", err)
	}
	if w.XMLName.Space != Namespace || w.XMLName.Local != "alert" {
		return nil, invalid("the root element is {%s}%s, want <alert xmlns=%q>", w.XMLName.Space, w.XMLName.Local, Namespace)
	}
	if w.Signature != nil {
		return nil, ErrSigned
	}
	return w.toAlert()
}

// The wire form, as the schema names things.
type wireAlert struct {
	XMLName     xml.Name
	Identifier  *string    `xml:"urn:oasis:names:tc:emergency:cap:1.2 identifier"`
	Sender      *string    `xml:"urn:oasis:names:tc:emergency:cap:1.2 sender"`
	Sent        *string    `xml:"urn:oasis:names:tc:emergency:cap:1.2 sent"`
	Status      *string    `xml:"urn:oasis:names:tc:emergency:cap:1.2 status"`
	MsgType     *string    `xml:"urn:oasis:names:tc:emergency:cap:1.2 msgType"`
	Source      string     `xml:"urn:oasis:names:tc:emergency:cap:1.2 source"`
	Scope       *string    `xml:"urn:oasis:names:tc:emergency:cap:1.2 scope"`
	Restriction string     `xml:"urn:oasis:names:tc:emergency:cap:1.2 restriction"`
	Addresses   string     `xml:"urn:oasis:names:tc:emergency:cap:1.2 addresses"`
	Codes       []string   `xml:"urn:oasis:names:tc:emergency:cap:1.2 code"`
	Note        string     `xml:"urn:oasis:names:tc:emergency:cap:1.2 note"`
	References  string     `xml:"urn:oasis:names:tc:emergency:cap:1.2 references"`
	Incidents   string     `xml:"urn:oasis:names:tc:emergency:cap:1.2 incidents"`
	Infos       []wireInfo `xml:"urn:oasis:names:tc:emergency:cap:1.2 info"`
	Signature   *struct{}  `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
}

type wireInfo struct {
	Language     string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 language"`
	Categories   []string       `xml:"urn:oasis:names:tc:emergency:cap:1.2 category"`
	Event        *string        `xml:"urn:oasis:names:tc:emergency:cap:1.2 event"`
	ResponseType []string       `xml:"urn:oasis:names:tc:emergency:cap:1.2 responseType"`
	Urgency      *string        `xml:"urn:oasis:names:tc:emergency:cap:1.2 urgency"`
	Severity     *string        `xml:"urn:oasis:names:tc:emergency:cap:1.2 severity"`
	Certainty    *string        `xml:"urn:oasis:names:tc:emergency:cap:1.2 certainty"`
	Audience     string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 audience"`
	Effective    string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 effective"`
	Onset        string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 onset"`
	Expires      string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 expires"`
	SenderName   string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 senderName"`
	Headline     string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 headline"`
	Description  string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 description"`
	Instruction  string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 instruction"`
	Web          string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 web"`
	Contact      string         `xml:"urn:oasis:names:tc:emergency:cap:1.2 contact"`
	Resources    []wireResource `xml:"urn:oasis:names:tc:emergency:cap:1.2 resource"`
	Areas        []wireArea     `xml:"urn:oasis:names:tc:emergency:cap:1.2 area"`
}

type wireResource struct {
	Desc     *string `xml:"urn:oasis:names:tc:emergency:cap:1.2 resourceDesc"`
	MimeType *string `xml:"urn:oasis:names:tc:emergency:cap:1.2 mimeType"`
	Size     string  `xml:"urn:oasis:names:tc:emergency:cap:1.2 size"`
	URI      string  `xml:"urn:oasis:names:tc:emergency:cap:1.2 uri"`
	DerefURI string  `xml:"urn:oasis:names:tc:emergency:cap:1.2 derefUri"`
	Digest   string  `xml:"urn:oasis:names:tc:emergency:cap:1.2 digest"`
}

type wireArea struct {
	Desc     *string       `xml:"urn:oasis:names:tc:emergency:cap:1.2 areaDesc"`
	Polygons []string      `xml:"urn:oasis:names:tc:emergency:cap:1.2 polygon"`
	Circles  []string      `xml:"urn:oasis:names:tc:emergency:cap:1.2 circle"`
	Geocodes []wireGeocode `xml:"urn:oasis:names:tc:emergency:cap:1.2 geocode"`
}

type wireGeocode struct {
	ValueName string `xml:"urn:oasis:names:tc:emergency:cap:1.2 valueName"`
	Value     string `xml:"urn:oasis:names:tc:emergency:cap:1.2 value"`
}

func required(name string, v *string) (string, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return "", invalid("<%s> is required", name)
	}
	return strings.TrimSpace(*v), nil
}

func oneOf(name, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return invalid("<%s> %q: want one of %s", name, v, strings.Join(allowed, ", "))
	}
	return nil
}

// checkName checks identifier and sender: the schema forbids spaces,
// commas and the XML-restricted characters < and &.
func checkName(name, v string) error {
	if strings.ContainsAny(v, " \t\r\n,<&") {
		return invalid("<%s> %q must not contain spaces, commas, < or &", name, v)
	}
	return nil
}

// ParseTime reads a CAP dateTime: "2026-12-07T06:30:00+07:00". CAP 1.2
// requires a numeric zone ("Z" is not allowed).
func ParseTime(name, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) != len("2006-01-02T15:04:05-07:00") || (s[19] != '+' && s[19] != '-') {
		return time.Time{}, invalid("<%s> %q: want a date and time with a numeric zone, e.g. 2026-12-07T06:30:00+07:00 (\"Z\" is not CAP 1.2)", name, s)
	}
	t, err := time.Parse("2006-01-02T15:04:05-07:00", s)
	if err != nil {
		return time.Time{}, invalid("<%s> %q: %v", name, s, err)
	}
	return t, nil
}

func optTime(name, s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	return ParseTime(name, s)
}

func (w *wireAlert) toAlert() (*Alert, error) {
	var a Alert
	var err error
	if a.Identifier, err = required("identifier", w.Identifier); err != nil {
		return nil, err
	}
	if a.Sender, err = required("sender", w.Sender); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"identifier": a.Identifier, "sender": a.Sender} {
		if err := checkName(name, v); err != nil {
			return nil, err
		}
	}
	sent, err := required("sent", w.Sent)
	if err != nil {
		return nil, err
	}
	if a.Sent, err = ParseTime("sent", sent); err != nil {
		return nil, err
	}
	if a.Status, err = required("status", w.Status); err != nil {
		return nil, err
	}
	if a.MsgType, err = required("msgType", w.MsgType); err != nil {
		return nil, err
	}
	if a.Scope, err = required("scope", w.Scope); err != nil {
		return nil, err
	}
	for _, e := range []struct {
		name, v string
		in      []string
	}{{"status", a.Status, Statuses}, {"msgType", a.MsgType, MsgTypes}, {"scope", a.Scope, Scopes}} {
		if err := oneOf(e.name, e.v, e.in); err != nil {
			return nil, err
		}
	}
	a.Source, a.Restriction, a.Addresses = w.Source, strings.TrimSpace(w.Restriction), strings.TrimSpace(w.Addresses)
	a.Codes, a.Note, a.Incidents = w.Codes, w.Note, w.Incidents
	switch {
	case a.Scope == "Restricted" && a.Restriction == "":
		return nil, invalid("scope Restricted needs <restriction>")
	case a.Scope == "Private" && a.Addresses == "":
		return nil, invalid("scope Private needs <addresses>")
	}
	if a.References, err = parseRefs(w.References); err != nil {
		return nil, err
	}
	if (a.MsgType == "Update" || a.MsgType == "Cancel" || a.MsgType == "Ack" || a.MsgType == "Error") && len(a.References) == 0 {
		return nil, invalid("msgType %s needs <references> naming the earlier alert (sender,identifier,sent)", a.MsgType)
	}
	for i, wi := range w.Infos {
		in, err := wi.toInfo()
		if err != nil {
			return nil, fmt.Errorf("info %d: %w", i+1, err)
		}
		a.Infos = append(a.Infos, in)
	}
	return &a, nil
}

func parseRefs(s string) ([]Ref, error) {
	var out []Ref
	for _, f := range strings.Fields(s) {
		p := strings.Split(f, ",")
		if len(p) != 3 || p[0] == "" || p[1] == "" {
			return nil, invalid("<references> %q: want sender,identifier,sent separated by spaces", f)
		}
		t, err := ParseTime("references", p[2])
		if err != nil {
			return nil, err
		}
		out = append(out, Ref{Sender: p[0], Identifier: p[1], Sent: t})
	}
	return out, nil
}

func (w *wireInfo) toInfo() (Info, error) {
	in := Info{Language: strings.TrimSpace(w.Language), Audience: w.Audience, SenderName: w.SenderName,
		Headline: w.Headline, Description: w.Description, Instruction: w.Instruction, Web: w.Web, Contact: w.Contact}
	if in.Language == "" {
		in.Language = "en-US"
	}
	if len(w.Categories) == 0 {
		return in, invalid("<category> is required")
	}
	for _, c := range w.Categories {
		if err := oneOf("category", strings.TrimSpace(c), Categories); err != nil {
			return in, err
		}
		in.Categories = append(in.Categories, strings.TrimSpace(c))
	}
	for _, r := range w.ResponseType {
		if err := oneOf("responseType", strings.TrimSpace(r), Responses); err != nil {
			return in, err
		}
		in.ResponseType = append(in.ResponseType, strings.TrimSpace(r))
	}
	var err error
	if in.Event, err = required("event", w.Event); err != nil {
		return in, err
	}
	for _, e := range []struct {
		name string
		v    *string
		in   []string
		to   *string
	}{{"urgency", w.Urgency, Urgencies, &in.Urgency}, {"severity", w.Severity, Severities, &in.Severity}, {"certainty", w.Certainty, Certainties, &in.Certainty}} {
		v, err := required(e.name, e.v)
		if err != nil {
			return in, err
		}
		if err := oneOf(e.name, v, e.in); err != nil {
			return in, err
		}
		*e.to = v
	}
	if in.Effective, err = optTime("effective", w.Effective); err != nil {
		return in, err
	}
	if in.Onset, err = optTime("onset", w.Onset); err != nil {
		return in, err
	}
	if in.Expires, err = optTime("expires", w.Expires); err != nil {
		return in, err
	}
	for i, wr := range w.Resources {
		r, err := wr.toResource()
		if err != nil {
			return in, fmt.Errorf("resource %d: %w", i+1, err)
		}
		in.Resources = append(in.Resources, r)
	}
	for i, wa := range w.Areas {
		ar, err := wa.toArea()
		if err != nil {
			return in, fmt.Errorf("area %d: %w", i+1, err)
		}
		in.Areas = append(in.Areas, ar)
	}
	return in, nil
}

func (w *wireResource) toResource() (Resource, error) {
	var r Resource
	var err error
	if r.Desc, err = required("resourceDesc", w.Desc); err != nil {
		return r, err
	}
	if r.MimeType, err = required("mimeType", w.MimeType); err != nil {
		return r, err
	}
	if s := strings.TrimSpace(w.Size); s != "" {
		if r.Size, err = strconv.ParseInt(s, 10, 64); err != nil || r.Size < 0 {
			return r, invalid("<size> %q: want a number of bytes", s)
		}
	}
	r.URI, r.Digest = strings.TrimSpace(w.URI), strings.TrimSpace(w.Digest)
	if d := strings.Join(strings.Fields(w.DerefURI), ""); d != "" {
		if r.Data, err = base64.StdEncoding.DecodeString(d); err != nil {
			return r, invalid("<derefUri> is not base64: %v", err)
		}
	}
	return r, nil
}

func (w *wireArea) toArea() (Area, error) {
	var ar Area
	var err error
	if ar.Desc, err = required("areaDesc", w.Desc); err != nil {
		return ar, err
	}
	for _, s := range w.Polygons {
		p, err := ParsePolygon(s)
		if err != nil {
			return ar, err
		}
		ar.Polygons = append(ar.Polygons, p)
	}
	for _, s := range w.Circles {
		c, err := ParseCircle(s)
		if err != nil {
			return ar, err
		}
		ar.Circles = append(ar.Circles, c)
	}
	for _, g := range w.Geocodes {
		g := Geocode{ValueName: strings.TrimSpace(g.ValueName), Value: strings.TrimSpace(g.Value)}
		if g.ValueName == "" || g.Value == "" {
			return ar, invalid("<geocode> needs <valueName> and <value>")
		}
		ar.Geocodes = append(ar.Geocodes, g)
	}
	return ar, nil
}

func parsePoint(s string) (Point, error) {
	la, lo, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(la, 64)
	lon, err2 := strconv.ParseFloat(lo, 64)
	if !ok || err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return Point{}, invalid("point %q: want lat,lon in degrees (WGS 84)", s)
	}
	return Point{Lat: lat, Lon: lon}, nil
}

// ParsePolygon reads "lat,lon lat,lon ...": at least four pairs, the last
// equal to the first.
func ParsePolygon(s string) (Polygon, error) {
	var p Polygon
	for _, f := range strings.Fields(s) {
		pt, err := parsePoint(f)
		if err != nil {
			return nil, fmt.Errorf("<polygon>: %w", err)
		}
		p = append(p, pt)
	}
	if len(p) < 4 {
		return nil, invalid("<polygon> has %d points: want at least 4 lat,lon pairs, the last equal to the first", len(p))
	}
	if p[0] != p[len(p)-1] {
		return nil, invalid("<polygon> is not closed: its last point must equal its first")
	}
	return p, nil
}

// ParseCircle reads "lat,lon radius_km".
func ParseCircle(s string) (Circle, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Circle{}, invalid("<circle> %q: want \"lat,lon radius\" (radius in km)", s)
	}
	pt, err := parsePoint(f[0])
	if err != nil {
		return Circle{}, fmt.Errorf("<circle>: %w", err)
	}
	r, err := strconv.ParseFloat(f[1], 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return Circle{}, invalid("<circle> radius %q: want kilometres, 0 or more", f[1])
	}
	return Circle{Center: pt, RadiusKM: r}, nil
}
