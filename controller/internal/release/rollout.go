package release

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Request asks for a rollout: a release to every node of a zone, or to a
// percentage of the whole fleet (the same nodes first each time: ordered
// by a hash of their id, so a 10% canary stays the same 10%).
type Request struct {
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"` // default: the version's only arch
	Zone    string `json:"zone,omitempty"`
	Percent int    `json:"percent,omitempty"` // 1..100
	// Parallel is how many nodes update at once, MaxFailures how many
	// failures halt the rollout (defaults: max(1, 10% of the targets),
	// and Parallel defaults to MaxFailures so no more boxes are at risk
	// at once than the rollout may lose).
	Parallel    int `json:"parallel,omitempty"`
	MaxFailures int `json:"max_failures,omitempty"`
}

// ErrBusy is returned while another rollout runs.
var ErrBusy = errors.New("another rollout is running: wait until it ends or halts")

// Start creates a rollout; Step sends its commands.
func (m *Manager) Start(ctx context.Context, req Request, by string) (registry.Rollout, error) {
	reg := m.cfg.Registry
	if (req.Zone == "") == (req.Percent == 0) {
		return registry.Rollout{}, fmt.Errorf("%w: name a zone or a percent of the fleet, not both", ErrInvalid)
	}
	if req.Percent < 0 || req.Percent > 100 || req.Parallel < 0 || req.MaxFailures < 0 {
		return registry.Rollout{}, fmt.Errorf("%w: percent 1..100, parallel and max_failures ≥ 0", ErrInvalid)
	}
	rels, err := m.releasesOf(ctx, req.Version, req.Arch)
	if err != nil {
		return registry.Rollout{}, err
	}
	if len(rels) == 0 {
		return registry.Rollout{}, fmt.Errorf("%w: there is no release %q%s: add it first", ErrInvalid, req.Version, archText(req.Arch))
	}
	if running, err := reg.ListRollouts(ctx, registry.RolloutRunning); err != nil {
		return registry.Rollout{}, err
	} else if len(running) > 0 {
		return registry.Rollout{}, ErrBusy
	}
	targets, err := m.targets(ctx, req, rels)
	if err != nil {
		return registry.Rollout{}, err
	}
	if len(targets) == 0 {
		return registry.Rollout{}, fmt.Errorf("%w: no enrolled node there runs an arch release %s has", ErrInvalid, req.Version)
	}
	if req.MaxFailures == 0 {
		req.MaxFailures = max(1, (len(targets)+9)/10)
	}
	if req.Parallel == 0 {
		req.Parallel = req.MaxFailures
	}
	now := m.cfg.Now()
	r := registry.Rollout{ID: newID("r-", now), Version: req.Version, Arch: req.Arch, Zone: req.Zone, Percent: req.Percent,
		Parallel: req.Parallel, MaxFailures: req.MaxFailures, Status: registry.RolloutRunning, CreatedAt: now, CreatedBy: by}
	if err := reg.CreateRollout(ctx, r, targets); err != nil {
		return r, err
	}
	m.log.Info("rollout started", "rollout", r.ID, "version", r.Version, "arch", r.Arch, "nodes", len(targets),
		"parallel", r.Parallel, "max_failures", r.MaxFailures, "by", by)
	return reg.GetRollout(ctx, r.ID)
}

func archText(arch string) string {
	if arch == "" {
		return ""
	}
	return " for " + arch
}

// releasesOf returns a version's releases by arch (only arch's, if set).
func (m *Manager) releasesOf(ctx context.Context, version, arch string) (map[string]registry.Release, error) {
	all, err := m.cfg.Registry.ListReleases(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]registry.Release{}
	for _, r := range all {
		if r.Version == version && (arch == "" || r.Arch == arch) {
			out[r.Arch] = r
		}
	}
	return out, nil
}

// releaseFor picks the release a node gets: its reported arch's, or the
// only one when it has not said (nodes older than the arch field).
func releaseFor(rels map[string]registry.Release, arch string) (registry.Release, bool) {
	if arch == "" && len(rels) == 1 {
		for _, r := range rels {
			return r, true
		}
	}
	r, ok := rels[arch]
	return r, ok
}

