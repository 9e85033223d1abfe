package programme

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// Roster is what resolving a target reads of the fleet: a snapshot of the
// registry (Load, Directory). The scheduler, the history of what is due
// (which the occurrence report and coverage count from), settings and
// commands (ResolveNow) and live sessions and relays all resolve through
// Resolve, so they agree on the nodes.
type Roster interface {
	// Node is a node's station and when it was enrolled; enrolled is false
	// once it is revoked, ok false when there is no such node.
	Node(id string) (station string, since time.Time, enrolled, ok bool)
	// StationNodes calls fn for each enrolled node of station.
	StationNodes(station string, fn func(id string))
	// Zone is a zone with its members.
	Zone(id string) (registry.Zone, bool)
}

// Resolve lists the nodes target t of a programme of station covers at
// time at, with each node's start offset (its zone's). Revoked nodes are
// left out, and so are nodes enrolled after at (nobody asked them to play
// what came before them); a zero at leaves nobody out for its time. A
// zone or node that does not exist or belongs to another station is an
// error.
func Resolve(r Roster, station string, t schedule.Target, at time.Time) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	covers := func(since time.Time) bool { return at.IsZero() || !since.After(at) }
	switch t.Kind {
	case schedule.TargetCommune:
		r.StationNodes(station, func(id string) {
			if _, since, _, _ := r.Node(id); covers(since) {
				out[id] = 0
			}
		})
	case schedule.TargetZone:
		for _, id := range t.IDs {
			z, ok := r.Zone(id)
			if !ok {
				return nil, fmt.Errorf("zone %q %w", id, registry.ErrNotFound)
			}
			if z.StationID != station {
				return nil, fmt.Errorf("zone %s belongs to station %s", id, z.StationID)
			}
			for _, n := range z.Nodes {
				if _, since, enrolled, ok := r.Node(n); ok && enrolled && covers(since) {
					out[n] = time.Duration(z.OffsetMS) * time.Millisecond
				}
			}
		}
	case schedule.TargetNodes:
		for _, id := range t.IDs {
			st, since, enrolled, ok := r.Node(id)
			if !ok {
				return nil, fmt.Errorf("node %q %w", id, registry.ErrNotFound)
			}
			if st != station {
				return nil, fmt.Errorf("node %s belongs to station %s", id, st)
			}
			if enrolled && covers(since) {
				out[id] = 0
			}
		}
	default:
		return nil, fmt.Errorf("unknown target kind %q", t.Kind)
	}
	return out, nil
}

// Directory is a snapshot of the registry's nodes and zones, read once and
// then resolved against for a whole plan or report.
type Directory struct {
	nodes     map[string]registry.Node
	byStation map[string][]string
	zones     map[string]registry.Zone
}

// Load reads the nodes of stations (nil: every station) and every zone.
func Load(ctx context.Context, reg *registry.DB, stations []string) (*Directory, error) {
	nodes, err := reg.NodesOf(ctx, stations)
	if err != nil {
		return nil, fmt.Errorf("programme: nodes: %w", err)
	}
	zones, err := reg.ListZones(ctx)
	if err != nil {
		return nil, fmt.Errorf("programme: zones: %w", err)
	}
	d := &Directory{nodes: make(map[string]registry.Node, len(nodes)), byStation: map[string][]string{},
		zones: make(map[string]registry.Zone, len(zones))}
	for _, n := range nodes {
		d.nodes[n.ID] = n
		if !n.Revoked {
			d.byStation[n.StationID] = append(d.byStation[n.StationID], n.ID)
		}
	}
	for _, z := range zones {
		d.zones[z.ID] = z
	}
	return d, nil
}

func (d *Directory) Node(id string) (string, time.Time, bool, bool) {
	n, ok := d.nodes[id]
	return n.StationID, n.CreatedAt, !n.Revoked, ok
}

func (d *Directory) StationNodes(station string, fn func(string)) {
	for _, id := range d.byStation[station] {
		fn(id)
	}
}

func (d *Directory) Zone(id string) (registry.Zone, bool) {
	z, ok := d.zones[id]
	return z, ok
}

// Resolve resolves t against the snapshot (see the function Resolve).
func (d *Directory) Resolve(station string, t schedule.Target, at time.Time) (map[string]time.Duration, error) {
	return Resolve(d, station, t, at)
}

// StationZones are the zones of station, largest first (then by id).
func (d *Directory) StationZones(station string) []registry.Zone {
	var out []registry.Zone
	for _, z := range d.zones {
		if z.StationID == station {
			out = append(out, z)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Nodes) != len(out[j].Nodes) {
			return len(out[i].Nodes) > len(out[j].Nodes)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ResolveNow resolves target t of station as the fleet stands now, for
// what goes out at once (settings, commands, live sessions and relays):
// the enrolled nodes it covers, revoked ones left out, with each node's
// zone offset; and the snapshot it read, for grouping them by zone.
func ResolveNow(ctx context.Context, reg *registry.DB, station string, t schedule.Target) (map[string]time.Duration, *Directory, error) {
	d, err := Load(ctx, reg, []string{station})
	if err != nil {
		return nil, nil, err
	}
	nodes, err := d.Resolve(station, t, time.Time{})
	return nodes, d, err
}
