package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PlayEvent is one proof-of-play record as a node reported it. A node names
// its records (node, epoch, seq); Conflict marks a name under which records
// with different content arrived (each is kept).
type PlayEvent struct {
	NodeID     string    `json:"node_id"`
	Epoch      string    `json:"epoch,omitempty"`
	Seq        uint64    `json:"seq"`
	Conflict   bool      `json:"conflict,omitempty"`
	Type       string    `json:"type"`
	ItemID     string    `json:"item_id"`
	Media      string    `json:"media"`
	At         time.Time `json:"at"`
	PlayAt     time.Time `json:"play_at,omitzero"`
	OffsetUS   int64     `json:"offset_us"`
	PlayedMS   int64     `json:"played_ms"`
	Priority   string    `json:"priority"`
	Reason     string    `json:"reason,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Silent: played into the node's silent sink (no sound device), so
	// nobody heard it (PROTOCOL.md §7 "audio": "silent").
	Silent bool `json:"silent,omitempty"`
	// Gaps and GapMS: a live session's holes, played as silence (§10).
	Gaps  int   `json:"gaps,omitempty"`
	GapMS int64 `json:"gap_ms,omitempty"`
	// Heard: what the node's capture made of the item (PROTOCOL.md §7
	// "heard"): nil = not measured (no capture), never "not heard". The
	// correlation with what was played, and the capture's levels (dBFS)
	// during the item and just before it, come with it.
	Heard     *bool    `json:"heard,omitempty"`
	HeardCorr *float64 `json:"heard_corr,omitempty"`
	HeardDB   *float64 `json:"heard_db,omitempty"`
	HeardBgDB *float64 `json:"heard_bg_db,omitempty"`
}

// sameContent reports whether two records say the same thing (their name
// and when they arrived aside), at the precision stored.
func (e PlayEvent) sameContent(o PlayEvent) bool {
	return e.Type == o.Type && e.ItemID == o.ItemID && e.Media == o.Media && ms(e.At) == ms(o.At) &&
		ms(e.PlayAt) == ms(o.PlayAt) && e.OffsetUS == o.OffsetUS && e.PlayedMS == o.PlayedMS &&
		e.Priority == o.Priority && e.Reason == o.Reason && e.Silent == o.Silent &&
		e.Gaps == o.Gaps && e.GapMS == o.GapMS && samePtr(e.Heard, o.Heard) && samePtr(e.HeardCorr, o.HeardCorr) &&
		samePtr(e.HeardDB, o.HeardDB) && samePtr(e.HeardBgDB, o.HeardBgDB)
}

func samePtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// PlayInsert is what StorePlayEvents did with a batch.
type PlayInsert struct {
	New       int         // rows stored, conflicting ones included
	Conflicts []PlayEvent // records stored beside another of the same name and other content
}

// InsertPlayEvents stores a batch (see StorePlayEvents) and returns how many
// rows were new.
func (db *DB) InsertPlayEvents(ctx context.Context, evs []PlayEvent) (int, error) {
	res, err := db.StorePlayEvents(ctx, evs)
	return res.New, err
}

// StorePlayEvents stores a batch in one transaction. A record whose (node,
// epoch, seq) is stored with the same content is skipped, so a node sending
// a batch twice is harmless. One whose name is stored with other content is
// never taken for a duplicate: it is stored too, and every record of that
// name is marked Conflict (reported in Conflicts), so a forged or reused
// number cannot hide a real record. Rows are not checked beyond their key:
// the wire layer validates them, and a batch refused here would be resent
// forever. A zero ReceivedAt is stored as now.
func (db *DB) StorePlayEvents(ctx context.Context, evs []PlayEvent) (PlayInsert, error) {
	var res PlayInsert
	if len(evs) == 0 {
		return res, nil
	}
	for _, e := range evs {
		if e.NodeID == "" {
			return res, invalidf("play event %d without a node", e.Seq)
		}
	}
	now := db.now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO play_events(node_id, epoch, seq, variant, conflict, type, item_id, media, at, play_at, offset_us, played_ms, priority, reason, received_at, silent, gaps, gap_ms, heard, heard_corr, heard_db, heard_bg_db)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(node_id, epoch, seq, variant) DO NOTHING`)
	if err != nil {
		return res, fmt.Errorf("registry: %w", err)
	}
	defer st.Close()
	var added []PlayEvent
	for _, e := range evs {
		if e.ReceivedAt.IsZero() {
			e.ReceivedAt = now
		}
		// Seq is stored as SQLite's signed 64-bit integer; the cast round-trips.
		r, err := st.ExecContext(ctx, e.NodeID, e.Epoch, int64(e.Seq), 0, false, e.Type, e.ItemID, e.Media, ms(e.At), ms(e.PlayAt), e.OffsetUS, e.PlayedMS, e.Priority, e.Reason, ms(e.ReceivedAt), e.Silent, e.Gaps, e.GapMS, e.Heard, e.HeardCorr, e.HeardDB, e.HeardBgDB)
		if err != nil {
			return res, fmt.Errorf("registry: play event %s/%s/%d: %w", e.NodeID, e.Epoch, e.Seq, err)
		}
		if k, _ := r.RowsAffected(); k > 0 {
			res.New++
			added = append(added, e)
			continue
		}
		// The name is taken (rare: a resent batch, or a conflict).
		variant, err := differingVariant(ctx, tx, e)
		if err != nil {
			return res, err
		}
		if variant == 0 {
			continue // the same record again
		}
		e.Conflict = true
		if _, err := st.ExecContext(ctx, e.NodeID, e.Epoch, int64(e.Seq), variant, true, e.Type, e.ItemID, e.Media, ms(e.At), ms(e.PlayAt), e.OffsetUS, e.PlayedMS, e.Priority, e.Reason, ms(e.ReceivedAt), e.Silent, e.Gaps, e.GapMS, e.Heard, e.HeardCorr, e.HeardDB, e.HeardBgDB); err != nil {
			return res, fmt.Errorf("registry: conflicting play event %s/%s/%d: %w", e.NodeID, e.Epoch, e.Seq, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE play_events SET conflict = 1 WHERE node_id = ? AND epoch = ? AND seq = ?", e.NodeID, e.Epoch, int64(e.Seq)); err != nil {
			return res, fmt.Errorf("registry: marking conflict %s/%s/%d: %w", e.NodeID, e.Epoch, e.Seq, err)
		}
		res.New++
		res.Conflicts = append(res.Conflicts, e)
		added = append(added, e)
	}
	if err := tx.Commit(); err != nil {
		return PlayInsert{}, fmt.Errorf("registry: commit play events: %w", err)
	}
	db.liveEvents(added)
	return res, nil
}

