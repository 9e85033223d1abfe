package programme

import (
	"context"
	"fmt"
	"time"

	"github.com/communeradio/radio/controller/internal/schedule"
)

// Resolve lists the nodes a target covers within a station, with each
// node's start offset (its zone's). (The one resolver of targets, which
// drops revoked nodes everywhere, replaces this at the merge.)
func (s *Store) Resolve(ctx context.Context, station string, t schedule.Target) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	switch t.Kind {
	case schedule.TargetCommune:
		nodes, err := s.Registry.ListNodes(ctx, station)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if !n.Revoked {
				out[n.ID] = 0
			}
		}
	case schedule.TargetZone:
		for _, id := range t.IDs {
			z, err := s.Registry.GetZone(ctx, id)
			if err != nil {
				return nil, err
			}
			if z.StationID != station {
				return nil, fmt.Errorf("zone %s belongs to station %s", id, z.StationID)
			}
			for _, n := range z.Nodes {
				out[n] = time.Duration(z.OffsetMS) * time.Millisecond
			}
		}
	case schedule.TargetNodes:
		for _, id := range t.IDs {
			n, err := s.Registry.GetNode(ctx, id)
			if err != nil {
				return nil, err
			}
			if n.StationID != station {
				return nil, fmt.Errorf("node %s belongs to station %s", id, n.StationID)
			}
			out[id] = 0
		}
	default:
		return nil, fmt.Errorf("unknown target kind %q", t.Kind)
	}
	return out, nil
}
