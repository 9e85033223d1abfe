package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of RedeemEnrolCode, usable with errors.Is. Their text is for the
// installer at the box.
var (
	ErrCodeUnknown = errors.New("unknown enrolment code")
	ErrCodeUsed    = errors.New("enrolment code already used")
	ErrCodeExpired = errors.New("enrolment code expired")
)

// EnrolCode is a one-time enrolment code for a new speaker cluster, as the
// registry keeps it: the cluster it makes, and its use. The code itself is
// never stored, only its hash.
type EnrolCode struct {
	ID        string    `json:"id"`
	Node      Node      `json:"node"` // id, name, station, lat/lon and zones of the cluster to be
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedFrom  string    `json:"used_from,omitempty"` // the address the box came from
}

// CreateEnrolCode stores a code (by its hash) for the cluster c.Node. The
// station and zones must exist, the zones belong to the station, and no
// cluster may have that id yet, nor another code that is still usable.
func (db *DB) CreateEnrolCode(ctx context.Context, c EnrolCode, hash []byte) error {
	n := c.Node
	if err := CheckNode(n); err != nil {
		return err
	}
	if len(hash) == 0 || c.ID == "" || !c.ExpiresAt.After(c.CreatedAt) {
		return invalidf("enrolment code for %s: no hash, id or lifetime", n.ID)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	if err := checkPlacement(ctx, tx, n); err != nil {
		return err
	}
	var exists int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM nodes WHERE id = ?", n.ID).Scan(&exists); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if exists > 0 {
		return fmt.Errorf("speaker cluster %s %w: choose another id", n.ID, ErrExists)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM enrol_codes WHERE node_id = ? AND used_at = 0 AND expires_at > ?",
		n.ID, ms(c.CreatedAt)).Scan(&exists); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if exists > 0 {
		return fmt.Errorf("an unused enrolment code for %s %w: cancel it first, or choose another id", n.ID, ErrExists)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO enrol_codes(id, code_hash, node_id, node_name, station_id, zones, lat, lon, created_at, created_by, expires_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`, c.ID, hash, n.ID, n.Name, n.StationID, strings.Join(n.Zones, ","), n.Lat, n.Lon,
		ms(c.CreatedAt), c.CreatedBy, ms(c.ExpiresAt))
	if err != nil {
		return writeErr("enrolment code "+c.ID, err)
	}
	return tx.Commit()
}

// checkPlacement checks that a cluster's station exists and its zones are
// zones of that station.
func checkPlacement(ctx context.Context, tx *sql.Tx, n Node) error {
	var st string
	if err := tx.QueryRowContext(ctx, "SELECT id FROM stations WHERE id = ?", n.StationID).Scan(&st); err != nil {
		return notFound("station", n.StationID, err)
	}
	for _, z := range n.Zones {
		var zs string
		if err := tx.QueryRowContext(ctx, "SELECT station_id FROM zones WHERE id = ?", z).Scan(&zs); err != nil {
			return notFound("zone", z, err)
		}
		if zs != n.StationID {
			return invalidf("zone %s belongs to station %s, the cluster %s to station %s", z, zs, n.ID, n.StationID)
		}
	}
	return nil
}

const enrolCols = "id, node_id, node_name, station_id, zones, lat, lon, created_at, created_by, expires_at, used_at, used_from"

func scanEnrolCode(sc interface{ Scan(...any) error }) (EnrolCode, error) {
	var c EnrolCode
	var zones string
	var created, expires, used int64
	err := sc.Scan(&c.ID, &c.Node.ID, &c.Node.Name, &c.Node.StationID, &zones, &c.Node.Lat, &c.Node.Lon,
		&created, &c.CreatedBy, &expires, &used, &c.UsedFrom)
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	c.Node.Zones = []string{}
	if zones != "" {
		c.Node.Zones = strings.Split(zones, ",")
	}
	return c, err
}

// GetEnrolCode returns one code by its id.
func (db *DB) GetEnrolCode(ctx context.Context, id string) (EnrolCode, error) {
	c, err := scanEnrolCode(db.r.QueryRowContext(ctx, "SELECT "+enrolCols+" FROM enrol_codes WHERE id = ?", id))
	if err != nil {
		return c, notFound("enrolment code", id, err)
	}
	return c, nil
}

// ListEnrolCodes returns the codes of the given stations (nil: all) made
// since since, newest first.
func (db *DB) ListEnrolCodes(ctx context.Context, stations []string, since time.Time) ([]EnrolCode, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+enrolCols+" FROM enrol_codes WHERE created_at >= ? ORDER BY created_at DESC, id", ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EnrolCode{}
	for rows.Next() {
		c, err := scanEnrolCode(rows)
		if err != nil {
			return nil, err
		}
		if stations == nil || slices.Contains(stations, c.Node.StationID) {
			out = append(out, c)
		}
	}
	return out, rows.Err()
}

// DeleteEnrolCode removes a code that has not been used (cancelling it); a
// used one stays, as the record of the enrolment.
func (db *DB) DeleteEnrolCode(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, "DELETE FROM enrol_codes WHERE id = ? AND used_at = 0", id)
	if err != nil {
		return writeErr("enrolment code "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.GetEnrolCode(ctx, id); err != nil {
			return err
		}
		return invalidf("enrolment code %s was already used: revoke the cluster instead", id)
	}
	return nil
}

// RedeemEnrolCode uses a code once, at now, from the address from: in one
// transaction it marks the code used, creates the cluster with the hash of
// its new broker secret and puts it in its zones. A code that is unknown,
// used or expired is refused (ErrCodeUnknown, ErrCodeUsed, ErrCodeExpired)
// and changes nothing.
func (db *DB) RedeemEnrolCode(ctx context.Context, hash []byte, now time.Time, from string, secretHash []byte) (EnrolCode, error) {
	if len(secretHash) == 0 {
		return EnrolCode{}, invalidf("enrolment: no credentials")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return EnrolCode{}, fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	c, err := scanEnrolCode(tx.QueryRowContext(ctx, "SELECT "+enrolCols+" FROM enrol_codes WHERE code_hash = ?", hash))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return c, ErrCodeUnknown
	case err != nil:
		return c, fmt.Errorf("registry: enrolment code: %w", err)
	case !c.UsedAt.IsZero():
		return c, fmt.Errorf("%w (at %s)", ErrCodeUsed, c.UsedAt.UTC().Format(time.RFC3339))
	case !now.Before(c.ExpiresAt):
		return c, fmt.Errorf("%w (at %s)", ErrCodeExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	n := c.Node
	n.CreatedAt = now
	// The zones may have been removed or the station's since the code was
	// made: the cluster joins those still there.
	if err := checkPlacement(ctx, tx, Node{ID: n.ID, StationID: n.StationID}); err != nil {
		return c, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO nodes(id, station_id, name, lat, lon, secret_hash, created_at) VALUES (?,?,?,?,?,?,?)",
		n.ID, n.StationID, n.Name, n.Lat, n.Lon, string(secretHash), ms(now)); err != nil {
		return c, fmt.Errorf("%w (made since the code was: ask for a code with another id)", writeErr("speaker cluster "+n.ID, err))
	}
	var joined []string
	for _, z := range n.Zones {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO zone_nodes(zone_id, node_id)
			SELECT id, ? FROM zones WHERE id = ? AND station_id = ?`, n.ID, z, n.StationID)
		if err != nil {
			return c, writeErr("zone "+z, err)
		}
		if k, _ := res.RowsAffected(); k > 0 {
			joined = append(joined, z)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE enrol_codes SET used_at = ?, used_from = ? WHERE id = ?", ms(now), from, c.ID); err != nil {
		return c, writeErr("enrolment code "+c.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return c, fmt.Errorf("registry: enrolment %s: %w", n.ID, err)
	}
	db.liveEnrolled(n.ID, n.StationID, now, true)
	c.UsedAt, c.UsedFrom = now, from
	c.Node.CreatedAt, c.Node.Zones = now, joined
	if c.Node.Zones == nil {
		c.Node.Zones = []string{}
	}
	return c, nil
}