// differingVariant compares e with the records stored under its name: 0 if
// one says the same, else the variant number to store it as.
func differingVariant(ctx context.Context, tx *sql.Tx, e PlayEvent) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT variant, type, item_id, media, at, play_at, offset_us, played_ms, priority, reason, silent, gaps, gap_ms, heard, heard_corr, heard_db, heard_bg_db
		FROM play_events WHERE node_id = ? AND epoch = ? AND seq = ?`, e.NodeID, e.Epoch, int64(e.Seq))
	if err != nil {
		return 0, fmt.Errorf("registry: play event %s/%s/%d: %w", e.NodeID, e.Epoch, e.Seq, err)
	}
	defer rows.Close()
	next := 0
	for rows.Next() {
		var v int
		var s PlayEvent
		var at, playAt int64
		if err := rows.Scan(&v, &s.Type, &s.ItemID, &s.Media, &at, &playAt, &s.OffsetUS, &s.PlayedMS, &s.Priority, &s.Reason, &s.Silent, &s.Gaps, &s.GapMS, &s.Heard, &s.HeardCorr, &s.HeardDB, &s.HeardBgDB); err != nil {
			return 0, fmt.Errorf("registry: play event %s/%s/%d: %w", e.NodeID, e.Epoch, e.Seq, err)
		}
		s.At, s.PlayAt = fromMS(at), fromMS(playAt)
		if s.sameContent(e) {
			return 0, nil
		}
		next = max(next, v+1)
	}
	return next, rows.Err()
}

// PlayFilter selects proof-of-play records; zero fields match everything.
type PlayFilter struct {
	NodeID, ItemID, Media string
	Type                  string    // started, finished...
	Nodes                 []string  // non-nil: only these nodes
	Since, Until          time.Time // At in [Since, Until)
	Limit                 int       // default 1000, at most MaxPlayEvents
}

// MaxPlayEvents bounds one ListPlayEvents answer.
const MaxPlayEvents = 100_000

// ListPlayEvents returns matching records, newest (by At) first.
func (db *DB) ListPlayEvents(ctx context.Context, f PlayFilter) ([]PlayEvent, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.NodeID != "" {
		add("node_id = ?", f.NodeID)
	}
	if f.ItemID != "" {
		add("item_id = ?", f.ItemID)
	}
	if f.Media != "" {
		add("media = ?", f.Media)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.Nodes != nil {
		add("node_id IN (SELECT value FROM json_each(?))", jsonList(f.Nodes))
	}
	if !f.Since.IsZero() {
		add("at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ms(f.Until))
	}
	q := "SELECT node_id, epoch, seq, conflict, type, item_id, media, at, play_at, offset_us, played_ms, priority, reason, received_at, silent, gaps, gap_ms, heard, heard_corr, heard_db, heard_bg_db FROM play_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	f.Limit = min(f.Limit, MaxPlayEvents)
	q += fmt.Sprintf(" ORDER BY at DESC, node_id, epoch, seq DESC, variant LIMIT %d", f.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("registry: play events: %w", err)
	}
	defer rows.Close()
	out := []PlayEvent{}
	for rows.Next() {
		var e PlayEvent
		var seq, at, playAt, recv int64
		if err := rows.Scan(&e.NodeID, &e.Epoch, &seq, &e.Conflict, &e.Type, &e.ItemID, &e.Media, &at, &playAt, &e.OffsetUS, &e.PlayedMS, &e.Priority, &e.Reason, &recv, &e.Silent, &e.Gaps, &e.GapMS, &e.Heard, &e.HeardCorr, &e.HeardDB, &e.HeardBgDB); err != nil {
			return nil, err
		}
		e.Seq, e.At, e.PlayAt, e.ReceivedAt = uint64(seq), fromMS(at), fromMS(playAt), fromMS(recv)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Command is a signed command as sent.
type Command struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Target    string          `json:"target"` // node:<id> or zone:<id>
	Media     string          `json:"media,omitempty"`
	PlayAt    time.Time       `json:"play_at,omitzero"`
	IssuedAt  time.Time       `json:"issued_at"`
	ExpiresAt time.Time       `json:"expires_at"`
	Body      json.RawMessage `json:"body"`
	CreatedBy string          `json:"created_by"`
}

// InsertCommand records a command before it is published.
func (db *DB) InsertCommand(ctx context.Context, c Command) error {
	if err := checkID("command", c.ID); err != nil {
		return err
	}
	if c.Type == "" {
		return invalidf("command %s has no type", c.ID)
	}
	kind, id, _ := strings.Cut(c.Target, ":")
	if kind != "node" && kind != "zone" {
		return invalidf("command %s: target %q: want node:<id> or zone:<id>", c.ID, c.Target)
	}
	if err := checkID(kind, id); err != nil {
		return err
	}
	if c.IssuedAt.IsZero() || !c.ExpiresAt.After(c.IssuedAt) {
		return invalidf("command %s: expires_at must come after issued_at", c.ID)
	}
	if len(c.Body) == 0 || !json.Valid(c.Body) {
		return invalidf("command %s: body is not JSON", c.ID)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO commands(id, type, target, media, play_at, issued_at, expires_at, body, created_by) VALUES (?,?,?,?,?,?,?,?,?)`,
		c.ID, c.Type, c.Target, c.Media, ms(c.PlayAt), ms(c.IssuedAt), ms(c.ExpiresAt), string(c.Body), c.CreatedBy)
	return writeErr("command "+c.ID, err)
}

