package programme

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/communeradio/radio/internal/atomicfile"
)

// Review is where a bulletin stands with the commune's leader.
type Review struct {
	// Pending is the text of a change to an approved bulletin, as a block
	// of the programme file, written as a draft. The approved version in
	// the file goes on airing until a leader approves this.
	Pending string `json:"pending,omitempty"`
	// Who submitted the bulletin or its pending change, and when.
	SubmittedBy   string    `json:"submitted_by,omitempty"`
	SubmittedName string    `json:"submitted_name,omitempty"`
	SubmittedAt   time.Time `json:"submitted_at,omitzero"`
	// A leader sent it back (Trả lại) with a comment for the officer; it
	// leaves the approval queue until the officer saves it again.
	ReturnedBy   string    `json:"returned_by,omitempty"`
	ReturnedName string    `json:"returned_name,omitempty"`
	ReturnedAt   time.Time `json:"returned_at,omitzero"`
	Comment      string    `json:"comment,omitempty"`
}

// Returned reports whether a leader sent it back.
func (r *Review) Returned() bool { return r != nil && !r.ReturnedAt.IsZero() }

// MaxComment bounds a leader's comment, in characters.
const MaxComment = 1000

// reviews are a programme's review state, by bulletin id, kept beside its
// file as NAME.radio.review (JSON; backed up with the programmes, and read
// by retention so that a pending change's recording is kept).
type reviews map[string]*Review

const reviewExt = ".review"

func readReviews(path string) (reviews, error) {
	b, err := os.ReadFile(path + reviewExt)
	if errors.Is(err, os.ErrNotExist) {
		return reviews{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("programme: %w", err)
	}
	rv := reviews{}
	if err := json.Unmarshal(b, &rv); err != nil {
		return nil, fmt.Errorf("programme: %s%s: %w", path, reviewExt, err)
	}
	return rv, nil
}

func writeReviews(path string, rv reviews) error {
	for id, r := range rv {
		if *r == (Review{}) {
			delete(rv, id)
		}
	}
	if len(rv) == 0 {
		if err := os.Remove(path + reviewExt); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("programme: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(rv, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path+reviewExt, b, 0o640); err != nil {
		return fmt.Errorf("programme: %w", err)
	}
	return nil
}

func (rv reviews) clone() reviews {
	out := make(reviews, len(rv))
	for id, r := range rv {
		c := *r
		out[id] = &c
	}
	return out
}

func (rv reviews) get(id string) *Review {
	if rv[id] == nil {
		rv[id] = &Review{}
	}
	return rv[id]
}
