package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"
)

// PruneStats counts the rows Prune removed.
type PruneStats struct {
	PlayEvents int `json:"play_events"`
	Audit      int `json:"audit"`
	Commands   int `json:"commands"`
	Replies    int `json:"replies"`
	// Occurrences: what was due, recorded when planned (history).
	Occurrences int `json:"occurrences,omitempty"`
}

// Total is the number of rows removed.
func (s PruneStats) Total() int {
	return s.PlayEvents + s.Audit + s.Commands + s.Replies + s.Occurrences
}

// DefaultPruneBatch is how many rows one pruning transaction touches at
// most: small enough that proof-of-play ingest, which shares the one
// writer, waits a few milliseconds at a time, never for the whole sweep.
const DefaultPruneBatch = 1000

// Prune removes what is older than cutoff: proof-of-play records that
// both happened (at) and arrived (received_at) before it, audit entries,
// commands issued and expired before it, and replies before it whose
// command is gone. Each batch of at most batch rows is its own
// transaction, so the writer is free between batches.
func (db *DB) Prune(ctx context.Context, cutoff time.Time, batch int) (PruneStats, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var st PruneStats
	cut := ms(cutoff)
	var err error
	if st.PlayEvents, err = db.prunePlayEvents(ctx, cut, batch); err != nil {
		return st, err
	}
	if st.Audit, err = db.pruneRowids(ctx, "audit", "at < ?", batch, cut); err != nil {
		return st, err
	}
	if st.Commands, err = db.pruneRowids(ctx, "commands", "expires_at < ? AND issued_at < ?", batch, cut, cut); err != nil {
		return st, err
	}
	if st.Replies, err = db.pruneRowids(ctx, "command_replies", "at < ? AND command_id NOT IN (SELECT id FROM commands)", batch, cut); err != nil {
		return st, err
	}
	st.Occurrences, err = db.pruneRowids(ctx, "occurrences", "at < ?", batch, cut)
	if st.Occurrences > 0 {
		db.occurrences.drop()
	}
	return st, err
}

// prunePlayEvents walks the events older than cut in (at, node, seq) order,
// the order of the play_events_day index, a batch at a time. An event with
// an old `at` but received recently (a node whose clock was wrong, or whose
// outbox waited long) is kept until its arrival too is out of the window.
func (db *DB) prunePlayEvents(ctx context.Context, cut int64, batch int) (int, error) {
	type key struct {
		at   int64
		node string
		seq  int64
	}
	last := key{at: -1 << 62}
	removed := 0
	for {
		rows, err := db.r.QueryContext(ctx, `SELECT at, node_id, seq, received_at FROM play_events
			WHERE at < ? AND (at, node_id, seq) > (?, ?, ?) ORDER BY at, node_id, seq LIMIT ?`,
			cut, last.at, last.node, last.seq, batch)
		if err != nil {
			return removed, fmt.Errorf("registry: prune play events: %w", err)
		}
		var old []key
		n := 0
		for rows.Next() {
			var k key
			var recv int64
			if err := rows.Scan(&k.at, &k.node, &k.seq, &recv); err != nil {
				rows.Close()
				return removed, fmt.Errorf("registry: prune play events: %w", err)
			}
			n++
			last = k
			if recv < cut {
				old = append(old, k)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return removed, fmt.Errorf("registry: prune play events: %w", err)
		}
		if len(old) > 0 {
			k, err := db.inBatch(ctx, "DELETE FROM play_events WHERE node_id = ? AND seq = ?", len(old), func(i int) []any { return []any{old[i].node, old[i].seq} })
			removed += k
			if err != nil {
				return removed, fmt.Errorf("registry: prune play events: %w", err)
			}
		}
		if n < batch {
			return removed, nil
		}
	}
}

// inBatch runs stmt n times in one transaction, with args(i) for the i-th,
// and returns how many rows it changed.
func (db *DB) inBatch(ctx context.Context, stmt string, n int, args func(i int) []any) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, stmt)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	total := 0
	for i := 0; i < n; i++ {
		res, err := st.ExecContext(ctx, args(i)...)
		if err != nil {
			return 0, err
		}
		k, _ := res.RowsAffected()
		total += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return total, nil
}

