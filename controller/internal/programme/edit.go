package programme

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/communeradio/radio/controller/internal/schedule"
)

// Actor is who edits a programme, as the caller (the api) has checked them.
type Actor struct {
	ID   string // as the audit log names them
	Name string // their name, shown to the commune's officers and leaders
	// CanApprove: a leader or an administrator. Anyone else's change to an
	// approved bulletin waits beside it; their new bulletins are drafts.
	CanApprove bool
	// MayUseMedia says whether the actor may schedule a recording (its
	// commune's library); nil: any.
	MayUseMedia func(ctx context.Context, sha string) error
	// MayChangeStation says whether the actor may change a station's
	// programme (a file naming another station); nil: any.
	MayChangeStation func(ctx context.Context, station string) error
}

// Saved is what a save did.
type Saved struct {
	Name     string
	Station  string
	Items    int
	Version  string
	Drafts   []string // new bulletins of an officer's file, saved as drafts
	Waiting  []string // changes to approved bulletins waiting beside them
	Bulletin *Bulletin
	Existed  bool   // the bulletin was there before (PutBulletin)
	Detail   string // for the audit log
}

// PutFile saves a whole programme file (radioctl, scripts). ifVersion is
// the version it was made from: an existing programme is replaced only
// when that is still the current one (force skips the check, and Detail
// says so). An officer's new bulletins are drafts; their changes to
// approved bulletins wait beside them while the approved version airs.
func (s *Store) PutFile(ctx context.Context, who Actor, name string, src []byte, ifVersion string, force bool) (Saved, error) {
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	if err != nil {
		return Saved{}, err
	}
	rv := f.reviews.clone()
	if f.Exists && !force && ifVersion != f.Version {
		st := &Stale{Name: name, Version: f.Version, Missing: ifVersion == ""}
		if st.Missing {
			st.Changes = s.wouldChange(f, src)
		} else {
			st.Changes = s.changedSince(name, ifVersion, f)
		}
		// Saving again exactly what is there replaces nobody's work.
		if !st.Missing || len(st.Changes) > 0 || !sameBytes(src, f.Src) {
			return Saved{}, st
		}
	}
	if who.MayChangeStation != nil {
		if st := StationOf(src); st != "" && st != f.Station {
			if err := who.MayChangeStation(ctx, st); err != nil {
				return Saved{}, err
			}
		}
	}
	var drafts, waiting []string
	var p *parsed
	if !who.CanApprove {
		if src, p, drafts, waiting, err = s.review(f, src, rv, who); err != nil {
			return Saved{}, err
		}
		p, err = s.prepare(ctx, p, f.snap, false)
	} else {
		p, err = s.prepareSrc(ctx, f.Path, src, f.snap)
	}
	if err != nil {
		return Saved{}, err
	}
	if err := s.checkMedia(ctx, who, f, p); err != nil {
		return Saved{}, err
	}
	for id := range rv {
		if p.item(id) == nil {
			delete(rv, id) // its bulletin is gone: so is what waited for it
		}
	}
	if err := s.write(f, src, p, rv, who.ID); err != nil {
		return Saved{}, err
	}
	out := Saved{Name: name, Station: p.sc.Station, Items: len(p.sc.Items), Version: version(src, rv), Drafts: drafts, Waiting: waiting}
	out.Detail = fmt.Sprintf("%d items", len(p.sc.Items))
	if len(drafts) > 0 {
		out.Detail += "; waiting for approval: " + strings.Join(drafts, ", ")
	}
	if len(waiting) > 0 {
		out.Detail += "; changes waiting for approval (the approved versions air meanwhile): " + strings.Join(waiting, ", ")
	}
	if force && f.Exists && ifVersion != f.Version {
		out.Detail += "; forced: replaced version " + f.Version + " without checking it was the one edited"
		if ch := s.wouldChange(f, src); len(ch) > 0 {
			parts := make([]string, len(ch))
			for i, c := range ch {
				parts[i] = c.String()
			}
			out.Detail += " (" + strings.Join(parts, "; ") + ")"
		}
	}
	return out, nil
}