// GetCommand returns one command.
func (db *DB) GetCommand(ctx context.Context, id string) (Command, error) {
	var c Command
	var playAt, issued, expires int64
	var body string
	err := db.r.QueryRowContext(ctx, "SELECT id, type, target, media, play_at, issued_at, expires_at, body, created_by FROM commands WHERE id = ?", id).
		Scan(&c.ID, &c.Type, &c.Target, &c.Media, &playAt, &issued, &expires, &body, &c.CreatedBy)
	if err != nil {
		return c, notFound("command", id, err)
	}
	c.PlayAt, c.IssuedAt, c.ExpiresAt, c.Body = fromMS(playAt), fromMS(issued), fromMS(expires), json.RawMessage(body)
	return c, nil
}

// CommandsSince returns the commands that expire after t (their body
// left out): the controller's memory of what each node was sent, rebuilt
// at start.
func (db *DB) CommandsSince(ctx context.Context, t time.Time) ([]Command, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, type, target, media, play_at, issued_at, expires_at FROM commands WHERE expires_at > ?", ms(t))
	if err != nil {
		return nil, fmt.Errorf("registry: commands: %w", err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		var c Command
		var playAt, issued, expires int64
		if err := rows.Scan(&c.ID, &c.Type, &c.Target, &c.Media, &playAt, &issued, &expires); err != nil {
			return nil, fmt.Errorf("registry: commands: %w", err)
		}
		c.PlayAt, c.IssuedAt, c.ExpiresAt = fromMS(playAt), fromMS(issued), fromMS(expires)
		out = append(out, c)
	}
	return out, rows.Err()
}

// CommandReply is a node's answer to a command.
type CommandReply struct {
	CommandID string    `json:"command_id"`
	NodeID    string    `json:"node_id"`
	OK        bool      `json:"ok"`
	Code      int       `json:"code"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// RecordReply stores a reply; a later reply of the same node replaces an
// earlier one unless the earlier one was OK (a replayed duplicate must not
// hide that the command was accepted). The command need not be stored: a
// node may answer one sent before the controller's database was restored.
func (db *DB) RecordReply(ctx context.Context, r CommandReply) error {
	if err := checkID("command", r.CommandID); err != nil {
		return err
	}
	if err := checkID("node", r.NodeID); err != nil {
		return err
	}
	if r.At.IsZero() {
		r.At = db.now()
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO command_replies(command_id, node_id, ok, code, reason, at) VALUES (?,?,?,?,?,?)
		ON CONFLICT(command_id, node_id) DO UPDATE SET ok = excluded.ok, code = excluded.code, reason = excluded.reason, at = excluded.at
		WHERE command_replies.ok = 0`, r.CommandID, r.NodeID, r.OK, r.Code, r.Reason, ms(r.At))
	return writeErr("reply", err)
}

