// Package media turns whatever officers upload (mp3, m4a, wav, ogg, amr,
// webm...) into the one delivery format, Ogg Opus 48 kHz mono at 32 kbit/s,
// once, with ffmpeg, and keeps the result content-addressed by sha256 under
// dir/<sha[:2]>/<sha>.opus, from where it is pushed to nodes in chunks.
//
// Every upload is brought to one loudness on the way (EBU R128, ffmpeg's
// loudnorm in two passes: measure, then correct): integrated loudness
// TargetLUFS, true peak at most TargetTP, loudness range TargetLRA. A
// bulletin recorded on a phone held at arm's length then airs as loud as
// one from a studio, and one turned up too far no longer clips. The
// original upload is not kept: nodes only ever need the delivery file,
// keeping both would double the store for every commune, and an officer
// who wants the original still has it where they recorded it.
package media

import (
	"bufio"
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

// Errors an officer can act on. Ingest wraps them with detail (sizes,
// durations), so compare with errors.Is; the messages are meant to be shown.
var (
	ErrEmpty    = errors.New("the file is empty")
	ErrTooLarge = errors.New("the file is too large")
	ErrNotAudio = errors.New("the file has no audio: upload an mp3, m4a, wav, ogg, amr or webm recording")
	ErrCorrupt  = errors.New("the audio could not be decoded; it may be damaged or cut short")
	ErrTooLong  = errors.New("the recording is too long")
)

// The loudness every upload is normalised to (EBU R128 / ITU-R BS.1770):
// -16 LUFS integrated is the level of speech content on phones and
// streaming services (AES TD1004), loud enough for a horn loudspeaker
// without riding the amplifier; -1.5 dBTP leaves headroom for the Opus
// encoder's overshoot; 11 LU keeps the natural range of a voice.
const (
	TargetLUFS = -16.0
	TargetTP   = -1.5
	TargetLRA  = 11.0
)

// silentLUFS: below this an upload is silence (or nearly), and raising it
// to the target would only raise noise; it is stored as it is.
const silentLUFS = -70.0

// Stage names of an ingest's progress.
const (
	StageMeasure   = "measure"   // reading the whole upload to measure its loudness
	StageTranscode = "transcode" // correcting the loudness and encoding
)

// Progress is told how far an ingest has come: the stage and the fraction
// of it done (0-1; -1 when the upload does not say how long it is).
type Progress func(stage string, done float64)

// Time limits of the external tools. A file that keeps ffprobe busy for a
// minute is not one we want; transcoding runs at tens of times real time,
// so ten minutes covers the longest allowed recording on a slow machine.
const (
	probeTimeout     = 60 * time.Second
	transcodeTimeout = 10 * time.Minute
	staleTemp        = time.Hour // temp files older than this are left over from a crash
)

// Options of a Store. The zero value is usable.
type Options struct {
	FFmpeg, FFprobe string        // default: "ffmpeg" and "ffprobe" from PATH
	MaxUpload       int64         // bytes; default 100 MiB
	MaxDuration     time.Duration // default 2 h
	Logger          *slog.Logger  // default slog.Default()
}

// Store keeps media files in the delivery format under dir/<sha[:2]>/<sha>.opus.
// Its methods are safe for concurrent use.
type Store struct {
	dir  string
	tmp  string
	opts Options
	log  *slog.Logger
}

// Info describes an ingested file.
type Info struct {
	SHA256       string `json:"sha256"`        // of the stored Ogg Opus file, lowercase hex
	Size         int64  `json:"size"`          // of the stored file, bytes
	DurationMS   int64  `json:"duration_ms"`   // of the stored file
	SourceFormat string `json:"source_format"` // ffprobe's container name of the upload
	// InputLUFS is the upload's integrated loudness before normalisation
	// (0: silent or too short to measure, stored unchanged).
	InputLUFS float64 `json:"input_lufs,omitempty"`
}

// New makes a store in dir, creating it if needed. Temporary files left
// behind by a crash are removed.
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
	s := &Store{dir: dir, tmp: filepath.Join(dir, "tmp"), opts: opts, log: opts.Logger}
	if err := os.MkdirAll(s.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	s.removeStale()
	return s, nil
}

func (s *Store) removeStale() {
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
}

// Ingest reads an upload, checks it, transcodes it to the delivery format
// and stores the result. The same content uploaded twice gives the same
// Info and one file. Nothing is left in the store when it fails. filename
// is only used in the log.
func (s *Store) Ingest(ctx context.Context, r io.Reader, filename string) (Info, error) {
	return s.IngestProgress(ctx, r, filename, nil)
}

// Limits are the store's limits on uploads, as the upload form states them.
func (s *Store) Limits() (maxUpload int64, maxDuration time.Duration) {
	return s.opts.MaxUpload, s.opts.MaxDuration
}

// IngestProgress is Ingest telling progress how far it has come once the
// upload is received (nil: nobody asks).
func (s *Store) IngestProgress(ctx context.Context, r io.Reader, filename string, progress Progress) (Info, error) {
	if progress == nil {
		progress = func(string, float64) {}
	}
	in, err := s.receive(r)
	if in != "" {
		defer os.Remove(in)
	}
	if err != nil {
		return Info{}, err
	}
	src, err := s.probe(ctx, in)
	if err != nil {
		return Info{}, err
	}
	if src.duration > s.opts.MaxDuration {
		return Info{}, fmt.Errorf("%w: %s, the limit is %s", ErrTooLong, src.duration.Round(time.Second), s.opts.MaxDuration)
	}
	lufs, err := s.measure(ctx, in, src.duration, progress)
	if err != nil {
		return Info{}, err
	}
	out := in + ".opus"
	defer os.Remove(out)
	if err := s.transcode(ctx, in, out, lufs, src.duration, progress); err != nil {
		return Info{}, err
	}
	res, err := s.probe(ctx, out)
	if err != nil || res.duration <= 0 {
		if ctx.Err() != nil {
			return Info{}, fmt.Errorf("media: %w", ctx.Err())
		}
		return Info{}, fmt.Errorf("%w (nothing could be converted)", ErrCorrupt)
	}
	if res.duration > s.opts.MaxDuration {
		// The source did not say how long it is (a browser recording), and
		// the transcode stopped at the limit.
		return Info{}, fmt.Errorf("%w: the limit is %s", ErrTooLong, s.opts.MaxDuration)
	}
	if short := src.duration - res.duration; src.duration > 0 && short > time.Second && short > src.duration/20 {
		// The header promised more than the data held: an upload cut short.
		return Info{}, fmt.Errorf("%w: only %s of %s could be decoded", ErrCorrupt,
			res.duration.Round(100*time.Millisecond), src.duration.Round(100*time.Millisecond))
	}
	sha, size, err := syncAndHash(out)
	if err != nil {
		return Info{}, fmt.Errorf("media: %w", err)
	}
	if size > nodeproto.MaxMediaSize {
		return Info{}, fmt.Errorf("%w: converted it is %d MB, nodes take at most %d MB", ErrTooLong, size>>20, nodeproto.MaxMediaSize>>20)
	}
	dst := s.path(sha)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return Info{}, fmt.Errorf("media: %w", err)
	}
	// Rename is atomic: readers see the whole file or none. An identical
	// upload racing this one renames identical bytes over it, which is fine.
	if err := os.Rename(out, dst); err != nil {
		return Info{}, fmt.Errorf("media: %w", err)
	}
	syncDir(filepath.Dir(dst))
	info := Info{SHA256: sha, Size: size, DurationMS: res.duration.Milliseconds(), SourceFormat: src.format}
	if lufs != nil {
		info.InputLUFS = math.Round(lufs.I*10) / 10
	}
	s.log.Info("media ingested", "name", filename, "format", src.format, "sha256", sha, "bytes", size, "duration", res.duration, "input_lufs", info.InputLUFS)
	return info, nil
}