// review keeps an officer from approving, reading the new text as the
// scheduler will: a new bulletin written as approved becomes a draft; a
// change to an approved bulletin waits beside it (the approved text stays
// in the file) until a leader approves it. It refuses a text in which it
// could not do so.
func (s *Store) review(f *file, src []byte, rv reviews, who Actor) (out []byte, final *parsed, drafts, waiting []string, err error) {
	sc, err := schedule.Parse(f.Path, src)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	p := index(sc)
	for i := range sc.Items {
		it := &sc.Items[i]
		was := f.snap.item(it.ID)
		if was != nil && was.Approved && f.snap.same(it, p.prints[it.ID]) {
			continue // the same approved bulletin, or taken off air (allowed)
		}
		if was != nil && was.Approved {
			// A change to what airs: it waits, the approved text stays.
			block, _ := rawBlock(src, it.ID)
			block, _ = schedule.SetStatus(block, it.ID, false)
			r := rv.get(it.ID)
			r.Pending = string(block)
			r.submit(who, s.now())
			oldBlock, _ := rawBlock(f.Src, it.ID)
			src = schedule.ReplaceBlock(src, it.ID, string(oldBlock))
			waiting = append(waiting, it.ID)
			continue
		}
		if it.Approved {
			src, _ = schedule.SetStatus(src, it.ID, false)
			drafts = append(drafts, it.ID)
		}
		if !f.snap.same(it, p.prints[it.ID]) {
			rv.get(it.ID).submit(who, s.now())
		}
	}
	if len(drafts) > 0 || len(waiting) > 0 {
		// The text changed: read it again as the scheduler will.
		if sc, err = schedule.Parse(f.Path, src); err != nil {
			return nil, nil, nil, nil, err
		}
		p = index(sc)
	}
	if err := s.checkApprovals(f, p); err != nil {
		return nil, nil, nil, nil, err
	}
	slices.Sort(drafts)
	slices.Sort(waiting)
	return src, p, drafts, waiting, nil
}

// submit records who submitted a bulletin (or its change): it is the
// leader's to look at again, no longer sent back.
func (r *Review) submit(who Actor, at time.Time) {
	r.SubmittedBy, r.SubmittedName, r.SubmittedAt = who.ID, who.Name, at
	r.ReturnedBy, r.ReturnedName, r.ReturnedAt, r.Comment = "", "", time.Time{}, ""
}

// rawBlock is a bulletin's lines as written in src.
func rawBlock(src []byte, id string) ([]byte, bool) {
	for _, b := range schedule.Blocks(src) {
		if b.ID == id {
			lines := strings.SplitAfter(strings.ReplaceAll(strings.TrimPrefix(string(src), "\ufeff"), "\r\n", "\n"), "\n")
			return []byte(strings.Join(lines[b.Start:b.End], "")), true
		}
	}
	return nil, false
}

// checkApprovals is the last word before an officer's change is saved: it
// must not put anything on air that a leader has not approved as it is.
// Whatever the text editing did, this reads the result as the scheduler
// will, and compares each approved bulletin with the one approved before.
func (s *Store) checkApprovals(f *file, p *parsed) error {
	var ids []string
	for i := range p.sc.Items {
		it := &p.sc.Items[i]
		if !it.Approved {
			continue
		}
		if was := f.snap.item(it.ID); was != nil && was.Approved && f.snap.same(it, p.prints[it.ID]) {
			continue
		}
		ids = append(ids, it.ID)
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		return errs("bulletin(s) %s would air without a leader's approval: write them with status draft (one \"bulletin <id>\" line each, the id unquoted) and ask the commune's leader to approve them",
			strings.Join(ids, ", "))
	}
	return nil
}

// checkMedia: what the actor adds or changes plays only recordings of
// their commune's library (an administrator's bulletin with a recording of
// no commune stays as it is).
func (s *Store) checkMedia(ctx context.Context, who Actor, f *file, p *parsed) error {
	if who.MayUseMedia == nil {
		return nil
	}
	var foreign []string
	for i := range p.sc.Items {
		it := &p.sc.Items[i]
		if it.Source.Kind != schedule.SourceMedia || f.snap.same(it, p.prints[it.ID]) {
			continue
		}
		if err := who.MayUseMedia(ctx, it.Source.Media); err != nil {
			foreign = append(foreign, fmt.Sprintf("%s.radio:%d: bulletin %s: recording %s is not in your media library: upload it first", f.Name, it.Pos.Line, it.ID, it.Source.Media))
		}
	}
	if len(foreign) > 0 {
		return &Errors{Msgs: foreign}
	}
	return nil
}

