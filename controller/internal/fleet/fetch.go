package fleet

import (
	"fmt"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// MaxOutstandingChunks is how many chunks of one file the controller
// answers per fetch: the node's outstanding window (PROTOCOL.md §6).
const MaxOutstandingChunks = 8

// Defaults of Config.ChunkRate and Config.ChunkBurst: 512 KiB/s is ~130
// times a 32 kbit/s bulletin's rate (a 5-minute one arrives in ~2.5 s), and
// the burst is two files' outstanding windows.
const (
	DefaultChunkRate  = 512 << 10
	DefaultChunkBurst = 2 * MaxOutstandingChunks * nodeproto.ChunkSize
)

// onFetch serves the chunks a node asks for, if it was given the file, at
// most MaxOutstandingChunks distinct indices per request and within the
// node's byte budget. Indices not served are not answered: the node asks
// again after its timeout, as for a lost chunk.
func (f *Fleet) onFetch(id string, payload []byte) error {
	var req nodeproto.Fetch
	if err := nodeproto.Decode(payload, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	now := f.cfg.Now()
	var src chunkSource = f.cfg.Media
	if rel := f.cfg.Releases; rel != nil && rel.MayFetch(id, req.Media) {
		src = rel // a release binary an update sent this node
	} else if !f.access.mayFetch(id, req.Media, now) {
		// One answer for unknown and for not given, so a node cannot probe
		// which recordings (or releases) exist.
		f.count.refuse(RefusedFetchNotGiven, id, 1, req.Media)
		f.refuseFetch(id, req.Media)
		return nil
	}
	if !src.Has(req.Media) {
		f.count.refuse(RefusedFetchUnknown, id, 1, req.Media)
		f.refuseFetch(id, req.Media)
		return nil
	}
	ask, dups := distinct(req.Chunks)
	f.count.refuse(RefusedChunkDuplicate, id, dups, req.Media)
	if len(ask) > MaxOutstandingChunks {
		f.count.refuse(RefusedChunkWindow, id, len(ask)-MaxOutstandingChunks, req.Media)
		ask = ask[:MaxOutstandingChunks]
	}
	topic := nodeproto.NodeTopic(id, nodeproto.LeafChunk)
	for n, i := range ask {
		// Charged a whole chunk before reading it: refused bytes cost no disk read.
		if !f.limit.take(id, nodeproto.ChunkSize, now) {
			f.count.refuse(RefusedChunkRate, id, len(ask)-n, req.Media)
			return nil
		}
		ch, err := src.ReadChunk(req.Media, i)
		if err != nil {
			return fmt.Errorf("chunk %d of %s: %w", i, req.Media, err)
		}
		b, err := nodeproto.MarshalChunk(ch)
		if err != nil {
			return err
		}
		f.raw.Publish(topic, 1, false, b)
		f.count.chunksSent.Add(1)
	}
	return nil
}

// chunkSource is where fetched chunks come from: recordings or releases.
type chunkSource interface {
	Has(sha string) bool
	ReadChunk(sha string, index int) (nodeproto.Chunk, error)
}

// refuseFetch tells the node it will not get media (PROTOCOL.md §6).
func (f *Fleet) refuseFetch(id, media string) {
	b, err := nodeproto.MarshalChunkRefusal(nodeproto.ChunkRefusal{Media: media, Code: nodeproto.CodeContent})
	if err != nil {
		f.log.Error("refusing a fetch", "node", id, "err", err)
		return
	}
	f.raw.Publish(nodeproto.NodeTopic(id, nodeproto.LeafChunk), 1, false, b)
}

// distinct returns the indices in order without repeats, and how many
// repeats it dropped.
func distinct(idx []int) ([]int, int) {
	seen := make(map[int]bool, len(idx))
	out := make([]int, 0, len(idx))
	for _, i := range idx {
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, len(idx) - len(out)
}