// ListReplies returns the replies to a command.
func (db *DB) ListReplies(ctx context.Context, commandID string) ([]CommandReply, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT command_id, node_id, ok, code, reason, at FROM command_replies WHERE command_id = ? ORDER BY node_id", commandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []CommandReply{}
	for rows.Next() {
		var r CommandReply
		var at int64
		if err := rows.Scan(&r.CommandID, &r.NodeID, &r.OK, &r.Code, &r.Reason, &at); err != nil {
			return nil, err
		}
		r.At = fromMS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Token is an API token; only the sha256 of its secret is stored.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	AreaID    string    `json:"area_id,omitempty"` // "" = every area
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// CreateToken stores a token by the hash of its secret.
func (db *DB) CreateToken(ctx context.Context, t Token, hash []byte) error {
	if len(hash) < 16 {
		return invalidf("token hash too short")
	}
	if t.ID == "" || strings.TrimSpace(t.Role) == "" {
		return invalidf("token needs an id and a role")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO tokens(id, name, role, area_id, hash, created_at, created_by) VALUES (?,?,?,?,?,?,?)", t.ID, t.Name, t.Role, t.AreaID, hash, ms(t.CreatedAt), t.CreatedBy)
	return writeErr("token "+t.ID, err)
}

// TokenByHash finds the token whose secret hashes to hash.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	var t Token
	var created int64
	err := db.r.QueryRowContext(ctx, "SELECT id, name, role, area_id, created_at, created_by FROM tokens WHERE hash = ?", hash).Scan(&t.ID, &t.Name, &t.Role, &t.AreaID, &created, &t.CreatedBy)
	if err != nil {
		return t, notFound("token", "", err)
	}
	t.CreatedAt = fromMS(created)
	return t, nil
}

// ListTokens returns the tokens made by one user ("" with all = every token).
func (db *DB) ListTokens(ctx context.Context, createdBy string, all bool) ([]Token, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, name, role, area_id, created_at, created_by FROM tokens WHERE ? OR created_by = ? ORDER BY created_at", all, createdBy)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &t.AreaID, &created, &t.CreatedBy); err != nil {
			return nil, err
		}
		t.CreatedAt = fromMS(created)
		out = append(out, t)
	}
	return out, rows.Err()
}

