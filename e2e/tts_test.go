package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/communeradio/radio/internal/audiotest"
)

// An officer types a notice: saved as a bulletin with source tts, it is
// rendered by espeak-ng (with the commune's pronunciation list) into
// ordinary media, approved, and airs: the node's sink hears speech as
// long as the rendering, and proof of play says it finished.
func TestTTSBulletinAirs(t *testing.T) {
	dir := t.TempDir()
	pulse := audiotest.StartPulse(t, "t1")
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	startNode(t, "t1", ctl.enrol(t, "t1", "z-center", dir, "oto"), pulse.Env("t1"))
	ctl.waitOnline(t, "t1")

	ctl.mustCall(t, "PUT", "/api/v1/tts/lexicon/x-an-phu", []map[string]string{{"word": "An Phú", "spoken": "An Phú thượng"}}, nil)
	text := "UBND xã An Phú thông báo: ngày 07/12/2026, từ 6h30 đến 14:00 cắt điện; lượng mưa 150mm. Liên hệ 0912 345 678."

	// "Nghe thử": the same text, rendered and read back as audio/ogg.
	body, _ := json.Marshal(map[string]string{"text": text, "area": "x-an-phu"})
	req, _ := http.NewRequest("POST", ctl.url+"/api/v1/tts/preview", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ctl.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ogg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	spoken, _ := url.QueryUnescape(resp.Header.Get("X-TTS-Spoken"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/ogg" || !bytes.HasPrefix(ogg, []byte("OggS")) {
		t.Fatalf("preview: HTTP %d %s, %d bytes: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), len(ogg), ogg)
	}
	if !strings.Contains(spoken, "ủy ban nhân dân xã An Phú thượng") || !strings.Contains(spoken, "mi li mét") {
		t.Errorf("preview read %q: want the abbreviation, the lexicon and the unit spelled out", spoken)
	}

	airAt := time.Now().Add(15 * time.Second).Truncate(time.Second)
	var b struct {
		Status string
		Source struct{ Kind, Text, Audio string }
	}
	ctl.mustCall(t, "PUT", "/api/v1/schedules/st-1/bulletins/mat-dien", map[string]any{"title": "Thông báo cắt điện",
		"source": map[string]any{"kind": "tts", "text": text}, "target": map[string]any{"kind": "zone", "ids": []string{"z-center"}},
		"recurrence": map[string]any{"kind": "once", "date": airAt.In(vn).Format("2006-01-02"), "times": []string{airAt.In(vn).Format("15:04:05")}}}, &b)
	if b.Status != "draft" || b.Source.Kind != "tts" || b.Source.Text != text || b.Source.Audio == "" {
		t.Fatalf("saved bulletin %+v: want a draft reading the text, with its rendering", b)
	}
	var m struct {
		DurationMS int64 `json:"duration_ms"`
	}
	ctl.mustCall(t, "GET", "/api/v1/media/"+b.Source.Audio, nil, &m)
	if ms, _ := strconv.ParseInt(resp.Header.Get("X-TTS-Duration-Ms"), 10, 64); ms != m.DurationMS || m.DurationMS < 3000 {
		t.Errorf("rendering lasts %d ms, the preview %d ms: want the same rendering, several seconds", m.DurationMS, ms)
	}
	rec := pulse.Record(t, "t1")
	ctl.mustCall(t, "POST", "/api/v1/schedules/st-1/bulletins/mat-dien/approve", nil, nil)

	occ := occurrenceID("mat-dien", airAt)
	ctl.waitPlays(t, occ, 60*time.Second+time.Duration(m.DurationMS)*time.Millisecond, func(e []playEvent) bool { return count(e, "finished") == 1 })
	s, err := rec.Stop()
	if err != nil {
		t.Fatal(err)
	}
	heard := audiotest.Analyze(s, audiotest.Rate)
	length := time.Duration(heard.Length) * time.Second / audiotest.Rate
	t.Logf("rendered %d ms; heard %v of speech from %v after play_at, RMS %.3f", m.DurationMS, length, rec.TimeOf(heard.Onset).Sub(airAt), heard.RMS)
	rendered := time.Duration(m.DurationMS) * time.Millisecond
	// Speech has quiet edges, so what sounds is a little shorter than the file.
	if !heard.Found || heard.RMS < 0.02 || length < rendered*7/10 || length > rendered+300*time.Millisecond {
		t.Errorf("the sink heard %v of sound (RMS %.3f), want speech for about the rendering's %v", length, heard.RMS, rendered)
	}
}

// A controller whose engine is missing refuses a typed notice when it is
// saved, with a clear message, and saves nothing; the listen button says
// the engine failed (502), not that the officer's text is wrong.
func TestTTSEngineMissingRefusedOnSave(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"), "-tts-command", "no-such-tts-engine {out}")
	ctl.setupCommune(t)
	airAt := time.Now().Add(time.Hour)
	var resp struct {
		Errors []string `json:"errors"`
	}
	code := ctl.call(t, "PUT", "/api/v1/schedules/st-1/bulletins/mat-dien", map[string]any{"title": "Thông báo",
		"source": map[string]any{"kind": "tts", "text": "Xin chào bà con"}, "target": map[string]any{"kind": "commune"},
		"recurrence": map[string]any{"kind": "once", "date": airAt.In(vn).Format("2006-01-02"), "times": []string{airAt.In(vn).Format("15:04")}}}, &resp)
	if code != http.StatusBadRequest || len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0], "text to speech: the text-to-speech engine is not installed: no-such-tts-engine") {
		t.Errorf("saving: HTTP %d %q, want 400 saying the engine is not installed", code, resp.Errors)
	}
	var list []map[string]any
	ctl.mustCall(t, "GET", "/api/v1/schedules/st-1/bulletins", nil, &list)
	if len(list) != 0 {
		t.Errorf("bulletins after a refused save: %v, want none", list)
	}
	var e struct{ Code, Error string }
	if code := ctl.call(t, "POST", "/api/v1/tts/preview", map[string]string{"text": "Xin chào"}, &e); code != http.StatusBadGateway || e.Code != "tts_failed" {
		t.Errorf("preview: HTTP %d %+v, want 502 tts_failed", code, e)
	}
	if code := ctl.call(t, "POST", "/api/v1/tts/preview", map[string]string{"text": " . "}, &e); code != http.StatusBadRequest {
		t.Errorf("preview of no words: HTTP %d %+v, want 400", code, e)
	}

	// A pronunciation list belongs to its commune: an officer of another
	// commune can neither read nor change it, nor preview with it.
	ctl.radioctl(t, "area", "add", "x-binh-an", "Xã Bình An", "-kind", "commune", "-parent", "p-79")
	ctl.mustCall(t, "PUT", "/api/v1/tts/lexicon/x-an-phu", []map[string]string{{"word": "An Phú", "spoken": "An Phú thượng"}}, nil)
	var tok struct{ Secret string }
	ctl.mustCall(t, "POST", "/api/v1/tokens", map[string]string{"name": "officer of Bình An", "role": "officer", "area_id": "x-binh-an"}, &tok)
	other := *ctl
	other.token = tok.Secret
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/tts/lexicon/x-an-phu", nil},
		{"PUT", "/api/v1/tts/lexicon/x-an-phu", []map[string]string{{"word": "An Phú", "spoken": "nói bậy"}}},
		{"POST", "/api/v1/tts/preview", map[string]string{"text": "An Phú", "area": "x-an-phu"}},
	} {
		if code := other.call(t, req.method, req.path, req.body, &e); code != http.StatusForbidden {
			t.Errorf("officer of x-binh-an: %s %s: HTTP %d %+v, want 403", req.method, req.path, code, e)
		}
	}
	other.mustCall(t, "PUT", "/api/v1/tts/lexicon/x-binh-an", []map[string]string{{"word": "Bình An", "spoken": "Bình An hạ"}}, nil)
	var lex []struct{ Word, Spoken string }
	ctl.mustCall(t, "GET", "/api/v1/tts/lexicon/x-an-phu", nil, &lex)
	if len(lex) != 1 || lex[0].Spoken != "An Phú thượng" {
		t.Errorf("x-an-phu's list after the other commune's attempts: %+v", lex)
	}
}

