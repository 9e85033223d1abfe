package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AreaSettings are an area's warning settings: its national administrative
// unit code (what CAP <geocode> values name) and whether drills (CAP
// Exercise and Test alerts) play there.
type AreaSettings struct {
	ID     string `json:"id"`
	Code   string `json:"code,omitempty"`
	Drills bool   `json:"drills"`
}

// SetAreaCode gives an area its national administrative unit code ("" to
// remove it). Two areas cannot share a code.
func (db *DB) SetAreaCode(ctx context.Context, area, code string) error {
	code = strings.TrimSpace(code)
	if len(code) > 32 || strings.ContainsAny(code, " \t\r\n,") {
		return invalidf("area code %q: a short code without spaces or commas", code)
	}
	var v any
	if code != "" {
		v = code
	}
	res, err := db.w.ExecContext(ctx, "UPDATE areas SET code = ? WHERE id = ?", v, area)
	if err := writeErr("area code "+code, err); err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("area %q %w", area, ErrNotFound)
	}
	return nil
}

// SetAreaDrills turns drills on or off for an area.
func (db *DB) SetAreaDrills(ctx context.Context, area string, on bool) error {
	res, err := db.w.ExecContext(ctx, "UPDATE areas SET drills = ? WHERE id = ?", on, area)
	if err := writeErr("area "+area, err); err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("area %q %w", area, ErrNotFound)
	}
	return nil
}

// AreaSettingsAll returns every area's warning settings by id.
func (db *DB) AreaSettingsAll(ctx context.Context) (map[string]AreaSettings, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, COALESCE(code, ''), drills FROM areas")
	if err != nil {
		return nil, fmt.Errorf("registry: area settings: %w", err)
	}
	defer rows.Close()
	out := map[string]AreaSettings{}
	for rows.Next() {
		var s AreaSettings
		if err := rows.Scan(&s.ID, &s.Code, &s.Drills); err != nil {
			return nil, err
		}
		out[s.ID] = s
	}
	return out, rows.Err()
}

// Warning statuses.
const (
	WarningActive    = "active"
	WarningCancelled = "cancelled"
	WarningExpired   = "expired"
	WarningReplaced  = "replaced" // by a CAP Update
)

// Warning is an emergency warning as stored.
type Warning struct {
	ID        string          `json:"id"`
	Title     string          `json:"title"`
	Source    string          `json:"source"` // manual, cap
	Media     string          `json:"media"`
	Text      string          `json:"text,omitempty"`
	Repeat    int             `json:"repeat"`
	GapMS     int64           `json:"gap_ms"`
	Request   string          `json:"request"` // JSON of what was asked for
	Status    string          `json:"status"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
	ExpiresAt time.Time       `json:"expires_at,omitzero"`
	EndedAt   time.Time       `json:"ended_at,omitzero"`
	EndedBy   string          `json:"ended_by,omitempty"`
	Targets   []WarningTarget `json:"targets"`
}

// WarningTarget is one node a warning was sent to.
type WarningTarget struct {
	Node    string `json:"node"`
	Area    string `json:"area"`
	Command string `json:"command,omitempty"`
	Error   string `json:"error,omitempty"` // why it could not be sent
}

// InsertWarning stores a warning with its targets.
func (db *DB) InsertWarning(ctx context.Context, w Warning) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return writeErr("warning", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO warnings(id, title, source, media, text, repeat, gap_ms, request, status,
		created_by, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		w.ID, w.Title, w.Source, w.Media, w.Text, w.Repeat, w.GapMS, w.Request, w.Status, w.CreatedBy, ms(w.CreatedAt), ms(w.ExpiresAt)); err != nil {
		return writeErr("warning "+w.ID, err)
	}
	for _, t := range w.Targets {
		if _, err := tx.ExecContext(ctx, "INSERT INTO warning_targets(warning_id, node_id, area_id, command_id, error) VALUES (?,?,?,?,?)",
			w.ID, t.Node, t.Area, t.Command, t.Error); err != nil {
			return writeErr("warning "+w.ID+" target "+t.Node, err)
		}
	}
	return writeErr("warning "+w.ID, tx.Commit())
}

const warningCols = "id, title, source, media, text, repeat, gap_ms, request, status, created_by, created_at, expires_at, ended_at, ended_by"

func scanWarning(sc interface{ Scan(...any) error }) (Warning, error) {
	var w Warning
	var created, expires, ended int64
	err := sc.Scan(&w.ID, &w.Title, &w.Source, &w.Media, &w.Text, &w.Repeat, &w.GapMS, &w.Request, &w.Status,
		&w.CreatedBy, &created, &expires, &ended, &w.EndedBy)
	w.CreatedAt, w.ExpiresAt, w.EndedAt = fromMS(created), fromMS(expires), fromMS(ended)
	return w, err
}

// GetWarning returns a warning with its targets.
func (db *DB) GetWarning(ctx context.Context, id string) (Warning, error) {
	w, err := scanWarning(db.r.QueryRowContext(ctx, "SELECT "+warningCols+" FROM warnings WHERE id = ?", id))
	if err != nil {
		return w, notFound("warning", id, err)
	}
	rows, err := db.r.QueryContext(ctx, "SELECT node_id, area_id, command_id, error FROM warning_targets WHERE warning_id = ? ORDER BY node_id", id)
	if err != nil {
		return w, fmt.Errorf("registry: warning %s: %w", id, err)
	}
	defer rows.Close()
	w.Targets = []WarningTarget{}
	for rows.Next() {
		var t WarningTarget
		if err := rows.Scan(&t.Node, &t.Area, &t.Command, &t.Error); err != nil {
			return w, err
		}
		w.Targets = append(w.Targets, t)
	}
	return w, rows.Err()
}

// ListWarnings returns the newest warnings first (without targets), those
// with a status in statuses when any are given.
func (db *DB) ListWarnings(ctx context.Context, limit int, statuses ...string) ([]Warning, error) {
	q, args := "SELECT "+warningCols+" FROM warnings", []any{}
	if len(statuses) > 0 {
		q += " WHERE status IN (?" + strings.Repeat(",?", len(statuses)-1) + ")"
		for _, s := range statuses {
			args = append(args, s)
		}
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY created_at DESC, id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("registry: warnings: %w", err)
	}
	defer rows.Close()
	out := []Warning{}
	for rows.Next() {
		w, err := scanWarning(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WarningAreas returns the communes each warning's targets are in.
func (db *DB) WarningAreas(ctx context.Context, id string) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT DISTINCT area_id FROM warning_targets WHERE warning_id = ? ORDER BY area_id", id)
	if err != nil {
		return nil, fmt.Errorf("registry: warning %s areas: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ErrEnded: the warning had already ended.
var ErrEnded = errors.New("the warning has already ended")

// EndWarning moves an active warning to status (cancelled, expired,
// replaced); a warning that already ended is left as it is (ErrEnded).
func (db *DB) EndWarning(ctx context.Context, id, status, by string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, "UPDATE warnings SET status = ?, ended_by = ?, ended_at = ? WHERE id = ? AND status = ?",
		status, by, ms(at), id, WarningActive)
	if err != nil {
		return writeErr("warning "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.GetWarning(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("warning %s: %w", id, ErrEnded)
	}
	return nil
}

// CAPAlert is a received CAP alert and what came of it.
type CAPAlert struct {
	ID         int64     `json:"id"`
	Sender     string    `json:"sender"`
	Identifier string    `json:"identifier"`
	Sent       time.Time `json:"sent"`
	Status     string    `json:"status"`
	MsgType    string    `json:"msg_type"`
	XML        []byte    `json:"-"`
	ReceivedBy string    `json:"received_by"`
	ReceivedAt time.Time `json:"received_at"`
	Outcome    string    `json:"outcome"`
	Detail     string    `json:"detail,omitempty"`
	Warning    string    `json:"warning,omitempty"`
}

// InsertCAPAlert stores a received alert; the same sender, identifier and
// sent time again is ErrExists.
func (db *DB) InsertCAPAlert(ctx context.Context, a *CAPAlert) error {
	res, err := db.w.ExecContext(ctx, `INSERT INTO cap_alerts(sender, identifier, sent, status, msg_type, xml, received_by,
		received_at, outcome, detail, warning_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		a.Sender, a.Identifier, ms(a.Sent), a.Status, a.MsgType, a.XML, a.ReceivedBy, ms(a.ReceivedAt), a.Outcome, a.Detail, a.Warning)
	if err != nil {
		return writeErr("CAP alert "+a.Sender+","+a.Identifier, err)
	}
	a.ID, _ = res.LastInsertId()
	return nil
}

