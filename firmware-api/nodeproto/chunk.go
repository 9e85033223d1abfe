package nodeproto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// ChunkMagic starts every binary chunk message.
const ChunkMagic = "RCK1"

const chunkHeader = 4 + 32 + 4 + 4 + 8 + 32

// Chunk is one piece of a media file on radio/v1/node/{id}/chunk. On the wire
// it is binary, all integers big-endian:
//
//	offset size field
//	0      4    "RCK1"
//	4      32   sha256 of the whole media file
//	36     4    index of this chunk, from 0
//	40     4    count of chunks in the file
//	44     8    size of the whole file in bytes
//	52     32   sha256 of this chunk's data
//	84     n    data: ChunkSize bytes, except the last chunk
type Chunk struct {
	Media string // lowercase hex sha256
	Index int
	Count int
	Size  int64
	Data  []byte
}

// ChunkCount is the number of chunks of a file of size bytes.
func ChunkCount(size int64) int { return int((size + ChunkSize - 1) / ChunkSize) }

// ChunkLen is the data length of chunk i of a file of size bytes.
func ChunkLen(size int64, i int) int {
	rest := size - int64(i)*ChunkSize
	if rest > ChunkSize {
		return ChunkSize
	}
	return int(rest)
}

// MarshalChunk encodes c.
func MarshalChunk(c Chunk) ([]byte, error) {
	h, err := hex.DecodeString(c.Media)
	if err != nil || len(h) != 32 {
		return nil, fmt.Errorf("nodeproto: chunk media %q is not a sha256", c.Media)
	}
	b := make([]byte, chunkHeader, chunkHeader+len(c.Data))
	copy(b, ChunkMagic)
	copy(b[4:], h)
	binary.BigEndian.PutUint32(b[36:], uint32(c.Index))
	binary.BigEndian.PutUint32(b[40:], uint32(c.Count))
	binary.BigEndian.PutUint64(b[44:], uint64(c.Size))
	sum := sha256.Sum256(c.Data)
	copy(b[52:], sum[:])
	return append(b, c.Data...), nil
}

// ErrChunk is wrapped by every chunk decoding error.
var ErrChunk = errors.New("bad chunk")

// UnmarshalChunk decodes and checks a chunk: magic, sizes, index range, the
// exact data length the index implies, and the data's sha256. A truncated or
// corrupted chunk is rejected here and simply asked for again.
func UnmarshalChunk(b []byte) (Chunk, error) {
	if len(b) > MaxChunkMsg {
		return Chunk{}, fmt.Errorf("%w: %d bytes, limit %d", ErrChunk, len(b), MaxChunkMsg)
	}
	if len(b) < chunkHeader || string(b[:4]) != ChunkMagic {
		return Chunk{}, fmt.Errorf("%w: short or missing %q header", ErrChunk, ChunkMagic)
	}
	c := Chunk{
		Media: hex.EncodeToString(b[4:36]),
		Index: int(binary.BigEndian.Uint32(b[36:])),
		Count: int(binary.BigEndian.Uint32(b[40:])),
		Data:  b[chunkHeader:],
	}
	size := binary.BigEndian.Uint64(b[44:])
	if size == 0 || size > MaxMediaSize {
		return Chunk{}, fmt.Errorf("%w: file size %d out of range", ErrChunk, size)
	}
	c.Size = int64(size)
	if c.Count != ChunkCount(c.Size) || c.Index >= c.Count {
		return Chunk{}, fmt.Errorf("%w: index %d/count %d do not fit size %d", ErrChunk, c.Index, c.Count, c.Size)
	}
	if want := ChunkLen(c.Size, c.Index); len(c.Data) != want {
		return Chunk{}, fmt.Errorf("%w: chunk %d has %d bytes, want %d (truncated?)", ErrChunk, c.Index, len(c.Data), want)
	}
	sum := sha256.Sum256(c.Data)
	if !bytes.Equal(sum[:], b[52:84]) {
		return Chunk{}, fmt.Errorf("%w: chunk %d data does not match its sha256", ErrChunk, c.Index)
	}
	return c, nil
}

// PeekChunk reads the media and index of a chunk message whose header is
// intact, without checking the data, so a receiver can ask again at once
// for a chunk that arrived damaged.
func PeekChunk(b []byte) (media string, index int, ok bool) {
	if len(b) < chunkHeader || string(b[:4]) != ChunkMagic {
		return "", 0, false
	}
	return hex.EncodeToString(b[4:36]), int(binary.BigEndian.Uint32(b[36:])), true
}

// ChunkRefusalMagic starts a refusal on the chunk topic: the controller's
// answer to a fetch it will not serve at all, so the node can stop asking
// instead of repeating the request every few seconds. A node that does not
// know it drops it as a bad chunk (wrong magic) and simply times out.
const ChunkRefusalMagic = "RCKE"

// ChunkRefusalLen is the length of a refusal message.
const ChunkRefusalLen = 4 + 32 + 2

// ChunkRefusal says the controller will not serve a media file to this node.
// On the wire, big-endian:
//
//	offset size field
//	0      4    "RCKE"
//	4      32   sha256 of the media file asked for
//	36     2    code (CodeContent: unknown, or not given to this node)
type ChunkRefusal struct {
	Media string
	Code  Code
}

// MarshalChunkRefusal encodes r.
func MarshalChunkRefusal(r ChunkRefusal) ([]byte, error) {
	h, err := hex.DecodeString(r.Media)
	if err != nil || len(h) != 32 {
		return nil, fmt.Errorf("nodeproto: refusal media %q is not a sha256", r.Media)
	}
	if r.Code < 0 || r.Code > 0xffff {
		return nil, fmt.Errorf("nodeproto: refusal code %d out of range", r.Code)
	}
	b := make([]byte, ChunkRefusalLen)
	copy(b, ChunkRefusalMagic)
	copy(b[4:], h)
	binary.BigEndian.PutUint16(b[36:], uint16(r.Code))
	return b, nil
}

// UnmarshalChunkRefusal decodes a refusal; ok is false when b is not one
// (then it is a chunk, or garbage).
func UnmarshalChunkRefusal(b []byte) (r ChunkRefusal, ok bool) {
	if len(b) != ChunkRefusalLen || string(b[:4]) != ChunkRefusalMagic {
		return ChunkRefusal{}, false
	}
	return ChunkRefusal{Media: hex.EncodeToString(b[4:36]), Code: Code(binary.BigEndian.Uint16(b[36:]))}, true
}
