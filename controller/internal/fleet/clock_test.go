package fleet

import (
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// A node asking the controller's time gets a signed `time` command on its
// own topic: the controller's clock in issued, its request echoed. A flood
// of requests (a stolen secret in a loop) gets one answer per 2 s, and the
// rest are counted as refused; a state without a request gets none.
func TestTimeAnsweredSignedAndBounded(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.connect("a1")
	ts := e.clock.Now().UnixMilli()
	a1.publish(nodeproto.LeafState, nodeproto.State{Node: "a1", Online: true, TS: ts}) // no request
	for i := range 5 {
		a1.publish(nodeproto.LeafState, nodeproto.State{Node: "a1", Online: true, TS: ts, Clock: nodeproto.ClockUnsynced, ClockReq: 1000 + int64(i)})
	}
	a1.waitFor("a time answer", func(m map[string][][]byte) bool { return len(m[nodeproto.LeafCmd]) > 0 })
	deadline := time.Now().Add(20 * time.Second)
	for e.fl.Stats().Refused[RefusedTimeRate] < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("refused %v, want 4 time requests over the rate", e.fl.Stats().Refused)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a1.mu.Lock()
	cmds := a1.msgs[nodeproto.LeafCmd]
	a1.mu.Unlock()
	if len(cmds) != 1 {
		t.Fatalf("%d commands, want one time answer", len(cmds))
	}
	keys := nodeproto.Keyring{e.cfg.Signer.Key().ID: e.cfg.Signer.Key().Pub}
	var c nodeproto.Command
	if err := keys.Open(cmds[0], &c); err != nil {
		t.Fatalf("the answer does not verify: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Type != nodeproto.CmdTime || c.Node != "a1" || c.Time.Req != 1000 || c.Issued != e.clock.Now().UnixMilli() {
		t.Errorf("answer %+v (time %+v), want type time to a1, req 1000, issued the controller's clock", c, c.Time)
	}
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(timeAnswerGap)
	e.clock.mu.Unlock()
	a1.publish(nodeproto.LeafState, nodeproto.State{Node: "a1", Online: true, TS: ts, ClockReq: 2000})
	a1.waitFor("a second answer", func(m map[string][][]byte) bool { return len(m[nodeproto.LeafCmd]) > 1 })
}
