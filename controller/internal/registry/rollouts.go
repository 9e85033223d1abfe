package registry

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Release is a stored node release (its binary lives in the release store).
type Release struct {
	Version   string    `json:"version"`
	Arch      string    `json:"arch"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	KID       string    `json:"kid"`
	Manifest  []byte    `json:"manifest"` // the exact signed JSON
	Sig       []byte    `json:"sig"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Rollout states.
const (
	RolloutRunning = "running"
	RolloutHalted  = "halted"
	RolloutDone    = "done"
)

// Rollout node states.
const (
	RolloutPending = "pending"
	RolloutSent    = "sent"
	RolloutUpdated = "updated"
	RolloutFailed  = "failed"
)

// Rollout sends one release to a set of nodes.
type Rollout struct {
	ID          string        `json:"id"`
	Version     string        `json:"version"`
	Arch        string        `json:"arch,omitempty"` // "": each node gets its own arch's release
	Zone        string        `json:"zone,omitempty"`
	Percent     int           `json:"percent,omitempty"`
	Parallel    int           `json:"parallel"`
	MaxFailures int           `json:"max_failures"`
	Status      string        `json:"status"`
	Reason      string        `json:"reason,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	CreatedBy   string        `json:"created_by,omitempty"`
	EndedAt     time.Time     `json:"ended_at,omitzero"`
	Nodes       []RolloutNode `json:"nodes,omitempty"`
}

// RolloutNode is one targeted node's progress.
type RolloutNode struct {
	NodeID    string    `json:"node_id"`
	Position  int       `json:"position"`
	Arch      string    `json:"arch,omitempty"` // the release it was sent
	Status    string    `json:"status"`
	CommandID string    `json:"command_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
}

// InsertRelease stores a release; one version and arch is stored once.
func (db *DB) InsertRelease(ctx context.Context, r Release) error {
	if r.Version == "" || r.Arch == "" || len(r.SHA256) != 64 || r.Size <= 0 || len(r.Sig) == 0 {
		return invalidf("release %s/%s: incomplete", r.Version, r.Arch)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO releases(version, arch, sha256, size, kid, manifest, sig, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?)`,
		r.Version, r.Arch, r.SHA256, r.Size, r.KID, r.Manifest, r.Sig, ms(r.CreatedAt), r.CreatedBy)
	return writeErr("release "+r.Version+"/"+r.Arch, err)
}

const releaseCols = "version, arch, sha256, size, kid, manifest, sig, created_at, created_by"

func scanRelease(s interface{ Scan(...any) error }) (Release, error) {
	var r Release
	var at int64
	err := s.Scan(&r.Version, &r.Arch, &r.SHA256, &r.Size, &r.KID, &r.Manifest, &r.Sig, &at, &r.CreatedBy)
	r.CreatedAt = fromMS(at)
	return r, err
}

// GetRelease returns one release.
func (db *DB) GetRelease(ctx context.Context, version, arch string) (Release, error) {
	r, err := scanRelease(db.r.QueryRowContext(ctx, "SELECT "+releaseCols+" FROM releases WHERE version = ? AND arch = ?", version, arch))
	if err != nil {
		return r, notFound("release", version+"/"+arch, err)
	}
	return r, nil
}

// ListReleases returns every release, newest first.
func (db *DB) ListReleases(ctx context.Context) ([]Release, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+releaseCols+" FROM releases ORDER BY created_at DESC, version, arch")
	if err != nil {
		return nil, fmt.Errorf("registry: releases: %w", err)
	}
	defer rows.Close()
	out := []Release{}
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRollout stores a rollout and its nodes (in the order they are to
// get the command), all pending.
func (db *DB) CreateRollout(ctx context.Context, r Rollout, nodes []string) error {
	if err := checkID("rollout", r.ID); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO rollouts(id, version, arch, zone, percent, parallel, max_failures, status, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.Version, r.Arch, r.Zone, r.Percent, r.Parallel, r.MaxFailures, r.Status, ms(r.CreatedAt), r.CreatedBy)
	if err != nil {
		return writeErr("rollout "+r.ID, err)
	}
	for i, n := range nodes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollout_nodes(rollout_id, node_id, position, status, updated_at) VALUES (?,?,?,?,?)`,
			r.ID, n, i, RolloutPending, ms(r.CreatedAt)); err != nil {
			return writeErr("rollout node "+n, err)
		}
	}
	return writeErr("rollout "+r.ID, tx.Commit())
}