// receive copies the upload to a temporary file, reading at most one byte
// past the limit. It returns the file's name (to remove) even on error.
func (s *Store) receive(r io.Reader) (string, error) {
	f, err := os.CreateTemp(s.tmp, "upload-*")
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, s.opts.MaxUpload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return f.Name(), fmt.Errorf("media: reading the upload: %w", err)
	case n == 0:
		return f.Name(), ErrEmpty
	case n > s.opts.MaxUpload:
		return f.Name(), fmt.Errorf("%w: the limit is %s", ErrTooLarge, mb(s.opts.MaxUpload))
	}
	return f.Name(), nil
}

func mb(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// loudness is loudnorm's measurement of an upload (its first pass).
type loudness struct {
	I, TP, LRA, Thresh, Offset float64
}

// filter is the second pass of loudnorm, correcting to the target with
// what the first pass measured. linear=true applies one gain to the whole
// file where the true-peak limit allows it (speech keeps its dynamics);
// loudnorm falls back to its dynamic mode by itself where it does not.
func (l *loudness) filter() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	return fmt.Sprintf("loudnorm=I=%s:TP=%s:LRA=%s:measured_I=%s:measured_TP=%s:measured_LRA=%s:measured_thresh=%s:offset=%s:linear=true",
		f(TargetLUFS), f(TargetTP), f(TargetLRA), f(l.I), f(l.TP), f(l.LRA), f(l.Thresh), f(l.Offset))
}

