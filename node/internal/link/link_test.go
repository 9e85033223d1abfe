package link

import (
	"testing"
	"time"
)

func TestBackoffSpreadsAndIsBounded(t *testing.T) {
	lo, hi := time.Second, time.Minute
	for attempt := 0; attempt < 40; attempt++ {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := Backoff(attempt, lo, hi)
			if d < lo/2 || d > hi {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, lo/2, hi)
			}
			seen[d/time.Millisecond] = true
		}
		if len(seen) < 50 {
			t.Errorf("attempt %d: only %d distinct delays in 200 draws; want jitter", attempt, len(seen))
		}
	}
}
