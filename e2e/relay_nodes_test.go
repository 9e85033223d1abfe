package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// Issue 10, done when 1: Debian's icecast2 serves a stream fed by ffmpeg;
// the controller relays it on a schedule to three node processes; the
// upstream is killed mid-relay and restarted. What each node's sink heard:
// the relay from its start, a hole while the upstream was down, the relay
// again after it came back, and silence within 1 s of the window's end;
// each node reports the hole in its proof of play.
func TestRelayHeardOnThreeNodes(t *testing.T) {
	dir := t.TempDir()
	nodes := []string{"v1", "v2", "v3"}
	pulse := audiotest.StartPulse(t, nodes...)
	ic := startIcecast(t, dir)
	feeder := ic.feed(t, "vov1.mp3", 440)

	ctl := startController(t, filepath.Join(dir, "ctl"), "-relay-retry-max", "500ms")
	ctl.setupCommune(t)
	for _, id := range nodes {
		startNode(t, id, ctl.enrol(t, id, "z-center", dir, "oto"), pulse.Env(id))
	}
	ctl.waitOnline(t, nodes...)

	const window = 16 * time.Second
	start := time.Now().Add(10 * time.Second).Truncate(time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin tiep-song
  title Tiếp sóng VOV1
  source relay %s
  target zone z-center
  status approved
  once %s
  duration %ds
`, ic.url("vov1.mp3"), at(start), int(window/time.Second)))
	id := occurrenceID("tiep-song", start)
	recs := map[string]*audiotest.Recording{}
	for _, n := range nodes {
		recs[n] = pulse.Record(t, n)
	}

	// The upstream drops 5 s into the window and is back 3 s later.
	time.Sleep(time.Until(start.Add(5 * time.Second)))
	killedAt := time.Now()
	feeder.kill()
	time.Sleep(3 * time.Second)
	ic.feed(t, "vov1.mp3", 440)
	restartedAt := time.Now()

	evs := ctl.waitPlays(t, id, window+40*time.Second, func(e []playEvent) bool {
		return count(e, "finished")+count(e, "interrupted") == len(nodes)
	})
	time.Sleep(1500 * time.Millisecond) // a second of silence after the end, into the recordings
	end := start.Add(window)
	for _, n := range nodes {
		s, _ := recs[n].Stop()
		segs := audiotest.Segments(s, audiotest.Rate, 400*time.Millisecond)
		for _, g := range segs {
			t.Logf("%s: %.0f Hz from %v for %.2f s", n, g.Freq, recs[n].TimeOf(g.Onset).Sub(start).Round(time.Millisecond), float64(g.Length)/audiotest.Rate)
		}
		if len(segs) < 2 {
			t.Errorf("%s heard %d stretches of sound, want the relay, a hole, and the relay again", n, len(segs))
			continue
		}
		first, last := segs[0], segs[len(segs)-1]
		if on := recs[n].TimeOf(first.Onset).Sub(start); on < -300*time.Millisecond || on > 700*time.Millisecond {
			t.Errorf("%s: the relay was heard %v after the window's start", n, on)
		}
		// The longest silence is the upstream's outage, and sound came back after it.
		hole, holeAt := time.Duration(0), time.Time{}
		for i := 1; i < len(segs); i++ {
			from := recs[n].TimeOf(segs[i-1].Onset + segs[i-1].Length)
			if d := recs[n].TimeOf(segs[i].Onset).Sub(from); d > hole {
				hole, holeAt = d, from
			}
		}
		if hole < 1500*time.Millisecond || holeAt.Before(killedAt.Add(-2*time.Second)) || holeAt.After(restartedAt) {
			t.Errorf("%s: longest silence %v at %v into the window; the upstream was down from %v to %v",
				n, hole, holeAt.Sub(start), killedAt.Sub(start), restartedAt.Sub(start))
		}
		if f := audiotest.Dominant(s[last.Onset:], audiotest.Rate, 300, 600); f < 430 || f > 450 {
			t.Errorf("%s: after the hole the sink heard %.1f Hz, want the relayed 440 Hz", n, f)
		}
		if stop := recs[n].TimeOf(last.Onset + last.Length).Sub(end); stop > time.Second || stop < -time.Second {
			t.Errorf("%s: the relay stopped %v after the window's end, want within 1 s", n, stop)
		}
		var fin *playEvent
		for i := range evs {
			if evs[i].NodeID == n && (evs[i].Type == "finished" || evs[i].Type == "interrupted") {
				fin = &evs[i]
			}
		}
		if fin == nil {
			t.Errorf("%s: no end of the relay in proof of play", n)
			continue
		}
		t.Logf("%s: %s, played %d ms, %d gap(s) of %d ms in all; the sink's longest silence %v", n, fin.Type, fin.PlayedMS, fin.Gaps, fin.GapMS, hole.Round(time.Millisecond))
		if fin.Type != "finished" || fin.Gaps < 1 || time.Duration(fin.GapMS)*time.Millisecond < hole-time.Second ||
			time.Duration(fin.GapMS)*time.Millisecond > hole+2*time.Second {
			t.Errorf("%s: proof of play %+v, want finished with the hole (~%v) reported as a gap", n, *fin, hole)
		}
	}
}
