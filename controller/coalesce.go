package controller

import (
	"context"
	"sync"
)

// coalesced runs fn for each caller of Do, as callers expect (Do returns
// after a run of fn that started after Do was called), but callers that
// arrive while fn runs share the next run. Rewriting a broker's password
// file and reloading it costs the same for one enrolment as for fifty, and
// an import enrols fifty at a time.
type coalesced struct {
	fn      func(context.Context)
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	asked   uint64 // calls so far
	covered uint64 // calls covered by the last finished run
}

func coalesce(fn func(context.Context)) *coalesced {
	c := &coalesced{fn: fn}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Do returns once a run of fn that began after the call has finished.
func (c *coalesced) Do(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	me := c.asked
	for c.covered < me {
		if c.running {
			c.cond.Wait()
			continue
		}
		c.running = true
		upTo := c.asked // this run sees every change made before these calls
		c.mu.Unlock()
		c.fn(context.WithoutCancel(ctx)) // others wait on this run: one caller leaving must not cut it short
		c.mu.Lock()
		c.running = false
		c.covered = upTo
		c.cond.Broadcast()
	}
}
