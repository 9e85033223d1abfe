// Package tts reads typed notices aloud: it rewrites Vietnamese text as
// people say it (Normalize), has a pluggable engine speak it (espeak-ng by
// default, offline; a command such as a neural voice; or an HTTP service),
// and ingests the audio into the media store, so a typed notice becomes
// ordinary media that is approved, scheduled, replayed and reported like
// a recording. The same text in the same voice is rendered once.
package tts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/communeradio/radio/controller/internal/media"
)

// MaxText bounds a notice (in characters): ten minutes of speech.
const MaxText = 10000

// Service renders text into stored media. Its methods are safe for
// concurrent use.
type Service struct {
	Engine   Engine       // default Espeak{}
	Media    *media.Store // where the audio goes
	CacheDir string       // (normalised text, voice) -> media; default: none kept across restarts
	Logger   *slog.Logger // default slog.Default()

	mu    sync.Mutex // one synthesis at a time: the controller's cores are for nodes
	cache map[string]Rendered
}

// Rendered is a notice turned into media.
type Rendered struct {
	media.Info
	Spoken string `json:"spoken"` // the text as it was read, after normalisation
	Voice  string `json:"voice"`
	Cached bool   `json:"-"`
}

// Render normalises text with the commune's lexicon, speaks it and stores
// the audio in the media store; the same spoken text in the same voice is
// found in the cache and not rendered again.
func (s *Service) Render(ctx context.Context, text string, lex Lexicon) (Rendered, error) {
	if utf8.RuneCountInString(text) > MaxText {
		return Rendered{}, fmt.Errorf("%w: at most %d characters", ErrTextTooLong, MaxText)
	}
	spoken := Normalize(text, lex)
	if strings.TrimSpace(strings.Trim(spoken, ".,;:!?-")) == "" {
		return Rendered{}, ErrEmptyText
	}
	eng := s.engine()
	voice := eng.Voice()
	// Case does not change what is said: "Ủy ban" and "ủy ban" are one rendering.
	h := sha256.Sum256([]byte(voice + "\x00" + strings.ToLower(spoken)))
	key := hex.EncodeToString(h[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.lookup(key); ok {
		r.Cached = true
		return r, nil
	}
	audio, err := eng.Synthesize(ctx, spoken)
	if err != nil {
		return Rendered{}, err
	}
	info, err := s.Media.Ingest(ctx, bytes.NewReader(audio), "tts "+voice)
	if err != nil {
		return Rendered{}, fmt.Errorf("%w: its audio could not be converted: %v", ErrEngineFailed, err)
	}
	r := Rendered{Info: info, Spoken: spoken, Voice: voice}
	s.store(key, r)
	s.logger().Info("tts rendered", "voice", voice, "sha256", info.SHA256, "duration_ms", info.DurationMS, "chars", utf8.RuneCountInString(spoken))
	return r, nil
}

func (s *Service) engine() Engine {
	if s.Engine == nil {
		return Espeak{}
	}
	return s.Engine
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// lookup finds a rendering whose audio is still in the store.
func (s *Service) lookup(key string) (Rendered, bool) {
	r, ok := s.cache[key]
	if !ok && s.CacheDir != "" {
		if b, err := os.ReadFile(filepath.Join(s.CacheDir, key+".json")); err == nil && json.Unmarshal(b, &r) == nil {
			ok = true
		}
	}
	if !ok || !s.Media.Has(r.SHA256) {
		return Rendered{}, false
	}
	return r, true
}

func (s *Service) store(key string, r Rendered) {
	if s.cache == nil {
		s.cache = map[string]Rendered{}
	}
	s.cache[key] = r
	if s.CacheDir == "" {
		return
	}
	b, _ := json.Marshal(r)
	tmp := filepath.Join(s.CacheDir, key+".tmp")
	err := os.MkdirAll(s.CacheDir, 0o750)
	if err == nil {
		err = os.WriteFile(tmp, b, 0o640)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.CacheDir, key+".json"))
	}
	if err != nil {
		// Only the cache is lost: the text is rendered again next time.
		s.logger().Warn("tts: cache not written", "err", err)
	}
}
