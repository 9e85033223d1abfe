package fleet

import (
	"hash/fnv"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// message is one message from a node.
type message struct {
	topic    string
	payload  []byte
	retained bool
}

// Messages are handled by Config.Workers goroutines, and each node's always
// by the same one, in the order they arrived: with one shared queue a
// node's last will ("offline") could be stored after the "online" of its
// reconnect, and the node shown offline until its next report.
func (f *Fleet) shardOf(topic string) int {
	id, _, ok := nodeproto.ParseNodeTopic(topic)
	if !ok || len(f.shards) == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(f.shards)))
}

func (f *Fleet) enqueue(topic string, payload []byte, retained bool) {
	s := f.shardOf(topic)
	// A read lock: a node whose queue is full holds up only itself (and the
	// nodes of its worker), not every other node's messages.
	f.mu.RLock()
	defer f.mu.RUnlock()
	if !f.closed {
		f.shards[s] <- message{topic, payload, retained}
	}
}

func (f *Fleet) workLoop(queue <-chan message) {
	defer f.workers.Done()
	for m := range queue {
		f.handle(m)
	}
}

// tracked is the controller's MQTT client, remembering its QoS 1 publishes
// until the broker has them, so that Close can wait for them (above all the
// acknowledgements of the last proof of play) before it disconnects.
type tracked struct {
	mqtt.Client
	mu      sync.Mutex
	pending []mqtt.Token
}

func (c *tracked) Publish(topic string, qos byte, retained bool, payload interface{}) mqtt.Token {
	t := c.Client.Publish(topic, qos, retained, payload)
	if qos == 0 {
		return t
	}
	c.mu.Lock()
	if len(c.pending) >= 1024 {
		c.pending = slicesDeleteDone(c.pending)
	}
	c.pending = append(c.pending, t)
	c.mu.Unlock()
	return t
}

// flush waits up to d for every tracked publish; it returns how many did
// not complete.
func (c *tracked) flush(d time.Duration) int {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for i, t := range pending {
		select {
		case <-t.Done():
		case <-deadline.C:
			return len(pending) - i
		}
	}
	return 0
}

func slicesDeleteDone(ts []mqtt.Token) []mqtt.Token {
	out := ts[:0]
	for _, t := range ts {
		select {
		case <-t.Done():
		default:
			out = append(out, t)
		}
	}
	clear(ts[len(out):])
	return out
}
