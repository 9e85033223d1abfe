package schedule

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Occurrence is one start of an item.
type Occurrence struct {
	Item *Item
	At   time.Time // in Zone
	End  time.Time // after the last repeat; zero if the length is not known
}

// ID identifies the occurrence for proof of play: the item id and the local
// start, e.g. ban-tin-sang-20261123-063000. It passes nodeproto.ValidID.
func (o Occurrence) ID() string {
	return o.Item.ID + "-" + o.At.In(Zone).Format("20060102-150405")
}

// Occurrences lists the starts in [from, to) of every item, drafts included
// (see Item.Airs), sorted by time, then higher priority first, then item id.
// Holidays, except days and from/until apply to the local date of the start.
// durations, which may be nil, gives the length of one play of an item's
// media (0 if not known); Item.Duration stands in when it does not know.
func (s *Schedule) Occurrences(from, to time.Time, durations func(Item) time.Duration) []Occurrence {
	var out []Occurrence
	if !from.Before(to) {
		return nil
	}
	for i := range s.Items {
		it := &s.Items[i]
		length := playLength(it, durations)
		it.starts(from, to, func(at time.Time) {
			day := DateOf(at)
			if s.skipped(it, day) {
				return
			}
			o := Occurrence{Item: it, At: at}
			if length > 0 {
				n := time.Duration(it.Repeat)
				o.End = at.Add(length*(n+1) + it.Gap*n)
			}
			out = append(out, o)
		})
	}
	slices.SortStableFunc(out, func(a, b Occurrence) int {
		return cmp.Or(a.At.Compare(b.At),
			-cmp.Compare(nodeproto.PriorityRank(a.Item.Priority), nodeproto.PriorityRank(b.Item.Priority)),
			cmp.Compare(a.Item.ID, b.Item.ID))
	})
	return out
}

func playLength(it *Item, durations func(Item) time.Duration) time.Duration {
	if durations != nil {
		if d := durations(*it); d > 0 {
			return d
		}
	}
	return it.Duration
}

// skipped reports whether the item does not air on day: a holiday (unless
// it plays on holidays), one of its except days, or outside from/until.
func (s *Schedule) skipped(it *Item, day Date) bool {
	if (!it.From.IsZero() && day.Compare(it.From) < 0) || (!it.Until.IsZero() && day.Compare(it.Until) > 0) {
		return true
	}
	for _, r := range it.Except {
		if r.Contains(day) {
			return true
		}
	}
	if !it.OnHoliday {
		for _, h := range s.Holidays {
			if h.Days.Contains(day) {
				return true
			}
		}
	}
	return false
}

// starts calls yield for each start of the rule in [from, to), in time
// order, before holidays and except days are taken out.
func (it *Item) starts(from, to time.Time, yield func(time.Time)) {
	r := &it.Rule
	first, last := DateOf(from), DateOf(to)
	if !it.From.IsZero() && first.Compare(it.From) < 0 {
		first = it.From
	}
	if !it.Until.IsZero() && last.Compare(it.Until) > 0 {
		last = it.Until
	}
	if last.Compare(first) < 0 {
		return
	}
	if r.Kind == RuleCron {
		if r.cron == nil {
			return
		}
		start := first.At(0)
		if start.Before(from) {
			start = from
		}
		end := last.AddDays(1).At(0)
		if to.Before(end) {
			end = to
		}
		for at := r.cron.Next(start.Add(-time.Nanosecond)); !at.IsZero() && at.Before(end); at = r.cron.Next(at) {
			yield(at.In(Zone))
		}
		return
	}
	if r.Kind == RuleOnce {
		if r.Date.Compare(first) < 0 || r.Date.Compare(last) > 0 {
			return
		}
		first, last = r.Date, r.Date
	}
	var anchor int // RuleEvery: Monday of the week of From
	if r.Kind == RuleEvery {
		anchor = it.From.unixDays() - mondayFirst(it.From.Weekday())
	}
	for day := first; day.Compare(last) <= 0; day = day.AddDays(1) {
		switch r.Kind {
		case RuleWeekly:
			if !slices.Contains(r.Days, day.Weekday()) {
				continue
			}
		case RuleEvery:
			if !slices.Contains(r.Days, day.Weekday()) || ((day.unixDays()-anchor)/7)%r.Weeks != 0 {
				continue
			}
		}
		for _, t := range r.Times {
			if at := day.At(t); !at.Before(from) && at.Before(to) {
				yield(at)
			}
		}
	}
}

