package node

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// unsyncedFixture is a node a year behind whose only clock source is the
// controller, and a 0.4 s 440 Hz recording the controller serves.
func unsyncedFixture(t *testing.T) (f *fixture, cfg Config, audio []byte, media string) {
	f, cfg = newFixture(t)
	cfg.ClockSources = []string{"controller"}
	cfg.ClockOffset = -8760 * time.Hour
	audio, media = opusTone(t, 0.4, 440)
	f.mu.Lock()
	f.files[media] = audio
	f.mu.Unlock()
	return f, cfg, audio, media
}

// A node whose clock is a year behind (an unset real-time clock) and whose
// only source is the controller's time: it refuses a timed play with
// `clock` and plays no schedule slot, says "unsynced" and asks the time in
// its State; an old answer replayed does not set its clock; the answer to
// its request does, and then the slot and a new play start on time, and
// its events are dated in the real time.
func TestClockFromControllerGatesTimedPlay(t *testing.T) {
	f, cfg, audio, media := unsyncedFixture(t)

	states := make(chan nodeproto.State, 100)
	var answering atomic.Bool // the controller's time is reachable
	var answer func(req int64)
	f.ctl.Subscribe("radio/v1/node/n1/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil && s.Online {
			if s.ClockReq > 0 && answering.Load() {
				go answer(s.ClockReq)
			}
			states <- s
		}
	}).Wait()
	answer = func(req int64) {
		c := nodeproto.Command{ID: "t-" + time.Now().Format("150405.000000"), Type: nodeproto.CmdTime, Node: "n1",
			Issued: now(), Expires: now() + 60_000, Time: &nodeproto.TimeAnswer{Req: req}}
		f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, c))
	}
	defer runNode(t, cfg)()

	first := waitFor(t, states, "a state asking the time", 20*time.Second, func(s nodeproto.State) bool { return s.ClockReq > 0 })
	if first.Clock != nodeproto.ClockUnsynced {
		t.Errorf("state clock %q, want unsynced", first.Clock)
	}
	if lag := now() - first.TS; lag < int64(8700*time.Hour/time.Millisecond) {
		t.Errorf("state dated %v behind the real time: the simulated offset is not in force", time.Duration(lag)*time.Millisecond)
	}
	slotAt := now() + 40_000 // after the sync below (a held command is refused after 10 s; the node asks every 5 s)
	d := nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50,
		Content:  []nodeproto.ContentRef{{Media: media, Size: int64(len(audio))}},
		Schedule: []nodeproto.Slot{{ID: "s-1", Media: media, Size: int64(len(audio)), PlayAt: slotAt}}}
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, d))
	f.reply("desired:1") // a desired state needs no clock: it is kept for when the clock is right
	play := func(id string, at int64) {
		c := nodeproto.Command{ID: id, Type: "play", Node: "n1", Issued: now(), Expires: now() + 60_000,
			Play: &nodeproto.Play{Media: media, Size: int64(len(audio)), PlayAt: at}}
		f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, c))
	}
	play("c-early", now()+2000)
	if r := f.reply("c-early"); r.OK || r.Code != nodeproto.CodeClock {
		t.Errorf("timed play while unsynced for more than the hold: reply %+v, want refused with clock (1014)", r)
	}
	answer(first.ClockReq + 99) // an answer to no request: dropped
	if s := waitFor(t, states, "the next request", 20*time.Second, func(s nodeproto.State) bool { return s.ClockReq > 0 }); s.Clock != nodeproto.ClockUnsynced {
		t.Errorf("after an answer to no request the clock is %q, want still unsynced", s.Clock)
	}
	answering.Store(true)
	synced := waitFor(t, states, "a synchronised state", 20*time.Second, func(s nodeproto.State) bool { return s.Clock == nodeproto.ClockSynced })
	if synced.ClockSource != nodeproto.ClockController || synced.ClockErrorMS < 1 || synced.ClockErrorMS > 1000 {
		t.Errorf("synchronised state: source %q error %d ms, want controller with a bound of 1..1000 ms", synced.ClockSource, synced.ClockErrorMS)
	}
	if d := synced.TS - now(); d < -5000 || d > 1000 {
		t.Errorf("state dated %d ms from the real time after the sync", d)
	}

	st := f.event("started", "s-1", 45*time.Second)
	if d := st.At - slotAt; d < -50 || d > 50 {
		t.Errorf("slot started %d ms from its time (event at %v)", d, time.UnixMilli(st.At))
	}
	at := now() + 2000
	play("c-late", at)
	if r := f.reply("c-late"); !r.OK {
		t.Errorf("timed play after the sync refused: %+v", r)
	}
	st = f.event("started", "c-late", 10*time.Second)
	if d := st.At - at; d < -50 || d > 50 {
		t.Errorf("play started %d ms from its play_at", d)
	}
	for _, e := range []string{"c-early"} {
		f.mu.Lock()
		for _, ev := range f.emitted {
			if ev.ID == e && ev.Type == "started" {
				t.Errorf("the play refused while unsynced started later: %+v", ev)
			}
		}
		f.mu.Unlock()
	}
}

// A command that arrives in the moment before the clock is synchronised (a
// node that just restarted, its queued commands delivered before the
// controller's time answer) is held and acted on once the clock is right,
// at its play_at: it used to be refused at once.
func TestCommandHeldUntilClockSynchronised(t *testing.T) {
	f, cfg, audio, media := unsyncedFixture(t)

	states := make(chan nodeproto.State, 100)
	f.ctl.Subscribe("radio/v1/node/n1/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil && s.Online {
			states <- s
		}
	}).Wait()
	defer runNode(t, cfg)()
	first := waitFor(t, states, "a state asking the time", 20*time.Second, func(s nodeproto.State) bool { return s.ClockReq > 0 })
	if first.Clock != nodeproto.ClockUnsynced {
		t.Fatalf("state clock %q, want unsynced", first.Clock)
	}
	at := now() + 3000
	c := nodeproto.Command{ID: "c-held", Type: "play", Node: "n1", Issued: now(), Expires: now() + 60_000,
		Play: &nodeproto.Play{Media: media, Size: int64(len(audio)), PlayAt: at}}
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, c))
	time.Sleep(300 * time.Millisecond) // it arrives while the clock is still unsynchronised
	answer := nodeproto.Command{ID: "t-held", Type: nodeproto.CmdTime, Node: "n1",
		Issued: now(), Expires: now() + 60_000, Time: &nodeproto.TimeAnswer{Req: first.ClockReq}}
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, answer))
	if r := f.reply("c-held"); !r.OK {
		t.Fatalf("a play that arrived just before the clock was synchronised: reply %+v, want accepted once it is", r)
	}
	st := f.event("started", "c-held", 10*time.Second)
	if d := st.At - at; d < -50 || d > 50 {
		t.Errorf("held play started %d ms from its play_at", d)
	}
}
