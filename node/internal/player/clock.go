package player

import (
	"math"
	"sync"
	"time"
)

// sampleClock maps the output's sample index to wall-clock time.
//
// The device pulls samples at its rate; each pull for sample s0 at wall time
// t gives t - s0/Rate, which is never earlier than the true anchor (a pull
// can be late, not early). The minimum over the last few seconds is the
// anchor A; a short window follows drift between the sound card and the
// system clock and forgets the irregular pulls of the first second, when
// the sound server fills its buffers. Pulls run ahead of the speaker by the
// buffering between the mixer and the device (lead, set by the output), so
// sample s is heard at A + s/Rate + lead.
type sampleClock struct {
	mu     sync.Mutex
	lead   time.Duration
	first  time.Time
	last   time.Time // the latest pull's t - s0/Rate, used while warming up
	window []obs     // per-second minimums, newest last
}

// warmUp is how long the first pulls are ignored for the anchor: a sound
// server fills its buffers in irregular bursts when a stream starts.
const warmUp = 2 * time.Second

type obs struct {
	sec int64
	v   time.Time
}

const clockWindow = 3 // seconds

func newSampleClock() *sampleClock { return &sampleClock{} }

func (c *sampleClock) setLead(d time.Duration) {
	c.mu.Lock()
	c.lead = d
	c.mu.Unlock()
}

// observe records a pull of sample s0 at time now.
func (c *sampleClock) observe(now time.Time, s0 int64) {
	v := now.Add(-time.Duration(s0) * time.Second / Rate)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() {
		c.first = now
	}
	c.last = v
	if now.Sub(c.first) < warmUp {
		return
	}
	sec := now.Unix()
	if n := len(c.window); n > 0 && c.window[n-1].sec == sec {
		if v.Before(c.window[n-1].v) {
			c.window[n-1].v = v
		}
	} else {
		c.window = append(c.window, obs{sec, v})
	}
	for len(c.window) > 0 && c.window[0].sec < sec-clockWindow {
		c.window = c.window[1:]
	}
}

func (c *sampleClock) base() time.Time {
	if len(c.window) == 0 {
		if c.last.IsZero() {
			return time.Now().Add(c.lead)
		}
		return c.last.Add(c.lead)
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

// sampleAt is the first sample heard at or after t.
func (c *sampleClock) sampleAt(t time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(math.Ceil(t.Sub(c.base()).Seconds() * Rate))
}