// targets are the enrolled nodes of the zone, or the first percent of the
// fleet by a hash of their ids, that run an arch the version has.
func (m *Manager) targets(ctx context.Context, req Request, rels map[string]registry.Release) ([]string, error) {
	reg := m.cfg.Registry
	if req.Zone != "" {
		if _, err := reg.GetZone(ctx, req.Zone); err != nil {
			return nil, err
		}
	}
	nodes, err := reg.ListNodes(ctx, "")
	if err != nil {
		return nil, err
	}
	view, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	skipped := 0
	for _, n := range nodes {
		if n.Revoked || (req.Zone != "" && !slices.Contains(n.Zones, req.Zone)) {
			continue
		}
		if _, ok := releaseFor(rels, view[n.ID].arch); !ok {
			skipped++
			continue
		}
		ids = append(ids, n.ID)
	}
	if skipped > 0 {
		m.log.Warn("rollout: nodes with no release of their arch left out", "version", req.Version, "nodes", skipped)
	}
	if req.Zone != "" {
		return ids, nil
	}
	slices.SortFunc(ids, func(a, b string) int {
		ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
		return strings.Compare(string(ha[:]), string(hb[:]))
	})
	return ids[:(len(ids)*req.Percent+99)/100], nil
}

// Run steps the rollouts every second until ctx ends.
func (m *Manager) Run(ctx context.Context, send Sender) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Step(ctx, send); err != nil && ctx.Err() == nil {
				m.log.Error("rollout step", "err", err)
			}
		}
	}
}

type nodeView struct {
	online        bool
	version, arch string
}

// view is what each node last reported.
func (m *Manager) view(ctx context.Context) (map[string]nodeView, error) {
	states, err := m.cfg.Registry.ListNodeStates(ctx)
	if err != nil {
		return nil, err
	}
	view := map[string]nodeView{}
	for _, s := range states {
		var st nodeproto.State
		json.Unmarshal(s.State, &st)
		view[s.NodeID] = nodeView{online: s.Online, version: st.Version, arch: st.Arch}
	}
	return view, nil
}

// Step records what nodes reported, halts a rollout whose failures reached
// its threshold, and sends the command to the next nodes of a running one.
func (m *Manager) Step(ctx context.Context, send Sender) error {
	reg := m.cfg.Registry
	var rs []registry.Rollout
	for _, st := range []string{registry.RolloutRunning, registry.RolloutHalted} {
		l, err := reg.ListRollouts(ctx, st)
		if err != nil {
			return err
		}
		rs = append(rs, l...)
	}
	if len(rs) == 0 {
		return nil
	}
	view, err := m.view(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := m.step(ctx, r, view, send); err != nil {
			return fmt.Errorf("rollout %s: %w", r.ID, err)
		}
	}
	return nil
}

