package programme

import (
	"context"
	"fmt"
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
		// The nodes each occurrence is for, as the one resolver says at its
		// time: a cluster enrolled after it was never asked to play it.
		dir, err := Load(ctx, s.Registry, []string{sc.Station})
		if err != nil {
			s.logger().Warn("programme: history: nodes", "schedule", name, "err", err)
			return
		}
		targets := map[string][]string{}
		for _, o := range sc.Occurrences(now, now.Add(HistoryHorizon), s.Durations(ctx)) {
			it := o.Item
			if !it.Airs() {
				continue
			}
			key := it.Target.String()
			nodes, ok := targets[key]
			if !ok {
				m, err := dir.Resolve(sc.Station, it.Target, o.At)
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
	// Only what differs from the last record is written: a save of one
	// bulletin in a programme of hundreds touches its own rows.
	prints := make(map[[2]string]string, len(occ))
	for _, o := range occ {
		prints[[2]string{o.Station, o.ID}] = fmt.Sprint(o.Item, o.Title, o.Priority, o.Source, o.Target, o.At.UnixMilli(), o.End.UnixMilli(), o.Nodes)
	}
	s.mu.Lock()
	last, known := s.recorded[name]
	s.mu.Unlock()
	var err error
	if !known {
		err = s.Registry.PlanOccurrences(ctx, name, now, occ)
	} else {
		var changed []registry.Occurrence
		var gone [][2]string
		for _, o := range occ {
			k := [2]string{o.Station, o.ID}
			if last[k] != prints[k] {
				changed = append(changed, o)
			}
		}
		for k := range last {
			if _, ok := prints[k]; !ok {
				gone = append(gone, k)
			}
		}
		if len(changed) == 0 && len(gone) == 0 {
			return
		}
		err = s.Registry.ReplanOccurrences(ctx, name, now, changed, gone)
	}
	s.mu.Lock()
	if s.recorded == nil {
		s.recorded = map[string]map[[2]string]string{}
	}
	if err != nil {
		delete(s.recorded, name) // write all of it next time
	} else {
		s.recorded[name] = prints
	}
	s.mu.Unlock()
	if err != nil {
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

// Due is occurrence h as it was recorded, for Outcome: the occurrence
// report and coverage both decide from it.
func Due(h registry.Occurrence) schedule.Occurrence {
	return schedule.Occurrence{Item: &schedule.Item{ID: h.Item, Title: h.Title, Priority: h.Priority, Source: schedule.Source{Kind: h.Source}},
		At: h.At.In(schedule.Zone), End: h.End}
}
