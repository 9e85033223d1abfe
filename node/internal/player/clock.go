package player

import (
	"math"
	"sync"
	"time"
)

// sampleClock maps the output's sample index to wall-clock time.
//
// The output tells, for the first sample s0 of each write, when it will be
// heard: the time it read the device's delay plus that delay (alsa.go), or
// for the silent sink the real-time schedule itself. Each such dating gives
// t - s0/Rate, which is never earlier than the true anchor (a reading can be
// taken late, not early). The minimum over the last few seconds is the
// anchor A; a short window follows drift between the sound card and the
// system clock and forgets the irregular first moments, when the buffers
// fill. Sample s is heard at A + s/Rate + lead, where lead is what the
// output could not measure (zero for both outputs now; it was oto's
// guessed buffering).
type sampleClock struct {
	now    func() time.Time // the node's wall clock, while nothing is dated yet
	mu     sync.Mutex
	lead   time.Duration
	window []obs // per-second minimums, newest last
	// prov is the latest provisional dating (provisional): a device
	// settling gives datings too rough to keep, but far better than none
	// while the window is empty.
	prov time.Time
}

type obs struct {
	sec int64
	v   time.Time
}

const clockWindow = 3 // seconds

func newSampleClock() *sampleClock { return &sampleClock{now: time.Now} }

// reset forgets the observations (a new output) and sets its lead.
func (c *sampleClock) reset(lead time.Duration) {
	c.mu.Lock()
	c.lead = lead
	c.window = c.window[:0]
	c.prov = time.Time{}
	c.mu.Unlock()
}

// provisional records a rough dating of sample s0 (heard at now), used
// only while there is no other.
func (c *sampleClock) provisional(now time.Time, s0 int64) {
	c.mu.Lock()
	c.prov = now.Add(-time.Duration(s0) * time.Second / Rate)
	c.mu.Unlock()
}

// observe records that sample s0 is heard at now.
func (c *sampleClock) observe(now time.Time, s0 int64) {
	v := now.Add(-time.Duration(s0) * time.Second / Rate)
	c.mu.Lock()
	defer c.mu.Unlock()
	sec := now.Unix()
	if n := len(c.window); n > 0 && c.window[n-1].sec == sec {
		if v.Before(c.window[n-1].v) {
			c.window[n-1].v = v
		}
	} else {
		c.window = append(c.window, obs{sec, v})
	}
	if len(c.window) > clockWindow+1 || c.window[0].sec < sec-clockWindow {
		c.window = append(c.window[:0], c.window[1:]...)
	}
}

func (c *sampleClock) base() time.Time {
	if len(c.window) == 0 {
		if !c.prov.IsZero() {
			return c.prov.Add(c.lead)
		}
		return c.now().Add(c.lead)
	}
	a := c.window[0].v
	for _, o := range c.window[1:] {
		if o.v.Before(a) {
			a = o.v
		}
	}
	return a.Add(c.lead)
}

// timeOf is when sample s is heard.
func (c *sampleClock) timeOf(s int64) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base().Add(time.Duration(s) * time.Second / Rate)
}

// sampleAt is the sample heard at t.
func (c *sampleClock) sampleAt(t time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(math.Round(t.Sub(c.base()).Seconds() * Rate))
}
