package programme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
	"github.com/communeradio/radio/controller/internal/tts"
)

// ConflictHorizon is how far ahead a programme is checked for clashes.
const ConflictHorizon = 35 * 24 * time.Hour

// prepare parses a programme and checks it against the registry: the
// station, zones and nodes exist, media is in the store (file sources are
// ingested, tts sources rendered), and no two bulletins of equal priority
// overlap. Bulletins the same as in old (the programme as it was) keep
// what was found for them then: a save costs one parse and the checks of
// what changed, not a new look at every recording of the commune.
//
// sc is the parse of the new text, which prepare completes in place;
// skipConflicts: the caller has looked for clashes already (checkDraft).
func (s *Store) prepare(ctx context.Context, p *parsed, old *snapshot, skipConflicts bool) (*parsed, error) {
	sc := p.sc
	path := sc.File
	var list schedule.ErrorList
	bad := func(it *schedule.Item, format string, a ...any) {
		list = append(list, &schedule.Error{Pos: it.Pos, Msg: fmt.Sprintf(format, a...)})
	}
	st, err := s.Registry.GetStation(ctx, sc.Station)
	if err != nil {
		return nil, schedule.ErrorList{{Pos: schedule.Pos{File: path, Line: 1}, Msg: fmt.Sprintf("station %q is not registered: add it first (radioctl station add)", sc.Station)}}
	}
	var was *parsed
	if old != nil && old.sc != nil && old.sc.Station == sc.Station {
		was = old.parsed
	}
	targets := map[string]error{} // target -> what resolving it said, once per save
	for i := range sc.Items {
		it := &sc.Items[i]
		if n := len([]rune(it.Title)); n > MaxTitle {
			bad(it, "title: at most %d characters (this one has %d): shorten it", MaxTitle, n)
		}
		same := was.same(it, p.prints[it.ID])
		if same && it.Source.Kind == schedule.SourceTTS {
			it.Source.Media = was.item(it.ID).Source.Media // rendered when it was saved
		}
		switch it.Source.Kind {
		case schedule.SourceMedia:
			if !same {
				if _, err := s.Registry.GetMedia(ctx, it.Source.Media); err != nil {
					bad(it, "media %s is not in the media library: upload the recording first", it.Source.Media)
				}
			}
		case schedule.SourceFile:
			sha, err := s.ingest(ctx, it.Source.Abs)
			if err != nil {
				bad(it, "recording %s: %v", it.Source.Path, err)
				continue
			}
			it.Source.Media = sha
		case schedule.SourceTTS:
			if same && it.Source.Media != "" {
				break
			}
			sha, err := s.Speak(ctx, st.AreaID, it.Source.Text)
			if err != nil {
				bad(it, "text to speech: %v", err)
				continue
			}
			it.Source.Media = sha
		case schedule.SourceRelay:
			if !same {
				if msg := s.checkRelaySource(ctx, it.Source.URL); msg != "" {
					bad(it, "%s", msg)
				}
			}
		}
		key := it.Target.String()
		err, seen := targets[key]
		if !seen {
			_, err = s.Resolve(ctx, sc.Station, it.Target)
			targets[key] = err
		}
		if err != nil {
			bad(it, "target %s: %v", it.Target, err)
		}
	}
	if len(list) > 0 {
		return nil, list
	}
	if skipConflicts {
		return p, nil
	}
	now := s.now()
	for _, c := range sc.Conflicts(now, now.Add(ConflictHorizon), s.Durations(ctx)) {
		pos := c.A.Item.Pos
		list = append(list, &schedule.Error{Pos: pos, Msg: strings.TrimPrefix(c.String(), pos.String()+": ")})
	}
	if len(list) > 0 {
		return nil, list
	}
	return p, nil
}

// prepareSrc parses src and prepares it.
func (s *Store) prepareSrc(ctx context.Context, path string, src []byte, old *snapshot) (*parsed, error) {
	sc, err := schedule.Parse(path, src)
	if err != nil {
		return nil, err
	}
	return s.prepare(ctx, index(sc), old, false)
}

