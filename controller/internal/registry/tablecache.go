package registry

import (
	"slices"
	"sync"
)

// tableCache holds a whole small table that every coverage and scope check
// reads (10,000 communes, 10,000 stations: tens of milliseconds through
// SQLite each time) and that changes only through this package. A write
// calls invalidate after it commits; a read that raced with a write does
// not keep what it read (gen), so the cache never holds less than SQLite.
type tableCache[T any] struct {
	mu   sync.Mutex
	gen  uint64
	rows []T // nil: not loaded
}

// get returns a copy of the table, loading it if needed.
func (c *tableCache[T]) get(load func() ([]T, error)) ([]T, error) {
	c.mu.Lock()
	rows, gen := c.rows, c.gen
	c.mu.Unlock()
	if rows != nil {
		return slices.Clone(rows), nil
	}
	rows, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.rows = rows
	}
	c.mu.Unlock()
	return slices.Clone(rows), nil
}

func (c *tableCache[T]) invalidate() {
	c.mu.Lock()
	c.gen++
	c.rows = nil
	c.mu.Unlock()
}
