package registry

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The web app's management of areas, stations, zones and clusters: names
// change, clusters move between zones. Ids never change (programmes,
// records and boxes name them).

// RenameArea gives an area a new name.
func (db *DB) RenameArea(ctx context.Context, id, name string) error {
	defer db.areas.invalidate()
	return db.rename(ctx, "areas", "area", id, name, true)
}

// RenameStation gives a station a new name.
func (db *DB) RenameStation(ctx context.Context, id, name string) error {
	defer db.stations.invalidate()
	return db.rename(ctx, "stations", "station", id, name, true)
}

// RenameZone gives a zone a new name ("" is allowed: the id is shown).
func (db *DB) RenameZone(ctx context.Context, id, name string) error {
	return db.rename(ctx, "zones", "zone", id, name, false)
}

// RenameNode gives a speaker cluster a new name.
func (db *DB) RenameNode(ctx context.Context, id, name string) error {
	return db.rename(ctx, "nodes", "node", id, name, false)
}

// maxName bounds the length of a name, in bytes (about 60 Vietnamese words).
const maxName = 200

func (db *DB) rename(ctx context.Context, table, kind, id, name string, required bool) error {
	name = strings.TrimSpace(name)
	if required && name == "" {
		return invalidf("%s %s needs a name", kind, id)
	}
	if len(name) > maxName {
		return invalidf("%s %s: a name of at most %d bytes", kind, id, maxName)
	}
	// table is one of the constants above, never from a request.
	res, err := db.w.ExecContext(ctx, "UPDATE "+table+" SET name = ? WHERE id = ?", name, id)
	if err != nil {
		return writeErr(kind+" "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s %q %w", kind, id, ErrNotFound)
	}
	return nil
}

// SetNodeZones puts a cluster in exactly the given zones of its station
// (moving it between zones), in one transaction. A revoked cluster belongs
// to no zone. It returns the zones it was in before.
func (db *DB) SetNodeZones(ctx context.Context, nodeID string, zones []string) ([]string, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	var station string
	var revoked bool
	if err := tx.QueryRowContext(ctx, "SELECT station_id, revoked FROM nodes WHERE id = ?", nodeID).Scan(&station, &revoked); err != nil {
		return nil, notFound("node", nodeID, err)
	}
	if revoked && len(zones) > 0 {
		return nil, invalidf("node %s is revoked: a revoked cluster belongs to no zone", nodeID)
	}
	if err := checkPlacement(ctx, tx, Node{ID: nodeID, StationID: station, Zones: zones}); err != nil {
		return nil, err
	}
	old, err := zonesOf(ctx, tx, nodeID)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM zone_nodes WHERE node_id = ?", nodeID); err != nil {
		return nil, writeErr("node "+nodeID, err)
	}
	for _, z := range zones {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO zone_nodes(zone_id, node_id) VALUES (?,?)", z, nodeID); err != nil {
			return nil, writeErr("zone "+z, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("registry: node %s: %w", nodeID, err)
	}
	return old, nil
}

// zonesOf lists a node's zones, from the read pool or inside a transaction.
func zonesOf(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, nodeID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT zone_id FROM zone_nodes WHERE node_id = ? ORDER BY zone_id", nodeID)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, rows.Err()
}