const rolloutCols = "id, version, arch, zone, percent, parallel, max_failures, status, reason, created_at, created_by, ended_at"

func scanRollout(s interface{ Scan(...any) error }) (Rollout, error) {
	var r Rollout
	var at, ended int64
	err := s.Scan(&r.ID, &r.Version, &r.Arch, &r.Zone, &r.Percent, &r.Parallel, &r.MaxFailures, &r.Status, &r.Reason, &at, &r.CreatedBy, &ended)
	r.CreatedAt, r.EndedAt = fromMS(at), fromMS(ended)
	return r, err
}

// ListRollouts returns rollouts, newest first, with their nodes; status
// "" lists all, else only those in that state.
func (db *DB) ListRollouts(ctx context.Context, status string) ([]Rollout, error) {
	q, args := "SELECT "+rolloutCols+" FROM rollouts", []any{}
	if status != "" {
		q += " WHERE status = ?"
		args = append(args, status)
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY created_at DESC, id", args...)
	if err != nil {
		return nil, fmt.Errorf("registry: rollouts: %w", err)
	}
	out := []Rollout{}
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Nodes, err = db.rolloutNodes(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetRollout returns one rollout with its nodes.
func (db *DB) GetRollout(ctx context.Context, id string) (Rollout, error) {
	r, err := scanRollout(db.r.QueryRowContext(ctx, "SELECT "+rolloutCols+" FROM rollouts WHERE id = ?", id))
	if err != nil {
		return r, notFound("rollout", id, err)
	}
	r.Nodes, err = db.rolloutNodes(ctx, id)
	return r, err
}

func (db *DB) rolloutNodes(ctx context.Context, id string) ([]RolloutNode, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT node_id, position, arch, status, command_id, reason, sent_at, updated_at FROM rollout_nodes WHERE rollout_id = ? ORDER BY position", id)
	if err != nil {
		return nil, fmt.Errorf("registry: rollout %s nodes: %w", id, err)
	}
	defer rows.Close()
	out := []RolloutNode{}
	for rows.Next() {
		var n RolloutNode
		var sent, at int64
		if err := rows.Scan(&n.NodeID, &n.Position, &n.Arch, &n.Status, &n.CommandID, &n.Reason, &sent, &at); err != nil {
			return nil, err
		}
		n.SentAt, n.UpdatedAt = fromMS(sent), fromMS(at)
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetRolloutNode records a node's progress.
func (db *DB) SetRolloutNode(ctx context.Context, rollout string, n RolloutNode) error {
	res, err := db.w.ExecContext(ctx, `UPDATE rollout_nodes SET status = ?, arch = ?, command_id = ?, reason = ?, sent_at = ?, updated_at = ? WHERE rollout_id = ? AND node_id = ?`,
		n.Status, n.Arch, n.CommandID, n.Reason, ms(n.SentAt), ms(n.UpdatedAt), rollout, n.NodeID)
	if err != nil {
		return writeErr("rollout node "+n.NodeID, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return notFound("rollout node", rollout+"/"+n.NodeID, sql.ErrNoRows)
	}
	return nil
}

// EndRollout sets a rollout's final (or halted) state.
func (db *DB) EndRollout(ctx context.Context, id, status, reason string, at time.Time) error {
	_, err := db.w.ExecContext(ctx, `UPDATE rollouts SET status = ?, reason = ?, ended_at = ? WHERE id = ?`, status, reason, ms(at), id)
	return writeErr("rollout "+id, err)
}
