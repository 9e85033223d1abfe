package programme

import (
	"slices"
	"sort"
	"strings"

	"github.com/communeradio/radio/controller/internal/schedule"
)

// bulletin is the view of bulletin id of a programme: what airs (or the
// draft), with its waiting change and review.
func (s *Store) bulletin(sc *schedule.Schedule, rv reviews, id string) Bulletin {
	it := findItem(sc, id)
	if it == nil {
		return Bulletin{ID: id}
	}
	return s.view(sc, rv, it)
}

func (s *Store) view(sc *schedule.Schedule, rv reviews, it *schedule.Item) Bulletin {
	id := it.ID
	b := FromItem(it)
	if it.Source.Kind == schedule.SourceTTS {
		b.Source.Audio = it.Source.Media
	}
	if r := rv[id]; r != nil {
		c := *r
		c.Pending = ""
		b.Review = &c
		if r.Pending != "" {
			if p, ok := pendingBulletin(&file{File: File{Path: sc.File, Station: sc.Station}}, id, r); ok {
				b.Pending = &p
			}
		}
	}
	return b
}

// Bulletins lists a programme's bulletins in file order; nil when it does
// not exist yet.
func (s *Store) Bulletins(name string) ([]Bulletin, error) {
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	if err != nil || !f.Exists {
		return nil, err
	}
	if f.snap.sc == nil {
		_, err := schedule.Parse(f.Path, f.Src)
		return nil, err
	}
	out := make([]Bulletin, 0, len(f.snap.sc.Items))
	for i := range f.snap.sc.Items {
		out = append(out, s.view(f.snap.sc, f.reviews, &f.snap.sc.Items[i]))
	}
	return out, nil
}

// Approval is a bulletin, or a change to one, waiting for a leader.
type Approval struct {
	Schedule string   `json:"schedule"`
	Station  string   `json:"station"`
	Bulletin Bulletin `json:"bulletin"` // what the leader approves (the change, if one waits)
	// Airing is the approved version that airs until the change is
	// approved (nil for a new bulletin).
	Airing *Bulletin `json:"airing,omitempty"`
}

// Approvals lists what waits for a leader in the programmes whose station
// want accepts: drafts and changes to approved bulletins, except those a
// leader sent back (the officer's to change first).
func (s *Store) Approvals(want func(station string) bool) ([]Approval, error) {
	out := []Approval{}
	for _, name := range s.names() {
		a, err := s.waiting(name, want)
		if err != nil {
			continue // a broken file: its own page says so
		}
		out = append(out, a...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Schedule != out[j].Schedule {
			return out[i].Schedule < out[j].Schedule
		}
		return out[i].Bulletin.Line < out[j].Bulletin.Line
	})
	return out, nil
}

// waiting lists what of programme name waits for a leader; only those
// bulletins are looked at in full.
func (s *Store) waiting(name string, want func(string) bool) ([]Approval, error) {
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	if err != nil || !f.Exists || f.snap.sc == nil || !want(f.snap.sc.Station) {
		return nil, err
	}
	sc := f.snap.sc
	var out []Approval
	for i := range sc.Items {
		it := &sc.Items[i]
		r := f.reviews[it.ID]
		if r.Returned() || (it.Approved && (r == nil || r.Pending == "")) {
			continue
		}
		b := s.view(sc, f.reviews, it)
		if b.Pending != nil {
			p := *b.Pending
			p.Review = b.Review
			airing := b
			airing.Pending, airing.Review = nil, nil
			out = append(out, Approval{Schedule: name, Station: sc.Station, Bulletin: p, Airing: &airing})
		} else {
			out = append(out, Approval{Schedule: name, Station: sc.Station, Bulletin: b})
		}
	}
	return out, nil
}

