package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func gen(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, "-y", out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it) %v: %v %s", args, err, b)
	}
	b, _ := os.ReadFile(out)
	return b
}

func newStore(t *testing.T, opts Options) (*Store, string) {
	dir := t.TempDir()
	s, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// leftovers lists files in the store besides stored media.
func leftovers(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Ext(p) != ".opus" {
			out = append(out, p)
		}
		if err == nil && !info.IsDir() && filepath.Base(filepath.Dir(p)) == "tmp" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestIngestFormats(t *testing.T) {
	for _, f := range []struct {
		name string
		args []string
	}{
		{"t.mp3", []string{"-c:a", "libmp3lame", "-b:a", "64k"}},
		{"t.wav", []string{"-c:a", "pcm_s16le"}},
		{"t.m4a", []string{"-c:a", "aac", "-b:a", "64k"}},
		{"t.webm", []string{"-c:a", "libopus"}},
		{"t.ogg", []string{"-c:a", "libvorbis"}},
		{"t.amr", nil},
	} {
		t.Run(f.name, func(t *testing.T) {
			s, dir := newStore(t, Options{})
			var input []byte
			if f.name == "t.amr" {
				input = amrNB(3) // Debian's ffmpeg decodes AMR-NB but cannot encode it
			} else {
				input = gen(t, f.name, f.args...)
			}
			info, err := s.Ingest(context.Background(), bytes.NewReader(input), f.name)
			if err != nil {
				t.Fatal(err)
			}
			if info.DurationMS < 2850 || info.DurationMS > 3150 {
				t.Errorf("duration %d ms, want about 3000", info.DurationMS)
			}
			p, err := s.Path(info.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			if !bytes.HasPrefix(b, []byte("OggS")) || hex.EncodeToString(sum[:]) != info.SHA256 || int64(len(b)) != info.Size {
				t.Errorf("stored file is not the Ogg file its sha names")
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels", "-of", "csv=p=0", p).Output()
			if err != nil || string(bytes.TrimSpace(out)) != "opus,48000,1" {
				t.Errorf("ffprobe of stored file = %q %v, want opus,48000,1", out, err)
			}
			if l := leftovers(t, dir); len(l) > 0 {
				t.Errorf("temporary files left: %v", l)
			}
		})
	}
}

func TestIngestRejects(t *testing.T) {
	mp3 := gen(t, "t.mp3", "-c:a", "libmp3lame")
	random := make([]byte, 50000)
	rand.Read(random)
	for _, tc := range []struct {
		name string
		body []byte
		max  int64
		want error
	}{
		{"empty", nil, 0, ErrEmpty},
		{"random bytes", random, 0, ErrNotAudio},
		{"text renamed mp3", []byte("Thông báo: họp tổ dân phố lúc 19h.\n"), 0, ErrNotAudio},
		{"truncated mp3", mp3[:300], 0, nil},
		{"oversized", mp3, 1000, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newStore(t, Options{MaxUpload: tc.max})
			_, err := s.Ingest(context.Background(), bytes.NewReader(tc.body), tc.name+".mp3")
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !errors.Is(err, ErrNotAudio) && !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want not-audio or corrupt", err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
			if len(files) > 0 {
				t.Errorf("files left behind: %v", files)
			}
		})
	}
}

func TestChunksReassemble(t *testing.T) {
	s, _ := newStore(t, Options{})
	info, err := s.Ingest(context.Background(), bytes.NewReader(gen(t, "t.wav", "-c:a", "pcm_s16le", "-t", "3")), "t.wav")
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	count := nodeproto.ChunkCount(info.Size)
	for i := 0; i < count; i++ {
		c, err := s.ReadChunk(info.SHA256, i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := nodeproto.MarshalChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := nodeproto.UnmarshalChunk(b)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		all = append(all, back.Data...)
	}
	sum := sha256.Sum256(all)
	if hex.EncodeToString(sum[:]) != info.SHA256 {
		t.Error("reassembled chunks do not hash to the media id")
	}
	if _, err := s.ReadChunk(info.SHA256, count); err == nil {
		t.Error("chunk past the end accepted")
	}
	if _, err := s.Path("../../etc/passwd"); err == nil {
		t.Error("path traversal accepted")
	}

}

// amrNB builds an AMR-NB file (RFC 4867 storage format) of 12.2 kbit/s
// frames with random speech bits: what a feature phone's recorder makes,
// decoding to noise of the right length.
func amrNB(seconds int) []byte {
	b := []byte("#!AMR\n")
	for i := 0; i < seconds*50; i++ {
		frame := make([]byte, 32)
		rand.Read(frame[1:])
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
	f.Fuzz(func(t *testing.T, b []byte) {
		_, d, err := parseProbe(b)
		if err == nil && (d <= 0 || d > 1e6*time.Second) {
			t.Fatalf("duration %v accepted", d)
		}
	})
}