// SetCAPOutcome records what came of an alert.
func (db *DB) SetCAPOutcome(ctx context.Context, id int64, outcome, detail, warning string) error {
	_, err := db.w.ExecContext(ctx, "UPDATE cap_alerts SET outcome = ?, detail = ?, warning_id = ? WHERE id = ?", outcome, detail, warning, id)
	return writeErr("CAP alert outcome", err)
}

const capCols = "id, sender, identifier, sent, status, msg_type, xml, received_by, received_at, outcome, detail, warning_id"

func scanCAP(sc interface{ Scan(...any) error }) (CAPAlert, error) {
	var a CAPAlert
	var sent, recv int64
	err := sc.Scan(&a.ID, &a.Sender, &a.Identifier, &sent, &a.Status, &a.MsgType, &a.XML, &a.ReceivedBy, &recv, &a.Outcome, &a.Detail, &a.Warning)
	a.Sent, a.ReceivedAt = fromMS(sent), fromMS(recv)
	return a, err
}

// FindCAPAlert returns the alert with that sender, identifier and sent time.
func (db *DB) FindCAPAlert(ctx context.Context, sender, identifier string, sent time.Time) (CAPAlert, error) {
	a, err := scanCAP(db.r.QueryRowContext(ctx, "SELECT "+capCols+" FROM cap_alerts WHERE sender = ? AND identifier = ? AND sent = ?",
		sender, identifier, ms(sent)))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("CAP alert %s,%s %w", sender, identifier, ErrNotFound)
	}
	return a, err
}

// ListCAPAlerts returns the newest alerts first, only those with one of
// the outcomes when any are given.
func (db *DB) ListCAPAlerts(ctx context.Context, limit int, outcomes ...string) ([]CAPAlert, error) {
	q, args := "SELECT "+capCols+" FROM cap_alerts", []any{}
	if len(outcomes) > 0 {
		q += " WHERE outcome IN (?" + strings.Repeat(",?", len(outcomes)-1) + ")"
		for _, s := range outcomes {
			args = append(args, s)
		}
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY received_at DESC, id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("registry: CAP alerts: %w", err)
	}
	defer rows.Close()
	out := []CAPAlert{}
	for rows.Next() {
		a, err := scanCAP(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
