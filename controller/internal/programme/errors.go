package programme

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors is a programme or bulletin with mistakes, one message each (a
// file's with its file:line): nothing was changed.
type Errors struct{ Msgs []string }

func (e *Errors) Error() string { return strings.Join(e.Msgs, "; ") }

func errs(format string, a ...any) error { return &Errors{Msgs: []string{fmt.Sprintf(format, a...)}} }

// ErrNotFound: no such programme or bulletin.
var ErrNotFound = errors.New("programme: not found")

// ErrForbidden: the actor may not do this (only a leader approves or sends
// back).
var ErrForbidden = errors.New("programme: not allowed")

// Stale refuses an edit made on a version that is no longer the current
// one: somebody else changed the programme meanwhile. Changes says what,
// bulletin by bulletin, so that the person can look again and redo their
// edit on what is there now.
type Stale struct {
	Name    string   // the programme
	Version string   // the current version, to retry on after looking
	Changes []Change // what differs from the version the edit was made on
	// Missing: the edit named no version at all (a whole file put without
	// one replaces what others made: it must say which one it replaces).
	Missing bool
}

// Change is one bulletin that differs between two versions of a programme.
type Change struct {
	Bulletin string    `json:"bulletin"`
	Title    string    `json:"title"`
	What     string    `json:"what"` // added, removed, changed, approved, unapproved, pending
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

func (c Change) String() string {
	s := fmt.Sprintf("%q (%s) %s", c.Title, c.Bulletin, changeWords[c.What])
	if c.By != "" {
		s += " by " + c.By
	}
	if !c.At.IsZero() {
		s += " at " + c.At.In(zoneVN).Format("02/01/2006 15:04")
	}
	return s
}

var changeWords = map[string]string{
	"added": "was added", "removed": "was removed", "changed": "was changed", "approved": "was approved",
	"unapproved": "was taken off air", "pending": "has a change waiting for approval",
}

func (e *Stale) Error() string {
	var b strings.Builder
	if e.Missing {
		fmt.Fprintf(&b, "programme %s already exists and this edit does not say which version of it it changes: read it first (radioctl schedule get %s), make your change on that, and save again", e.Name, e.Name)
	} else {
		fmt.Fprintf(&b, "programme %s was changed by someone else since you read it: nothing was saved; look at it again and redo your change", e.Name)
	}
	if len(e.Changes) > 0 {
		parts := make([]string, len(e.Changes))
		for i, c := range e.Changes {
			parts[i] = c.String()
		}
		if e.Missing {
			b.WriteString(". Saving this file would change: ")
		} else {
			b.WriteString(". Since then: ")
		}
		b.WriteString(strings.Join(parts, "; "))
	}
	return b.String()
}
