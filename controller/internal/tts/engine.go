package tts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Errors of the engines, shown to the officer (wrapped with detail).
var (
	ErrEngineMissing = errors.New("the text-to-speech engine is not installed")
	ErrEngineFailed  = errors.New("the text-to-speech engine failed")
	ErrEmptyText     = errors.New("there is no text to read")
	ErrTextTooLong   = errors.New("the text is too long to read")
)

// DefaultTimeout bounds one synthesis when an engine sets none: espeak-ng
// reads a page in well under a second, a cloud service answers in seconds.
const DefaultTimeout = 60 * time.Second

// maxAudio bounds what an engine may hand back (an hour of 16-bit 22 kHz
// WAV is 160 MB; a notice is minutes).
const maxAudio = 200 << 20

// An Engine turns normalised text into audio in any format ffmpeg reads.
type Engine interface {
	// Voice names the engine and its voice; it is part of the cache key,
	// so a new voice renders the same text again.
	Voice() string
	Synthesize(ctx context.Context, text string) ([]byte, error)
}

// Espeak is Debian's espeak-ng: offline, robotic, always there. The zero
// value uses espeak-ng from PATH with the Vietnamese voice.
type Espeak struct {
	Binary  string        // default "espeak-ng"
	VoiceID string        // default "vi"
	Speed   int           // words a minute; 0: espeak's default (175)
	Timeout time.Duration // default DefaultTimeout
}

func (e Espeak) Voice() string {
	return fmt.Sprintf("espeak-ng:%s:%d", or(e.VoiceID, "vi"), e.Speed)
}

// Synthesize runs espeak-ng with the text on its standard input (never as
// an argument, where a leading "-" would be an option).
func (e Espeak) Synthesize(ctx context.Context, text string) ([]byte, error) {
	args := []string{"-v", or(e.VoiceID, "vi"), "-b", "1", "--stdin", "-w", "{out}"}
	if e.Speed > 0 {
		args = append(args, "-s", fmt.Sprint(e.Speed))
	}
	return Command{Args: append([]string{or(e.Binary, "espeak-ng")}, args...), Timeout: e.Timeout}.Synthesize(ctx, text)
}

// Command runs a program the province installs (a neural Vietnamese
// voice such as piper), without a shell. In Args, "{out}" is replaced by
// the file the program must write, "{text}" by a file holding the UTF-8
// text, and a "<" followed by an argument sends that file to the standard
// input; without "{text}" the text goes to the standard input. Without
// "{out}" the audio is read from the standard output. For example:
//
//	piper --model /opt/voices/vi.onnx --output_file {out} < {text}
type Command struct {
	Args    []string
	Name    string        // in the cache key and messages; default Args[0]
	Timeout time.Duration // default DefaultTimeout
}

func (c Command) Voice() string { return "command:" + strings.Join(c.Args, " ") }

func (c Command) Synthesize(ctx context.Context, text string) ([]byte, error) {
	if len(c.Args) == 0 {
		return nil, fmt.Errorf("%w: no command configured", ErrEngineMissing)
	}
	name := or(c.Name, filepath.Base(c.Args[0]))
	dir, err := os.MkdirTemp("", "tts-*")
	if err != nil {
		return nil, fmt.Errorf("tts: %w", err)
	}
	defer os.RemoveAll(dir)
	textFile, outFile := filepath.Join(dir, "text.txt"), filepath.Join(dir, "out.wav")
	if err := os.WriteFile(textFile, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("tts: %w", err)
	}
	var args []string
	stdin, wantOut, usesText := "", false, false
	for i := 1; i < len(c.Args); i++ {
		a := c.Args[i]
		if a == "<" && i+1 < len(c.Args) {
			stdin = strings.ReplaceAll(c.Args[i+1], "{text}", textFile)
			usesText = true
			i++
			continue
		}
		if strings.Contains(a, "{text}") {
			usesText = true
		}
		if strings.Contains(a, "{out}") {
			wantOut = true
		}
		args = append(args, strings.NewReplacer("{text}", textFile, "{out}", outFile).Replace(a))
	}
	tctx, cancel := context.WithTimeout(ctx, or(c.Timeout, DefaultTimeout))
	defer cancel()
	cmd := exec.CommandContext(tctx, c.Args[0], args...)
	switch {
	case stdin != "":
		f, err := os.Open(stdin)
		if err != nil {
			return nil, fmt.Errorf("tts: %s: %w", name, err)
		}
		defer f.Close()
		cmd.Stdin = f
	case !usesText:
		cmd.Stdin = strings.NewReader(text)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limited{w: &stdout, n: maxAudio}, &limited{w: &stderr, n: 4096}
	err = cmd.Run()
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("%w: %s (%v)", ErrEngineMissing, c.Args[0], err)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("tts: %s: %w", name, ctx.Err())
	case tctx.Err() != nil:
		return nil, fmt.Errorf("%w: %s took longer than %s", ErrEngineFailed, name, or(c.Timeout, DefaultTimeout))
	default:
		return nil, fmt.Errorf("%w: %s: %v: %s", ErrEngineFailed, name, err, firstLine(stderr.String()))
	}
	audio := stdout.Bytes()
	if wantOut {
		if audio, err = readLimited(outFile); err != nil {
			return nil, fmt.Errorf("%w: %s wrote no audio: %v", ErrEngineFailed, name, err)
		}
	}
	if len(audio) == 0 {
		return nil, fmt.Errorf("%w: %s gave no audio", ErrEngineFailed, name)
	}
	return audio, nil
}

// HTTP posts the text to a speech service and takes the audio it answers
// with (the Vietnamese cloud voices work this way). The body is the text
// as text/plain; Header carries what the service needs (an API key).
type HTTP struct {
	URL     string
	Header  http.Header
	Name    string        // voice name in the cache key; default URL
	Client  *http.Client  // default http.DefaultClient
	Timeout time.Duration // default DefaultTimeout
}

func (h HTTP) Voice() string { return "http:" + or(h.Name, h.URL) }

func (h HTTP) Synthesize(ctx context.Context, text string) ([]byte, error) {
	if h.URL == "" {
		return nil, fmt.Errorf("%w: no URL configured", ErrEngineMissing)
	}
	tctx, cancel := context.WithTimeout(ctx, or(h.Timeout, DefaultTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, h.URL, strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEngineMissing, err)
	}
	for k, v := range h.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("tts: %w", ctx.Err())
		}
		if tctx.Err() != nil {
			return nil, fmt.Errorf("%w: the speech service did not answer within %s", ErrEngineFailed, or(h.Timeout, DefaultTimeout))
		}
		return nil, fmt.Errorf("%w: %v", ErrEngineFailed, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAudio+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: reading the speech service's answer: %v", ErrEngineFailed, err)
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("%w: the speech service answered %s: %s", ErrEngineFailed, resp.Status, firstLine(string(body)))
	case len(body) > maxAudio:
		return nil, fmt.Errorf("%w: the speech service's answer is larger than %d MB", ErrEngineFailed, maxAudio>>20)
	case len(body) == 0:
		return nil, fmt.Errorf("%w: the speech service gave no audio", ErrEngineFailed)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("%w: the speech service answered %s, not audio: %s", ErrEngineFailed, ct, firstLine(string(body)))
	}
	return body, nil
}

// limited writes at most n bytes to w and drops the rest, so a runaway
// program cannot fill the controller's memory.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if k := min(len(p), l.n); k > 0 {
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAudio+1))
	if len(b) > maxAudio {
		return nil, fmt.Errorf("larger than %d MB", maxAudio>>20)
	}
	return b, err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		return "no message"
	}
	return s
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
