// Package media turns whatever officers upload (mp3, m4a, wav, ogg, amr,
// webm...) into the one delivery format, Ogg Opus 48 kHz mono at 32 kbit/s,
// once, with ffmpeg, and keeps the result content-addressed by sha256.
package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Errors an officer can act on; they wrap with detail but keep errors.Is.
var (
	ErrEmpty    = errors.New("the file is empty")
	ErrTooLarge = errors.New("the file is too large")
	ErrNotAudio = errors.New("the file has no audio: upload an mp3, m4a, wav, ogg, amr or webm recording")
	ErrCorrupt  = errors.New("the audio could not be decoded; it may be damaged or cut short")
	ErrTooLong  = errors.New("the recording is too long")
)

// Options of a Store.
type Options struct {
	FFmpeg, FFprobe string        // default: from PATH
	MaxUpload       int64         // default 100 MiB
	MaxDuration     time.Duration // default 2 h
	Logger          *slog.Logger
}

// Store keeps media files in the delivery format under dir/<sha[:2]>/<sha>.opus.
type Store struct {
	dir  string
	opts Options
}

// Info describes an ingested file.
type Info struct {
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	DurationMS   int64  `json:"duration_ms"`
	SourceFormat string `json:"source_format"`
}

// New makes a store in dir.
func New(dir string, opts Options) (*Store, error) {
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	if opts.FFprobe == "" {
		opts.FFprobe = "ffprobe"
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 100 << 20
	}
	if opts.MaxDuration <= 0 {
		opts.MaxDuration = 2 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &Store{dir: dir, opts: opts}, nil
}

// Ingest reads an upload, checks it, transcodes it and stores the result.
func (s *Store) Ingest(ctx context.Context, r io.Reader, filename string) (Info, error) {
	in, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "upload-*")
	if err != nil {
		return Info{}, fmt.Errorf("media: %w", err)
	}
	defer os.Remove(in.Name())
	n, err := io.Copy(in, io.LimitReader(r, s.opts.MaxUpload+1))
	in.Close()
	if err != nil {
		return Info{}, fmt.Errorf("media: reading the upload: %w", err)
	}
	switch {
	case n == 0:
		return Info{}, ErrEmpty
	case n > s.opts.MaxUpload:
		return Info{}, fmt.Errorf("%w: the limit is %d MB", ErrTooLarge, s.opts.MaxUpload>>20)
	}
	format, dur, err := s.probe(ctx, in.Name())
	if err != nil {
		return Info{}, err
	}
	if dur > s.opts.MaxDuration {
		return Info{}, fmt.Errorf("%w: %s, the limit is %s", ErrTooLong, dur.Round(time.Second), s.opts.MaxDuration)
	}
	out := in.Name() + ".opus"
	defer os.Remove(out)
	tctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, s.opts.FFmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-xerror",
		"-i", in.Name(), "-vn", "-map_metadata", "-1", "-map", "0:a:0",
		"-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k", "-application", "voip", "-f", "ogg", "-y", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Info{}, ctx.Err()
		}
		return Info{}, fmt.Errorf("%w (%s)", ErrCorrupt, firstLine(stderr.String(), err))
	}
	// Decode the result once: a source that ffmpeg half-decoded must not pass.
	_, outDur, err := s.probe(ctx, out)
	if err != nil || outDur <= 0 {
		return Info{}, fmt.Errorf("%w (the converted file is unusable)", ErrCorrupt)
	}
	sha, size, err := hashFile(out)
	if err != nil {
		return Info{}, err
	}
	if size > nodeproto.MaxMediaSize {
		return Info{}, fmt.Errorf("%w: converted it is %d MB, nodes take at most %d MB", ErrTooLong, size>>20, nodeproto.MaxMediaSize>>20)
	}
	dst := s.path(sha)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return Info{}, err
	}
	if err := os.Rename(out, dst); err != nil {
		return Info{}, fmt.Errorf("media: %w", err)
	}
	s.opts.Logger.Info("media ingested", "name", filename, "format", format, "sha256", sha, "bytes", size, "duration", outDur)
	return Info{SHA256: sha, Size: size, DurationMS: outDur.Milliseconds(), SourceFormat: format}, nil
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return err.Error()
	}
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	return s
}

// probe asks ffprobe for the container format and the audio duration.
func (s *Store) probe(ctx context.Context, path string) (string, time.Duration, error) {
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(pctx, s.opts.FFprobe, "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", path).Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", 0, fmt.Errorf("media: ffprobe is not installed (run make run or make test, which install ffmpeg): %w", err)
		}
		return "", 0, ErrNotAudio
	}
	return parseProbe(out)
}

// parseProbe reads ffprobe's JSON: the container format and the duration
// of the first audio stream (or of the container).
func parseProbe(out []byte) (string, time.Duration, error) {
	var p struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			Duration  string `json:"duration"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
			Duration   string `json:"duration"`
		} `json:"format"`
	}
	if json.Unmarshal(out, &p) != nil {
		return "", 0, ErrNotAudio
	}
	var dur float64
	audio := false
	for _, st := range p.Streams {
		if st.CodecType == "audio" {
			audio = true
			dur, _ = strconv.ParseFloat(st.Duration, 64)
			break
		}
	}
	if !audio {
		return "", 0, ErrNotAudio
	}
	if dur <= 0 || math.IsNaN(dur) || math.IsInf(dur, 0) {
		dur, _ = strconv.ParseFloat(p.Format.Duration, 64)
	}
	if dur <= 0 || math.IsNaN(dur) || dur > 1e6 {
		return "", 0, fmt.Errorf("%w (no usable duration)", ErrCorrupt)
	}
	return p.Format.FormatName, time.Duration(dur * float64(time.Second)), nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func (s *Store) path(sha string) string { return filepath.Join(s.dir, sha[:2], sha+".opus") }

// Path returns the file of a stored media, validating sha first.
func (s *Store) Path(sha string) (string, error) {
	if !nodeproto.ValidMedia(sha) {
		return "", fmt.Errorf("media: %q is not a sha256", sha)
	}
	p := s.path(sha)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("media %s: %w", sha, err)
	}
	return p, nil
}

// Has reports whether sha is stored.
func (s *Store) Has(sha string) bool {
	_, err := s.Path(sha)
	return err == nil
}

// Delete removes a stored file.
func (s *Store) Delete(sha string) error {
	p, err := s.Path(sha)
	if err != nil {
		return err
	}
	return os.Remove(p)
}

// ReadChunk reads chunk index of a stored file.
func (s *Store) ReadChunk(sha string, index int) (nodeproto.Chunk, error) {
	p, err := s.Path(sha)
	if err != nil {
		return nodeproto.Chunk{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nodeproto.Chunk{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nodeproto.Chunk{}, err
	}
	size := st.Size()
	count := nodeproto.ChunkCount(size)
	if index < 0 || index >= count {
		return nodeproto.Chunk{}, fmt.Errorf("media %s: chunk %d of %d", sha, index, count)
	}
	buf := make([]byte, nodeproto.ChunkLen(size, index))
	if _, err := f.ReadAt(buf, int64(index)*nodeproto.ChunkSize); err != nil {
		return nodeproto.Chunk{}, err
	}
	return nodeproto.Chunk{Media: sha, Index: index, Count: count, Size: size, Data: buf}, nil
}
