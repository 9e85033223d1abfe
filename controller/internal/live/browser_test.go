package live

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// One live speaker per station: a second claim is refused with who holds
// it; a ticket works once, only for its user; a released station is free.
func TestClaimOneSpeakerPerStation(t *testing.T) {
	m, _, _, _ := testManager(t)
	zone := []Target{{Target: fleet.Target{Zone: "z-center"}}}
	a, ticket, err := m.Claim(Claim{Station: "st-1", User: "an", Name: "Nguyễn Văn An"}, zone)
	if err != nil {
		t.Fatal(err)
	}
	if a.Priority != nodeproto.PriorityHigh || !nodeproto.ValidID(a.Session) {
		t.Errorf("claim %+v: want priority %q and a valid session id", a, nodeproto.PriorityHigh)
	}
	_, _, err = m.Claim(Claim{Station: "st-1", User: "binh", Name: "Trần Bình"}, zone)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Claim.Name != "Nguyễn Văn An" || busy.Claim.User != "an" {
		t.Fatalf("second claim: %v, want BusyError naming Nguyễn Văn An", err)
	}
	if _, _, err := m.Claim(Claim{Station: "st-2", User: "binh"}, zone); err != nil {
		t.Errorf("another station: %v", err)
	}
	if _, _, err := m.Claim(Claim{Station: "st-3", User: "binh"}, nil); !errors.Is(err, ErrNoTargets) {
		t.Errorf("no targets: %v", err)
	}
	for _, c := range []struct{ session, ticket, user string }{
		{a.Session, ticket, "binh"}, {a.Session, "nope", "an"}, {"other", ticket, "an"}, {a.Session, "", "an"},
	} {
		if _, err := m.Take(c.session, c.ticket, c.user); !errors.Is(err, ErrTicket) {
			t.Errorf("Take(%q, %q, %q) = %v, want ErrTicket", c.session, c.ticket, c.user, err)
		}
	}
	got, err := m.Take(a.Session, ticket, "an")
	if err != nil || !got.Live {
		t.Fatalf("Take: %+v %v", got, err)
	}
	if _, err := m.Take(a.Session, ticket, "an"); !errors.Is(err, ErrTicket) {
		t.Errorf("ticket used twice: %v", err)
	}
	m.Release("st-1", "someone-else")
	if len(m.Claims()) != 2 {
		t.Errorf("a release naming another session freed the station: %+v", m.Claims())
	}
	m.Release("st-1", a.Session)
	if _, _, err := m.Claim(Claim{Station: "st-1", User: "binh"}, zone); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// tickClock advances 20 ms each time it is read: one frame's worth, so a
// file fed faster than real time stays on the relay's clock.
type tickClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tickClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(20 * time.Millisecond)
	return c.t
}

// A browser's WebM Opus chunks through the real ffmpeg: the session opens
// with the first frame, at priority, every frame goes to the zone in signed
// packets, the browser's stop sends the last packet, and the recording is
// the same Opus in Ogg.
func TestSpeakFromWebM(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed (scripts/install-deps.sh installs it)")
	}
	m, ff, _, pub := testManager(t)
	clk := &tickClock{t: time.Date(2026, 12, 7, 6, 30, 0, 0, time.UTC)}
	m.cfg.Now = clk.now
	webm := filepath.Join(t.TempDir(), "mic.webm")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=48000",
		"-ac", "2", "-c:a", "libopus", "-f", "webm", webm).CombinedOutput(); err != nil {
		t.Fatalf("making the webm: %v %s", err, b)
	}
	data, _ := os.ReadFile(webm)
	c, ticket, err := m.Claim(Claim{Station: "st-1", User: "an", Title: "Thông báo"}, []Target{{Target: fleet.Target{Zone: "z-center"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = m.Take(c.Session, ticket, "an"); err != nil {
		t.Fatal(err)
	}
	var rec bytes.Buffer
	f, err := m.Speak(c, "an", &rec)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 { // MediaRecorder-sized chunks
		n := min(len(data), 1600)
		if err := f.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	s := <-f.Opened()
	f.Close()
	if reason, err := f.Result(); reason != "browser stopped" || err != nil {
		t.Errorf("result %q %v", reason, err)
	}
	select {
	case <-s.Ended():
	default:
		t.Error("the session did not end with the feed")
	}
	if len(m.Running()) != 0 {
		t.Errorf("still running: %v", m.Running())
	}
	if len(ff.commands) == 0 || ff.commands[0].Stream.Priority != nodeproto.PriorityHigh || ff.commands[0].Stream.Source != "live:an" ||
		ff.commands[0].Stream.Session != c.Session || ff.commands[0].Zone != "z-center" {
		t.Fatalf("commands %+v", ff.commands)
	}
	pk := decode(t, pub, ff.packets["zone:z-center"])
	sent := 0
	for i, p := range pk {
		if p.Seq != uint32(i) || p.Last != (i == len(pk)-1) {
			t.Errorf("packet %d: seq %d last %v", i, p.Seq, p.Last)
		}
		if i > 0 && p.Pos != pk[i-1].Pos+uint64(len(pk[i-1].Frames))*nodeproto.StreamSamplesPerFrame {
			t.Errorf("packet %d at %d does not follow packet %d at %d", i, p.Pos, i-1, pk[i-1].Pos)
		}
		sent += len(p.Frames)
	}
	o := newOggReader(&rec)
	recorded := 0
	for {
		if _, err := o.next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("recording: %v", err)
			}
			break
		}
		recorded++
	}
	// 2 s of audio is 100 frames of 20 ms (the encoder may pad one).
	if sent < 100 || sent > 102 || recorded != sent {
		t.Errorf("sent %d frames, recorded %d; want 100-102, the same", sent, recorded)
	}
}
