package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// live mirrors in memory what the coverage view reads of every node:
// whether it is online, when it last reported and last played, and what it
// reported about each item in the last LiveWindow. Reading those from
// SQLite takes seconds for a country's 100,000 nodes; from memory,
// milliseconds. It is loaded when the registry opens and updated after each
// commit of a write that changes it, so it never says more than SQLite
// holds; SQLite stays the record.
type live struct {
	mu        sync.RWMutex
	nodes     map[string]*liveNode
	byStation map[string]map[string]*liveNode // station -> node id -> node, revoked ones too
}

// LiveWindow is how far back the in-memory proof-of-play outcomes reach.
const LiveWindow = 48 * time.Hour

type liveNode struct {
	station  string
	enrolled bool      // a node row that is not revoked
	since    time.Time // when it was enrolled (nodes.created_at)
	Liveness
	reported bool
	lastPlay time.Time
	items    map[string]*liveItem
}

type liveItem struct {
	PlayOutcome
	last time.Time // newest record's At
}

func (l *live) node(id string) *liveNode {
	n := l.nodes[id]
	if n == nil {
		n = &liveNode{}
		l.nodes[id] = n
	}
	return n
}

// setStation files node id under its station.
func (l *live) setStation(id string, n *liveNode, station string) {
	if n.station == station {
		return
	}
	if old := l.byStation[n.station]; old != nil {
		delete(old, id)
	}
	n.station = station
	m := l.byStation[station]
	if m == nil {
		m = map[string]*liveNode{}
		l.byStation[station] = m
	}
	m[id] = n
}

func (n *liveNode) add(e PlayEvent, now time.Time) {
	if e.At.After(n.lastPlay) {
		n.lastPlay = e.At
	}
	if now.Sub(e.At) > LiveWindow {
		return
	}
	if n.items == nil {
		n.items = map[string]*liveItem{}
	}
	it := n.items[e.ItemID]
	if it == nil {
		it = &liveItem{}
		n.items[e.ItemID] = it
	}
	it.Add(e)
	if e.At.After(it.last) {
		it.last = e.At
	}
}

// prune drops a node's outcomes older than the window.
func (n *liveNode) prune(now time.Time) {
	for id, it := range n.items {
		if now.Sub(it.last) > LiveWindow {
			delete(n.items, id)
		}
	}
}