func findItem(sc *schedule.Schedule, id string) *schedule.Item {
	for i := range sc.Items {
		if sc.Items[i].ID == id {
			return &sc.Items[i]
		}
	}
	return nil
}

// current is the version of a bulletin an edit must name: its waiting
// change's if it has one, else its own; "" if there is no such bulletin.
func current(f *file, id string) string {
	if r := f.reviews[id]; r != nil && r.Pending != "" {
		if b, ok := pendingBulletin(f, id, r); ok {
			return b.Version
		}
	}
	if f.snap.prints != nil {
		return f.snap.prints[id]
	}
	return ""
}

func pendingBulletin(f *file, id string, r *Review) (Bulletin, bool) {
	src := []byte("station " + f.Station + "\n" + r.Pending)
	sc, err := schedule.Parse(f.Path, src)
	if err != nil || findItem(sc, id) == nil {
		return Bulletin{}, false
	}
	return FromItem(findItem(sc, id)), true
}

// PutBulletin creates or changes one bulletin. b.Version is the version
// the edit was made on ("" for a new bulletin): a stale one is refused
// with what changed. A change to an approved bulletin waits beside it
// while the approved version airs; a new bulletin is a draft. A save
// parses the programme once.
func (s *Store) PutBulletin(ctx context.Context, who Actor, name string, b Bulletin) (Saved, error) {
	text, err := b.Text()
	if err != nil {
		return Saved{}, err
	}
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	if err != nil {
		return Saved{}, err
	}
	if f.Station == "" {
		f.Station = name
	}
	if cur := current(f, b.ID); cur != b.Version {
		return Saved{}, &Stale{Name: name, Version: f.Version, Changes: s.bulletinChanges(name, f, b.ID)}
	}
	rv := f.reviews.clone()
	src := f.Src
	if !f.Exists {
		src = []byte(fmt.Sprintf("# Programme of station %s, made in the web UI.\nstation %s\n", f.Station, f.Station))
	}
	newSrc := schedule.ReplaceBlock(src, b.ID, text)
	sc, err := schedule.Parse(f.Path, newSrc) // the one parse of the new text
	if err != nil {
		return Saved{}, err
	}
	cand := index(sc)
	it := cand.item(b.ID)
	was := f.snap.item(b.ID)
	out := Saved{Name: name, Existed: was != nil}
	p := f.snap.parsed
	switch {
	case f.snap.same(it, cand.prints[b.ID]):
		// What the file says already (maybe only the layout differs, maybe
		// a waiting change was undone): keep the file and its approval.
		if r := rv[b.ID]; r != nil {
			r.Pending = ""
		}
		newSrc = f.Src
	default:
		if who.MayUseMedia != nil && it.Source.Kind == schedule.SourceMedia {
			if err := who.MayUseMedia(ctx, it.Source.Media); err != nil {
				return Saved{}, errs("recording %s is not in your media library: upload it first", it.Source.Media)
			}
		}
		if err := s.checkDraft(ctx, sc, b.ID); err != nil {
			return Saved{}, err
		}
		if was != nil && was.Approved {
			// The approved version goes on airing; the change waits beside
			// it, checked as it would air (recording, target) but not saved.
			if _, err := s.prepare(ctx, cand, f.snap, true); err != nil {
				return Saved{}, err
			}
			rv.get(b.ID).Pending = text
			newSrc = f.Src
			out.Waiting = []string{b.ID}
		} else {
			if !who.CanApprove {
				if err := s.checkApprovals(f, cand); err != nil {
					return Saved{}, err
				}
			}
			if p, err = s.prepare(ctx, cand, f.snap, true); err != nil {
				return Saved{}, err
			}
		}
		rv.get(b.ID).submit(who, s.now())
	}
	if err := s.write(f, newSrc, p, rv, who.ID); err != nil {
		return Saved{}, err
	}
	v := s.bulletin(p.sc, rv, b.ID)
	out.Station, out.Items, out.Version, out.Bulletin = p.sc.Station, len(p.sc.Items), version(newSrc, rv), &v
	out.Detail = "status " + v.Status
	if out.Waiting != nil {
		out.Detail += "; the change waits for approval, the approved version airs meanwhile"
	}
	return out, nil
}

