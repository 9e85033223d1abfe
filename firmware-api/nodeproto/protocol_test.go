package nodeproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// exampleKey is the key PROTOCOL.md documents for its signed examples.
func exampleKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("radio/v1 example key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

type example struct {
	kind, body string
	line       int
}

func protocolExamples(t *testing.T) []example {
	t.Helper()
	doc, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- example: ([A-Za-z/]+) -->\n```[a-z]+\n(.*?)\n```")
	var out []example
	for _, m := range re.FindAllSubmatchIndex(doc, -1) {
		out = append(out, example{
			kind: string(doc[m[2]:m[3]]),
			body: string(doc[m[4]:m[5]]),
			line: bytes.Count(doc[:m[0]], []byte("\n")) + 1,
		})
	}
	if len(out) < 12 {
		t.Fatalf("found %d examples in PROTOCOL.md, want at least 12", len(out))
	}
	return out
}

type validator interface{ Validate() error }

// TestProtocolExamples parses every example of PROTOCOL.md strictly (no field
// unknown to the Go types), validates it and checks it round-trips.
func TestProtocolExamples(t *testing.T) {
	pub := exampleKey().Public().(ed25519.PublicKey)
	if got := base64.StdEncoding.EncodeToString(pub); !strings.Contains(mustRead(t, "../PROTOCOL.md"), got) {
		t.Errorf("PROTOCOL.md does not state the example public key %s", got)
	}
	ring := Keyring{"ctl-2026": pub}
	seen := map[string]int{}
	for _, ex := range protocolExamples(t) {
		seen[ex.kind]++
		t.Run(ex.kind, func(t *testing.T) {
			switch ex.kind {
			case "Chunk":
				checkChunkExample(t, ex.body)
				return
			case "ChunkRefusal":
				checkRefusalExample(t, ex.body)
				return
			case "Envelope/Command":
				var c Command
				if err := ring.Open([]byte(ex.body), &c); err != nil {
					t.Fatalf("line %d: %v", ex.line, err)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("line %d: %v", ex.line, err)
				}
				return
			case "Envelope/Desired":
				var d Desired
				if err := ring.Open([]byte(ex.body), &d); err != nil {
					t.Fatalf("line %d: %v", ex.line, err)
				}
				if err := d.Validate(); err != nil {
					t.Fatalf("line %d: %v", ex.line, err)
				}
				return
			}
			v := map[string]func() validator{
				"State": func() validator { return new(State) }, "Desired": func() validator { return new(Desired) },
				"Command": func() validator { return new(Command) }, "Reply": func() validator { return new(Reply) },
				"Fetch": func() validator { return new(Fetch) }, "Events": func() validator { return new(Events) },
				"Ack":          func() validator { return new(Ack) },
				"EnrolRequest": func() validator { return new(EnrolRequest) }, "Enrolment": func() validator { return new(Enrolment) },
			}[ex.kind]
			if v == nil {
				t.Fatalf("line %d: unknown example kind %q", ex.line, ex.kind)
			}
			msg := v()
			dec := json.NewDecoder(strings.NewReader(ex.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(msg); err != nil {
				t.Fatalf("line %d: %v", ex.line, err)
			}
			if err := msg.Validate(); err != nil {
				t.Fatalf("line %d: %v", ex.line, err)
			}
			re, _ := json.Marshal(msg)
			var a, b any
			json.Unmarshal([]byte(ex.body), &a)
			json.Unmarshal(re, &b)
			if d := cmp.Diff(a, b); d != "" {
				t.Errorf("line %d: round trip differs (-doc +go):\n%s", ex.line, d)
			}
		})
	}
	for _, k := range []string{"State", "Desired", "Command", "Reply", "Fetch", "Events", "Ack", "Chunk", "ChunkRefusal", "Envelope/Command", "Envelope/Desired", "EnrolRequest", "Enrolment"} {
		if seen[k] == 0 {
			t.Errorf("PROTOCOL.md has no example of %s", k)
		}
	}
}

var update = flag.Bool("update", false, "re-sign the Envelope examples of PROTOCOL.md from their plain twins")

// The signed examples must carry the same messages as their plain twins.
// With -update they are re-signed with the example key (Ed25519 is
// deterministic, so an unchanged message gives the same bytes).
func TestEnvelopeExamplesMatchPlain(t *testing.T) {
	if *update {
		resignExamples(t)
	}
	ring := Keyring{"ctl-2026": exampleKey().Public().(ed25519.PublicKey)}
	var plainCmd, plainDes, envCmd, envDes string
	for _, ex := range protocolExamples(t) {
		switch {
		case ex.kind == "Command" && plainCmd == "":
			plainCmd = ex.body
		case ex.kind == "Desired":
			plainDes = ex.body
		case ex.kind == "Envelope/Command":
			envCmd = ex.body
		case ex.kind == "Envelope/Desired":
			envDes = ex.body
		}
	}
	for _, p := range []struct {
		plain, env string
		v1, v2     any
	}{{plainCmd, envCmd, new(Command), new(Command)}, {plainDes, envDes, new(Desired), new(Desired)}} {
		json.Unmarshal([]byte(p.plain), p.v1)
		if err := ring.Open([]byte(p.env), p.v2); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(p.v1, p.v2); d != "" {
			t.Errorf("signed example differs from plain one:\n%s", d)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkChunkExample(t *testing.T, body string) {
	fields := strings.Fields(body)
	media := fields[1]
	data := bytes.Repeat([]byte{7}, ChunkLen(245760, 14))
	b, err := MarshalChunk(Chunk{Media: media, Index: 14, Count: 15, Size: 245760, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(fields[:5], "")
	if got := hexString(b[:52]); got != want {
		t.Errorf("chunk header = %s, documented %s", got, want)
	}
	c, err := UnmarshalChunk(b)
	if err != nil || c.Index != 14 || c.Count != 15 || !bytes.Equal(c.Data, data) {
		t.Errorf("chunk round trip: %+v %v", c, err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestKeyringRejects(t *testing.T) {
	priv := exampleKey()
	ring := Keyring{"k1": priv.Public().(ed25519.PublicKey)}
	_, other, _ := ed25519.GenerateKey(nil)
	good, _ := Sign("k1", priv, Command{ID: "a"})
	forged, _ := Sign("k1", other, Command{ID: "a"})
	unknown, _ := Sign("k2", priv, Command{ID: "a"})
	var env Envelope
	json.Unmarshal(good, &env)
	env.Msg = []byte(`{"id":"b"}`)
	tampered, _ := json.Marshal(env)
	env.Sig = nil
	unsigned, _ := json.Marshal(env)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    Code
	}{
		{"good", good, CodeOK},
		{"forged", forged, CodeBadSignature},
		{"unknown key", unknown, CodeUnknownKey},
		{"tampered", tampered, CodeBadSignature},
		{"unsigned", unsigned, CodeBadSignature},
		{"not json", []byte("\x00\xff garbage"), CodeMalformed},
		{"empty", nil, CodeMalformed},
		{"too large", bytes.Repeat([]byte(" "), MaxJSONPayload+1), CodeTooLarge},
		{"wrong shape", []byte(`[1,2,3]`), CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Command
			err := ring.Open(tc.payload, &c)
			var pe *Error
			switch {
			case tc.want == CodeOK && err != nil:
				t.Fatalf("Open: %v", err)
			case tc.want != CodeOK && (!errors.As(err, &pe) || pe.Code != tc.want):
				t.Fatalf("Open error = %v, want code %v", err, tc.want)
			}
		})
	}
}

func TestUnmarshalChunkRejects(t *testing.T) {
	data := bytes.Repeat([]byte("ab"), ChunkSize/2)
	media := strings.Repeat("ab", 32)
	good, _ := MarshalChunk(Chunk{Media: media, Index: 0, Count: 2, Size: ChunkSize + 10, Data: data})
	if _, err := UnmarshalChunk(good); err != nil {
		t.Fatalf("good chunk: %v", err)
	}
	flip := bytes.Clone(good)
	flip[len(flip)-1] ^= 1
	badIndex := bytes.Clone(good)
	badIndex[39] = 5
	badCount := bytes.Clone(good)
	badCount[43] = 9
	for name, b := range map[string][]byte{
		"truncated":   good[:len(good)-100],
		"flipped bit": flip,
		"bad index":   badIndex,
		"bad count":   badCount,
		"no magic":    append([]byte("XXXX"), good[4:]...),
		"short":       good[:20],
		"empty":       nil,
		"oversized":   append(bytes.Clone(good), make([]byte, ChunkSize)...),
	} {
		if _, err := UnmarshalChunk(b); !errors.Is(err, ErrChunk) {
			t.Errorf("%s: err = %v, want ErrChunk", name, err)
		}
	}
}

func TestTopics(t *testing.T) {
	id, leaf, ok := ParseNodeTopic(NodeTopic("an-phu-01", LeafEvents))
	if !ok || id != "an-phu-01" || leaf != "events" {
		t.Errorf("ParseNodeTopic = %q %q %v", id, leaf, ok)
	}
	for _, bad := range []string{"radio/v1/node/+/events", "radio/v1/node/a/b/c", "radio/v2/node/a/state", "radio/v1/node//state", "radio/v1/node/A/state"} {
		if _, _, ok := ParseNodeTopic(bad); ok {
			t.Errorf("ParseNodeTopic(%q) accepted", bad)
		}
	}
	if z, ok := ParseZoneTopic(ZoneCmdTopic("z1")); !ok || z != "z1" {
		t.Errorf("ParseZoneTopic = %q %v", z, ok)
	}
	if z, ok := ParseZoneTopic(ZoneStreamTopic("z1")); ok {
		t.Errorf("ParseZoneTopic accepted a stream topic as a command topic: %q", z)
	}
	if z, leaf, ok := ParseZoneLeaf(ZoneStreamTopic("z1")); !ok || z != "z1" || leaf != LeafStream {
		t.Errorf("ParseZoneLeaf(stream) = %q %q %v", z, leaf, ok)
	}
	for _, bad := range []string{"radio/v1/zone/z1/state", "radio/v1/zone/z1/stream/x", "radio/v1/zone/Z1/stream", "radio/v1/zone//cmd"} {
		if _, _, ok := ParseZoneLeaf(bad); ok {
			t.Errorf("ParseZoneLeaf(%q) accepted", bad)
		}
	}
	if z, ok := ParseZoneChunkTopic(ZoneChunkTopic("z-1")); !ok || z != "z-1" {
		t.Errorf("ParseZoneChunkTopic = %q %v", z, ok)
	}
	for _, bad := range []string{ZoneCmdTopic("z1"), "radio/v1/zone/z1/chunk/x", "radio/v1/zone//chunk", "radio/v1/zone/+/chunk", "radio/v1/node/z1/chunk"} {
		if _, ok := ParseZoneChunkTopic(bad); ok {
			t.Errorf("ParseZoneChunkTopic(%q) accepted", bad)
		}
	}
	if _, ok := ParseZoneTopic(ZoneChunkTopic("z1")); ok {
		t.Error("ParseZoneTopic accepted a zone chunk topic as a command topic")
	}
	for _, s := range []string{"", "-a", "a/b", "a+b", "a#", "Ab", strings.Repeat("a", 65)} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}

func TestCommandValidate(t *testing.T) {
	vol := 101
	base := func() Command {
		return Command{ID: "c1", Type: CmdPlay, Node: "n1", Issued: 1000, Expires: 2000,
			Play: &Play{Media: strings.Repeat("a", 64), Size: 100}}
	}
	for name, mut := range map[string]func(*Command){
		"no target":    func(c *Command) { c.Node = "" },
		"two targets":  func(c *Command) { c.Zone = "z" },
		"expired span": func(c *Command) { c.Expires = c.Issued },
		"too long":     func(c *Command) { c.Expires = c.Issued + int64(MaxCommandLife/1e6) + 1 },
		"bad media":    func(c *Command) { c.Play.Media = "../../etc/passwd" },
		"zero size":    func(c *Command) { c.Play.Size = 0 },
		"bad priority": func(c *Command) { c.Play.Priority = "urgent" },
		"bad volume":   func(c *Command) { c.Play.Volume = &vol },
		"no play":      func(c *Command) { c.Play = nil },
		"unknown type": func(c *Command) { c.Type = "reboot" },
		"bad id":       func(c *Command) { c.ID = "a/b" },
	} {
		c := base()
		if err := c.Validate(); err != nil {
			t.Fatalf("base command invalid: %v", err)
		}
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

// A desired state's horizon_until bounds its own schedule.
func TestDesiredHorizonValidate(t *testing.T) {
	d := Desired{Node: "n1", Rev: 1, Volume: 50, HorizonUntil: 2000,
		Schedule: []Slot{{ID: "s1", Media: strings.Repeat("a", 64), Size: 100, PlayAt: 1999}}}
	if err := d.Validate(); err != nil {
		t.Fatalf("slot before horizon_until refused: %v", err)
	}
	for name, mut := range map[string]func(*Desired){
		"slot at horizon_until":    func(d *Desired) { d.Schedule[0].PlayAt = 2000 },
		"slot after horizon_until": func(d *Desired) { d.Schedule[0].PlayAt = 5000 },
		"negative horizon_until":   func(d *Desired) { d.HorizonUntil = -1 },
	} {
		c := d
		c.Schedule = append([]Slot(nil), d.Schedule...)
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func FuzzDecodeCommandEnvelope(f *testing.F) {
	priv := exampleKey()
	ring := Keyring{"k": priv.Public().(ed25519.PublicKey)}
	good, _ := Sign("k", priv, Command{ID: "c1", Type: CmdStop, Node: "n", Issued: 1, Expires: 2})
	f.Add(good)
	f.Add([]byte(`{"kid":"k","msg":"","sig":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Command
		if ring.Open(b, &c) == nil {
			_ = c.Validate()
		}
	})
}

func FuzzUnmarshalChunk(f *testing.F) {
	good, _ := MarshalChunk(Chunk{Media: strings.Repeat("ab", 32), Index: 0, Count: 1, Size: 3, Data: []byte("abc")})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalChunk(b)
		if err == nil && len(c.Data) != ChunkLen(c.Size, c.Index) {
			t.Fatalf("accepted chunk with %d bytes", len(c.Data))
		}
	})
}

func resignExamples(t *testing.T) {
	doc := mustRead(t, "../PROTOCOL.md")
	var plainCmd, plainDes string
	for _, ex := range protocolExamples(t) {
		switch {
		case ex.kind == "Command" && plainCmd == "":
			plainCmd = ex.body
		case ex.kind == "Desired":
			plainDes = ex.body
		}
	}
	var c Command
	var d Desired
	json.Unmarshal([]byte(plainCmd), &c)
	json.Unmarshal([]byte(plainDes), &d)
	for kind, v := range map[string]any{"Envelope/Command": c, "Envelope/Desired": d} {
		signed, err := Sign("ctl-2026", exampleKey(), v)
		if err != nil {
			t.Fatal(err)
		}
		marker := "<!-- example: " + kind + " -->\n```json\n"
		i := strings.Index(doc, marker)
		if i < 0 {
			t.Fatalf("no %s example", kind)
		}
		j := i + len(marker)
		k := j + strings.Index(doc[j:], "\n```")
		doc = doc[:j] + string(signed) + doc[k:]
	}
	if err := os.WriteFile("../PROTOCOL.md", []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeMessages feeds arbitrary payloads to every JSON decoder a
// receiver runs on untrusted input, with validation: none may panic.
func FuzzDecodeMessages(f *testing.F) {
	for _, s := range []string{
		`{"node":"n1","online":true,"volume":50}`,
		`{"node":"n1","events":[{"seq":1,"type":"started","id":"c1","at":1}]}`,
		`{"media":"` + strings.Repeat("a", 64) + `","chunks":[0,1]}`,
		`{"node":"n1","cmd":"c1","ok":false,"code":1003}`,
		`{"seqs":[1,2,3]}`,
		`{"node":"n1","rev":1,"issued":1,"volume":1,"schedule":[{"id":"s","media":"` + strings.Repeat("b", 64) + `","size":1,"play_at":5}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []validator{new(State), new(Events), new(Fetch), new(Reply), new(Ack), new(Desired), new(Command)} {
			if Decode(b, v) == nil {
				_ = v.Validate()
			}
		}
	})
}

// checkRefusalExample decodes the hex of PROTOCOL.md's ChunkRefusal and
// checks it is what MarshalChunkRefusal makes.
func checkRefusalExample(t *testing.T, body string) {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		t.Fatalf("refusal example is not hex: %v", err)
	}
	r, ok := UnmarshalChunkRefusal(b)
	if !ok {
		t.Fatalf("refusal example (%d bytes) does not decode", len(b))
	}
	if want := (ChunkRefusal{Media: "5d3d17917f5100ec166492c6dcac44c104bf7f0da8062e8f9ef037f17fe2a8d5", Code: CodeContent}); r != want {
		t.Errorf("refusal = %+v, want %+v", r, want)
	}
	again, err := MarshalChunkRefusal(r)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("MarshalChunkRefusal = %x, %v; want the example %x", again, err, b)
	}
	if _, err := UnmarshalChunk(b); err == nil {
		t.Error("a refusal decodes as a chunk: old nodes would take it for content")
	}
}

// TestVersionHistoryIsOneTable: a blank line inside a Markdown table ends
// it, and the rows after it render as plain text (branches merged their
// rows with one).
func TestVersionHistoryIsOneTable(t *testing.T) {
	doc := mustRead(t, "../PROTOCOL.md")
	start := strings.Index(doc, "| Version | Date | Change |")
	if start < 0 {
		t.Fatal("PROTOCOL.md has no version history table")
	}
	rest := doc[start:]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	lines := strings.Split(rest, "\n")
	ended := -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "|") && ended >= 0:
			t.Errorf("version history: a row after the blank line %d lines below the header (the table ends there): %.60s", ended, l)
		case !strings.HasPrefix(l, "|") && ended < 0:
			ended = i
		}
	}
}
