package registry

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits of a commune's pronunciation list: enough for every hamlet and
// family name, small enough to be applied to each notice.
const (
	MaxLexiconEntries = 1000
	MaxLexiconText    = 200 // characters of a word or its spoken form
)

// LexiconEntry is one line of a commune's pronunciation list.
type LexiconEntry struct {
	Word   string `json:"word"`
	Spoken string `json:"spoken"`
}

// TTSLexicon returns the pronunciation list of an area, sorted by word.
func (db *DB) TTSLexicon(ctx context.Context, area string) ([]LexiconEntry, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT word, spoken FROM tts_lexicon WHERE area_id = ? ORDER BY word", area)
	if err != nil {
		return nil, fmt.Errorf("registry: lexicon of %s: %w", area, err)
	}
	defer rows.Close()
	out := []LexiconEntry{}
	for rows.Next() {
		var e LexiconEntry
		if err := rows.Scan(&e.Word, &e.Spoken); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetTTSLexicon replaces the pronunciation list of an area. Words are
// stored NFC, trimmed, one line each; a word given twice is refused.
func (db *DB) SetTTSLexicon(ctx context.Context, area string, entries []LexiconEntry, by string, at time.Time) error {
	if len(entries) > MaxLexiconEntries {
		return fmt.Errorf("%w: at most %d words in a pronunciation list", ErrInvalid, MaxLexiconEntries)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		e.Word, e.Spoken = norm.NFC.String(strings.TrimSpace(e.Word)), norm.NFC.String(strings.TrimSpace(e.Spoken))
		switch {
		case e.Word == "" || e.Spoken == "":
			return fmt.Errorf("%w: line %d: give both the word and how to say it", ErrInvalid, i+1)
		case utf8.RuneCountInString(e.Word) > MaxLexiconText || utf8.RuneCountInString(e.Spoken) > MaxLexiconText:
			return fmt.Errorf("%w: line %d: at most %d characters", ErrInvalid, i+1, MaxLexiconText)
		case strings.ContainsAny(e.Word+e.Spoken, "\r\n\x00"):
			return fmt.Errorf("%w: line %d: one line each", ErrInvalid, i+1)
		case seen[strings.ToLower(e.Word)]:
			return fmt.Errorf("%w: %q is in the list twice", ErrInvalid, e.Word)
		}
		seen[strings.ToLower(e.Word)] = true
		entries[i] = e
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return writeErr("lexicon", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM tts_lexicon WHERE area_id = ?", area); err != nil {
		return writeErr("lexicon", err)
	}
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, "INSERT INTO tts_lexicon(area_id, word, spoken, updated_by, updated_at) VALUES (?,?,?,?,?)",
			area, e.Word, e.Spoken, by, ms(at)); err != nil {
			return writeErr("lexicon", err)
		}
	}
	return writeErr("lexicon", tx.Commit())
}