// limitArg bounds sources that do not declare a duration (MediaRecorder
// webm) to a second past the longest allowed recording.
func (s *Store) limitArg() string {
	return strconv.FormatFloat((s.opts.MaxDuration + time.Second).Seconds(), 'f', 3, 64)
}

// measure is loudnorm's first pass: it decodes the whole upload and
// returns its loudness, nil when it is silent or too short to measure.
// -xerror makes any decoding error fatal: ffmpeg would otherwise conceal
// damage and turn noise that merely parses as a raw codec into a
// "recording". A file cut short at a frame boundary decodes without error
// and is caught by its duration.
func (s *Store) measure(ctx context.Context, in string, dur time.Duration, progress Progress) (*loudness, error) {
	args := []string{"-i", in, "-t", s.limitArg(), "-vn", "-sn", "-dn", "-map", "0:a:0",
		"-af", fmt.Sprintf("loudnorm=I=%g:TP=%g:LRA=%g:print_format=json", TargetLUFS, TargetTP, TargetLRA), "-f", "null", "-"}
	stderr, err := s.ffmpeg(ctx, args, "info", dur, func(f float64) { progress(StageMeasure, f) })
	if err != nil {
		return nil, err
	}
	return parseLoudness(stderr)
}

// parseLoudness reads the JSON loudnorm prints after its first pass.
func parseLoudness(stderr string) (*loudness, error) {
	i, j := strings.LastIndexByte(stderr, '{'), strings.LastIndexByte(stderr, '}')
	if i < 0 || j < i {
		return nil, fmt.Errorf("%w (its loudness could not be measured)", ErrCorrupt)
	}
	var m struct {
		I      string `json:"input_i"`
		TP     string `json:"input_tp"`
		LRA    string `json:"input_lra"`
		Thresh string `json:"input_thresh"`
		Offset string `json:"target_offset"`
	}
	if err := json.Unmarshal([]byte(stderr[i:j+1]), &m); err != nil {
		return nil, fmt.Errorf("%w (its loudness could not be measured: %v)", ErrCorrupt, err)
	}
	var l loudness
	for _, f := range []struct {
		s string
		v *float64
	}{{m.I, &l.I}, {m.TP, &l.TP}, {m.LRA, &l.LRA}, {m.Thresh, &l.Thresh}, {m.Offset, &l.Offset}} {
		v, err := strconv.ParseFloat(strings.TrimSpace(f.s), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil // "-inf": silence, or shorter than one measuring block
		}
		*f.v = v
	}
	if l.I < silentLUFS {
		return nil, nil
	}
	return &l, nil
}

