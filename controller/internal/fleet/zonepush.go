package fleet

import (
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// A play command to a zone names a file its nodes usually do not hold yet
// (an emergency recording made a minute ago). Left to themselves, every
// node of the zone would fetch it on its own topic and the controller would
// send the file once per node: 10,000 times for a province-wide alert, all
// through its one connection. Instead the controller publishes the file's
// chunks once on radio/v1/zone/{zone}/chunk right after the command, and
// the broker fans them out (PROTOCOL.md §6). Nodes store the chunks of a
// file they were told to play and fetch on their own only what they missed.

// DefaultZonePushMax is the largest file pushed to a zone (Config.ZonePushMax).
// 16 MiB is over an hour of 32 kbit/s speech and 1,024 chunks, the embedded
// broker's QoS 1 queue per client (maxInflight); nodes fetch a bigger file
// on their own, as before.
const DefaultZonePushMax = 16 << 20

// pushWindow is how many chunk publishes of one push may wait for the
// broker's acknowledgement: the push goes at the pace the broker fans it
// out, instead of piling a whole file into the controller's client.
const pushWindow = 16

// pushAckWait is how long a push waits for the broker to take one chunk.
const pushAckWait = 2 * time.Minute

type pushKey struct{ zone, media string }

// pushZone publishes media's chunks once on zone's chunk topic, in the
// background. It runs after the command is with the broker, so that a node
// already knows it wants the file when the first chunk arrives. A push of
// the same file to the same zone still under way is not started twice.
func (f *Fleet) pushZone(zone, media string, size int64) {
	if f.cfg.ZonePushMax < 0 || size > f.cfg.ZonePushMax {
		f.log.Info("zone push skipped: file too large; nodes fetch it on their own", "zone", zone, "media", media, "bytes", size, "limit", f.cfg.ZonePushMax)
		return
	}
	k := pushKey{zone, media}
	f.pushMu.Lock()
	if f.pushing[k] || f.pushQuit == nil {
		f.pushMu.Unlock()
		return
	}
	f.pushing[k] = true
	f.pushWG.Add(1)
	quit := f.pushQuit
	f.pushMu.Unlock()
	go func() {
		defer func() {
			f.pushMu.Lock()
			delete(f.pushing, k)
			f.pushMu.Unlock()
			f.pushWG.Done()
		}()
		f.push(zone, media, size, quit)
	}()
}

// push sends the chunks in order with at most pushWindow unacknowledged.
// A chunk the broker does not take ends the push: nodes fetch what they
// miss.
func (f *Fleet) push(zone, media string, size int64, quit <-chan struct{}) {
	start := f.cfg.Now()
	log := f.log.With("zone", zone, "media", media)
	topic := nodeproto.ZoneChunkTopic(zone)
	count := nodeproto.ChunkCount(size)
	var window []mqtt.Token
	var bytes int64
	// A broker fanning a chunk out to 10,000 clients may take many seconds
	// to acknowledge it (Mosquitto, single-threaded, took over 10 s on a
	// loaded machine): giving up early would turn one push into 10,000
	// fetches. paho resends over a new connection; only Close ends a wait.
	wait := func(tok mqtt.Token) bool {
		for waited := time.Duration(0); !tok.WaitTimeout(time.Second); waited += time.Second {
			select {
			case <-quit:
				return false
			default:
			}
			if waited >= pushAckWait {
				log.Warn("zone push stopped: the broker did not take a chunk; nodes fetch the rest", "waited", pushAckWait)
				return false
			}
		}
		if err := tok.Error(); err != nil {
			log.Warn("zone push stopped: the broker did not take a chunk; nodes fetch the rest", "err", err)
			return false
		}
		return true
	}
	for i := range count {
		select {
		case <-quit:
			return
		default:
		}
		ch, err := f.cfg.Media.ReadChunk(media, i)
		if err != nil {
			log.Warn("zone push stopped", "chunk", i, "err", err)
			return
		}
		if ch.Size != size {
			log.Warn("zone push skipped: the command's size differs from the file's", "size", size, "file", ch.Size)
			return
		}
		b, err := nodeproto.MarshalChunk(ch)
		if err != nil {
			log.Warn("zone push stopped", "chunk", i, "err", err)
			return
		}
		if len(window) == pushWindow {
			if !wait(window[0]) {
				return
			}
			window = window[1:]
		}
		window = append(window, f.raw.Publish(topic, 1, false, b))
		bytes += int64(len(b))
		f.count.zoneChunks.Add(1)
		f.count.zoneBytes.Add(uint64(len(b)))
	}
	for _, tok := range window {
		if !wait(tok) {
			return
		}
	}
	f.count.zonePushes.Add(1)
	log.Info("zone push sent", "chunks", count, "bytes", bytes, "took", f.cfg.Now().Sub(start))
}

// stopPushes ends pushes under way and waits for them (Close).
func (f *Fleet) stopPushes() {
	f.pushMu.Lock()
	if f.pushQuit != nil {
		close(f.pushQuit)
		f.pushQuit = nil
	}
	f.pushMu.Unlock()
	f.pushWG.Wait()
}
