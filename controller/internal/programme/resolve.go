package programme

import (
	"context"
	"time"

	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
)

// Resolve lists the nodes a target covers within a station, with each
// node's start offset (its zone's), through the one resolver (targets.go):
// revoked nodes are left out.
func (s *Store) Resolve(ctx context.Context, station string, t schedule.Target) (map[string]time.Duration, error) {
	d, err := Load(ctx, s.Registry, []string{station})
	if err != nil {
		return nil, err
	}
	return d.Resolve(station, t, time.Time{})
}

// Targets reads every node and zone once, for one plan of the scheduler.
func (s *Store) Targets(ctx context.Context) (scheduler.Resolver, error) {
	d, err := Load(ctx, s.Registry, nil)
	if err != nil {
		return nil, err
	}
	return d.Resolve, nil
}