// names lists the programmes the scheduler holds and those on disk.
func (s *Store) names() []string {
	var out []string
	if s.Scheduler != nil {
		for name := range s.Scheduler.Schedules() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// bulletinChanges says what happened to one bulletin since an edit's
// version: the saves after it that touched the bulletin.
func (s *Store) bulletinChanges(name string, f *file, id string) []Change {
	c := Change{Bulletin: id, What: "changed"}
	snap := s.snapshot(name)
	if snap != nil && len(snap.history) > 0 {
		last := snap.history[len(snap.history)-1]
		c.Title = last.titles[id]
		if _, ok := last.prints[id]; !ok {
			c.What = "removed"
		}
		for i := len(snap.history) - 1; i > 0; i-- {
			if snap.history[i].prints[id] != snap.history[i-1].prints[id] {
				c.By, c.At = snap.history[i].by, snap.history[i].at
				break
			}
		}
	}
	if f.snap.sc != nil {
		if it := findItem(f.snap.sc, id); it != nil {
			c.Title = it.Title
			if r := f.reviews[id]; r != nil && r.Pending != "" {
				c.What = "pending"
				c.By, c.At = r.SubmittedName, r.SubmittedAt
			}
		} else {
			c.What = "removed"
		}
	}
	if c.Title == "" {
		c.Title = id
	}
	return []Change{c}
}

// changedSince lists the bulletins that differ between version from of a
// programme and now, with who saved each change last; nil when from is
// not among the versions remembered.
func (s *Store) changedSince(name, from string, f *file) []Change {
	snap := s.snapshot(name)
	if snap == nil {
		return nil
	}
	k := -1
	for i, h := range snap.history {
		if h.version == from {
			k = i
		}
	}
	if k < 0 || k == len(snap.history)-1 {
		return nil
	}
	then, now := snap.history[k], snap.history[len(snap.history)-1]
	var out []Change
	add := func(id, what string) {
		c := Change{Bulletin: id, What: what, Title: now.titles[id]}
		if c.Title == "" {
			c.Title = then.titles[id]
		}
		for i := len(snap.history) - 1; i > k; i-- {
			if snap.history[i].prints[id] != snap.history[i-1].prints[id] {
				c.By, c.At = snap.history[i].by, snap.history[i].at
				break
			}
		}
		out = append(out, c)
	}
	for id, p := range now.prints {
		switch q, ok := then.prints[id]; {
		case !ok:
			add(id, "added")
		case p != q:
			add(id, whatChanged(q, p))
		}
	}
	for id := range then.prints {
		if _, ok := now.prints[id]; !ok {
			add(id, "removed")
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bulletin < out[j].Bulletin })
	return out
}

// whatChanged names the difference of two fingerprints (content,
// "+approved", "+pending:...").
func whatChanged(then, now string) string {
	strip := func(p string) (string, bool, bool) {
		core, pending := p, false
		if i := strings.Index(core, "+pending:"); i >= 0 {
			core, pending = core[:i], true
		}
		approved := len(core) > 9 && core[len(core)-9:] == "+approved"
		if approved {
			core = core[:len(core)-9]
		}
		return core, approved, pending
	}
	c1, a1, p1 := strip(then)
	c2, a2, p2 := strip(now)
	switch {
	case c1 != c2:
		return "changed"
	case !a1 && a2:
		return "approved"
	case a1 && !a2:
		return "unapproved"
	case p2 && !p1, p1 && p2:
		return "pending"
	}
	return "changed"
}

// wouldChange lists what saving src over the programme would change, for
// a whole-file put that did not say which version it replaces.
func (s *Store) wouldChange(f *file, src []byte) []Change {
	var out []Change
	old := f.snap.sc
	sc, err := schedule.Parse(f.Path, src)
	if err != nil || old == nil {
		return nil
	}
	p := index(sc)
	newPrints := p.prints
	for i := range sc.Items {
		it := &sc.Items[i]
		was := f.snap.item(it.ID)
		switch {
		case was == nil:
			out = append(out, Change{Bulletin: it.ID, Title: it.Title, What: "added"})
		case f.snap.prints[it.ID] != newPrints[it.ID]:
			out = append(out, Change{Bulletin: it.ID, Title: it.Title, What: "changed"})
		case was.Approved && !it.Approved:
			out = append(out, Change{Bulletin: it.ID, Title: it.Title, What: "unapproved"})
		}
	}
	for i := range old.Items {
		if p.item(old.Items[i].ID) == nil {
			out = append(out, Change{Bulletin: old.Items[i].ID, Title: old.Items[i].Title, What: "removed"})
		}
	}
	for id, r := range f.reviews {
		if r.Pending != "" && p.item(id) != nil {
			out = append(out, Change{Bulletin: id, Title: p.item(id).Title, What: "pending", By: r.SubmittedName, At: r.SubmittedAt})
		}
	}
	return out
}

// Schedule is a programme as parsed now (nil when it does not exist yet).
func (s *Store) Schedule(name string) (*schedule.Schedule, error) {
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	if err != nil || !f.Exists {
		return nil, err
	}
	if f.snap.sc == nil {
		return schedule.Parse(f.Path, f.Src)
	}
	return f.snap.sc, nil
}
