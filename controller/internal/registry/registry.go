// Package registry is the controller's SQLite store (modernc.org/sqlite, WAL):
// areas, stations, nodes, zones, media, node state, proof of play, commands,
// API tokens and the audit log. Writes go through one connection (SQLite has
// one writer anyway, and queueing in Go instead of in SQLite means no
// SQLITE_BUSY); reads use a separate pool that never writes.
//
// Times are stored as unix milliseconds; a zero time.Time is stored as 0.
// Errors wrap ErrNotFound, ErrExists or ErrInvalid where the caller can
// act on them, and their text is meant to be shown to the user.
package registry

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Sentinel errors, usable with errors.Is.
var (
	ErrNotFound = errors.New("not found")      // no such record
	ErrExists   = errors.New("already exists") // a record with that id exists
	ErrInvalid  = errors.New("invalid")        // bad id, kind or value, or a reference to a missing record
)

// readConns is the size of the read pool. Readers never block the writer
// or each other in WAL mode; more connections than cores buys little.
const readConns = 4

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the registry.
type DB struct {
	w    *sql.DB // the one writer
	r    *sql.DB // readers
	log  *slog.Logger
	now  func() time.Time // the controller's clock
	live *live            // what the coverage view reads, in memory

	areas    tableCache[Area]
	stations tableCache[Station]
	// occurrences holds a day of the recorded occurrences (occurcache.go).
	occurrences occurrenceCache
}

// dsn builds the connection string. Pragmas go in the DSN so that every
// pooled connection gets them (a PRAGMA statement sets only one), with
// busy_timeout first so that the others already wait for a lock.
// _txlock=immediate takes the write lock at BEGIN: a deferred transaction
// that reads and then writes can fail with SQLITE_BUSY_SNAPSHOT, which
// busy_timeout does not cover.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a record is acknowledged to its node (which then deletes it)
	// only after commit, so a commit must survive a power cut, not just a
	// crash. Ingest commits in batches, so the extra sync is cheap.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Options of Open. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Now is the clock of every default time the registry fills in and of
	// its in-memory window (nil: time.Now). The controller passes its one
	// clock, so that a test's fake clock runs through the registry too.
	Now func() time.Time
}

