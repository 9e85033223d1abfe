package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// Roles of a user. Every role but RoleAdmin is scoped to an area.
const (
	RoleAdmin    = "admin"    // everything, everywhere
	RoleOfficer  = "officer"  // a commune: prepares content and schedules, plays now
	RoleLeader   = "leader"   // a commune: what an officer does, and approves
	RoleProvince = "province" // a province: sees every station of it, changes nothing
)

// User is an account of the web UI.
type User struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	AreaID    string    `json:"area_id,omitempty"`
	AreaName  string    `json:"area_name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled,omitempty"`
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,47}$`)

// CreateUser adds a user with a password hash. A commune role needs a
// commune, the province role a province, an admin no area.
func (db *DB) CreateUser(ctx context.Context, u User, passwordHash string) error {
	if !usernameRE.MatchString(u.Username) {
		return invalidf("username %q: use 2-48 lowercase letters, digits, '.', '_' or '-'", u.Username)
	}
	if u.ID == "" || passwordHash == "" {
		return invalidf("user needs an id and a password")
	}
	if err := db.CheckRoleArea(ctx, u.Role, u.AreaID); err != nil {
		return err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO users(id, username, name, role, area_id, password_hash, created_at) VALUES (?,?,?,?,?,?,?)",
		u.ID, u.Username, strings.TrimSpace(u.Name), u.Role, nullable(u.AreaID), passwordHash, ms(u.CreatedAt))
	return writeErr("user "+u.Username, err)
}

// CheckRoleArea checks that a role fits an area: an administrator has none,
// an officer or leader a commune, provincial staff a province.
func (db *DB) CheckRoleArea(ctx context.Context, role, area string) error {
	switch role {
	case RoleAdmin:
		if area != "" {
			return invalidf("an administrator has no area")
		}
		return nil
	case RoleOfficer, RoleLeader, RoleProvince:
		a, err := db.GetArea(ctx, area)
		if err != nil {
			return err
		}
		want := "commune"
		if role == RoleProvince {
			want = "province"
		}
		if a.Kind != want {
			return invalidf("role %s needs a %s area; %s is a %s", role, want, a.ID, a.Kind)
		}
		return nil
	}
	return invalidf("role %q: want admin, officer, leader or province", role)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const userCols = "u.id, u.username, u.name, u.role, coalesce(u.area_id, ''), coalesce(a.name, ''), u.created_at, u.disabled"
const userFrom = " FROM users u LEFT JOIN areas a ON a.id = u.area_id"

func scanUser(sc interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var created int64
	err := sc.Scan(append([]any{&u.ID, &u.Username, &u.Name, &u.Role, &u.AreaID, &u.AreaName, &created, &u.Disabled}, extra...)...)
	u.CreatedAt = fromMS(created)
	return u, err
}

// UserByName returns a user and its password hash.
func (db *DB) UserByName(ctx context.Context, username string) (User, string, error) {
	var hash string
	u, err := scanUser(db.r.QueryRowContext(ctx, "SELECT "+userCols+", u.password_hash"+userFrom+" WHERE u.username = ?", username), &hash)
	if err != nil {
		return u, "", notFound("user", username, err)
	}
	return u, hash, nil
}

// GetUser returns a user by id.
func (db *DB) GetUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, "SELECT "+userCols+userFrom+" WHERE u.id = ?", id))
	if err != nil {
		return u, notFound("user", id, err)
	}
	return u, nil
}

// ListUsers returns users, of the given areas only when areas is non-nil.
func (db *DB) ListUsers(ctx context.Context, areas []string) ([]User, error) {
	q, args := "SELECT "+userCols+userFrom, []any{}
	if areas != nil {
		q += " WHERE u.area_id IN (SELECT value FROM json_each(?))"
		args = append(args, jsonList(areas))
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY u.username", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

// SetPassword replaces a user's password hash and ends its sessions.
func (db *DB) SetPassword(ctx context.Context, id, passwordHash string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, id)
	if err != nil {
		return writeErr("user "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("user", id, sql.ErrNoRows)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ?", id); err != nil {
		return writeErr("sessions", err)
	}
	return tx.Commit()
}

// SetUserDisabled disables (ending its sessions) or re-enables a user.
func (db *DB) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	res, err := db.w.ExecContext(ctx, "UPDATE users SET disabled = ? WHERE id = ?", disabled, id)
	if err != nil {
		return writeErr("user "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("user", id, sql.ErrNoRows)
	}
	if disabled {
		_, err = db.w.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ?", id)
	}
	return writeErr("sessions", err)
}

// Session is a logged-in browser.
type Session struct {
	UserID    string
	CSRF      string
	CreatedAt time.Time
	SeenAt    time.Time
	Remote    string
}

// CreateSession stores a session by the hash of its secret.
func (db *DB) CreateSession(ctx context.Context, hash []byte, s Session) error {
	_, err := db.w.ExecContext(ctx, "INSERT INTO sessions(hash, user_id, csrf, created_at, seen_at, remote) VALUES (?,?,?,?,?,?)",
		hash, s.UserID, s.CSRF, ms(s.CreatedAt), ms(s.SeenAt), s.Remote)
	return writeErr("session", err)
}

// SessionByHash returns a session and its (enabled) user.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (Session, User, error) {
	var s Session
	var created, seen int64
	u, err := scanUser(db.r.QueryRowContext(ctx, "SELECT "+userCols+", s.csrf, s.created_at, s.seen_at, s.remote FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN areas a ON a.id = u.area_id WHERE s.hash = ? AND u.disabled = 0", hash),
		&s.CSRF, &created, &seen, &s.Remote)
	if err != nil {
		return s, u, notFound("session", "", err)
	}
	s.UserID, s.CreatedAt, s.SeenAt = u.ID, fromMS(created), fromMS(seen)
	return s, u, nil
}

// TouchSession records that a session was used now.
func (db *DB) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	_, err := db.w.ExecContext(ctx, "UPDATE sessions SET seen_at = ? WHERE hash = ?", ms(at), hash)
	return writeErr("session", err)
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := db.w.ExecContext(ctx, "DELETE FROM sessions WHERE hash = ?", hash)
	return writeErr("session", err)
}

// DeleteExpiredSessions removes sessions idle since before idle or created
// before created.
func (db *DB) DeleteExpiredSessions(ctx context.Context, idle, created time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, "DELETE FROM sessions WHERE seen_at < ? OR created_at < ?", ms(idle), ms(created))
	if err != nil {
		return 0, writeErr("sessions", err)
	}
	return res.RowsAffected()
}

// LinkMedia records that a recording belongs to an area, put there by
// someone at a time (idempotent: the first upload to the area stays).
func (db *DB) LinkMedia(ctx context.Context, sha, area, by string, at time.Time) error {
	_, err := db.w.ExecContext(ctx, "INSERT OR IGNORE INTO media_areas(sha256, area_id, created_by, created_at) VALUES (?,?,?,?)", sha, area, by, ms(at))
	return writeErr("media "+sha, err)
}

// MediaLink is a recording's place in one area's library.
type MediaLink struct {
	Area      string
	Name      string // the area's own name for it; empty: the media's
	CreatedBy string
	CreatedAt time.Time
}

// MediaLinks maps each recording to the areas it belongs to.
func (db *DB) MediaLinks(ctx context.Context) (map[string][]MediaLink, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT sha256, area_id, created_by, created_at, name FROM media_areas")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]MediaLink{}
	for rows.Next() {
		var sha string
		var l MediaLink
		var at int64
		if err := rows.Scan(&sha, &l.Area, &l.CreatedBy, &at, &l.Name); err != nil {
			return nil, err
		}
		l.CreatedAt = fromMS(at)
		out[sha] = append(out[sha], l)
	}
	return out, rows.Err()
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// MediaLinksOf lists the areas a recording belongs to.
func (db *DB) MediaLinksOf(ctx context.Context, sha string) ([]MediaLink, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT area_id, created_by, created_at, name FROM media_areas WHERE sha256 = ?", sha)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MediaLink
	for rows.Next() {
		var l MediaLink
		var at int64
		if err := rows.Scan(&l.Area, &l.CreatedBy, &at, &l.Name); err != nil {
			return nil, err
		}
		l.CreatedAt = fromMS(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// inNodes is a filter on a node id column: nil means every node.
func inNodes(col string, nodes []string) (string, []any) {
	if nodes == nil {
		return "1", nil
	}
	return col + " IN (SELECT value FROM json_each(?))", []any{jsonList(nodes)}
}

// LastPlays returns when each node (of nodes; nil = all) last reported
// proof of play.
func (db *DB) LastPlays(ctx context.Context, nodes []string) (map[string]time.Time, error) {
	return db.sqlLastPlays(ctx, nodes, db.r)
}

func (db *DB) sqlLastPlays(ctx context.Context, nodes []string, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]time.Time, error) {
	where, args := inNodes("node_id", nodes)
	rows, err := q.QueryContext(ctx, "SELECT node_id, max(at) FROM play_events WHERE "+where+" GROUP BY node_id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var n string
		var at int64
		if err := rows.Scan(&n, &at); err != nil {
			return nil, err
		}
		out[n] = fromMS(at)
	}
	return out, rows.Err()
}

// NodesOf returns the nodes of the given stations (nil = all).
func (db *DB) NodesOf(ctx context.Context, stations []string) ([]Node, error) {
	where, args := inNodes("station_id", stations)
	rows, err := db.r.QueryContext(ctx, "SELECT "+nodeCols+" FROM nodes WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Node{}
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Liveness is when a node last reported, and whether it is online.
type Liveness struct {
	Online    bool
	UpdatedAt time.Time
	// NoSound: the node's last state says it plays into its silent sink
	// (State.Audio "silent": no sound device, or it failed).
	NoSound bool
}

// MarkOffline records one node as offline (after it was revoked: its last
// will is no longer accepted from it).
func (db *DB) MarkOffline(ctx context.Context, node string) error {
	_, err := db.w.ExecContext(ctx, "UPDATE node_state SET online = 0 WHERE node_id = ?", node)
	if err == nil {
		db.liveOffline(node)
	}
	return writeErr("node state", err)
}

// PlayKey names one item on one node.
type PlayKey struct{ Node, Item string }

// PlayOutcome sums up what a node reported about one item.
type PlayOutcome struct {
	Started, Finished, Interrupted, Failed bool
	// Silent: some of it went into the node's silent sink, so nobody (or
	// not everybody) heard it: not aired, whatever else was reported.
	Silent   bool
	PlayedMS int64
	// GapMS is how much of a live session was played as silence because
	// its audio did not arrive (PROTOCOL.md §10): a relay that never got
	// audio reports "finished" with GapMS close to PlayedMS.
	GapMS int64
	// Heard and NotHeard: some record of it was measured heard, or not
	// heard, by the node's capture (PROTOCOL.md §7 "heard"); neither = not
	// measured. HeardVerdict sums them up.
	Heard, NotHeard bool
}

// Add folds one proof-of-play record of the item into o. The occurrence
// report and the live mirror both sum records up with it, so they read
// the same records the same way.
func (o *PlayOutcome) Add(e PlayEvent) {
	switch e.Type {
	case "started", "resumed":
		o.Started = true
	case "finished":
		o.Finished = true
	case "interrupted":
		o.Interrupted = true
	case "failed":
		o.Failed = true
	}
	if e.Silent && e.Type != "failed" {
		o.Silent = true
	}
	o.PlayedMS = max(o.PlayedMS, e.PlayedMS)
	o.GapMS = max(o.GapMS, e.GapMS)
	o.noteHeard(e)
}

// ValidUsername reports whether s can be a username.
func ValidUsername(s string) bool { return usernameRE.MatchString(s) }
