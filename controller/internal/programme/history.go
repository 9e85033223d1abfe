package programme

import (
	"context"
	"slices"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// HistoryHorizon is how far ahead a programme's occurrences are recorded
// in the registry (as far as nodes get their slots). Once an occurrence's
// time has come its record is history: reports read what was due from
// there, whatever happens to the programme afterwards.
const HistoryHorizon = 7 * 24 * time.Hour

// historyEvery is how often every programme's records are extended.
const historyEvery = time.Hour

// recordHistory records programme name's occurrences from now on (sc nil:
// it was deleted, none from now on), with the nodes each is for.
func (s *Store) recordHistory(ctx context.Context, name string, sc *schedule.Schedule) {
	now := s.now()
	var occ []registry.Occurrence
	if sc != nil {
		targets := map[string][]string{}
		for _, o := range sc.Occurrences(now, now.Add(HistoryHorizon), s.Durations(ctx)) {
			it := o.Item
			if !it.Airs() {
				continue
			}
			key := it.Target.String()
			nodes, ok := targets[key]
			if !ok {
				m, err := s.Resolve(ctx, sc.Station, it.Target)
				if err != nil {
					s.logger().Warn("programme: history: target", "schedule", name, "item", it.ID, "err", err)
				}
				nodes = make([]string, 0, len(m))
				for n := range m {
					nodes = append(nodes, n)
				}
				slices.Sort(nodes)
				targets[key] = nodes
			}
			occ = append(occ, registry.Occurrence{Station: sc.Station, ID: o.ID(), Schedule: name, Item: it.ID, Title: it.Title,
				Priority: it.Priority, Source: it.Source.Kind, Target: key, At: o.At, End: o.End, Nodes: nodes, PlannedAt: now})
		}
	}
	if err := s.Registry.PlanOccurrences(ctx, name, now, occ); err != nil {
		s.logger().Error("programme: recording what is due", "schedule", name, "err", err)
	}
}

// RecordAll records every loaded programme's occurrences from now on.
func (s *Store) RecordAll(ctx context.Context) {
	for _, name := range s.names() {
		if ctx.Err() != nil {
			return
		}
		unlock := s.lock(name)
		if snap := s.snapshot(name); snap != nil && snap.sc != nil {
			s.recordHistory(ctx, name, snap.sc)
		}
		unlock()
	}
}

// Run keeps the records of what is due reaching HistoryHorizon ahead:
// at start (in the background, so that the API answers at once) and
// every hour, until ctx ends.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(historyEvery)
	defer t.Stop()
	for {
		s.RecordAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
