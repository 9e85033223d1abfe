package node

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/link"
	"github.com/communeradio/radio/node/internal/player"
	"github.com/communeradio/radio/node/internal/stream"
)

// Live sessions (PROTOCOL.md §10) on the node's loop: a verified stream
// command opens a session and hands its jitter buffer to the player as an
// item; packets go to the buffer once they verify with the key that signed
// the command; the player's end events close the session.

// reasonLost is the interrupted reason of a session whose packets stopped.
const reasonLost = "stream lost"

func newDecoder() (stream.Decoder, error) { return player.NewDecoder() }

// streamTopic is where the packets of a session targeted by c come from.
func (a *agent) streamTopic(c *nodeproto.Command) string {
	if c.Zone != "" {
		return nodeproto.ZoneStreamTopic(c.Zone)
	}
	return nodeproto.NodeTopic(a.cfg.ID, nodeproto.LeafStream)
}

// isStreamTopic reports whether a topic carries stream packets.
func isStreamTopic(topic string) bool {
	if _, leaf, ok := nodeproto.ParseZoneLeaf(topic); ok {
		return leaf == nodeproto.LeafStream
	}
	_, leaf, ok := nodeproto.ParseNodeTopic(topic)
	return ok && leaf == nodeproto.LeafStream
}

// streamQoS is the link's subscription QoS: 0 for live audio (a packet
// that would come late is better lost), 1 for everything else.
func streamQoS(topic string) byte {
	if isStreamTopic(topic) {
		return 0
	}
	return 1
}

// streamTopics runs on the link's goroutine: it reads the snapshot the
// loop publishes in snapStreams.
func (a *agent) streamTopics() []string {
	if ts := a.streamSnap.Load(); ts != nil {
		return *ts
	}
	return nil
}

// snapStreams subscribes to the topics of the open sessions, and
// unsubscribes from those no session uses any more.
func (a *agent) snapStreams() {
	ts := a.streams.Topics()
	a.streamSnap.Store(&ts)
	a.link.Resubscribe()
}

// openStream acts on a verified stream command. payload is the command's
// envelope: its key is the one every packet of the session must verify with.
func (a *agent) openStream(c *nodeproto.Command, payload []byte) error {
	st := c.Stream
	now := a.now()
	if st.EndsAt != 0 && now.UnixMilli() >= st.EndsAt {
		a.log.Info("stream command for a session already over: ignored", "session", st.Session)
		return nil
	}
	var env nodeproto.Envelope
	if err := json.Unmarshal(payload, &env); err != nil { // verified by keys.Open already
		return nodeproto.Errf(nodeproto.CodeMalformed, err.Error())
	}
	ss, fresh, err := a.streams.Open(*st, a.streamTopic(c), a.keys[env.KID], now)
	if err != nil {
		return nodeproto.Errf(nodeproto.CodeAudio, err.Error())
	}
	if !fresh {
		return nil // the controller's repeat of a session the node plays or has ended
	}
	it := player.Item{ID: st.Session, PlayAt: time.UnixMilli(st.StartAt), Priority: nodeproto.PriorityRank(st.Priority),
		Volume: -1, Resume: st.Resume, Live: ss.Buffer}
	if st.Volume != nil {
		it.Volume = *st.Volume
	}
	a.ampFor(&it, now)
	if err := a.play.Play(it); err != nil {
		a.streams.Close(st.Session, true, now)
		return nodeproto.Errf(nodeproto.CodeAudio, err.Error())
	}
	a.snapStreams()
	a.log.Info("live session opened", "session", st.Session, "source", st.Source, "topic", ss.Topic,
		"start_at", it.PlayAt, "priority", st.Priority)
	return nil
}

// handleStream gives a packet to its session, or drops it.
func (a *agent) handleStream(m link.Message) {
	if _, err := a.streams.Packet(m.Topic, m.Payload, a.now()); err != nil {
		a.log.Debug("stream packet dropped", "topic", m.Topic, "err", err)
	}
}

// streamEvent closes the session of a player event that ends it.
func (a *agent) streamEvent(ev player.Event) {
	ss := a.streams.Get(ev.ID)
	if ss == nil {
		return
	}
	switch ev.Type {
	case player.Finished, player.Failed:
	case player.Interrupted:
		if strings.HasPrefix(ev.Reason, "preempted by ") && ss.Stream.Resume {
			return // paused: it resumes, at its present, after the higher item
		}
	default:
		return
	}
	a.streams.Close(ev.ID, ev.Reason == reasonLost, a.now())
	a.snapStreams()
	a.log.Info("live session closed", "session", ev.ID, "event", ev.Type, "reason", ev.Reason,
		"gaps", ev.Gaps, "gap_ms", ev.Gap.Milliseconds(), "frames_dropped", ss.Buffer.Drops(), "packets_refused", a.streams.Refused)
}

// checkStreams ends the sessions whose packets stopped coming.
func (a *agent) checkStreams(now time.Time) {
	for _, id := range a.streams.Lost(now) {
		a.play.End(id, reasonLost)
	}
}