// ingest puts a `source file` recording in the media library. ffmpeg runs
// once per recording: the same file (path, size and time), or the same
// bytes under another name, is found again by its identity or content.
func (s *Store) ingest(ctx context.Context, path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s\x00%d\x00%d", path, fi.Size(), fi.ModTime().UnixNano())
	if sha, ok := s.ingested.Load(id); ok && s.Media.Has(sha.(string)) {
		return sha.(string), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	content := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if sha, ok := s.ingested.Load(content); ok && s.Media.Has(sha.(string)) {
		s.ingested.Store(id, sha)
		return sha.(string), nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	info, err := s.Media.Ingest(ctx, f, filepath.Base(path))
	if err != nil {
		return "", err
	}
	err = s.Registry.PutMedia(ctx, registry.Media{SHA256: info.SHA256, Name: filepath.Base(path), SourceFormat: info.SourceFormat,
		Size: info.Size, DurationMS: info.DurationMS, CreatedAt: s.now(), CreatedBy: "schedule"})
	if err != nil {
		return "", err
	}
	s.ingested.Store(id, info.SHA256)
	s.ingested.Store(content, info.SHA256)
	return info.SHA256, nil
}

// Speak renders a typed notice with the commune's pronunciation list and
// puts the audio in the commune's media library, as an upload would be:
// from then on it is ordinary media (approved, scheduled, replayed and
// reported like a recording). The same text is rendered once.
func (s *Store) Speak(ctx context.Context, area, text string) (string, error) {
	r, err := s.Render(ctx, area, text)
	if err != nil {
		return "", err
	}
	err = s.Registry.PutMedia(ctx, registry.Media{SHA256: r.SHA256, Name: "tts: " + excerpt(text, 60), SourceFormat: "tts " + r.Voice,
		Size: r.Size, DurationMS: r.DurationMS, CreatedAt: s.now(), CreatedBy: "tts"})
	if err == nil && area != "" {
		err = s.Registry.LinkMedia(ctx, r.SHA256, area, "tts", s.now())
	}
	if err != nil {
		return "", fmt.Errorf("tts: storing the rendering: %w", err)
	}
	return r.SHA256, nil
}

// Render normalises text with the area's pronunciation list and renders it.
func (s *Store) Render(ctx context.Context, area, text string) (tts.Rendered, error) {
	if s.TTS == nil {
		return tts.Rendered{}, fmt.Errorf("%w: this controller has no text-to-speech engine configured", tts.ErrEngineMissing)
	}
	lex := tts.Lexicon{}
	if area != "" {
		entries, err := s.Registry.TTSLexicon(ctx, area)
		if err != nil {
			return tts.Rendered{}, err
		}
		for _, e := range entries {
			lex[e.Word] = e.Spoken
		}
	}
	return s.TTS.Render(ctx, text, lex)
}

func excerpt(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Durations gives the length of an item's recording, each recording
// looked up once per call of Durations.
func (s *Store) Durations(ctx context.Context) func(schedule.Item) time.Duration {
	seen := map[string]time.Duration{}
	return func(it schedule.Item) time.Duration {
		sha := it.Source.Media
		if sha == "" {
			return 0
		}
		d, ok := seen[sha]
		if !ok {
			if m, found := s.MediaInfo(ctx, sha); found {
				d = m.Duration
			}
			seen[sha] = d
		}
		return d
	}
}

// MediaInfo is the scheduler's view of the media library.
func (s *Store) MediaInfo(ctx context.Context, sha string) (scheduler.Media, bool) {
	m, err := s.Registry.GetMedia(ctx, sha)
	if err != nil || !s.Media.Has(sha) {
		return scheduler.Media{}, false
	}
	return scheduler.Media{Size: m.Size, Duration: time.Duration(m.DurationMS) * time.Millisecond}, true
}

// checkRelaySource says what is wrong with a programme's `source relay`
// ("" if nothing): a channel name must be on the administrator's list, an
// address must be one ffmpeg relays. Whether the upstream answers is only
// known when it airs (a dead one is recorded as failed then).
func (s *Store) checkRelaySource(ctx context.Context, src string) string {
	if strings.Contains(src, "://") {
		if err := registry.CheckRelayURL(src); err != nil {
			return err.Error()
		}
		return ""
	}
	if _, err := s.Registry.GetRelayChannel(ctx, src); err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return fmt.Sprintf("relay channel %q is not on the channel list (Kênh tiếp sóng): pick one of GET /api/v1/channels, ask the administrator to add it, or give the stream's address", src)
		}
		return err.Error()
	}
	return ""
}