func sameBytes(a, b []byte) bool { return string(a) == string(b) }

// checkDraft tells the officer at once, when they save a bulletin, what a
// leader's approval would run into: a one-off time already past, or an
// approved bulletin of the same priority on the same speakers at the same
// time. It is the save's one look for clashes: those among the other
// bulletins come back as the full check words them.
func (s *Store) checkDraft(ctx context.Context, sc *schedule.Schedule, id string) error {
	it := findItem(sc, id)
	now := s.now()
	if msg := Passed(it, now); msg != "" {
		return errs("%s: choose a time in the future", msg)
	}
	cp := *sc
	cp.Items = slices.Clone(sc.Items)
	findItem(&cp, id).Approved = true // as if the leader approved it (other drafts do not air: no clash)
	var msgs []string
	var others schedule.ErrorList // clashes among the rest, as the full check words them
	seen := map[string]bool{}     // the first clash with each other bulletin says enough
	for _, c := range cp.Conflicts(now, now.Add(ConflictHorizon), s.Durations(ctx)) {
		other := c.B
		if c.B.Item.ID == id {
			other = c.A
		} else if c.A.Item.ID != id {
			pos := c.A.Item.Pos
			others = append(others, &schedule.Error{Pos: pos, Msg: strings.TrimPrefix(c.String(), pos.String()+": ")})
			continue
		}
		if seen[other.Item.ID] {
			continue
		}
		seen[other.Item.ID] = true
		msgs = append(msgs, fmt.Sprintf("at %s it would play at the same time as %q (%s), on the same speakers (%s) and with the same priority: choose another time, other speakers or another priority",
			other.At.In(schedule.Zone).Format("02/01/2006 15:04"), other.Item.Title, other.Item.ID, c.Target))
	}
	if len(msgs) > 0 {
		return &Errors{Msgs: msgs}
	}
	if len(others) > 0 {
		return others
	}
	return nil
}

// Passed says whether a one-off bulletin's time is already past.
func Passed(it *schedule.Item, now time.Time) string {
	if it.Rule.Kind != schedule.RuleOnce || len(it.Rule.Times) == 0 {
		return ""
	}
	at := it.Rule.Date.At(it.Rule.Times[len(it.Rule.Times)-1])
	if at.After(now) {
		return ""
	}
	return fmt.Sprintf("its time, %s (Vietnam time), has already passed", at.Format("02/01/2006 15:04"))
}

// DeleteBulletin removes a bulletin (and any change waiting for it): it
// no longer airs. ifVersion, when given, must be its current version.
func (s *Store) DeleteBulletin(ctx context.Context, who Actor, name, id, ifVersion string) (Saved, error) {
	unlock := s.lock(name)
	defer unlock()
	f, err := s.read(name)
	if err != nil {
		return Saved{}, err
	}
	src, ok := schedule.RemoveBlock(f.Src, id)
	if !ok || !f.Exists {
		return Saved{}, fmt.Errorf("%w: no bulletin %s in schedule %s", ErrNotFound, id, name)
	}
	if ifVersion != "" && ifVersion != current(f, id) {
		return Saved{}, &Stale{Name: name, Version: f.Version, Changes: s.bulletinChanges(name, f, id)}
	}
	if !who.CanApprove {
		sc, err := schedule.Parse(f.Path, src)
		if err != nil {
			return Saved{}, err
		}
		if err := s.checkApprovals(f, index(sc)); err != nil {
			return Saved{}, err
		}
	}
	p, err := s.prepareSrc(ctx, f.Path, src, f.snap)
	if err != nil {
		return Saved{}, err
	}
	rv := f.reviews.clone()
	delete(rv, id)
	if err := s.write(f, src, p, rv, who.ID); err != nil {
		return Saved{}, err
	}
	return Saved{Name: name, Station: p.sc.Station, Items: len(p.sc.Items), Version: version(src, rv)}, nil
}