// loadLive fills the mirror from the database: the nodes and their
// reported state in one query (node_state rows belong to a node: a
// foreign key), into maps made to size, since it runs at every start
// before the API answers (a country: 100,000 nodes).
func (db *DB) loadLive(ctx context.Context) error {
	var count int
	if err := db.w.QueryRowContext(ctx, "SELECT count(*) FROM nodes").Scan(&count); err != nil {
		return fmt.Errorf("registry: counting nodes: %w", err)
	}
	l := &live{nodes: make(map[string]*liveNode, count), byStation: map[string]map[string]*liveNode{}}
	rows, err := db.w.QueryContext(ctx, `SELECT n.id, n.station_id, n.revoked, n.created_at,
		s.node_id IS NOT NULL, coalesce(s.online, 0), coalesce(s.updated_at, 0), `+noSoundSQL+`
		FROM nodes n LEFT JOIN node_state s ON s.node_id = n.id`)
	if err != nil {
		return fmt.Errorf("registry: loading nodes: %w", err)
	}
	for rows.Next() {
		var id, st string
		var revoked, reported, online, noSound bool
		var created, at int64
		if err := rows.Scan(&id, &st, &revoked, &created, &reported, &online, &at, &noSound); err != nil {
			rows.Close()
			return fmt.Errorf("registry: loading nodes: %w", err)
		}
		n := l.node(id)
		l.setStation(id, n, st)
		n.enrolled, n.since = !revoked, fromMS(created)
		if reported {
			n.Online, n.UpdatedAt, n.NoSound, n.reported = online, fromMS(at), noSound, true
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("registry: loading nodes: %w", err)
	}
	last, err := db.sqlLastPlays(ctx, nil, db.w)
	if err != nil {
		return err
	}
	for id, at := range last {
		l.node(id).lastPlay = at
	}
	since := db.now().Add(-LiveWindow)
	rows, err = db.w.QueryContext(ctx, `SELECT node_id, item_id,
		max(type IN ('started', 'resumed')), max(type = 'finished'), max(type = 'interrupted'), max(type = 'failed'), max(silent AND type <> 'failed'), max(played_ms), max(gap_ms), max(at),
		coalesce(max(heard = 1 AND type <> 'failed'), 0), coalesce(max(heard = 0 AND type <> 'failed'), 0)
		FROM play_events WHERE at >= ? GROUP BY node_id, item_id`, ms(since))
	if err != nil {
		return fmt.Errorf("registry: loading play outcomes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var node, item string
		var it liveItem
		var at int64
		if err := rows.Scan(&node, &item, &it.Started, &it.Finished, &it.Interrupted, &it.Failed, &it.Silent, &it.PlayedMS, &it.GapMS, &at, &it.Heard, &it.NotHeard); err != nil {
			return err
		}
		it.last = fromMS(at)
		n := l.node(node)
		if n.items == nil {
			n.items = map[string]*liveItem{}
		}
		n.items[item] = &it
	}
	if err := rows.Err(); err != nil {
		return err
	}
	db.live = l
	return nil
}

// noSoundSQL is true for a node_state row whose state says the node plays
// into its silent sink (State.Audio "silent"); stateNoSound is the same
// test in Go, for a state being stored.
const noSoundSQL = "coalesce(json_extract(state, '$.audio') = 'silent', 0)"

func stateNoSound(state json.RawMessage) bool {
	var m map[string]json.RawMessage // exact key, as json_extract reads it
	return json.Unmarshal(state, &m) == nil && string(m["audio"]) == `"silent"`
}

func (db *DB) liveState(id string, online, noSound bool, at time.Time) {
	db.live.mu.Lock()
	n := db.live.node(id)
	if !n.reported || !at.Before(n.UpdatedAt) { // two writers may commit out of order
		n.Online, n.UpdatedAt, n.NoSound, n.reported = online, at, noSound, true
	}
	db.live.mu.Unlock()
}

// liveEnrolled records a node enrolled (station and time given) or
// revoked, or re-enabled (station "": unchanged).
func (db *DB) liveEnrolled(id, station string, since time.Time, enrolled bool) {
	db.live.mu.Lock()
	n := db.live.node(id)
	if station != "" {
		db.live.setStation(id, n, station)
		n.since = since
	}
	n.enrolled = enrolled
	db.live.mu.Unlock()
}

func (db *DB) liveOffline(id string) {
	db.live.mu.Lock()
	defer db.live.mu.Unlock()
	for nid, n := range db.live.nodes {
		if id == "" || nid == id {
			n.Online = false
		}
	}
}

func (db *DB) liveEvents(evs []PlayEvent) {
	now := db.now()
	db.live.mu.Lock()
	defer db.live.mu.Unlock()
	touched := map[*liveNode]bool{}
	for _, e := range evs {
		n := db.live.node(e.NodeID)
		n.add(e, now)
		touched[n] = true
	}
	for n := range touched {
		n.prune(now)
	}
}

// ReloadLive reloads the in-memory mirror from the database, for tools and
// tests that wrote the file behind the registry's back.
func (db *DB) ReloadLive(ctx context.Context) error {
	db.areas.invalidate()
	db.stations.invalidate()
	db.occurrences.drop()
	return db.loadLive(ctx)
}

// LiveReader reads the in-memory mirror, inside ReadLive only.
type LiveReader struct {
	l     *live
	since time.Time
}

// StationNodes calls fn for each enrolled (not revoked) node of a station,
// in no particular order.
func (r LiveReader) StationNodes(station string, fn func(id string, v NodeView)) {
	for id, n := range r.l.byStation[station] {
		if n.enrolled {
			fn(id, NodeView{n, r.since})
		}
	}
}

// View returns what the mirror knows of a node, if anything.
func (r LiveReader) View(id string) (NodeView, bool) {
	n, ok := r.l.nodes[id]
	return NodeView{n, r.since}, ok
}

// NodeView is one node in the mirror, valid inside ReadLive only: looking
// a node up once and then reading it spares a lookup among 100,000 nodes
// for each of its items.
type NodeView struct {
	n     *liveNode
	since time.Time
}

// Station is the node's station; Enrolled is false once it is revoked.
func (v NodeView) Station() string { return v.n.station }
func (v NodeView) Enrolled() bool  { return v.n.enrolled && v.n.station != "" }

// EnrolledAt is when the node was enrolled.
func (v NodeView) EnrolledAt() time.Time { return v.n.since }

// Liveness is the node's last reported state (reported is false if it
// never sent one) and when it last reported proof of play.
func (v NodeView) Liveness() (l Liveness, reported bool, lastPlay time.Time) {
	return v.n.Liveness, v.n.reported, v.n.lastPlay
}

// Outcome is what the node reported about an item since the reader's time.
func (v NodeView) Outcome(item string) PlayOutcome {
	if it, ok := v.n.items[item]; ok && !it.last.Before(v.since) {
		return it.PlayOutcome
	}
	return PlayOutcome{}
}

// ReadLive runs fn with a reader of the mirror (held still meanwhile: fn
// must be quick and must not write to the registry) and reports true, or
// reports false without running fn when since is beyond what the mirror
// holds (LiveWindow). It spares copying 100,000 nodes' worth of maps.
func (db *DB) ReadLive(since time.Time, fn func(LiveReader)) bool {
	if db.now().Sub(since) > LiveWindow {
		return false
	}
	db.live.mu.RLock()
	defer db.live.mu.RUnlock()
	fn(LiveReader{l: db.live, since: since})
	return true
}