// Open opens (creating if needed) the registry at path and migrates it.
func Open(path string, opt Options) (*DB, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("registry: open %q: want a file path without '?' or '#'", path)
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("registry: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	db := &DB{w: w, log: log, now: now}
	if err := db.migrate(); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.loadLive(context.Background()); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("registry: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	db.r = r
	if err := r.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("registry: open %s for reading: %w", path, err)
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in order. Files are named
// NNNN_what.sql; the numbers run 1, 2, 3... without gaps, so that a file
// added on two branches at once is caught here rather than skipped.
func loadMigrations() ([]migration, error) {
	ents, err := migrations.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("registry: migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{n, e.Name(), string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("registry: migration %s: want number %d", m.name, i+1)
		}
	}
	return out, nil
}

// migrate applies the migrations newer than the database's user_version,
// each in its own transaction together with the new user_version, so a
// failed migration leaves the database as it was.
func (db *DB) migrate() error {
	all, err := loadMigrations()
	if err != nil {
		return err
	}
	var version int
	if err := db.w.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if version > len(all) {
		return fmt.Errorf("registry: the database has schema version %d, newer than this controller's %d: run the newer controller or restore a backup", version, len(all))
	}
	for _, m := range all[version:] {
		tx, err := db.w.Begin()
		if err != nil {
			return fmt.Errorf("registry: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("registry: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			tx.Rollback()
			return fmt.Errorf("registry: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("registry: migration %s: %w", m.name, err)
		}
		db.log.Info("registry migrated", "version", m.version, "file", m.name)
	}
	return nil
}

// SchemaVersion returns the database's migration number.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// writeErr maps constraint failures, by SQLite's extended result code, to
// the sentinel errors.
func writeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s %w", what, ErrExists)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w: it refers to something that does not exist", what, ErrInvalid)
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return fmt.Errorf("%s: %w value", what, ErrInvalid)
		}
	}
	return fmt.Errorf("registry: %s: %w", what, err)
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func checkID(kind, id string) error {
	if err := nodeproto.CheckID(kind, id); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func notFound(kind, id string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q %w", kind, id, ErrNotFound)
	}
	return fmt.Errorf("registry: %s %q: %w", kind, id, err)
}

// Area is a province or a commune (no district level since 2025).
type Area struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id,omitempty"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

// CreateArea adds an area. A commune must have a province parent.
func (db *DB) CreateArea(ctx context.Context, a Area) error {
	if err := checkID("area", a.ID); err != nil {
		return err
	}
	if strings.TrimSpace(a.Name) == "" {
		return invalidf("area %s needs a name", a.ID)
	}
	switch {
	case a.Kind == "province" && a.ParentID != "":
		return invalidf("a province has no parent area")
	case a.Kind == "commune" && a.ParentID == "":
		return invalidf("commune %s needs its province as parent_id", a.ID)
	case a.Kind != "province" && a.Kind != "commune":
		return invalidf("area kind %q: want province or commune", a.Kind)
	}
	var parent any
	if a.ParentID != "" {
		p, err := db.GetArea(ctx, a.ParentID)
		if errors.Is(err, ErrNotFound) {
			return invalidf("commune %s: parent area %q does not exist", a.ID, a.ParentID)
		} else if err != nil {
			return err
		}
		if p.Kind != "province" {
			return invalidf("commune %s: parent %s is a %s, want a province", a.ID, p.ID, p.Kind)
		}
		parent = a.ParentID
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO areas(id, parent_id, kind, name) VALUES (?,?,?,?)", a.ID, parent, a.Kind, a.Name)
	db.areas.invalidate()
	return writeErr("area "+a.ID, err)
}

// GetArea returns one area.
func (db *DB) GetArea(ctx context.Context, id string) (Area, error) {
	var a Area
	var parent sql.NullString
	err := db.r.QueryRowContext(ctx, "SELECT id, parent_id, kind, name FROM areas WHERE id = ?", id).Scan(&a.ID, &parent, &a.Kind, &a.Name)
	a.ParentID = parent.String
	if err != nil {
		return a, notFound("area", id, err)
	}
	return a, nil
}

// ListAreas returns every area, sorted by id (from memory after the first
// read).
func (db *DB) ListAreas(ctx context.Context) ([]Area, error) {
	return db.areas.get(func() ([]Area, error) { return db.sqlAreas(ctx) })
}

func (db *DB) sqlAreas(ctx context.Context) ([]Area, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, COALESCE(parent_id, ''), kind, name FROM areas ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Area{}
	for rows.Next() {
		var a Area
		if err := rows.Scan(&a.ID, &a.ParentID, &a.Kind, &a.Name); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Station is a commune radio station.
type Station struct {
	ID     string `json:"id"`
	AreaID string `json:"area_id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"` // ip, fm, wired
}

// CreateStation adds a station.
func (db *DB) CreateStation(ctx context.Context, s Station) error {
	if err := checkID("station", s.ID); err != nil {
		return err
	}
	if s.Kind == "" {
		s.Kind = "ip"
	}
	if s.Kind != "ip" && s.Kind != "fm" && s.Kind != "wired" {
		return invalidf("station kind %q: want ip, fm or wired", s.Kind)
	}
	if _, err := db.GetArea(ctx, s.AreaID); err != nil {
		return err
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO stations(id, area_id, name, kind) VALUES (?,?,?,?)", s.ID, s.AreaID, s.Name, s.Kind)
	db.stations.invalidate()
	return writeErr("station "+s.ID, err)
}

// GetStation returns one station.
func (db *DB) GetStation(ctx context.Context, id string) (Station, error) {
	var s Station
	err := db.r.QueryRowContext(ctx, "SELECT id, area_id, name, kind FROM stations WHERE id = ?", id).Scan(&s.ID, &s.AreaID, &s.Name, &s.Kind)
	if err != nil {
		return s, notFound("station", id, err)
	}
	return s, nil
}

// ListStations returns the stations of an area ("" = all), sorted by id
// (from memory after the first read).
func (db *DB) ListStations(ctx context.Context, areaID string) ([]Station, error) {
	all, err := db.stations.get(func() ([]Station, error) { return db.sqlStations(ctx) })
	if err != nil || areaID == "" {
		return all, err
	}
	out := []Station{}
	for _, s := range all {
		if s.AreaID == areaID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (db *DB) sqlStations(ctx context.Context) ([]Station, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, area_id, name, kind FROM stations ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Station{}
	for rows.Next() {
		var s Station
		if err := rows.Scan(&s.ID, &s.AreaID, &s.Name, &s.Kind); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Node is a speaker cluster box.
type Node struct {
	ID        string    `json:"id"`
	StationID string    `json:"station_id"`
	Name      string    `json:"name"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
	Zones     []string  `json:"zones"`
}

// CreateNode enrols a node with the hash of its broker secret.
func (db *DB) CreateNode(ctx context.Context, n Node, secretHash []byte) error {
	if err := CheckNode(n); err != nil {
		return err
	}
	if len(secretHash) == 0 {
		return invalidf("node %s: no credentials", n.ID)
	}
	if _, err := db.GetStation(ctx, n.StationID); err != nil {
		return err
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO nodes(id, station_id, name, lat, lon, secret_hash, created_at) VALUES (?,?,?,?,?,?,?)",
		n.ID, n.StationID, n.Name, n.Lat, n.Lon, string(secretHash), ms(n.CreatedAt))
	if err == nil {
		db.liveEnrolled(n.ID, n.StationID, fromMS(ms(n.CreatedAt)), true)
	}
	return writeErr("node "+n.ID, err)
}

// CheckNode checks what a node record says about itself (its id, its
// position), without the registry: an enrolment code is checked the same
// way before it is handed out.
func CheckNode(n Node) error {
	if err := checkID("node", n.ID); err != nil {
		return err
	}
	if n.ID == "controller" || strings.HasPrefix(n.ID, "controller-") {
		// The controller's own broker accounts: a node of that name could
		// never log in, and with Mosquitto it would stop every later
		// password file from being written.
		return invalidf("node id %q is reserved for the controller's broker accounts: choose another", n.ID)
	}
	if n.Lat < -90 || n.Lat > 90 || n.Lon < -180 || n.Lon > 180 {
		return invalidf("node %s: lat/lon %v,%v out of range", n.ID, n.Lat, n.Lon)
	}
	return nil
}

const nodeCols = "id, station_id, name, lat, lon, created_at, revoked, COALESCE((SELECT group_concat(zone_id) FROM (SELECT zone_id FROM zone_nodes WHERE node_id = nodes.id ORDER BY zone_id)), '')"

func scanNode(sc interface{ Scan(...any) error }) (Node, error) {
	var n Node
	var created int64
	var zones string
	err := sc.Scan(&n.ID, &n.StationID, &n.Name, &n.Lat, &n.Lon, &created, &n.Revoked, &zones)
	n.CreatedAt = fromMS(created)
	n.Zones = []string{}
	if zones != "" {
		n.Zones = strings.Split(zones, ",")
	}
	return n, err
}

// GetNode returns one node.
func (db *DB) GetNode(ctx context.Context, id string) (Node, error) {
	n, err := scanNode(db.r.QueryRowContext(ctx, "SELECT "+nodeCols+" FROM nodes WHERE id = ?", id))
	if err != nil {
		return n, notFound("node", id, err)
	}
	return n, nil
}

// ListNodes returns the nodes of a station ("" = all).
func (db *DB) ListNodes(ctx context.Context, stationID string) ([]Node, error) {
	if stationID == "" {
		return db.NodesOf(ctx, nil)
	}
	return db.NodesOf(ctx, []string{stationID})
}

// RevokeNode marks a node's credentials revoked and takes it out of its
// zones, in one transaction: a revoked box is no longer part of any zone's
// audience (zone commands, reports, the broker's zone ACL).
func (db *DB) RevokeNode(ctx context.Context, id string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE nodes SET revoked = 1 WHERE id = ?", id)
	if err != nil {
		return writeErr("node "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("node %q %w", id, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM zone_nodes WHERE node_id = ?", id); err != nil {
		return writeErr("node "+id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry: node %s: %w", id, err)
	}
	db.liveEnrolled(id, "", time.Time{}, false)
	return nil
}

// SetNodeSecret replaces a node's secret hash (credential rotation) and
// lifts a revocation: the box is being re-provisioned.
func (db *DB) SetNodeSecret(ctx context.Context, id string, secretHash []byte) error {
	if len(secretHash) == 0 {
		return invalidf("node %s: no credentials", id)
	}
	res, err := db.w.ExecContext(ctx, "UPDATE nodes SET secret_hash = ?, revoked = 0 WHERE id = ?", string(secretHash), id)
	if err != nil {
		return writeErr("node "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("node %q %w", id, ErrNotFound)
	}
	db.liveEnrolled(id, "", time.Time{}, true)
	return nil
}

// NodeSecret returns a node's stored secret hash and whether it is revoked.
func (db *DB) NodeSecret(ctx context.Context, id string) ([]byte, bool, error) {
	var h string
	var revoked bool
	err := db.r.QueryRowContext(ctx, "SELECT secret_hash, revoked FROM nodes WHERE id = ?", id).Scan(&h, &revoked)
	if err != nil {
		return nil, false, notFound("node", id, err)
	}
	return []byte(h), revoked, nil
}

// Zone is a group of nodes that start together.
type Zone struct {
	ID        string   `json:"id"`
	StationID string   `json:"station_id"`
	Name      string   `json:"name"`
	OffsetMS  int      `json:"offset_ms"`
	Nodes     []string `json:"nodes"`
}

// CreateZone adds a zone (without nodes; see SetZoneNodes).
func (db *DB) CreateZone(ctx context.Context, z Zone) error {
	if err := checkID("zone", z.ID); err != nil {
		return err
	}
	if z.OffsetMS < -60000 || z.OffsetMS > 60000 {
		return invalidf("zone %s: offset_ms %d not within ±60000", z.ID, z.OffsetMS)
	}
	if _, err := db.GetStation(ctx, z.StationID); err != nil {
		return err
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO zones(id, station_id, name, offset_ms) VALUES (?,?,?,?)", z.ID, z.StationID, z.Name, z.OffsetMS)
	return writeErr("zone "+z.ID, err)
}

const zoneCols = "id, station_id, name, offset_ms, COALESCE((SELECT group_concat(node_id) FROM (SELECT node_id FROM zone_nodes WHERE zone_id = zones.id ORDER BY node_id)), '')"

func scanZone(sc interface{ Scan(...any) error }) (Zone, error) {
	var z Zone
	var nodes string
	err := sc.Scan(&z.ID, &z.StationID, &z.Name, &z.OffsetMS, &nodes)
	z.Nodes = []string{}
	if nodes != "" {
		z.Nodes = strings.Split(nodes, ",")
	}
	return z, err
}

// GetZone returns one zone with its nodes.
func (db *DB) GetZone(ctx context.Context, id string) (Zone, error) {
	z, err := scanZone(db.r.QueryRowContext(ctx, "SELECT "+zoneCols+" FROM zones WHERE id = ?", id))
	if err != nil {
		return z, notFound("zone", id, err)
	}
	return z, nil
}

// ListZones returns every zone.
func (db *DB) ListZones(ctx context.Context) ([]Zone, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+zoneCols+" FROM zones ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Zone{}
	for rows.Next() {
		z, err := scanZone(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, rows.Err()
}

// SetZoneNodes replaces a zone's members; they must be nodes of its station.
// The checks and the change happen in one transaction.
func (db *DB) SetZoneNodes(ctx context.Context, zoneID string, nodeIDs []string) error {
	return db.changeZone(ctx, zoneID, func(tx *sql.Tx, add func(string) error) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM zone_nodes WHERE zone_id = ?", zoneID); err != nil {
			return writeErr("zone "+zoneID, err)
		}
		for _, id := range nodeIDs {
			if err := add(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddZoneNode adds one node to a zone (nothing if it is already there); the
// node must belong to the zone's station. Enrolling the 10,000th node of a
// zone writes one row, not 10,000.
func (db *DB) AddZoneNode(ctx context.Context, zoneID, nodeID string) error {
	return db.changeZone(ctx, zoneID, func(_ *sql.Tx, add func(string) error) error { return add(nodeID) })
}

// changeZone runs change in a transaction with add, which puts a node of the
// zone's station into the zone (once, however often it is added).
func (db *DB) changeZone(ctx context.Context, zoneID string, change func(tx *sql.Tx, add func(node string) error) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	var station string
	if err := tx.QueryRowContext(ctx, "SELECT station_id FROM zones WHERE id = ?", zoneID).Scan(&station); err != nil {
		return notFound("zone", zoneID, err)
	}
	add := func(id string) error {
		var ns string
		var revoked bool
		if err := tx.QueryRowContext(ctx, "SELECT station_id, revoked FROM nodes WHERE id = ?", id).Scan(&ns, &revoked); err != nil {
			return notFound("node", id, err)
		}
		if revoked {
			return invalidf("node %s is revoked: a revoked cluster belongs to no zone (give it new credentials first)", id)
		}
		if ns != station {
			return invalidf("node %s belongs to station %s, zone %s to station %s", id, ns, zoneID, station)
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO zone_nodes(zone_id, node_id) VALUES (?,?)", zoneID, id); err != nil {
			return writeErr("zone "+zoneID, err)
		}
		return nil
	}
	if err := change(tx, add); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry: zone %s: %w", zoneID, err)
	}
	return nil
}

// NodeCredential is what a broker needs to know of an enrolled node.
type NodeCredential struct {
	ID    string
	Hash  string   // stored secret hash
	Zones []string // sorted
}

// NodeCredentials lists every node that is not revoked, sorted by id, with
// its secret hash and zones, in two queries (a Mosquitto password and ACL
// file is rewritten from it at each enrolment).
func (db *DB) NodeCredentials(ctx context.Context) ([]NodeCredential, error) {
	zones := map[string][]string{}
	rows, err := db.r.QueryContext(ctx, "SELECT node_id, zone_id FROM zone_nodes ORDER BY node_id, zone_id")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n, z string
		if err := rows.Scan(&n, &z); err != nil {
			rows.Close()
			return nil, err
		}
		zones[n] = append(zones[n], z)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = db.r.QueryContext(ctx, "SELECT id, secret_hash FROM nodes WHERE revoked = 0 ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []NodeCredential{}
	for rows.Next() {
		var c NodeCredential
		if err := rows.Scan(&c.ID, &c.Hash); err != nil {
			return nil, err
		}
		c.Zones = zones[c.ID]
		if c.Zones == nil {
			c.Zones = []string{}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// NodeZones returns the zones a node belongs to.
func (db *DB) NodeZones(ctx context.Context, nodeID string) ([]string, error) {
	return zonesOf(ctx, db.r, nodeID)
}

// Media is an uploaded recording in the delivery format.
type Media struct {
	SHA256       string    `json:"sha256"`
	Name         string    `json:"name"`
	SourceFormat string    `json:"source_format"`
	Size         int64     `json:"size"`
	DurationMS   int64     `json:"duration_ms"`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
}

// PutMedia records media; the same content again keeps the first record,
// unless that was deleted: then the new upload takes its place.
func (db *DB) PutMedia(ctx context.Context, m Media) error {
	if !nodeproto.ValidMedia(m.SHA256) {
		return invalidf("media id %q: want a lowercase hex sha256", m.SHA256)
	}
	if m.Size <= 0 || m.Size > nodeproto.MaxMediaSize || m.DurationMS < 0 {
		return invalidf("media %s: size %d, duration %d ms", m.SHA256, m.Size, m.DurationMS)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO media(sha256, name, source_format, size, duration_ms, created_at, created_by)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET name = excluded.name, source_format = excluded.source_format,
		size = excluded.size, duration_ms = excluded.duration_ms, created_at = excluded.created_at, created_by = excluded.created_by,
		deleted_at = 0 WHERE media.deleted_at != 0`,
		m.SHA256, m.Name, m.SourceFormat, m.Size, m.DurationMS, ms(m.CreatedAt), m.CreatedBy)
	return writeErr("media", err)
}

const mediaCols = "sha256, name, source_format, size, duration_ms, created_at, created_by"

func scanMedia(sc interface{ Scan(...any) error }) (Media, error) {
	var m Media
	var created int64
	err := sc.Scan(&m.SHA256, &m.Name, &m.SourceFormat, &m.Size, &m.DurationMS, &created, &m.CreatedBy)
	m.CreatedAt = fromMS(created)
	return m, err
}

// GetMedia returns one media record (a deleted one is not found).
func (db *DB) GetMedia(ctx context.Context, sha string) (Media, error) {
	m, err := scanMedia(db.r.QueryRowContext(ctx, "SELECT "+mediaCols+" FROM media WHERE sha256 = ? AND deleted_at = 0", sha))
	if err != nil {
		return m, notFound("media", sha, err)
	}
	return m, nil
}

// ListMedia returns all media but the deleted, newest first.
func (db *DB) ListMedia(ctx context.Context) ([]Media, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+mediaCols+" FROM media WHERE deleted_at = 0 ORDER BY created_at DESC")
	if err != nil {
		return nil, err
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

// NodeState is the last state a node reported.
type NodeState struct {
	NodeID    string          `json:"node_id"`
	Online    bool            `json:"online"`
	State     json.RawMessage `json:"state"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// UpsertNodeState stores a node's latest state. State must be JSON (or
// empty); UpdatedAt defaults to now.
func (db *DB) UpsertNodeState(ctx context.Context, s NodeState) error {
	if err := checkID("node", s.NodeID); err != nil {
		return err
	}
	if len(s.State) == 0 {
		s.State = json.RawMessage("null")
	}
	if !json.Valid(s.State) {
		return invalidf("node %s: state is not JSON", s.NodeID)
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO node_state(node_id, online, state, updated_at) VALUES (?,?,?,?)
		ON CONFLICT(node_id) DO UPDATE SET online = excluded.online, state = excluded.state, updated_at = excluded.updated_at
		WHERE excluded.updated_at >= node_state.updated_at`, // reports handled out of order keep the newest
		s.NodeID, s.Online, string(s.State), ms(s.UpdatedAt))
	if err == nil {
		db.liveState(s.NodeID, s.Online, stateNoSound(s.State), fromMS(ms(s.UpdatedAt)))
	}
	return writeErr("node state "+s.NodeID, err)
}

// ListNodeStates returns every node's latest state.
func (db *DB) ListNodeStates(ctx context.Context) ([]NodeState, error) {
	return db.NodeStatesOf(ctx, nil)
}

// NodeStatesOf returns the latest state of the given nodes (nil: all): a
// node's page reads its own, not a country's.
func (db *DB) NodeStatesOf(ctx context.Context, nodes []string) ([]NodeState, error) {
	where, args := inNodes("node_id", nodes)
	rows, err := db.r.QueryContext(ctx, "SELECT node_id, online, state, updated_at FROM node_state WHERE "+where+" ORDER BY node_id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []NodeState{}
	for rows.Next() {
		var s NodeState
		var st string
		var at int64
		if err := rows.Scan(&s.NodeID, &s.Online, &st, &at); err != nil {
			return nil, err
		}
		s.State, s.UpdatedAt = json.RawMessage(st), fromMS(at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// NodeSettings are the desired settings of a node.
type NodeSettings struct {
	Volume int    `json:"volume"`
	Amp    string `json:"amp"` // auto, on, off
}

// GetNodeSettings returns a node's desired settings.
func (db *DB) GetNodeSettings(ctx context.Context, id string) (NodeSettings, error) {
	var s NodeSettings
	err := db.r.QueryRowContext(ctx, "SELECT volume, amp FROM nodes WHERE id = ?", id).Scan(&s.Volume, &s.Amp)
	if err != nil {
		return s, notFound("node", id, err)
	}
	return s, nil
}

// SetNodeVolume sets the desired volume of nodes.
func (db *DB) SetNodeVolume(ctx context.Context, ids []string, volume int) error {
	if volume < 0 || volume > 100 {
		return invalidf("volume %d not in 0..100", volume)
	}
	return db.setNodes(ctx, ids, "volume", volume)
}

// SetNodeAmp sets the desired amplifier mode of nodes.
func (db *DB) SetNodeAmp(ctx context.Context, ids []string, amp string) error {
	if amp != "auto" && amp != "on" && amp != "off" {
		return invalidf("amplifier mode %q: want auto, on or off", amp)
	}
	return db.setNodes(ctx, ids, "amp", amp)
}

func (db *DB) setNodes(ctx context.Context, ids []string, col string, v any) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, "UPDATE nodes SET "+col+" = ? WHERE id = ?", v, id)
		if err != nil {
			return writeErr("node "+id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("node %q %w", id, ErrNotFound)
		}
	}
	return tx.Commit()
}

// DesiredRevs returns the last desired-state revision issued to each node.
func (db *DB) DesiredRevs(ctx context.Context) (map[string]int64, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, desired_rev FROM nodes WHERE revoked = 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var rev int64
		if err := rows.Scan(&id, &rev); err != nil {
			return nil, err
		}
		out[id] = rev
	}
	return out, rows.Err()
}

// DesiredSync is what the controller last published to a node and what the
// node last said it applied.
type DesiredSync struct {
	Rev     int64  // the revision last published
	Hash    string // the hash of what it held (NumberDesired)
	Applied int64  // the revision the node's last state reported (0: none)
}

// DesiredSyncs returns, for every node that is not revoked, its DesiredSync.
func (db *DB) DesiredSyncs(ctx context.Context) (map[string]DesiredSync, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT n.id, n.desired_rev, n.desired_hash, coalesce(json_extract(s.state, '$.desired_rev'), 0)
		FROM nodes n LEFT JOIN node_state s ON s.node_id = n.id WHERE n.revoked = 0`)
	if err != nil {
		return nil, fmt.Errorf("registry: desired state: %w", err)
	}
	defer rows.Close()
	out := map[string]DesiredSync{}
	for rows.Next() {
		var id string
		var d DesiredSync
		if err := rows.Scan(&id, &d.Rev, &d.Hash, &d.Applied); err != nil {
			return nil, fmt.Errorf("registry: desired state: %w", err)
		}
		out[id] = d
	}
	return out, rows.Err()
}

// NumberDesired returns the next revision of a node's desired state (it
// only grows) and
// records the hash of what it holds, in one write: publishing a country's
// nodes is bound by SQLite's writes.
func (db *DB) NumberDesired(ctx context.Context, id, hash string) (int64, error) {
	var rev int64
	err := db.w.QueryRowContext(ctx, "UPDATE nodes SET desired_rev = desired_rev + 1, desired_hash = ? WHERE id = ? RETURNING desired_rev", hash, id).Scan(&rev)
	if err != nil {
		return 0, notFound("node", id, err)
	}
	return rev, nil
}