// GetToken returns one token by id.
func (db *DB) GetToken(ctx context.Context, id string) (Token, error) {
	var t Token
	var created int64
	err := db.r.QueryRowContext(ctx, "SELECT id, name, role, area_id, created_at, created_by FROM tokens WHERE id = ?", id).
		Scan(&t.ID, &t.Name, &t.Role, &t.AreaID, &created, &t.CreatedBy)
	if err != nil {
		return t, notFound("token", id, err)
	}
	t.CreatedAt = fromMS(created)
	return t, nil
}

// DeleteToken revokes a token: it stops working at once.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
	if err != nil {
		return writeErr("token "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("token", id, sql.ErrNoRows)
	}
	return nil
}

// CountTokens returns how many tokens exist.
func (db *DB) CountTokens(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&n)
	return n, err
}

// Audit is one entry of the audit log.
type Audit struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
	Remote string    `json:"remote,omitempty"`
	AreaID string    `json:"area_id,omitempty"` // the area concerned; "" = the whole system
}

// AddAudit appends to the audit log. At defaults to now.
func (db *DB) AddAudit(ctx context.Context, a Audit) error {
	if a.Actor == "" || a.Action == "" {
		return invalidf("audit entry needs an actor and an action")
	}
	if a.At.IsZero() {
		a.At = db.now()
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO audit(at, actor, action, target, detail, remote, area_id) VALUES (?,?,?,?,?,?,?)",
		ms(a.At), a.Actor, a.Action, a.Target, a.Detail, a.Remote, a.AreaID)
	return writeErr("audit", err)
}

// ListAudit returns the newest entries, at most limit (default 100). With
// areas non-nil only entries about those areas are listed.
func (db *DB) ListAudit(ctx context.Context, limit int, areas []string) ([]Audit, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := "SELECT at, actor, action, target, detail, remote, area_id FROM audit", []any{}
	if areas != nil {
		q += " WHERE area_id IN (SELECT value FROM json_each(?))"
		args = append(args, jsonList(areas))
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Audit{}
	for rows.Next() {
		var a Audit
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Action, &a.Target, &a.Detail, &a.Remote, &a.AreaID); err != nil {
			return nil, err
		}
		a.At = fromMS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// MarkAllOffline records every node as offline, keeping when each was last
// heard from. The controller calls it when its embedded broker starts: the
// nodes' last wills died with the old broker, so nothing else would say so.
func (db *DB) MarkAllOffline(ctx context.Context) error {
	_, err := db.w.ExecContext(ctx, "UPDATE node_state SET online = 0 WHERE online = 1")
	if err == nil {
		db.liveOffline("")
	}
	return writeErr("node state", err)
}