// transcode converts in to the delivery format, correcting its loudness
// to the target as measured (l nil: as it is).
func (s *Store) transcode(ctx context.Context, in, out string, l *loudness, dur time.Duration, progress Progress) error {
	// bitexact: the Ogg muxer otherwise picks a random stream serial, and the
	// same upload would get a new sha256 each time.
	args := []string{"-i", in, "-t", s.limitArg(), "-vn", "-sn", "-dn", "-map_metadata", "-1", "-map", "0:a:0"}
	if l != nil {
		args = append(args, "-af", l.filter())
	}
	args = append(args, "-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k", "-application", "voip",
		"-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "ogg", "-y", out)
	_, err := s.ffmpeg(ctx, args, "error", dur, func(f float64) { progress(StageTranscode, f) })
	return err
}

// ffmpeg runs one ffmpeg pass over an upload of duration dur (0: unknown),
// telling progress the fraction done as ffmpeg reports it, and returns
// what ffmpeg wrote to stderr. Its errors say what an officer can act on.
// level is ffmpeg's log level: loudnorm prints its measurement at "info".
func (s *Store) ffmpeg(ctx context.Context, args []string, level string, dur time.Duration, progress func(float64)) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, transcodeTimeout)
	defer cancel()
	full := append([]string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", level, "-xerror", "-progress", "pipe:1"}, args...)
	cmd := exec.CommandContext(tctx, s.opts.FFmpeg, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("media: ffmpeg is not installed (make test and make run install it): %w", err)
		}
		return "", fmt.Errorf("media: %w", err)
	}
	progress(0)
	readProgress(pipe, dur, progress)
	err = cmd.Wait()
	switch {
	case err == nil:
		progress(1)
		return stderr.String(), nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("media: %w", ctx.Err())
	case tctx.Err() != nil:
		return "", fmt.Errorf("%w (converting took longer than %s)", ErrCorrupt, transcodeTimeout)
	}
	return "", fmt.Errorf("%w (%s)", ErrCorrupt, firstLine(errorLines(stderr.String()), err))
}

// readProgress reads ffmpeg's -progress lines ("out_time_us=1234567") until
// the pipe closes.
func readProgress(r io.Reader, dur time.Duration, progress func(float64)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "out_time_us=")
		if !ok {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil || us < 0 {
			continue
		}
		if dur <= 0 {
			progress(-1)
			continue
		}
		progress(min(1, float64(us)/float64(dur.Microseconds())))
	}
}

// errorLines keeps the lines of ffmpeg's stderr that report a problem
// (at level info it also prints its stream layout).
func errorLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), "error") || strings.Contains(l, "Invalid") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
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

type probed struct {
	format   string
	duration time.Duration // 0: unknown or only estimated
	score    int           // ffprobe's confidence in format, 1-100
}

// minScore is ffmpeg's AVPROBE_SCORE_EXTENSION: below it ffprobe has only
// guessed a headerless raw format, which random bytes often satisfy.
const minScore = 50

// probe asks ffprobe for the container format and the duration of the
// first audio stream. A file ffprobe cannot open is corrupt when it starts
// like a known audio container and not audio otherwise.
func (s *Store) probe(ctx context.Context, path string) (probed, error) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(pctx, s.opts.FFprobe, "-hide_banner", "-v", "warning", "-print_format", "json",
		"-show_format", "-show_streams", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return probed{}, fmt.Errorf("media: %w", ctx.Err())
	case errors.Is(err, exec.ErrNotFound):
		return probed{}, fmt.Errorf("media: ffprobe is not installed (make test and make run install it): %w", err)
	case pctx.Err() != nil:
		return probed{}, fmt.Errorf("%w (reading it took longer than %s)", ErrCorrupt, probeTimeout)
	default:
		if looksLikeAudio(head(path)) {
			return probed{}, fmt.Errorf("%w (%s)", ErrCorrupt, firstLine(stderr.String(), err))
		}
		return probed{}, ErrNotAudio
	}
	p, err := parseProbe(out)
	if err != nil {
		return probed{}, err
	}
	if p.score < minScore && !looksLikeAudio(head(path)) {
		return probed{}, fmt.Errorf("%w (not a format it recognises)", ErrNotAudio)
	}
	// ffprobe guesses the length of some files (raw AAC, AMR, mp3 without a
	// header) from the first frames' bitrate; a guess must not be used to
	// call the file cut short.
	if strings.Contains(stderr.String(), "Estimating duration from bitrate") {
		p.duration = 0
	}
	return p, nil
}

