package registry

import (
	"context"
	"database/sql"
	"fmt"
)

// FleetCounts is the fleet at a glance, for the controller's metrics: nodes
// enrolled and revoked, online, and the health their latest State reports
// (PROTOCOL.md §9) over the online ones.
type FleetCounts struct {
	Known, Revoked, Online int
	ClockUnsynced, Silent  int
	MaxCPUTempC            float64 // 0 when no online node reports it
	MinDiskFree            int64   // -1 when no online node reports it
}

// CountFleet reads FleetCounts in one query over nodes and node_state (a
// scan of each: a scrape every 15 s of a province is cheap, of the
// country's 100,000 nodes about a tenth of a second).
func (db *DB) CountFleet(ctx context.Context) (FleetCounts, error) {
	var c FleetCounts
	var temp sql.NullFloat64
	var disk sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM nodes WHERE revoked = 0),
		(SELECT count(*) FROM nodes WHERE revoked != 0),
		coalesce(sum(s.online), 0),
		coalesce(sum(s.online AND coalesce(json_extract(s.state, '$.clock') = 'unsynced', 0)), 0),
		coalesce(sum(s.online AND `+noSoundSQL+`), 0),
		max(CASE WHEN s.online THEN json_extract(s.state, '$.cpu_temp_c') END),
		min(CASE WHEN s.online THEN json_extract(s.state, '$.disk_free') END)
		FROM node_state s JOIN nodes n ON n.id = s.node_id AND n.revoked = 0`).
		Scan(&c.Known, &c.Revoked, &c.Online, &c.ClockUnsynced, &c.Silent, &temp, &disk)
	if err != nil {
		return c, fmt.Errorf("registry: counting the fleet: %w", err)
	}
	c.MaxCPUTempC, c.MinDiskFree = temp.Float64, -1
	if disk.Valid {
		c.MinDiskFree = disk.Int64
	}
	return c, nil
}