// readBulletin reads programme name (locked by the caller), which must
// hold bulletin id.
func (s *Store) readBulletin(name, id string) (*file, error) {
	f, err := s.read(name)
	if err != nil {
		return nil, err
	}
	if !f.Exists || f.snap.item(id) == nil {
		return nil, fmt.Errorf("%w: no bulletin %s in schedule %s", ErrNotFound, id, name)
	}
	return f, nil
}

// Approve is a leader's approval of a bulletin, or of the change waiting
// beside it: it goes on air. version, when given, is what the leader saw.
func (s *Store) Approve(ctx context.Context, who Actor, name, id, ver string) (Saved, error) {
	if !who.CanApprove {
		return Saved{}, fmt.Errorf("%w: only the commune's leader (or an administrator) approves bulletins", ErrForbidden)
	}
	unlock := s.lock(name)
	defer unlock()
	f, err := s.readBulletin(name, id)
	if err != nil {
		return Saved{}, err
	}
	if ver != "" && ver != current(f, id) {
		return Saved{}, &Stale{Name: name, Version: f.Version, Changes: s.bulletinChanges(name, f, id)}
	}
	rv := f.reviews.clone()
	src := f.Src
	if r := rv[id]; r != nil && r.Pending != "" {
		src = schedule.ReplaceBlock(src, id, r.Pending)
	}
	src, _ = schedule.SetStatus(src, id, true)
	cand, err := schedule.Parse(f.Path, src)
	if err != nil {
		return Saved{}, err
	}
	if msg := Passed(findItem(cand, id), s.now()); msg != "" {
		return Saved{}, errs("%s: the officer must choose a new time before it can be approved", msg)
	}
	p, err := s.prepare(ctx, index(cand), f.snap, false)
	if err != nil {
		return Saved{}, err
	}
	delete(rv, id) // approved: nothing waits, nobody's comment stands
	if err := s.write(f, src, p, rv, who.ID); err != nil {
		return Saved{}, err
	}
	v := s.bulletin(p.sc, rv, id)
	return Saved{Name: name, Station: p.sc.Station, Items: len(p.sc.Items), Version: version(src, rv), Bulletin: &v}, nil
}

// SendBack is a leader's "Trả lại": the bulletin (or its waiting change)
// goes back to the officer with a comment they see, and leaves the
// approval queue until they save it again. What airs does not change.
func (s *Store) SendBack(ctx context.Context, who Actor, name, id, ver, comment string) (Saved, error) {
	if !who.CanApprove {
		return Saved{}, fmt.Errorf("%w: only the commune's leader (or an administrator) sends bulletins back", ErrForbidden)
	}
	comment = strings.TrimSpace(comment)
	if comment == "" {
		return Saved{}, errs("comment: say what the officer should change")
	}
	if n := utf8.RuneCountInString(comment); n > MaxComment {
		return Saved{}, errs("comment: at most %d characters (this one has %d)", MaxComment, n)
	}
	unlock := s.lock(name)
	defer unlock()
	f, err := s.readBulletin(name, id)
	if err != nil {
		return Saved{}, err
	}
	it := f.snap.item(id)
	if it.Approved && (f.reviews[id] == nil || f.reviews[id].Pending == "") {
		return Saved{}, errs("bulletin %s is approved and nothing of it waits for approval: there is nothing to send back", id)
	}
	if ver != "" && ver != current(f, id) {
		return Saved{}, &Stale{Name: name, Version: f.Version, Changes: s.bulletinChanges(name, f, id)}
	}
	rv := f.reviews.clone()
	r := rv.get(id)
	r.ReturnedBy, r.ReturnedName, r.ReturnedAt, r.Comment = who.ID, who.Name, s.now(), comment
	if err := writeReviews(f.Path, rv); err != nil {
		return Saved{}, err
	}
	v := s.bulletin(f.snap.sc, rv, id)
	return Saved{Name: name, Station: f.snap.sc.Station, Items: len(f.snap.sc.Items), Version: version(f.Src, rv), Bulletin: &v,
		Detail: "sent back: " + comment}, nil
}