// Conflict is two occurrences of equal priority whose plays overlap on a
// shared target. A higher priority is never a conflict: it cuts in.
type Conflict struct {
	A, B   Occurrence // A starts first (or with B)
	Target string     // the shared part of the targets
}

func (c Conflict) String() string {
	a, b := c.A, c.B
	return fmt.Sprintf("%s: %q at %s%s overlaps %q (%s) at %s%s on %s; both are %s: move one or give one a higher priority",
		a.Item.Pos, a.Item.ID, a.At.Format("2006-01-02 15:04:05"), until(a), b.Item.ID, b.Item.Pos,
		b.At.Format("15:04:05"), until(b), c.Target, a.Item.Priority)
}

func until(o Occurrence) string {
	if o.End.IsZero() {
		return ""
	}
	if DateOf(o.End) != DateOf(o.At) {
		return "-" + o.End.In(Zone).Format("2006-01-02 15:04:05")
	}
	return "-" + o.End.In(Zone).Format("15:04:05")
}

// MaxConflicts bounds the list Conflicts returns: a schedule with that many
// clashes needs rewriting, not a longer list.
const MaxConflicts = 1000

// Conflicts lists the clashes among occurrences that start in [from, to) of
// items that air (Item.Airs), in order of the first start, at most
// MaxConflicts. An occurrence of unknown length is taken to last one second,
// so only the same start clashes with it.
//
// It looks only at occurrences that can clash (same priority, targets that
// may share a node), found through an index, so a file of many long
// bulletins on different nodes costs its length, not its length squared.
func (s *Schedule) Conflicts(from, to time.Time, durations func(Item) time.Duration) []Conflict {
	var occ []Occurrence
	for _, o := range s.Occurrences(from, to, durations) {
		if o.Item.Airs() {
			occ = append(occ, o)
		}
	}
	end := func(o Occurrence) time.Time {
		if o.End.IsZero() {
			return o.At.Add(time.Second)
		}
		return o.End
	}
	// Positions in occ, ascending, by priority and by what the target
	// names: id "" holds every occurrence whose target is of that kind.
	type key struct{ priority, kind, id string }
	index := map[key][]int{}
	for i, o := range occ {
		t, p := o.Item.Target, o.Item.Priority
		index[key{p, t.Kind, ""}] = append(index[key{p, t.Kind, ""}], i)
		for _, id := range t.IDs {
			index[key{p, t.Kind, id}] = append(index[key{p, t.Kind, id}], i)
		}
	}
	var out []Conflict
	var cands []int
	for i, a := range occ {
		t, p := a.Item.Target, a.Item.Priority
		// The lists whose members may share a node with a (Target.Overlap).
		lists := [][]int{index[key{p, TargetCommune, ""}]}
		for _, kind := range []string{TargetZone, TargetNodes} {
			switch {
			case t.Kind == TargetCommune || t.Kind != kind:
				lists = append(lists, index[key{p, kind, ""}])
			default:
				for _, id := range t.IDs {
					lists = append(lists, index[key{p, kind, id}])
				}
			}
		}
		cands = cands[:0]
		for _, l := range lists {
			j, _ := slices.BinarySearch(l, i+1)
			for ; j < len(l) && occ[l[j]].At.Before(end(a)); j++ {
				cands = append(cands, l[j])
			}
		}
		slices.Sort(cands)
		for _, j := range slices.Compact(cands) {
			b := occ[j]
			if shared, ok := t.Overlap(b.Item.Target); ok {
				out = append(out, Conflict{A: a, B: b, Target: shared})
				if len(out) == MaxConflicts {
					return out
				}
			}
		}
	}
	return out
}
