package registry

import (
	"context"
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
