package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/audiotest"
)

// An officer speaks into the live page (headless chromium, a fake
// microphone playing a 440 Hz tone). A client holding a node's credentials
// subscribes to the zone's stream topic as a node does: the packets verify
// against the controller's key, follow each other on the sample grid, and
// decode to the tone. A second officer of the commune is refused and told
// who is live. Closing the browser ends the session with a last packet;
// the recording lands in the commune's media library (and decodes to the
// tone) and the audit log names the session.
func TestWebLiveFromBrowser(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	cfgPath := ctl.enrol(t, "n1", "z-center", dir, "silent")
	// Two real nodes of the zone, each playing into its own sink.
	heard := []string{"l1", "l2"}
	pulse := audiotest.StartPulse(t, heard...)
	for _, id := range heard {
		startNode(t, id, ctl.enrol(t, id, "z-center", dir, "oto"), pulse.Env(id))
	}
	ctl.waitOnline(t, heard...)
	pwAn := ctl.createUser(t, "an", "Nguyễn Văn An", "officer", "x-an-phu")
	pwBinh := ctl.createUser(t, "binh", "Trần Thị Bình", "officer", "x-an-phu")

	// The fake microphone: Chrome loops this file.
	wav := filepath.Join(dir, "tone.wav")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=10:sample_rate=48000",
		"-af", "volume=0.5", "-ac", "1", "-c:a", "pcm_s16le", wav).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}

	// A node's view of the zone's stream.
	var node struct {
		ID     string          `json:"id"`
		Secret string          `json:"secret"`
		Keys   []nodeproto.Key `json:"controller_keys"`
	}
	b, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(b, &node); err != nil || len(node.Keys) == 0 {
		t.Fatalf("node config %s: %v", b, err)
	}
	pub := node.Keys[0].Pub
	var (
		mu      sync.Mutex
		packets []nodeproto.StreamPacket
		lastAt  time.Time
		bad     []string
		copies  int
	)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + ctl.mqtt).SetClientID(node.ID).
		SetUsername(node.ID).SetPassword(node.Secret).SetAutoReconnect(false))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting as node n1: %v", tok.Error())
	}
	defer cl.Disconnect(100)
	topic := nodeproto.ZoneStreamTopic("z-center")
	if tok := cl.Subscribe(topic, 0, func(_ mqtt.Client, m mqtt.Message) {
		p, err := nodeproto.UnmarshalStreamPacket(pub, m.Payload())
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err.Error())
			return
		}
		// The controller sends a session's first packets once more for
		// nodes whose subscription came late (PROTOCOL.md §10): a copy
		// must be the same packet.
		for _, q := range packets {
			if q.Session == p.Session && q.Seq == p.Seq {
				if q.Pos != p.Pos || len(q.Frames) != len(p.Frames) || q.Last != p.Last {
					bad = append(bad, fmt.Sprintf("packet %d sent twice with different content", p.Seq))
				}
				copies++
				return
			}
		}
		if len(packets) > 0 && packets[len(packets)-1].Last && packets[len(packets)-1].Session == p.Session {
			bad = append(bad, "a packet after the session's last")
		}
		packets = append(packets, p)
		if p.Last {
			lastAt = time.Now()
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing to %s: %v", topic, tok.Error())
	}

	br := newBrowser(t, chromium, ctl.url,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	br.login("an", pwAn)
	br.open("live")
	br.setSelect("#live-target", "zone:z-center")
	// A steady tone is what a voice noise filter removes: send it as it is.
	br.do(chromedp.Click(chromedp.CSS("#live-voice")))
	br.shot("live-before")
	// First the officer presses stop: the page says so and links the
	// recording, and the nodes get the session's last packet.
	br.do(chromedp.Click(chromedp.CSS("#live-start")))
	br.wait(`#live-status[data-state="live"]`, time.Minute)
	first := br.eval(`document.querySelector('#live-status').dataset.session`)
	waitFor(t, "packets of the first session", func() bool { mu.Lock(); defer mu.Unlock(); return len(packets) >= 10 })
	br.do(chromedp.Click(chromedp.CSS("#live-stop")))
	br.wait(`#live-status[data-state="ended"]`, time.Minute)
	br.wait(`#live-recording`, time.Second)
	firstMedia := br.eval(`document.querySelector('#live-result').dataset.media`)
	waitFor(t, "the first session's last packet", func() bool { mu.Lock(); defer mu.Unlock(); return !lastAt.IsZero() })
	mu.Lock()
	if p := packets[len(packets)-1]; p.Session != first || !p.Last {
		t.Errorf("after stop, the last packet is %s last=%v; want %s's last", p.Session, p.Last, first)
	}
	packets, lastAt = nil, time.Time{}
	mu.Unlock()

	recs := map[string]*audiotest.Recording{}
	for _, id := range heard {
		recs[id] = pulse.Record(t, id)
	}
	br.do(chromedp.Click(chromedp.CSS("#live-start")))
	br.wait(`#live-status[data-state="live"]`, time.Minute)
	session := br.eval(`document.querySelector('#live-status').dataset.session`)
	if !strings.HasPrefix(session, "live-") || session == first {
		t.Fatalf("session id %q (the first was %q)", session, first)
	}

	// The second officer is told who is live.
	binh := webClient(t, ctl.url, "binh", pwBinh)
	code, body := binh.call("POST", "/api/v1/live", map[string]string{"station": "st-1"})
	if code != http.StatusConflict || !strings.Contains(body, `"live_busy"`) || !strings.Contains(body, "Nguyễn Văn An") {
		t.Errorf("second officer's start: HTTP %d %s; want 409 live_busy naming Nguyễn Văn An", code, body)
	}
	code, body = binh.call("GET", "/api/v1/live", nil)
	if code != http.StatusOK || !strings.Contains(body, session) || !strings.Contains(body, "Nguyễn Văn An") {
		t.Errorf("who is live, for binh: HTTP %d %s", code, body)
	}

	// Speak for a while; the meter moves with the tone.
	waitFor(t, "4 s of audio on "+topic, func() bool { mu.Lock(); defer mu.Unlock(); return len(packets) >= 40 })
	if lvl := br.eval(`document.querySelector('#live-meter').dataset.level || '0'`); lvl == "0" || lvl == "0.000" {
		t.Errorf("the level meter shows %s while the tone plays", lvl)
	}
	if el := br.text("#live-elapsed"); el == "00:00" {
		t.Errorf("elapsed time still %s after 4 s on air", el)
	}
	br.shot("live-on-air")
	br.checkConsole()

	// Closing the browser ends the session: a last packet follows.
	closed := time.Now()
	if err := chromedp.Cancel(br.ctx); err != nil {
		t.Logf("closing chromium: %v", err)
	}
	waitFor(t, "the last packet after closing the browser", func() bool { mu.Lock(); defer mu.Unlock(); return !lastAt.IsZero() })
	mu.Lock()
	t.Logf("last packet %s after the browser closed; %d packets, %d sent twice", lastAt.Sub(closed).Round(time.Millisecond), len(packets), copies)
	got := append([]nodeproto.StreamPacket(nil), packets...)
	if len(bad) > 0 {
		t.Errorf("%d packets did not verify: %v", len(bad), bad[0])
	}
	mu.Unlock()

	// Both nodes played the session to its end, and their sinks heard the tone.
	evs := ctl.waitPlays(t, session, time.Minute, func(e []playEvent) bool {
		return count(e, "started") == len(heard) && count(e, "finished")+count(e, "interrupted") == len(heard)
	})
	time.Sleep(300 * time.Millisecond)
	for _, id := range heard {
		s, _ := recs[id].Stop()
		tn := audiotest.Analyze(s, audiotest.Rate)
		if !tn.Found {
			t.Errorf("%s: its sink heard nothing of the live session", id)
			continue
		}
		// The recording may begin with the first session's last moments
		// (nodes play it up to the voice latency after its last packet):
		// the tone is measured over the longest stretch of sound.
		sounding, longest := 0, audiotest.Tone{} // a live session may have holes: count all the sound
		for _, g := range audiotest.Segments(s, audiotest.Rate, 20*time.Millisecond) {
			sounding += g.Length
			if g.Length > longest.Length {
				longest = g
			}
		}
		hz := audiotest.Dominant(s[longest.Onset:longest.Onset+longest.Length], audiotest.Rate, 300, 600)
		t.Logf("%s: heard %.1f Hz, %.2f s of sound", id, hz, float64(sounding)/audiotest.Rate)
		if math.Abs(hz-440) > 10 || sounding < 3*audiotest.Rate {
			t.Errorf("%s: heard %.1f Hz for %.2f s; the officer spoke a 440 Hz tone for over 4 s", id, hz, float64(sounding)/audiotest.Rate)
		}
	}
	for _, e := range evs {
		if e.Type == "finished" || e.Type == "interrupted" {
			t.Logf("%s: %s after %d ms, %d gap(s) of %d ms", e.NodeID, e.Type, e.PlayedMS, e.Gaps, e.GapMS)
			// Every packet left the controller well before its time: a
			// node that missed more than one lost the session's start
			// (its subscription came after the first packets).
			if e.GapMS > 100 {
				t.Errorf("%s: %d ms of the session played as silence; the packets all came in time", e.NodeID, e.GapMS)
			}
		}
	}

	sort.Slice(got, func(i, j int) bool { return got[i].Seq < got[j].Seq })
	var frames [][]byte
	for i, p := range got {
		if p.Session != session || p.Seq != uint32(i) {
			t.Fatalf("packet %d: session %s seq %d (want %s, %d): lost or foreign", i, p.Session, p.Seq, session, i)
		}
		if i > 0 && p.Pos < got[i-1].Pos+uint64(len(got[i-1].Frames))*nodeproto.StreamSamplesPerFrame {
			t.Errorf("packet %d at sample %d overlaps packet %d", i, p.Pos, i-1)
		}
		if p.Last != (i == len(got)-1) {
			t.Errorf("packet %d last=%v", i, p.Last)
		}
		frames = append(frames, p.Frames...)
	}
	if hz := opusToneHz(t, dir, frames); math.Abs(hz-440) > 10 {
		t.Errorf("the zone's stream decodes to %.1f Hz, want 440", hz)
	}

	// The recording is in the commune's library, and is the tone.
	var sha string
	for deadline := time.Now().Add(time.Minute); sha == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, body := binh.call("GET", "/api/v1/media", nil)
		var lib []struct {
			SHA256     string `json:"sha256"`
			Name       string `json:"name"`
			DurationMS int64  `json:"duration_ms"`
			CreatedBy  string `json:"created_by"`
		}
		json.Unmarshal([]byte(body), &lib)
		for _, m := range lib {
			if strings.Contains(m.Name, "Phát trực tiếp") && m.CreatedBy == "an" && code == http.StatusOK && len(lib) == 2 && m.SHA256 != firstMedia {
				sha = m.SHA256
				if m.DurationMS < 3000 {
					t.Errorf("recording %s lasts %d ms; the officer spoke over 4 s", m.Name, m.DurationMS)
				}
			}
		}
	}
	if sha == "" || len(firstMedia) != 64 {
		t.Fatalf("the commune's media library lacks the recordings of the two sessions (the first: %q)", firstMedia)
	}
	ogg := filepath.Join(dir, "recording.opus")
	code, body = binh.call("GET", "/api/v1/media/"+sha+"/audio", nil)
	if code != http.StatusOK {
		t.Fatalf("recording audio: HTTP %d", code)
	}
	os.WriteFile(ogg, []byte(body), 0o600)
	if hz := toneHz(t, ogg); math.Abs(hz-440) > 10 {
		t.Errorf("the recording decodes to %.1f Hz, want 440", hz)
	}

	// The audit log names the session, its start and its end.
	var audit []struct {
		Actor  string `json:"actor"`
		Action string `json:"action"`
		Detail string `json:"detail"`
	}
	ctl.mustCall(t, "GET", "/api/v1/audit", nil, &audit)
	seen := map[string]bool{}
	for _, a := range audit {
		if strings.Contains(a.Detail, session) {
			seen[a.Actor+" "+a.Action] = true
		}
	}
	for _, want := range []string{"an live.start", "an live.stop", "controller live.open", "controller live.end"} {
		if !seen[want] {
			t.Errorf("audit log lacks %q for %s; has %v", want, session, seen)
		}
	}
	// The station is free again.
	if code, body := binh.call("GET", "/api/v1/live", nil); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("after the session: live = HTTP %d %s", code, body)
	}

	// A page of another site cannot open the socket with the officer's
	// cookie (cross-site WebSocket hijacking), and that spends the ticket.
	code, body = binh.call("POST", "/api/v1/live", map[string]string{"zone": "z-center"})
	var tk struct {
		WS string `json:"ws"`
	}
	if json.Unmarshal([]byte(body), &tk); code != http.StatusCreated || tk.WS == "" {
		t.Fatalf("binh's start: HTTP %d %s", code, body)
	}
	wsURL := "ws" + strings.TrimPrefix(ctl.url, "http") + tk.WS
	d := websocket.Dialer{Jar: binh.c.Jar}
	if c, resp, err := d.Dial(wsURL, http.Header{"Origin": {"http://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("socket from a foreign origin: %v %v, want 403", resp, err)
		if c != nil {
			c.Close()
		}
	}
	if c, resp, err := d.Dial(wsURL, http.Header{"Origin": {ctl.url}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("the ticket used again: %v %v, want 403", resp, err)
		if c != nil {
			c.Close()
		}
	}
	if code, body := binh.call("GET", "/api/v1/live", nil); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("after the refused socket the station is still held: HTTP %d %s", code, body)
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
	}
}

// webClient is a logged-in web session (cookie and CSRF token) outside the browser.
type webSession struct {
	t    testing.TB
	url  string
	c    *http.Client
	csrf string
}

func webClient(t testing.TB, url, user, password string) *webSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	w := &webSession{t: t, url: url, c: &http.Client{Jar: jar}}
	code, body := w.call("POST", "/api/v1/login", map[string]string{"username": user, "password": password})
	var r struct {
		CSRF string `json:"csrf"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != http.StatusOK || r.CSRF == "" {
		t.Fatalf("login %s: HTTP %d %s", user, code, body)
	}
	w.csrf = r.CSRF
	return w
}

func (w *webSession) call(method, path string, body any) (int, string) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if w.csrf != "" {
		req.Header.Set("X-CSRF-Token", w.csrf)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// opusToneHz writes 20 ms mono Opus frames into an Ogg Opus file (RFC
// 7845) and returns the tone's frequency as ffmpeg decodes it.
func opusToneHz(t *testing.T, dir string, frames [][]byte) float64 {
	t.Helper()
	var out bytes.Buffer
	seq := uint32(0)
	page := func(flags byte, granule uint64, packet []byte) {
		var lacing []byte
		n := len(packet)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		h := make([]byte, 27)
		copy(h, "OggS")
		h[5] = flags
		binary.LittleEndian.PutUint64(h[6:], granule)
		binary.LittleEndian.PutUint32(h[14:], 0x5241444f) // serial
		binary.LittleEndian.PutUint32(h[18:], seq)
		h[26] = byte(len(lacing))
		pg := append(append(h, lacing...), packet...)
		binary.LittleEndian.PutUint32(pg[22:], oggCRC(pg))
		out.Write(pg)
		seq++
	}
	head := []byte("OpusHead\x01\x01\x00\x00")
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0)
	page(0x02, 0, head)
	page(0, 0, append([]byte("OpusTags"), 0, 0, 0, 0, 0, 0, 0, 0))
	for i, f := range frames {
		flags := byte(0)
		if i == len(frames)-1 {
			flags = 0x04
		}
		page(flags, uint64(i+1)*nodeproto.StreamSamplesPerFrame, f)
	}
	path := filepath.Join(dir, fmt.Sprintf("stream-%d.opus", len(frames)))
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return toneHz(t, path)
}

var oggTable = func() (tab [256]uint32) {
	for i := range tab {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		tab[i] = r
	}
	return
}()

func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc = crc<<8 ^ oggTable[byte(crc>>24)^c]
	}
	return crc
}

// toneHz decodes an audio file with ffmpeg (strictly: a damaged file is an
// error) and counts the zero crossings of its middle.
func toneHz(t *testing.T, path string) float64 {
	t.Helper()
	pcm, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-xerror", "-i", path, "-ac", "1", "-ar", "48000", "-f", "s16le", "pipe:1").Output()
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	n := len(pcm) / 2
	if n < 48000 {
		t.Fatalf("%s decodes to only %d samples", path, n)
	}
	from, to := n/4, 3*n/4 // away from the fade-in and the end
	crossings := 0
	prev := int16(binary.LittleEndian.Uint16(pcm[2*from:]))
	for i := from + 1; i < to; i++ {
		v := int16(binary.LittleEndian.Uint16(pcm[2*i:]))
		if (prev < 0) != (v < 0) {
			crossings++
		}
		prev = v
	}
	return float64(crossings) / 2 / (float64(to-from) / 48000)
}
