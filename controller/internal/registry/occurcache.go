package registry

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// occurrenceCache holds one day of the recorded occurrences (every
// station's), for the coverage view: it counts today's due bulletins of up
// to 10,000 stations on every call, and reading and decoding tens of
// thousands of rows with their node lists through SQLite each time would
// cost more than the rest of the view. Only this package writes the
// table. A write marks the stations it touched after it commits and the
// next read loads just those again (the hourly extension of every
// programme's records mostly adds rows a week ahead, outside the day, and
// a save touches one station); a read that
// raced with a write does not keep what it read (gen), so the cache never
// holds less than SQLite. The maps it hands out are never changed in
// place (copy on write), so callers read them without a lock.
type occurrenceCache struct {
	mu        sync.Mutex
	gen       uint64
	day       time.Time               // start of the window held: [day, day+24h)
	byStation map[string][]Occurrence // nil: not loaded
	dirty     map[string]bool         // stations written since it was loaded
}

// reloadAllOver is how many stale stations make a whole reload cheaper
// than an IN list.
const reloadAllOver = 500

// DayOccurrences is what was recorded as due in [day, day+24h), by station,
// each station's in time order: the rows ListOccurrences returns, from
// memory. The map and slices are shared: read them, never change them.
func (db *DB) DayOccurrences(ctx context.Context, day time.Time) (map[string][]Occurrence, error) {
	c := &db.occurrences
	c.mu.Lock()
	held, gen := c.byStation, c.gen
	if !c.day.Equal(day) {
		held = nil
	}
	stale := slices.Collect(maps.Keys(c.dirty))
	c.mu.Unlock()
	if held != nil && len(stale) == 0 {
		return held, nil
	}
	to := day.Add(24 * time.Hour)
	var next map[string][]Occurrence
	if held == nil || len(stale) > reloadAllOver {
		rows, err := db.ListOccurrences(ctx, nil, day, to)
		if err != nil {
			return nil, err
		}
		next = map[string][]Occurrence{}
		for _, o := range rows {
			next[o.Station] = append(next[o.Station], o)
		}
	} else {
		rows, err := db.ListOccurrences(ctx, stale, day, to)
		if err != nil {
			return nil, err
		}
		next = maps.Clone(held)
		for _, s := range stale {
			delete(next, s)
		}
		for _, o := range rows {
			next[o.Station] = append(next[o.Station], o)
		}
	}
	c.mu.Lock()
	if c.gen == gen {
		c.byStation, c.day, c.dirty = next, day, nil
	}
	c.mu.Unlock()
	return next, nil
}

// touch is a recorded occurrence written or deleted: its station and time.
type touch struct {
	station string
	at      time.Time
}

// invalidate marks the stations of the rows touched that fall in the day
// held as changed. Any write also stops a load under way from being kept
// (it may have read before the write, whatever day it reads).
func (c *occurrenceCache) invalidate(touched []touch) {
	if len(touched) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if c.byStation == nil {
		return
	}
	end := c.day.Add(24 * time.Hour)
	for _, t := range touched {
		if t.at.Before(c.day) || !t.at.Before(end) {
			continue // not in the day held
		}
		if c.dirty == nil {
			c.dirty = map[string]bool{}
		}
		c.dirty[t.station] = true
	}
}

// drop forgets everything held.
func (c *occurrenceCache) drop() {
	c.mu.Lock()
	c.gen++
	c.byStation, c.dirty = nil, nil
	c.mu.Unlock()
}
