package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Occurrence is one occurrence of a programme as it was planned: the
// history of what was due, which later changes to the programme do not
// touch once its time has come.
type Occurrence struct {
	Station   string    `json:"station"`
	ID        string    `json:"id"`
	Schedule  string    `json:"schedule"`
	Item      string    `json:"item"`
	Title     string    `json:"title"`
	Priority  string    `json:"priority"`
	Source    string    `json:"source"`
	Target    string    `json:"target"`
	At        time.Time `json:"at"`
	End       time.Time `json:"end,omitzero"`
	Nodes     []string  `json:"nodes"`
	PlannedAt time.Time `json:"planned_at"`
}

// PlanOccurrences records a programme's occurrences from `from` on: the
// ones recorded before from stay as they were (history); those from on
// are replaced by occ (the programme as it is now), in one transaction.
func (db *DB) PlanOccurrences(ctx context.Context, schedule string, from time.Time, occ []Occurrence) error {
	return db.planOccurrences(ctx, schedule, from, occ, nil, true)
}

// ReplanOccurrences changes a programme's records from `from` on: occ are
// written (new or changed), gone (station, id pairs) removed; the rest
// stay. What is due before from is never touched.
func (db *DB) ReplanOccurrences(ctx context.Context, schedule string, from time.Time, occ []Occurrence, gone [][2]string) error {
	return db.planOccurrences(ctx, schedule, from, occ, gone, false)
}

func (db *DB) planOccurrences(ctx context.Context, schedule string, from time.Time, occ []Occurrence, gone [][2]string, all bool) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: planning occurrences: %w", err)
	}
	defer tx.Rollback()
	// The rows that change, for the in-memory day (occurcache.go): what
	// is deleted or written, not what is merely named (a bulletin that has
	// passed is "gone" from a plan of what comes, but its row stays).
	var touched []touch
	del := func(q string, args ...any) error {
		rows, err := tx.QueryContext(ctx, q+" RETURNING station_id, at", args...)
		if err != nil {
			return fmt.Errorf("registry: planning occurrences: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var t touch
			var at int64
			if err := rows.Scan(&t.station, &at); err != nil {
				return fmt.Errorf("registry: planning occurrences: %w", err)
			}
			t.at = time.UnixMilli(at)
			touched = append(touched, t)
		}
		return rows.Err()
	}
	if all {
		if err := del("DELETE FROM occurrences WHERE schedule = ? AND at >= ?", schedule, from.UnixMilli()); err != nil {
			return err
		}
	}
	for _, g := range gone {
		if err := del("DELETE FROM occurrences WHERE station_id = ? AND id = ? AND schedule = ? AND at >= ?", g[0], g[1], schedule, from.UnixMilli()); err != nil {
			return err
		}
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO occurrences(station_id, id, schedule, item_id, title, priority, source, target, at, end_at, nodes, planned_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(station_id, id) DO UPDATE SET schedule = excluded.schedule, item_id = excluded.item_id,
		title = excluded.title, priority = excluded.priority, source = excluded.source, target = excluded.target, end_at = excluded.end_at,
		nodes = excluded.nodes, planned_at = excluded.planned_at WHERE occurrences.at >= ?`)
	if err != nil {
		return fmt.Errorf("registry: planning occurrences: %w", err)
	}
	defer st.Close()
	for _, o := range occ {
		if o.At.Before(from) {
			continue
		}
		touched = append(touched, touch{o.Station, o.At})
		nodes, _ := json.Marshal(o.Nodes)
		var end int64
		if !o.End.IsZero() {
			end = o.End.UnixMilli()
		}
		if _, err := st.ExecContext(ctx, o.Station, o.ID, schedule, o.Item, o.Title, o.Priority, o.Source, o.Target,
			o.At.UnixMilli(), end, string(nodes), o.PlannedAt.UnixMilli(), from.UnixMilli()); err != nil {
			return fmt.Errorf("registry: planning occurrence %s: %w", o.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry: planning occurrences: %w", err)
	}
	db.occurrences.invalidate(touched)
	return nil
}

// ListOccurrences returns the occurrences due in [from, to) of the given
// stations (all when stations is nil), by time then station and id.
func (db *DB) ListOccurrences(ctx context.Context, stations []string, from, to time.Time) ([]Occurrence, error) {
	q := `SELECT station_id, id, schedule, item_id, title, priority, source, target, at, end_at, nodes, planned_at
		FROM occurrences WHERE at >= ? AND at < ?`
	args := []any{from.UnixMilli(), to.UnixMilli()}
	if stations != nil {
		if len(stations) == 0 {
			return nil, nil
		}
		q += " AND station_id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(stations)), ",") + ")"
		for _, s := range stations {
			args = append(args, s)
		}
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY at, station_id, id", args...)
	if err != nil {
		return nil, fmt.Errorf("registry: listing occurrences: %w", err)
	}
	defer rows.Close()
	var out []Occurrence
	for rows.Next() {
		var o Occurrence
		var at, end, planned int64
		var nodes string
		if err := rows.Scan(&o.Station, &o.ID, &o.Schedule, &o.Item, &o.Title, &o.Priority, &o.Source, &o.Target, &at, &end, &nodes, &planned); err != nil {
			return nil, fmt.Errorf("registry: listing occurrences: %w", err)
		}
		o.At, o.PlannedAt = time.UnixMilli(at), time.UnixMilli(planned)
		if end != 0 {
			o.End = time.UnixMilli(end)
		}
		if err := json.Unmarshal([]byte(nodes), &o.Nodes); err != nil {
			return nil, fmt.Errorf("registry: occurrence %s: nodes: %w", o.ID, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// OccurrenceTitle is the title occurrence id of a station had when it was
// planned ("" if none was recorded).
func (db *DB) OccurrenceTitle(ctx context.Context, station, id string) (string, error) {
	var title string
	err := db.r.QueryRowContext(ctx, "SELECT title FROM occurrences WHERE station_id = ? AND id = ?", station, id).Scan(&title)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("registry: occurrence %s: %w", id, err)
	}
	return title, nil
}
