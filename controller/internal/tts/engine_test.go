package tts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
)

func needEspeak(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed: run scripts/install-deps.sh test")
	}
}

// counting counts the syntheses of an engine (a fake only around a real one).
type counting struct {
	Engine
	n atomic.Int32
}

func (c *counting) Synthesize(ctx context.Context, text string) ([]byte, error) {
	c.n.Add(1)
	return c.Engine.Synthesize(ctx, text)
}

// TestRenderEspeakCached: espeak-ng's Vietnamese voice becomes stored Ogg
// Opus of a plausible length; the same text (also written otherwise but
// read the same) is rendered once, across a restart through CacheDir.
func TestRenderEspeakCached(t *testing.T) {
	needEspeak(t)
	store, err := media.New(t.TempDir(), media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := &counting{Engine: Espeak{}}
	cache := t.TempDir()
	s := &Service{Engine: eng, Media: store, CacheDir: cache}
	ctx := context.Background()
	r, err := s.Render(ctx, "UBND xã thông báo: ngày 07/12/2026 cắt điện từ 6h30 đến 14:00.", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !store.Has(r.SHA256) || r.DurationMS < 2000 || r.DurationMS > 30000 {
		t.Fatalf("rendered %+v: want stored audio of a few seconds", r)
	}
	if !strings.Contains(r.Spoken, "ủy ban nhân dân") {
		t.Errorf("spoken %q: not normalised", r.Spoken)
	}
	again, err := s.Render(ctx, "Ủy ban nhân dân xã thông báo: ngày 07/12/2026 cắt điện từ 6h30 đến 14h00.", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.SHA256 != r.SHA256 || !again.Cached || eng.n.Load() != 1 {
		t.Errorf("same spoken text: got %s cached=%v after %d syntheses, want %s from the cache after 1", again.SHA256, again.Cached, eng.n.Load(), r.SHA256)
	}
	restarted := &Service{Engine: eng, Media: store, CacheDir: cache}
	if r2, err := restarted.Render(ctx, "UBND xã thông báo: ngày 07/12/2026 cắt điện từ 6h30 đến 14:00.", nil); err != nil || r2.SHA256 != r.SHA256 || eng.n.Load() != 1 {
		t.Errorf("after a restart: %v, %s, %d syntheses", err, r2.SHA256, eng.n.Load())
	}
	other, err := s.Render(ctx, "Xin chào bà con.", nil)
	if err != nil || other.SHA256 == r.SHA256 || eng.n.Load() != 2 {
		t.Errorf("other text: %v, %s, %d syntheses", err, other.SHA256, eng.n.Load())
	}
	if _, err := s.Render(ctx, " ... ", nil); !errors.Is(err, ErrEmptyText) {
		t.Errorf("no words: got %v, want ErrEmptyText", err)
	}
	if _, err := s.Render(ctx, strings.Repeat("a ", MaxText), nil); !errors.Is(err, ErrTextTooLong) {
		t.Errorf("too long: got %v, want ErrTextTooLong", err)
	}
}

// TestCommandEngine runs a command template without a shell: the text as
// a file, on stdin through "<", audio from {out}; and says clearly when
// the program is missing, fails or hangs.
func TestCommandEngine(t *testing.T) {
	needEspeak(t)
	ctx := context.Background()
	for name, args := range map[string][]string{
		"text file":  {"espeak-ng", "-v", "vi", "-w", "{out}", "-f", "{text}"},
		"redirected": {"espeak-ng", "-v", "vi", "-b", "1", "-w", "{out}", "--stdin", "<", "{text}"},
		"stdout":     {"espeak-ng", "-v", "vi", "-b", "1", "--stdout"},
	} {
		t.Run(name, func(t *testing.T) {
			audio, err := Command{Args: args}.Synthesize(ctx, "xin chào bà con; -v en")
			if err != nil {
				t.Fatal(err)
			}
			if len(audio) < 10000 || string(audio[:4]) != "RIFF" {
				t.Errorf("got %d bytes starting %q, want a WAV file", len(audio), audio[:min(4, len(audio))])
			}
		})
	}
	for name, tc := range map[string]struct {
		cmd  Command
		want error
		msg  string
	}{
		"missing": {Command{Args: []string{"no-such-tts-engine", "{out}"}}, ErrEngineMissing, "no-such-tts-engine"},
		"fails":   {Command{Args: []string{"espeak-ng", "-v", "nosuchvoice", "--stdin", "-w", "{out}"}}, ErrEngineFailed, "voice does not exist"},
		"silent":  {Command{Args: []string{"true", "{out}"}}, ErrEngineFailed, "wrote no audio"},
		"hangs":   {Command{Args: []string{"sleep", "30"}, Timeout: 200 * time.Millisecond}, ErrEngineFailed, "took longer than 200ms"},
		"empty":   {Command{}, ErrEngineMissing, "no command"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.cmd.Synthesize(ctx, "xin chào")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestHTTPEngine posts the text to a service and takes its audio; an
// error status, a non-audio answer and a service that does not answer in
// time are clear errors.
func TestHTTPEngine(t *testing.T) {
	needEspeak(t)
	wav, err := Espeak{}.Synthesize(context.Background(), "xin chào")
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b) + "|" + r.Header.Get("X-Api-Key"))
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "audio/wav")
			w.Write(wav)
		case "/quota":
			http.Error(w, "quota exceeded for this key", http.StatusTooManyRequests)
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>login</html>"))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	audio, err := HTTP{URL: srv.URL + "/ok", Header: http.Header{"X-Api-Key": {"k1"}}}.Synthesize(ctx, "hai mươi mốt")
	if err != nil || len(audio) != len(wav) {
		t.Fatalf("got %d bytes, %v; want the service's %d", len(audio), err, len(wav))
	}
	if v := got.Load(); v != "hai mươi mốt|k1" {
		t.Errorf("the service received %q, want the text and the key", v)
	}
	for path, msg := range map[string]string{
		"/quota": "429 Too Many Requests: quota exceeded",
		"/html":  "text/html, not audio",
		"/slow":  "did not answer within 200ms",
	} {
		_, err := HTTP{URL: srv.URL + path, Timeout: 200 * time.Millisecond}.Synthesize(ctx, "xin chào")
		if !errors.Is(err, ErrEngineFailed) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: got %v, want ErrEngineFailed saying %q", path, err, msg)
		}
	}
}

// TestCommandTextIsData: whatever the officer types (shell syntax, a
// placeholder, an option) reaches the program as data, never as its
// arguments or through a shell.
func TestCommandTextIsData(t *testing.T) {
	text := `$(touch /tmp/pwned) {out} -v en; rm -rf / "` + "\n`id`"
	for name, args := range map[string][]string{
		"file":  {"cat", "{text}"},
		"stdin": {"cat"},
	} {
		got, err := Command{Args: args}.Synthesize(context.Background(), text)
		if err != nil || string(got) != text {
			t.Errorf("%s: the program got %q (%v), want the text verbatim", name, got, err)
		}
	}
}
