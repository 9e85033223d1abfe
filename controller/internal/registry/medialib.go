package registry

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxMediaName is the longest name of a recording, in characters.
const MaxMediaName = 200

// CheckMediaName trims a recording's name and says what is wrong with it.
func CheckMediaName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", invalidf("the recording's name is empty")
	case utf8.RuneCountInString(name) > MaxMediaName:
		return "", invalidf("the recording's name has %d characters, at most %d are allowed", utf8.RuneCountInString(name), MaxMediaName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", invalidf("the recording's name holds a control character")
	}
	return name, nil
}

// NameMedia gives a recording its name in an area's library where it has
// none yet (an upload: each commune sees the name it uploaded it under).
func (db *DB) NameMedia(ctx context.Context, sha, area, name string) error {
	_, err := db.w.ExecContext(ctx, "UPDATE media_areas SET name = ? WHERE sha256 = ? AND area_id = ? AND name = ''", name, sha, area)
	return writeErr("media "+sha, err)
}

// RenameMedia renames a recording in an area's library, or, with area
// empty, the recording itself (the name every library without its own
// name shows).
func (db *DB) RenameMedia(ctx context.Context, sha, area, name string) error {
	name, err := CheckMediaName(name)
	if err != nil {
		return err
	}
	q, args := "UPDATE media SET name = ? WHERE sha256 = ? AND deleted_at = 0", []any{name, sha}
	if area != "" {
		q, args = "UPDATE media_areas SET name = ? WHERE sha256 = ? AND area_id = ?", []any{name, sha, area}
	}
	res, err := db.w.ExecContext(ctx, q, args...)
	if err != nil {
		return writeErr("media "+sha, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("media %q in %q %w", sha, area, ErrNotFound)
	}
	return nil
}

// UnlinkMedia takes a recording out of an area's library and returns how
// many libraries still hold it.
func (db *DB) UnlinkMedia(ctx context.Context, sha, area string) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("registry: media %s: %w", sha, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM media_areas WHERE sha256 = ? AND area_id = ?", sha, area); err != nil {
		return 0, fmt.Errorf("registry: media %s: %w", sha, err)
	}
	var left int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM media_areas WHERE sha256 = ?", sha).Scan(&left); err != nil {
		return 0, fmt.Errorf("registry: media %s: %w", sha, err)
	}
	return left, writeErr("media "+sha, tx.Commit())
}

// DeleteMedia marks a recording deleted at at and takes it out of every
// library. Its row stays for the proof of play that names it (its name and
// length in reports); GetMedia and ListMedia no longer return it, and an
// upload of the same content brings it back.
func (db *DB) DeleteMedia(ctx context.Context, sha string, at time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM media_areas WHERE sha256 = ?", sha); err != nil {
		return fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	res, err := tx.ExecContext(ctx, "UPDATE media SET deleted_at = ? WHERE sha256 = ? AND deleted_at = 0", max(ms(at), 1), sha)
	if err != nil {
		return fmt.Errorf("registry: delete media %s: %w", sha, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("media %q %w", sha, ErrNotFound)
	}
	return writeErr("media "+sha, tx.Commit())
}

// MediaName is the name of a recording, deleted or not ("" if unknown):
// what reports call what was played.
func (db *DB) MediaName(ctx context.Context, sha string) string {
	var name string
	db.r.QueryRowContext(ctx, "SELECT name FROM media WHERE sha256 = ?", sha).Scan(&name)
	return name
}
