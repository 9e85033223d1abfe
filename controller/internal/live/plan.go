package live

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
)

// armed is a planned relay waiting for, or in, its window.
type armed struct {
	cancel context.CancelFunc
	key    string // what it airs; a change re-arms it
}

// PlanRelays takes the programme's relay occurrences (scheduler.Config.
// Relays) and makes them air: each is armed once (RelayAt), under its
// occurrence id; one that left the programme, or changed, is cancelled
// (ended at once if on air) and re-armed as it is now.
func (m *Manager) PlanRelays(ctx context.Context, relays []scheduler.Relay) {
	want := map[string]scheduler.Relay{}
	for _, r := range relays {
		want[r.ID] = r
	}
	m.mu.Lock()
	if m.armed == nil {
		m.armed = map[string]armed{}
	}
	var start []scheduler.Relay
	var drop []armed
	for id, a := range m.armed {
		if r, ok := want[id]; !ok || relayKey(r) != a.key {
			drop = append(drop, a)
			delete(m.armed, id)
		}
	}
	for _, r := range relays {
		if _, ok := m.armed[r.ID]; !ok {
			start = append(start, r)
		}
	}
	m.mu.Unlock()
	for _, a := range drop {
		a.cancel()
	}
	for _, r := range start {
		url, targets, err := m.resolve(ctx, r)
		if err != nil {
			m.log.Error("relay cannot air: nodes will not play it", "occurrence", r.ID, "source", r.Source, "err", err)
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		m.mu.Lock()
		m.armed[r.ID] = armed{cancel: func() { cancel(); m.Stop(r.ID, "programme changed") }, key: relayKey(r)}
		m.mu.Unlock()
		m.RelayAt(rctx, Spec{ID: r.ID, Source: "relay:" + r.Source, Title: r.Title, Priority: r.Priority, Resume: r.Resume,
			Targets: targets, StartAt: r.At, EndsAt: r.End, By: "schedule"}, url)
		m.log.Info("relay armed", "occurrence", r.ID, "upstream", url, "at", r.At, "until", r.End, "targets", len(targets))
	}
}

func relayKey(r scheduler.Relay) string {
	return fmt.Sprint(r.Source, r.Title, r.Target, r.Priority, r.Resume, r.At.UnixMilli(), r.End.UnixMilli())
}

// resolve finds an occurrence's upstream URL (a channel name is looked up)
// and its targets.
func (m *Manager) resolve(ctx context.Context, r scheduler.Relay) (string, []Target, error) {
	if m.cfg.Registry == nil {
		return "", nil, fmt.Errorf("live: no registry")
	}
	url := r.Source
	if !strings.Contains(url, "://") {
		ch, err := m.cfg.Registry.GetRelayChannel(ctx, url)
		if err != nil {
			return "", nil, fmt.Errorf("relay channel %q: %w", url, err)
		}
		url = ch.URL
	}
	targets, err := Targets(ctx, m.cfg.Registry, r.Station, r.Target)
	return url, targets, err
}

// Targets resolves a programme target to session targets: the nodes come
// from the programme's one resolver (programme.ResolveNow: revoked nodes
// left out), then each chosen zone is sent to once (its offset applied)
// and nodes that no chosen zone holds one by one, so a station's relay is
// published once per zone, not once per node.
func Targets(ctx context.Context, reg *registry.DB, station string, t schedule.Target) ([]Target, error) {
	nodes, dir, err := programme.ResolveNow(ctx, reg, station, t)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	left := make(map[string]bool, len(nodes))
	for n := range nodes {
		left[n] = true
	}
	// The zones to send to: the target's own, or for a whole commune, the
	// largest zones of the station first, each used if it holds a node not
	// yet covered. A zone none of whose nodes is enrolled is left out.
	var zones []registry.Zone
	switch t.Kind {
	case schedule.TargetZone:
		for _, id := range t.IDs {
			z, _ := dir.Zone(id)
			zones = append(zones, z)
		}
	case schedule.TargetCommune:
		zones = dir.StationZones(station)
	}
	var out []Target
	for _, z := range zones {
		covers := false
		for _, n := range z.Nodes {
			covers = covers || left[n]
		}
		if !covers {
			continue
		}
		for _, n := range z.Nodes {
			delete(left, n)
		}
		out = append(out, Target{Target: fleet.Target{Zone: z.ID}, Offset: time.Duration(z.OffsetMS) * time.Millisecond})
	}
	rest := make([]string, 0, len(left))
	for n := range left {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	for _, n := range rest {
		out = append(out, Target{Target: fleet.Target{Node: n}})
	}
	if len(out) == 0 {
		return nil, ErrNoTargets
	}
	return out, nil
}
