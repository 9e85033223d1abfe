package registry

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"
)

// RelayChannel is a radio channel that relays name (`source relay vov1`):
// the administrator keeps the list, officers pick from it.
type RelayChannel struct {
	ID        string    `json:"id"`   // vov1
	Name      string    `json:"name"` // VOV1 – Thời sự
	URL       string    `json:"url"`  // http(s), rtmp, rtsp or srt stream
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// CheckRelayURL accepts the stream addresses ffmpeg relays.
func CheckRelayURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "rtmp" && u.Scheme != "rtsp" && u.Scheme != "srt") {
		return invalidf("relay address %q: give the stream's http(s), rtmp, rtsp or srt URL", s)
	}
	return nil
}

// PutRelayChannel adds or replaces a channel.
func (db *DB) PutRelayChannel(ctx context.Context, c RelayChannel) error {
	if err := checkID("relay channel", c.ID); err != nil {
		return err
	}
	if c.Name == "" || len(c.Name) > 200 {
		return invalidf("relay channel %s: a name of 1-200 bytes", c.ID)
	}
	if err := CheckRelayURL(c.URL); err != nil {
		return err
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO relay_channels(id, name, url, updated_at, updated_by) VALUES (?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, url = excluded.url, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		c.ID, c.Name, c.URL, ms(c.UpdatedAt), c.UpdatedBy)
	return writeErr("relay channel", err)
}

// GetRelayChannel returns a channel by id.
func (db *DB) GetRelayChannel(ctx context.Context, id string) (RelayChannel, error) {
	var c RelayChannel
	var at int64
	err := db.r.QueryRowContext(ctx, "SELECT id, name, url, updated_at, updated_by FROM relay_channels WHERE id = ?", id).
		Scan(&c.ID, &c.Name, &c.URL, &at, &c.UpdatedBy)
	if err != nil {
		return c, notFound("relay channel", id, err)
	}
	c.UpdatedAt = time.UnixMilli(at)
	return c, nil
}

// ListRelayChannels lists every channel by id.
func (db *DB) ListRelayChannels(ctx context.Context) ([]RelayChannel, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, name, url, updated_at, updated_by FROM relay_channels ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("registry: relay channels: %w", err)
	}
	defer rows.Close()
	out := []RelayChannel{}
	for rows.Next() {
		var c RelayChannel
		var at int64
		if err := rows.Scan(&c.ID, &c.Name, &c.URL, &at, &c.UpdatedBy); err != nil {
			return nil, fmt.Errorf("registry: relay channels: %w", err)
		}
		c.UpdatedAt = time.UnixMilli(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteRelayChannel removes a channel. Programmes that name it fail to
// save until it is back (schedules check channel names when saved).
func (db *DB) DeleteRelayChannel(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, "DELETE FROM relay_channels WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("registry: delete relay channel %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("relay channel", id, sql.ErrNoRows)
	}
	return nil
}

// RelayFailures returns, of the given occurrence ids, those of planned
// relays that aired nothing (the live manager records them in the audit
// log as action "relay.failed", target the occurrence id), with the reason.
func (db *DB) RelayFailures(ctx context.Context, occurrences []string) (map[string]string, error) {
	if len(occurrences) == 0 {
		return map[string]string{}, nil
	}
	return db.relayFailures(ctx, `target IN (SELECT value FROM json_each(?))`, jsonList(occurrences))
}

// RelayFailuresSince returns the relay failures (as RelayFailures)
// recorded since a time, by occurrence id: coverage asks for a whole day's.
func (db *DB) RelayFailuresSince(ctx context.Context, since time.Time) (map[string]string, error) {
	return db.relayFailures(ctx, `at >= ?`, ms(since))
}

func (db *DB) relayFailures(ctx context.Context, where string, arg any) (map[string]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT target, detail FROM audit WHERE action = ? AND `+where, ActionRelayFailed, arg)
	if err != nil {
		return nil, fmt.Errorf("registry: relay failures: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, reason string
		if err := rows.Scan(&id, &reason); err != nil {
			return nil, fmt.Errorf("registry: relay failures: %w", err)
		}
		out[id] = reason
	}
	return out, rows.Err()
}

// ActionRelayFailed is the audit action of a planned relay that aired nothing.
const ActionRelayFailed = "relay.failed"
