package nodeproto

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
)

// Live audio (PROTOCOL.md §10). A signed `stream` command opens a session
// on a zone or node; the audio then travels as binary StreamPackets on
// radio/v1/zone/{zone}/stream or radio/v1/node/{id}/stream, published once
// per zone and fanned out by the broker. Each packet carries its sample
// position, so every node plays sample n at StartAt + n/Rate, as it aligns
// files, and each packet is signed with the key that signed the session's
// command, so a forged packet is refused even if a broker let it through.

// CmdStream opens a live session (Command.Stream).
const CmdStream = "stream"

// LeafStream is the topic leaf of a session's packets, under a zone or a node.
const LeafStream = "stream"

// Stream codec parameters. Only one combination exists today.
const (
	StreamCodec   = "opus"
	StreamRate    = 48000
	StreamFrameMS = 20
)

// Stream limits.
const (
	MaxStreamFrames  = 50   // Opus frames in one packet (1 s of audio)
	MaxStreamFrame   = 1275 // bytes of one Opus frame (RFC 6716's maximum)
	MaxStreamPacket  = streamFixed + 64 + MaxStreamFrames*(2+MaxStreamFrame)
	MaxStreamSession = 24 * 60 * 60 * 1000 // ms a session may last (Stream.EndsAt - StartAt)
)

// Stream describes a live session: a relay of a radio channel or an
// officer's voice. Its packets name Session.
type Stream struct {
	Session  string `json:"session"`            // session id (an id), named by every packet
	Source   string `json:"source,omitempty"`   // what it is, for people: "relay:VOV1", "live:an.nguyen"
	Title    string `json:"title,omitempty"`    // shown in reports
	Priority string `json:"priority,omitempty"` // normal | priority | emergency; default normal
	StartAt  int64  `json:"start_at"`           // unix ms at which sample 0 is heard at the speaker
	EndsAt   int64  `json:"ends_at,omitempty"`  // unix ms: the node stops here even without the last packet; 0 = open
	Codec    string `json:"codec"`              // "opus"
	Rate     int    `json:"rate"`               // 48000
	Channels int    `json:"channels"`           // 1
	FrameMS  int    `json:"frame_ms"`           // 20: every Opus frame is this long
	Resume   bool   `json:"resume,omitempty"`   // as in Play: a session cut by a higher priority continues (at its present) after it
	Volume   *int   `json:"volume,omitempty"`   // this session only
}

func (s *Stream) validate() *Error {
	if !ValidID(s.Session) {
		return invalid("stream session %q", s.Session)
	}
	if s.Codec != StreamCodec || s.Rate != StreamRate || s.Channels != 1 || s.FrameMS != StreamFrameMS {
		return Errf(CodeUnsupported, fmt.Sprintf("stream codec %s/%d Hz/%d ch/%d ms: want %s/%d/1/%d",
			s.Codec, s.Rate, s.Channels, s.FrameMS, StreamCodec, StreamRate, StreamFrameMS))
	}
	if s.StartAt <= 0 || (s.EndsAt != 0 && (s.EndsAt <= s.StartAt || s.EndsAt-s.StartAt > MaxStreamSession)) {
		return invalid("stream %s: start_at %d ends_at %d", s.Session, s.StartAt, s.EndsAt)
	}
	if PriorityRank(s.Priority) < 0 {
		return invalid("priority %q", s.Priority)
	}
	if len(s.Title) > 200 || len(s.Source) > 200 {
		return invalid("stream %s: title or source over 200 bytes", s.Session)
	}
	return checkVolume(s.Volume)
}

// StreamMagic starts every stream packet.
const StreamMagic = "RSP1"

// StreamSignContext is prepended to a packet's bytes before signing, so a
// packet signature can never pass for a command's or anything else's.
const StreamSignContext = "radio/v1 stream\n"

// streamFixed is the packet's size without session id, frames and signature.
const streamFixed = 4 + 1 + 4 + 8 + 1 + 1

// StreamLast marks the last packet of a session.
const StreamLast = 1

// StreamPacket is one piece of a live session. On the wire, integers
// big-endian:
//
//	size   field
//	4      "RSP1"
//	1      n, length of the session id
//	n      session id
//	4      seq: packet number in the session, from 0
//	8      pos: sample position (48 kHz, from StartAt) of the first frame's first sample
//	1      flags: bit 0 = last packet of the session
//	1      k, number of Opus frames (0..50), each FrameMS long
//	k×     2-byte length + the Opus frame
//	64     Ed25519 signature of StreamSignContext || every byte above
type StreamPacket struct {
	Session string
	Seq     uint32
	Pos     uint64
	Last    bool
	Frames  [][]byte
}