// parseProbe reads ffprobe's JSON: the container format, its probe score,
// and the duration of the first audio stream, else of the container, 0 when
// neither is known (a live recording from a browser). No audio stream is
// ErrNotAudio.
func parseProbe(out []byte) (probed, error) {
	var p struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			Duration  string `json:"duration"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
			Duration   string `json:"duration"`
			ProbeScore int    `json:"probe_score"`
		} `json:"format"`
	}
	if json.Unmarshal(out, &p) != nil {
		return probed{}, ErrNotAudio
	}
	audio := -1
	for i, st := range p.Streams {
		if st.CodecType == "audio" {
			audio = i
			break
		}
	}
	if audio < 0 {
		return probed{}, ErrNotAudio
	}
	dur, ok := seconds(p.Streams[audio].Duration)
	if !ok {
		dur, ok = seconds(p.Format.Duration)
	}
	if !ok {
		dur = 0
	}
	if dur > 1e6 { // 11 days: a broken header, not a recording
		return probed{}, fmt.Errorf("%w (it claims to last %.0f hours)", ErrCorrupt, dur/3600)
	}
	return probed{format: p.Format.FormatName, duration: time.Duration(dur * float64(time.Second)), score: p.Format.ProbeScore}, nil
}

func seconds(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, false
	}
	return v, true
}

func head(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, 16)
	n, _ := io.ReadFull(f, b)
	return b[:n]
}

// looksLikeAudio reports whether b starts like one of the audio files
// officers upload, so that one ffprobe cannot read is called damaged
// rather than not audio.
func looksLikeAudio(b []byte) bool {
	has := func(off int, magic string) bool {
		return len(b) >= off+len(magic) && string(b[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "ID3"), has(0, "OggS"), has(0, "fLaC"), has(0, "#!AMR"), has(4, "ftyp"),
		has(0, "RIFF") && has(8, "WAVE"), has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")),
		has(0, "\x1a\x45\xdf\xa3"): // EBML: webm, mkv
		return true
	case len(b) >= 3 && b[0] == 0xff && b[1]&0xf6 == 0xf0: // ADTS AAC
		return true
	case len(b) >= 3 && b[0] == 0xff && b[1]&0xe0 == 0xe0: // MPEG audio frame
		version, layer := b[1]>>3&3, b[1]>>1&3
		bitrate, rate := b[2]>>4, b[2]>>2&3
		return version != 1 && layer != 0 && bitrate != 15 && rate != 3
	}
	return false
}

// syncAndHash flushes the file to disk (it is about to be named by its
// hash, and a crash must not leave a short file under that name) and
// returns its sha256 and size.
func syncAndHash(path string) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (s *Store) path(sha string) string { return filepath.Join(s.dir, sha[:2], sha+".opus") }

// Path returns the file of a stored media. sha is validated before it
// becomes part of a path; a missing file is an error wrapping fs.ErrNotExist.
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
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}

// ReadChunk reads chunk index (nodeproto.ChunkSize bytes, the last one
// shorter) of a stored file.
func (s *Store) ReadChunk(sha string, index int) (nodeproto.Chunk, error) {
	p, err := s.Path(sha)
	if err != nil {
		return nodeproto.Chunk{}, err
	}
	return ReadChunkFile(p, sha, index)
}

// ReadChunkFile reads chunk index of the file at p, named sha on the wire
// (the release store serves node binaries the same way).
func ReadChunkFile(p, sha string, index int) (nodeproto.Chunk, error) {
	f, err := os.Open(p)
	if err != nil {
		return nodeproto.Chunk{}, fmt.Errorf("media: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nodeproto.Chunk{}, fmt.Errorf("media: %w", err)
	}
	size := st.Size()
	count := nodeproto.ChunkCount(size)
	if index < 0 || index >= count {
		return nodeproto.Chunk{}, fmt.Errorf("media %s: no chunk %d, it has %d", sha, index, count)
	}
	buf := make([]byte, nodeproto.ChunkLen(size, index))
	if _, err := f.ReadAt(buf, int64(index)*nodeproto.ChunkSize); err != nil {
		return nodeproto.Chunk{}, fmt.Errorf("media %s: chunk %d: %w", sha, index, err)
	}
	return nodeproto.Chunk{Media: sha, Index: index, Count: count, Size: size, Data: buf}, nil
}