func (m *Manager) step(ctx context.Context, r registry.Rollout, view map[string]nodeView, send Sender) error {
	reg := m.cfg.Registry
	rels, err := m.releasesOf(ctx, r.Version, r.Arch)
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	failed, inflight, pending := 0, 0, 0
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Status == registry.RolloutSent {
			if err := m.follow(ctx, r.ID, rels[n.Arch], n, now); err != nil {
				return err
			}
		}
		switch n.Status {
		case registry.RolloutFailed:
			failed++
		case registry.RolloutSent:
			inflight++
		case registry.RolloutPending:
			pending++
		}
	}
	if r.Status != registry.RolloutRunning {
		return nil
	}
	if failed >= r.MaxFailures {
		reason := fmt.Sprintf("%d of %d nodes failed (threshold %d): no further node gets the update", failed, len(r.Nodes), r.MaxFailures)
		m.log.Error("rollout halted", "rollout", r.ID, "version", r.Version, "reason", reason)
		return reg.EndRollout(ctx, r.ID, registry.RolloutHalted, reason, now)
	}
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if inflight >= r.Parallel {
			break
		}
		v := view[n.NodeID]
		if n.Status != registry.RolloutPending || !v.online {
			continue // an offline node waits for its turn
		}
		pending--
		rel, ok := releaseFor(rels, v.arch)
		switch {
		case v.version == r.Version:
			n.Status, n.Reason = registry.RolloutUpdated, "already running it"
		case !ok:
			n.Status, n.Reason = registry.RolloutFailed, fmt.Sprintf("no release of %s for its arch %q", r.Version, v.arch)
			failed++
		}
		if n.Status != registry.RolloutPending {
			n.UpdatedAt = now
			if err := reg.SetRolloutNode(ctx, r.ID, *n); err != nil {
				return err
			}
			continue
		}
		m.allow(n.NodeID, rel.SHA256, true) // before the command: the node fetches at once
		c, err := send(ctx, n.NodeID, nodeproto.Command{Type: nodeproto.CmdUpdate, Update: &nodeproto.Update{Rollout: r.ID,
			Release: nodeproto.Envelope{KID: rel.KID, Msg: rel.Manifest, Sig: rel.Sig}}}, "rollout:"+r.ID)
		if err != nil {
			m.allow(n.NodeID, rel.SHA256, false)
			m.log.Warn("rollout: update not sent; trying again", "rollout", r.ID, "node", n.NodeID, "err", err)
			pending++
			continue
		}
		n.Status, n.Arch, n.CommandID, n.SentAt, n.UpdatedAt = registry.RolloutSent, rel.Arch, c.ID, now, now
		if err := reg.SetRolloutNode(ctx, r.ID, *n); err != nil {
			return err
		}
		inflight++
		m.log.Info("rollout: update sent", "rollout", r.ID, "node", n.NodeID, "version", r.Version, "arch", rel.Arch, "cmd", c.ID)
	}
	if pending == 0 && inflight == 0 {
		m.log.Info("rollout done", "rollout", r.ID, "version", r.Version, "failed", failed, "nodes", len(r.Nodes))
		return reg.EndRollout(ctx, r.ID, registry.RolloutDone, fmt.Sprintf("%d of %d nodes failed", failed, len(r.Nodes)), now)
	}
	return nil
}

// follow updates a node the command went to from its reply (sent by the
// new version once healthy and installed, or by the old one after it came
// back), or the timeout. Its reported version alone proves nothing: a
// version on trial reports itself before it has passed.
func (m *Manager) follow(ctx context.Context, rollout string, rel registry.Release, n *registry.RolloutNode, now time.Time) error {
	replies, err := m.cfg.Registry.ListReplies(ctx, n.CommandID)
	if err != nil {
		return err
	}
	var reply *registry.CommandReply
	for i := range replies {
		if replies[i].NodeID == n.NodeID {
			reply = &replies[i]
		}
	}
	switch {
	case reply != nil && reply.OK:
		n.Status, n.Reason = registry.RolloutUpdated, ""
	case reply != nil:
		n.Status, n.Reason = registry.RolloutFailed, nodeproto.Code(reply.Code).String()+": "+reply.Reason
	case now.Sub(n.SentAt) > m.cfg.NodeTimeout:
		n.Status, n.Reason = registry.RolloutFailed, fmt.Sprintf("no outcome within %s", m.cfg.NodeTimeout)
	default:
		return nil
	}
	n.UpdatedAt = now
	m.allow(n.NodeID, rel.SHA256, false)
	m.log.Info("rollout: node finished", "rollout", rollout, "node", n.NodeID, "status", n.Status, "reason", n.Reason)
	return m.cfg.Registry.SetRolloutNode(ctx, rollout, *n)
}

// ErrNotRunning is returned when stopping a rollout that has ended.
var ErrNotRunning = errors.New("the rollout is not running")

// Stop halts a running rollout by hand: no further node gets the command;
// nodes updating now finish, and their outcome is still recorded.
func (m *Manager) Stop(ctx context.Context, id, by string) (registry.Rollout, error) {
	r, err := m.cfg.Registry.GetRollout(ctx, id)
	if err != nil {
		return r, err
	}
	if r.Status != registry.RolloutRunning {
		return r, ErrNotRunning
	}
	if err := m.cfg.Registry.EndRollout(ctx, id, registry.RolloutHalted, "stopped by "+by, m.cfg.Now()); err != nil {
		return r, err
	}
	m.log.Info("rollout stopped", "rollout", id, "by", by)
	return m.cfg.Registry.GetRollout(ctx, id)
}
