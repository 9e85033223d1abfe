package fleet

import (
	"sync"
	"time"
)

// buckets are token buckets of chunk bytes, one per node, on the fleet's
// clock: a node may take up to burst bytes at once, then rate bytes per
// second. A node's box may be in an attacker's hands; without a bound a
// 58 KB burst of fetches made the controller push 209 MB to one client.
type buckets struct {
	rate, burst float64

	mu    sync.Mutex
	nodes map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newBuckets(rate, burst int) *buckets {
	return &buckets{rate: float64(rate), burst: float64(burst), nodes: map[string]*bucket{}}
}

// take removes n bytes from node's bucket if it holds them.
func (b *buckets) take(node string, n int, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.nodes[node]
	if k == nil {
		k = &bucket{tokens: b.burst, last: now}
		b.nodes[node] = k
	}
	if dt := now.Sub(k.last); dt > 0 {
		k.tokens = min(b.burst, k.tokens+dt.Seconds()*b.rate)
		k.last = now
	}
	if k.tokens < float64(n) {
		return false
	}
	k.tokens -= float64(n)
	return true
}

func (b *buckets) forget(node string) {
	b.mu.Lock()
	delete(b.nodes, node)
	b.mu.Unlock()
}