// In the web app, an officer chooses "Đọc văn bản", types a notice,
// listens to it ("Nghe thử" plays the rendering in the page) and saves it
// as a draft bulletin that reads that text.
func TestWebTTSForm(t *testing.T) {
	chromium, _, ctl := webCommune(t)
	pw := ctl.createUser(t, "can.bo.mai", "Lê Thị Mai", "officer", "x-an-phu")
	b := newBrowser(t, chromium, ctl.url)
	b.login("can.bo.mai", pw)
	b.open("programme")
	b.wait("#bulletin-new", time.Minute)
	b.do(chromedp.Click(chromedp.CSS("#bulletin-new")))
	b.wait("#bulletin-form", time.Minute)
	if b.visible("#f-tts-text") {
		t.Error("the text box shows before Đọc văn bản is chosen")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#f-title"), "Thông báo tiêm chủng"))
	b.setSelect("#f-media", "__tts")
	if !b.visible("#f-tts-text") || !strings.Contains(b.text("#f-tts-listen"), "Nghe thử") {
		t.Fatal("choosing Đọc văn bản shows no text box with a Nghe thử button")
	}
	text := "UBND xã An Phú thông báo: ngày 07/12/2026 lúc 7h30 tiêm chủng tại trạm y tế."
	b.do(chromedp.SetValue(chromedp.CSS("#f-tts-text"), text), chromedp.Click(chromedp.CSS("#f-tts-listen")))
	b.wait("#f-tts-audio:not([hidden])", time.Minute)
	secs := b.evalAsync(`(async () => { const a = document.getElementById('f-tts-audio');
		if (!(a.duration > 0)) await new Promise((ok) => a.addEventListener('loadedmetadata', ok, { once: true }));
		return String(a.duration); })()`)
	if d, err := strconv.ParseFloat(secs, 64); err != nil || d < 2 {
		t.Errorf("the listen button's audio lasts %q s, want the spoken notice (several seconds)", secs)
	}
	b.shot("tts-form-listen")
	b.do(chromedp.Click(chromedp.CSS("#f-target-commune")))
	b.setSelect("#f-rec", "once")
	tomorrow := time.Now().In(vn).AddDate(0, 0, 1)
	b.do(chromedp.SetValue(chromedp.CSS("#f-date"), tomorrow.Format("2006-01-02")),
		chromedp.SetValue(chromedp.CSS("#f-times"), "08:00"),
		chromedp.Click(chromedp.CSS("#f-save")))
	b.waitGone("#bulletin-form", time.Minute)
	var list []struct {
		ID, Status string
		Source     struct{ Kind, Text, Audio string }
	}
	ctl.mustCall(t, "GET", "/api/v1/schedules/st-1/bulletins", nil, &list)
	if len(list) != 1 || list[0].Source.Kind != "tts" || list[0].Source.Text != text || list[0].Source.Audio == "" || list[0].Status != "draft" {
		t.Errorf("saved from the form: %+v, want one draft reading the text, rendered", list)
	}
	b.checkConsole()
}
