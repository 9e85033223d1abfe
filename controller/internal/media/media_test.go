package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/audiotest"
)

// gen makes a 3 s 440 Hz tone with ffmpeg, encoded by args, and returns the file.
func gen(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, "-y", out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it) %v: %v %s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// genPipe is gen writing to a pipe, as a browser's MediaRecorder does: the
// muxer cannot go back to write the duration.
func genPipe(t *testing.T, args ...string) []byte {
	t.Helper()
	full := append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3"}, args...)
	b, err := exec.Command("ffmpeg", append(full, "pipe:1")...).Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v", args, err)
	}
	return b
}

func hasEncoder(name string) bool {
	out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
	return bytes.Contains(out, []byte(" "+name+" "))
}

func newStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// files lists every file in the store, relative to dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestIngestFormats(t *testing.T) {
	for _, f := range []struct {
		name  string
		input func(t *testing.T) []byte
	}{
		{"mp3", func(t *testing.T) []byte { return gen(t, "t.mp3", "-c:a", "libmp3lame", "-b:a", "64k") }},
		{"mp3-bare", func(t *testing.T) []byte {
			return gen(t, "t.mp3", "-c:a", "libmp3lame", "-write_xing", "0", "-id3v2_version", "0")
		}},
		{"wav", func(t *testing.T) []byte { return gen(t, "t.wav", "-c:a", "pcm_s16le") }},
		{"m4a-aac", func(t *testing.T) []byte { return gen(t, "t.m4a", "-c:a", "aac", "-b:a", "64k") }},
		{"aac-adts", func(t *testing.T) []byte { return gen(t, "t.aac", "-c:a", "aac", "-b:a", "64k") }},
		{"webm-opus", func(t *testing.T) []byte { return gen(t, "t.webm", "-c:a", "libopus") }},
		{"webm-live", func(t *testing.T) []byte { return genPipe(t, "-c:a", "libopus", "-f", "webm") }},
		{"ogg-vorbis", func(t *testing.T) []byte { return gen(t, "t.ogg", "-c:a", "libvorbis") }},
		{"ogg-opus-stereo-24k", func(t *testing.T) []byte {
			return gen(t, "t.opus", "-ac", "2", "-ar", "24000", "-c:a", "libopus", "-b:a", "96k")
		}},
		{"amr-nb", func(t *testing.T) []byte {
			if hasEncoder("libopencore_amrnb") {
				return gen(t, "t.amr", "-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", "-b:a", "12.2k")
			}
			return amrNB(3) // Debian's ffmpeg decodes AMR-NB but cannot encode it
		}},
	} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			s, dir := newStore(t, Options{})
			info, err := s.Ingest(context.Background(), bytes.NewReader(f.input(t)), f.name)
			if err != nil {
				t.Fatal(err)
			}
			if info.DurationMS < 2850 || info.DurationMS > 3150 {
				t.Errorf("Info.DurationMS = %d, want 3000 ± 5%%", info.DurationMS)
			}
			p, err := s.Path(info.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, info.SHA256[:2], info.SHA256+".opus"); p != want {
				t.Errorf("Path = %s, want %s", p, want)
			}
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			if !bytes.HasPrefix(b, []byte("OggS")) || hex.EncodeToString(sum[:]) != info.SHA256 || int64(len(b)) != info.Size {
				t.Errorf("stored file is not the Ogg file its sha names")
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels:format=duration",
				"-of", "default=nw=1", p).Output()
			if err != nil {
				t.Fatalf("ffprobe: %v", err)
			}
			got := string(out)
			for _, want := range []string{"codec_name=opus\n", "sample_rate=48000\n", "channels=1\n"} {
				if !strings.Contains(got, want) {
					t.Errorf("ffprobe of stored file:\n%s\nwant %q", got, want)
				}
			}
			if i := strings.Index(got, "duration="); i >= 0 {
				d, _ := strconv.ParseFloat(strings.TrimSpace(got[i+len("duration="):]), 64)
				if d < 2.85 || d > 3.15 {
					t.Errorf("stored duration %.3f s, want 3 ± 5%%", d)
				}
			}
			if fs := files(t, dir); len(fs) != 1 {
				t.Errorf("store holds %v, want the one media file", fs)
			}
		})
	}
}

func TestIngestSameContentTwice(t *testing.T) {
	s, dir := newStore(t, Options{})
	in := gen(t, "t.wav", "-c:a", "pcm_s16le")
	a, err := s.Ingest(context.Background(), bytes.NewReader(in), "a.wav")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Ingest(context.Background(), bytes.NewReader(in), "b.wav")
	if err != nil {
		t.Fatalf("second upload of the same file: %v", err)
	}
	if a != b {
		t.Errorf("second Info = %+v, want %+v", b, a)
	}
	if fs := files(t, dir); len(fs) != 1 {
		t.Errorf("store holds %v, want one file", fs)
	}
	if !s.Has(a.SHA256) {
		t.Fatal("Has = false after ingest")
	}
	if err := s.Delete(a.SHA256); err != nil {
		t.Fatal(err)
	}
	if s.Has(a.SHA256) {
		t.Error("Has = true after Delete")
	}
	if err := s.Delete(a.SHA256); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete twice: %v, want not exist", err)
	}
}

