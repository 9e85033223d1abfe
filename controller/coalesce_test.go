package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every Do is followed by a run that started after it, and concurrent
// callers share runs.
func TestCoalesced(t *testing.T) {
	var runs atomic.Int64
	var state atomic.Int64 // what the world is; a run "sees" it when it starts
	var seen atomic.Int64  // what the last finished run saw
	c := coalesce(func(context.Context) {
		runs.Add(1)
		s := state.Load()
		time.Sleep(2 * time.Millisecond)
		seen.Store(max(seen.Load(), s))
	})
	const callers = 200
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			v := state.Add(1) // a change, then the call that must cover it
			c.Do(context.Background())
			if seen.Load() < v {
				t.Errorf("Do returned before a run saw change %d (last run saw %d)", v, seen.Load())
			}
		})
	}
	wg.Wait()
	if n := runs.Load(); n >= callers || n < 1 {
		t.Errorf("%d runs for %d concurrent callers: want fewer, at least one", n, callers)
	}
	before := runs.Load()
	c.Do(context.Background()) // alone: a run of its own
	if runs.Load() != before+1 {
		t.Errorf("a lone call ran fn %d times", runs.Load()-before)
	}
}
