package fleet

import (
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// The controller's time as a node's fallback clock source (PROTOCOL.md §1):
// a node without a synchronised clock puts a request (State.ClockReq) in
// its state, and the controller answers at once with a signed `time`
// command to that node: its own clock in Issued, the request echoed. The
// node times the round trip itself, so the answer carries no estimate.

// timeAnswerGap spaces the answers to one node: a node (or a stolen
// secret) sending states in a loop costs one signature per gap.
const timeAnswerGap = 2 * time.Second

// RefusedTimeRate counts time requests over one per timeAnswerGap.
const RefusedTimeRate = "time_rate"

// answerTime answers a node's request for the controller's time.
func (f *Fleet) answerTime(node string, req int64) {
	now := f.cfg.Now()
	if last, ok := f.timeAnswered.Load(node); ok {
		if d := now.Sub(last.(time.Time)); d >= 0 && d < timeAnswerGap {
			f.count.refuse(RefusedTimeRate, node, 1, "a request for the controller's time less than 2 s after the last")
			return
		}
	}
	f.timeAnswered.Store(node, now)
	c := nodeproto.Command{ID: newCommandID(now), Type: nodeproto.CmdTime, Node: node, Issued: now.UnixMilli(),
		Expires: now.Add(time.Minute).UnixMilli(), Time: &nodeproto.TimeAnswer{Req: req}}
	env, err := f.cfg.Signer.Sign(c)
	if err != nil {
		f.log.Error("signing a time answer", "node", node, "err", err)
		return
	}
	if _, err := f.publish(nodeproto.NodeTopic(node, nodeproto.LeafCmd), false, env); err != nil {
		f.log.Warn("time answer not sent", "node", node, "err", err)
	}
}