func TestIngestRejects(t *testing.T) {
	mp3 := gen(t, "t.mp3", "-c:a", "libmp3lame")
	random := make([]byte, 50000)
	rng := rand.NewChaCha8([32]byte{'r', 'a', 'd', 'i', 'o'})
	rng.Read(random)
	if looksLikeAudio(random) {
		t.Fatal("the random bytes happen to start like audio; change the seed")
	}
	videoOnly := func(t *testing.T) []byte {
		out := filepath.Join(t.TempDir(), "v.mp4")
		if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=5",
			"-c:v", "mpeg4", "-y", out).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v %s", err, b)
		}
		b, _ := os.ReadFile(out)
		return b
	}
	for _, tc := range []struct {
		name string
		body []byte
		opts Options
		want error
	}{
		{"empty", nil, Options{}, ErrEmpty},
		{"random bytes", random, Options{}, ErrNotAudio},
		{"repeated bytes that parse as raw AMR", bytes.Repeat([]byte{0x13, 0x37, 0xfe}, 5000), Options{}, ErrNotAudio},
		{"text renamed mp3", []byte("Thông báo: họp tổ dân phố lúc 19h.\n"), Options{}, ErrNotAudio},
		{"video without audio", videoOnly(t), Options{}, ErrNotAudio},
		{"truncated mp3 (300 bytes)", mp3[:300], Options{}, ErrCorrupt},
		{"mp3 cut in half", mp3[:len(mp3)/2], Options{}, ErrCorrupt},
		{"oversized", mp3, Options{MaxUpload: 1000}, ErrTooLarge},
		{"too long", mp3, Options{MaxDuration: time.Second}, ErrTooLong},
		{"too long, no declared duration", genPipe(t, "-c:a", "libopus", "-f", "webm"), Options{MaxDuration: time.Second}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, dir := newStore(t, tc.opts)
			_, err := s.Ingest(context.Background(), bytes.NewReader(tc.body), tc.name+".mp3")
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if fs := files(t, dir); len(fs) > 0 {
				t.Errorf("files left behind: %v", fs)
			}
		})
	}
}

func TestIngestCancelled(t *testing.T) {
	s, dir := newStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Ingest(ctx, bytes.NewReader(gen(t, "t.wav", "-c:a", "pcm_s16le")), "t.wav")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if fs := files(t, dir); len(fs) > 0 {
		t.Errorf("files left behind: %v", fs)
	}
}

func TestNewRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(dir, "tmp", "upload-old"), filepath.Join(dir, "tmp", "upload-fresh")
	os.WriteFile(old, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	past := time.Now().Add(-2 * staleTemp)
	os.Chtimes(old, past, past)
	if _, err := New(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stale temp file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temp file (an ingest in progress) removed")
	}
}

func TestChunksReassemble(t *testing.T) {
	s, _ := newStore(t, Options{})
	// 20 s, so that the file spans several chunks.
	out := filepath.Join(t.TempDir(), "long.wav")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=20",
		"-y", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := s.Ingest(context.Background(), f, "long.wav")
	if err != nil {
		t.Fatal(err)
	}
	count := nodeproto.ChunkCount(info.Size)
	if count < 3 {
		t.Fatalf("%d bytes make %d chunks, want several", info.Size, count)
	}
	var all []byte
	for i := range count {
		c, err := s.ReadChunk(info.SHA256, i)
		if err != nil {
			t.Fatal(err)
		}
		if i < count-1 && len(c.Data) != nodeproto.ChunkSize {
			t.Errorf("chunk %d holds %d bytes, want %d", i, len(c.Data), nodeproto.ChunkSize)
		}
		b, err := nodeproto.MarshalChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := nodeproto.UnmarshalChunk(b)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if back.Media != info.SHA256 || back.Index != i || back.Count != count || back.Size != info.Size {
			t.Errorf("chunk %d header = %s %d/%d %d", i, back.Media, back.Index, back.Count, back.Size)
		}
		all = append(all, back.Data...)
	}
	sum := sha256.Sum256(all)
	if hex.EncodeToString(sum[:]) != info.SHA256 {
		t.Error("reassembled chunks do not hash to the media id")
	}
	for _, i := range []int{-1, count} {
		if _, err := s.ReadChunk(info.SHA256, i); err == nil {
			t.Errorf("chunk %d of %d accepted", i, count)
		}
	}
	for _, bad := range []string{"../../etc/passwd", strings.ToUpper(info.SHA256), info.SHA256[:63], ""} {
		if _, err := s.Path(bad); err == nil {
			t.Errorf("Path(%q) accepted", bad)
		}
		if _, err := s.ReadChunk(bad, 0); err == nil {
			t.Errorf("ReadChunk(%q) accepted", bad)
		}
		if s.Has(bad) {
			t.Errorf("Has(%q)", bad)
		}
	}
	if _, err := s.Path(strings.Repeat("0", 64)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Path of unknown media: %v, want not exist", err)
	}
}