// Errors of stream packets.
var (
	ErrStreamMalformed = errors.New("stream packet malformed")
	ErrStreamSignature = errors.New("stream packet signature does not verify")
)

// MarshalStreamPacket encodes and signs p.
func MarshalStreamPacket(priv ed25519.PrivateKey, p StreamPacket) ([]byte, error) {
	if !ValidID(p.Session) || len(p.Frames) > MaxStreamFrames {
		return nil, fmt.Errorf("nodeproto: stream packet of session %q with %d frames", p.Session, len(p.Frames))
	}
	n := streamFixed + len(p.Session) + ed25519.SignatureSize
	for _, f := range p.Frames {
		if len(f) == 0 || len(f) > MaxStreamFrame {
			return nil, fmt.Errorf("nodeproto: stream frame of %d bytes", len(f))
		}
		n += 2 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, StreamMagic...)
	b = append(b, byte(len(p.Session)))
	b = append(b, p.Session...)
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	b = binary.BigEndian.AppendUint64(b, p.Pos)
	var flags byte
	if p.Last {
		flags |= StreamLast
	}
	b = append(b, flags, byte(len(p.Frames)))
	for _, f := range p.Frames {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return append(b, ed25519.Sign(priv, streamSigned(b))...), nil
}

func streamSigned(b []byte) []byte {
	m := make([]byte, 0, len(StreamSignContext)+len(b))
	return append(append(m, StreamSignContext...), b...)
}

// PeekStreamSession returns the session id of a packet without checking
// anything else, so that a receiver can find the session's key.
func PeekStreamSession(b []byte) (string, bool) {
	if len(b) < 5 || string(b[:4]) != StreamMagic || len(b) < 5+int(b[4]) {
		return "", false
	}
	return string(b[5 : 5+int(b[4])]), true
}

// UnmarshalStreamPacket verifies a packet with the session's key and
// decodes it. Frames alias b.
func UnmarshalStreamPacket(pub ed25519.PublicKey, b []byte) (StreamPacket, error) {
	var p StreamPacket
	if len(b) > MaxStreamPacket || len(b) < streamFixed+ed25519.SignatureSize {
		return p, fmt.Errorf("%w: %d bytes", ErrStreamMalformed, len(b))
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, streamSigned(body), sig) {
		return p, ErrStreamSignature
	}
	if string(body[:4]) != StreamMagic {
		return p, fmt.Errorf("%w: magic", ErrStreamMalformed)
	}
	n := int(body[4])
	if len(body) < streamFixed+n {
		return p, fmt.Errorf("%w: session id", ErrStreamMalformed)
	}
	p.Session = string(body[5 : 5+n])
	r := body[5+n:]
	p.Seq = binary.BigEndian.Uint32(r)
	p.Pos = binary.BigEndian.Uint64(r[4:])
	p.Last = r[12]&StreamLast != 0
	k := int(r[13])
	r = r[14:]
	if !ValidID(p.Session) || k > MaxStreamFrames {
		return p, fmt.Errorf("%w: session %q, %d frames", ErrStreamMalformed, p.Session, k)
	}
	p.Frames = make([][]byte, 0, k)
	for range k {
		if len(r) < 2 {
			return p, fmt.Errorf("%w: frame length", ErrStreamMalformed)
		}
		l := int(binary.BigEndian.Uint16(r))
		if l == 0 || l > MaxStreamFrame || len(r) < 2+l {
			return p, fmt.Errorf("%w: frame of %d bytes", ErrStreamMalformed, l)
		}
		p.Frames = append(p.Frames, r[2:2+l])
		r = r[2+l:]
	}
	if len(r) != 0 {
		return p, fmt.Errorf("%w: %d trailing bytes", ErrStreamMalformed, len(r))
	}
	return p, nil
}

// StreamSamplesPerFrame is the number of samples of one frame.
const StreamSamplesPerFrame = StreamRate * StreamFrameMS / 1000

// ZoneStreamTopic returns radio/v1/zone/{zone}/stream.
func ZoneStreamTopic(zone string) string { return Root + "/zone/" + zone + "/" + LeafStream }
