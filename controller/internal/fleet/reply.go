package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// onReply stores a node's answer to a command that was sent to it (or to
// one of its zones). Anything else is refused and counted: a reply names a
// command, and a stolen secret must not write answers to commands the node
// never got, or answers on another node's behalf.
func (f *Fleet) onReply(id string, payload []byte) error {
	var r nodeproto.Reply
	if err := nodeproto.Decode(payload, &r); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Node != id {
		f.count.refuse(RefusedReplyNodeField, id, 1, fmt.Sprintf("reply names node %q", r.Node))
		return nil
	}
	if !r.OK {
		f.log.Warn("node refused", "node", id, "cmd", r.Cmd, "code", r.Code.String(), "reason", r.Reason)
	}
	if !nodeproto.ValidID(r.Cmd) {
		return nil // desired:<rev> or an unparseable command: logged only
	}
	ctx := context.Background()
	target, ok, err := f.access.sent(ctx, f.cfg.Registry, r.Cmd)
	if err != nil {
		return fmt.Errorf("reply to %s: %w", r.Cmd, err)
	}
	if !ok {
		f.count.refuse(RefusedReplyUnknownCmd, id, 1, r.Cmd)
		return nil
	}
	if !f.access.reaches(target, id) {
		f.count.refuse(RefusedReplyNotTarget, id, 1, r.Cmd+" went to "+target)
		return nil
	}
	return f.cfg.Registry.RecordReply(ctx, registry.CommandReply{CommandID: r.Cmd, NodeID: id,
		OK: r.OK, Code: int(r.Code), Reason: r.Reason, At: time.UnixMilli(r.TS)})
}

// checkEvent is the controller's check of one proof-of-play event: the
// protocol's own rules, and a time not ahead of the controller's clock by
// more than EventSkew. A refused event is counted (and acknowledged by the
// caller, so that it cannot block the node's outbox).
func (f *Fleet) checkEvent(id string, ev *nodeproto.Event) error {
	if err := ev.Validate(); err != nil {
		f.count.refuse(RefusedEventInvalid, id, 1, err.Error())
		return err
	}
	if err := ev.CheckTime(f.cfg.Now(), f.cfg.EventSkew); err != nil {
		f.count.refuse(RefusedEventFuture, id, 1, err.Error())
		return err
	}
	return nil
}