// pruneRowids deletes the rows of table matching cond, one rowid range of
// batch rows per statement (and so per transaction), through the whole
// table once: each statement reads at most batch rows by the primary key,
// whatever else the table holds.
func (db *DB) pruneRowids(ctx context.Context, table, cond string, batch int, args ...any) (int, error) {
	var hi int64
	if err := db.r.QueryRowContext(ctx, "SELECT COALESCE(MAX(rowid), 0) FROM "+table).Scan(&hi); err != nil {
		return 0, fmt.Errorf("registry: prune %s: %w", table, err)
	}
	removed := 0
	for lo := int64(0); lo < hi; lo += int64(batch) {
		res, err := db.w.ExecContext(ctx, "DELETE FROM "+table+" WHERE rowid > ? AND rowid <= ? AND "+cond,
			append([]any{lo, lo + int64(batch)}, args...)...)
		if err != nil {
			return removed, fmt.Errorf("registry: prune %s: %w", table, err)
		}
		k, _ := res.RowsAffected()
		removed += int(k)
	}
	return removed, nil
}

// mediaUnused is the condition, on media m, that nothing in the registry
// needs it: it came into every library that holds it before ?1, and no
// command (an unexpired one, or one kept inside the retention window) and
// no proof-of-play record names it.
const mediaUnused = `m.created_at < ?1
	AND NOT EXISTS (SELECT 1 FROM media_areas a WHERE a.sha256 = m.sha256 AND a.created_at >= ?1)
	AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.media = m.sha256)
	AND NOT EXISTS (SELECT 1 FROM warnings w WHERE w.media = m.sha256 AND w.status = 'active')
	AND NOT EXISTS (SELECT 1 FROM play_events e WHERE e.media = m.sha256)`

// UnusedMedia lists the media that nothing in the registry needs any more
// (see DeleteUnusedMedia), oldest first. Whether a programme still names
// one is for the caller to check: programmes are files.
func (db *DB) UnusedMedia(ctx context.Context, cutoff time.Time) ([]Media, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+mediaCols+" FROM media m WHERE "+mediaUnused+" ORDER BY created_at", ms(cutoff))
	if err != nil {
		return nil, fmt.Errorf("registry: unused media: %w", err)
	}
	defer rows.Close()
	out := []Media{}
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteUnusedMedia removes the record of media sha (and its libraries) if
// it is still unused as UnusedMedia defines it, checked in the same
// transaction as the delete, so a command or upload that names it in the
// meantime keeps it. It reports whether it removed it.
func (db *DB) DeleteUnusedMedia(ctx context.Context, sha string, cutoff time.Time) (bool, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	defer tx.Rollback()
	var unused bool
	err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM media m WHERE m.sha256 = ?2 AND "+mediaUnused+")", ms(cutoff), sha).Scan(&unused)
	if err != nil || !unused {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM media_areas WHERE sha256 = ?", sha); err != nil {
		return false, fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM media WHERE sha256 = ?", sha); err != nil {
		return false, fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	return true, nil
}

// Snapshot writes a consistent copy of the whole registry to path (which
// must not exist) with VACUUM INTO. It runs as one read transaction on a
// reader, so proof-of-play ingest goes on while it copies; the copy holds
// exactly what was committed when it began.
func (db *DB) Snapshot(ctx context.Context, path string) error {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("registry: snapshot to %s: the file exists", path)
	}
	// The readers are query_only, which refuses to write even the copy:
	// one connection of its own, opened on the same file, does the copy.
	var seq int
	var name, file string
	if err := db.r.QueryRowContext(ctx, "SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'").Scan(&seq, &name, &file); err != nil {
		return fmt.Errorf("registry: snapshot: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	c, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("registry: snapshot: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("registry: snapshot to %s: %w", path, err)
	}
	return nil
}

// RaiseDesiredRevs lifts every node's desired-state revision to at least
// min. A restored registry is behind what the lost controller sent: its
// next revisions would be ones the nodes already applied, and they would
// refuse them as replayed.
func (db *DB) RaiseDesiredRevs(ctx context.Context, min int64) error {
	_, err := db.w.ExecContext(ctx, "UPDATE nodes SET desired_rev = ? WHERE desired_rev < ?", min, min)
	return writeErr("nodes' desired revisions", err)
}

// IntegrityCheck runs SQLite's integrity_check and fails unless it says ok.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	var res string
	if err := db.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("registry: integrity check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("registry: integrity check: %s", res)
	}
	return nil
}