func TestLooksLikeAudio(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    string
		want bool
	}{
		{"id3", "ID3\x04\x00", true},
		{"mp3 frame", "\xff\xfb\x90\x44", true},
		{"adts", "\xff\xf1\x50\x80", true},
		{"wav", "RIFF\x00\x00\x00\x00WAVEfmt ", true},
		{"m4a", "\x00\x00\x00\x20ftypM4A ", true},
		{"amr", "#!AMR\n", true},
		{"webm", "\x1a\x45\xdf\xa3\x9f", true},
		{"ogg", "OggS\x00\x02", true},
		{"text", "Thông báo", false},
		{"pdf", "%PDF-1.7", false},
		{"png", "\x89PNG\r\n\x1a\n", false},
		{"ff but not mpeg", "\xff\xff\xff\xff", false},
		{"short", "\xff", false},
		{"empty", "", false},
	} {
		if got := looksLikeAudio([]byte(tc.b)); got != tc.want {
			t.Errorf("looksLikeAudio(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// amrNB builds an AMR-NB file (RFC 4867 storage format) of 12.2 kbit/s
// frames with random speech bits: what a feature phone's recorder makes,
// decoding to noise of the right length.
func amrNB(seconds int) []byte {
	rng := rand.NewChaCha8([32]byte{'a', 'm', 'r'})
	b := []byte("#!AMR\n")
	for range seconds * 50 {
		frame := make([]byte, 32)
		rng.Read(frame[1:])
		frame[0] = 7<<3 | 1<<2 // mode 7 (12.2k), quality bit
		b = append(b, frame...)
	}
	return b
}

// FuzzParseProbe: whatever ffprobe prints (or a hostile file makes it print),
// parsing never panics and never yields a negative or absurd duration.
func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"streams":[{"codec_type":"audio","duration":"3.0"}],"format":{"format_name":"mp3","duration":"3.0"}}`))
	f.Add([]byte(`{"streams":[{"codec_type":"video"}],"format":{}}`))
	f.Add([]byte(`{"streams":[{"codec_type":"audio","duration":"NaN"}],"format":{"duration":"1e400"}}`))
	f.Add([]byte(`{"streams":[{"codec_type":"audio"}],"format":{"format_name":"matroska,webm"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseProbe(b)
		if err == nil && (p.duration < 0 || p.duration > 1e6*time.Second) {
			t.Fatalf("duration %v accepted", p.duration)
		}
	})
}

// integratedLUFS measures a file's integrated loudness (EBU R128).
func integratedLUFS(t *testing.T, path string) float64 {
	t.Helper()
	v, err := audiotest.IntegratedLUFS(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A quiet upload (a tone peaking at -26 dBFS, as the demo recording does)
// and a loud one are both stored at the target loudness; silence stays
// silence (raising it would only raise noise).
func TestIngestNormalisesLoudness(t *testing.T) {
	for _, tc := range []struct {
		name, filter string
		want         float64
	}{
		{"quiet, peak -26 dBFS", "sine=frequency=440:duration=6,volume=-8dB", TargetLUFS},
		{"loud, peak -1 dBFS", "sine=frequency=440:duration=6,volume=17dB", TargetLUFS},
		{"speech-like, two tones of different levels", "sine=frequency=300:duration=6,volume=-20dB[a];sine=frequency=900:duration=6,volume=-30dB[b];[a][b]amix=inputs=2", TargetLUFS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := filepath.Join(t.TempDir(), "in.wav")
			if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-filter_complex", tc.filter, "-y", in).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v %s", err, b)
			}
			before := integratedLUFS(t, in)
			s, _ := newStore(t, Options{})
			f, _ := os.Open(in)
			defer f.Close()
			var stages []string
			info, err := s.IngestProgress(context.Background(), f, "in.wav", func(stage string, done float64) {
				if len(stages) == 0 || stages[len(stages)-1] != stage {
					stages = append(stages, stage)
				}
				if done > 1 {
					t.Errorf("progress %s %.2f, want at most 1", stage, done)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			p, _ := s.Path(info.SHA256)
			got := integratedLUFS(t, p)
			t.Logf("upload %.1f LUFS (loudnorm measured %.1f), stored %.1f LUFS", before, info.InputLUFS, got)
			if math.Abs(got-tc.want) > 1 {
				t.Errorf("stored file is %.1f LUFS, want %.1f ± 1", got, tc.want)
			}
			if math.Abs(info.InputLUFS-before) > 1 {
				t.Errorf("Info.InputLUFS = %.1f, the upload measures %.1f", info.InputLUFS, before)
			}
			if want := []string{StageMeasure, StageTranscode}; !slices.Equal(stages, want) {
				t.Errorf("progress stages %v, want %v", stages, want)
			}
		})
	}
	t.Run("silence", func(t *testing.T) {
		s, _ := newStore(t, Options{})
		info, err := s.Ingest(context.Background(), bytes.NewReader(gen(t, "s.wav", "-af", "volume=0")), "s.wav")
		if err != nil {
			t.Fatal(err)
		}
		if info.InputLUFS != 0 {
			t.Errorf("silence measured %.1f LUFS, want it left unmeasured (0)", info.InputLUFS)
		}
	})
}
