package stream

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// LostAfter: a session with no packet for this long has lost its stream
// (PROTOCOL.md §10, rule 3).
const LostAfter = 10 * time.Second

// maxPos is the furthest sample position a session can reach (24 h).
const maxPos = nodeproto.MaxStreamSession * (nodeproto.StreamRate / 1000)

// Session is one live session the node knows.
type Session struct {
	Stream nodeproto.Stream
	Topic  string // where its packets come from
	Buffer *Buffer
	pub    ed25519.PublicKey
	dec    Decoder
	last   time.Time // last packet that verified, or when it opened
}

// Refused counts packets that were not given to any session's buffer.
type Refused struct {
	Forged     int // signature does not verify with the session's key
	Malformed  int
	Unknown    int // name no session the node knows
	Ended      int // of a session that has ended
	WrongTopic int // of a session whose packets come on another topic
}

// Set holds the node's live sessions. It is used from one goroutine (the
// node's loop); only the buffers are read from the audio path.
type Set struct {
	NewDecoder func() (Decoder, error)
	Refused    Refused
	open       map[string]*Session
	ended      map[string]time.Time // session id -> when to forget it
}

// NewSet makes an empty set whose sessions decode with newDecoder.
func NewSet(newDecoder func() (Decoder, error)) *Set {
	return &Set{NewDecoder: newDecoder, open: map[string]*Session{}, ended: map[string]time.Time{}}
}

// Errors of Packet. A refused packet changes nothing.
var (
	ErrUnknownSession = errors.New("stream: packet of no known session")
	ErrEndedSession   = errors.New("stream: packet of an ended session")
	ErrWrongTopic     = errors.New("stream: packet on another topic than its session's")
	ErrPosition       = errors.New("stream: packet position beyond 24 h")
)

// Open starts a session announced by a verified command signed with pub,
// whose packets come on topic. It returns nil, false for a session that is
// already open (the controller repeats the command) or has ended; the
// caller then changes nothing.
func (s *Set) Open(st nodeproto.Stream, topic string, pub ed25519.PublicKey, now time.Time) (*Session, bool, error) {
	s.forget(now)
	if _, ok := s.open[st.Session]; ok {
		return nil, false, nil
	}
	if _, ok := s.ended[st.Session]; ok {
		return nil, false, nil
	}
	dec, err := s.NewDecoder()
	if err != nil {
		return nil, false, fmt.Errorf("stream %s: %w", st.Session, err)
	}
	end := int64(Open)
	if st.EndsAt != 0 {
		end = (st.EndsAt - st.StartAt) * (nodeproto.StreamRate / 1000)
	}
	ss := &Session{Stream: st, Topic: topic, Buffer: NewBuffer(dec, end, 0), pub: pub, dec: dec, last: now}
	s.open[st.Session] = ss
	return ss, true, nil
}

// Get returns an open session.
func (s *Set) Get(id string) *Session { return s.open[id] }

// Packet verifies a packet that came on topic and hands its frames to its
// session's buffer.
func (s *Set) Packet(topic string, b []byte, now time.Time) (*Session, error) {
	id, ok := nodeproto.PeekStreamSession(b)
	if !ok {
		s.Refused.Malformed++
		return nil, nodeproto.ErrStreamMalformed
	}
	ss := s.open[id]
	if ss == nil {
		if _, ok := s.ended[id]; ok {
			s.Refused.Ended++
			return nil, ErrEndedSession
		}
		s.Refused.Unknown++
		return nil, ErrUnknownSession
	}
	if topic != ss.Topic {
		s.Refused.WrongTopic++
		return nil, ErrWrongTopic
	}
	p, err := nodeproto.UnmarshalStreamPacket(ss.pub, b)
	switch {
	case errors.Is(err, nodeproto.ErrStreamSignature):
		s.Refused.Forged++
		return nil, err
	case err != nil:
		s.Refused.Malformed++
		return nil, err
	case p.Pos > maxPos:
		s.Refused.Malformed++
		return nil, ErrPosition
	}
	ss.last = now
	ss.Buffer.Put(int64(p.Pos), p.Frames, p.Last)
	return ss, nil
}

// Close ends a session: its packets are refused from now on. A rejoinable
// session (its stream was lost) is forgotten instead, so that the
// controller's next repeat of its command joins it again.
func (s *Set) Close(id string, rejoinable bool, now time.Time) {
	ss := s.open[id]
	if ss == nil {
		return
	}
	delete(s.open, id)
	ss.dec.Close()
	if !rejoinable {
		s.ended[id] = now.Add(nodeproto.MaxStreamSession * time.Millisecond)
	}
}

// Lost returns the sessions that had no packet for LostAfter, counted from
// their start at the earliest.
func (s *Set) Lost(now time.Time) []string {
	var ids []string
	for id, ss := range s.open {
		from := ss.last
		if start := time.UnixMilli(ss.Stream.StartAt); start.After(from) {
			from = start
		}
		if now.Sub(from) > LostAfter {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Topics returns the topics the open sessions' packets come on.
func (s *Set) Topics() []string {
	var t []string
	for _, ss := range s.open {
		if !slices.Contains(t, ss.Topic) {
			t = append(t, ss.Topic)
		}
	}
	slices.Sort(t)
	return t
}

func (s *Set) forget(now time.Time) {
	for id, until := range s.ended {
		if now.After(until) {
			delete(s.ended, id)
		}
	}
}
