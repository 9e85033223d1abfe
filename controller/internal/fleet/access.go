package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// access remembers what each node was given, so that what a node asks for
// or answers can be checked against it in memory: an emergency makes
// thousands of nodes fetch the same file in the same second, and a
// database query for each would be the bottleneck.
//
// It is complete by construction: every desired state and every command
// goes out through this Fleet (SendDesired, Held, Send), and Start seeds the
// commands still valid from the registry (sent before a restart). The
// controller's desired-state publisher goes through every node in the
// background at start, sending it again where it changed and recording it
// as held otherwise (Held); until it reaches a node, that node's fetch of
// its desired content is refused and asked again later.
type access struct {
	mu      sync.RWMutex
	desired map[string]given       // node -> its current desired state's media and zones
	byMedia map[string][]grant     // media -> unexpired commands that name it
	cmds    map[string]sentCommand // command id -> where it went (recent ones; older: registry)
	added   int                    // commands added since the last sweep
	zones   func(node string) []string
}

type given struct {
	media map[string]bool
	zones []string
}

type grant struct {
	target  string // node:<id> or zone:<id>
	expires time.Time
}

type sentCommand struct {
	target  string
	expires time.Time
}

// keepSent is how long past its expiry a command's target stays in memory:
// a node that was offline answers a queued command late, with "expired".
const keepSent = time.Hour

func newAccess(zones func(string) []string) *access {
	return &access{desired: map[string]given{}, byMedia: map[string][]grant{}, cmds: map[string]sentCommand{}, zones: zones}
}

// seed loads the commands of a previous run that are still valid.
func (a *access) seed(ctx context.Context, reg *registry.DB, now time.Time) error {
	cmds, err := reg.CommandsSince(ctx, now.Add(-keepSent))
	if err != nil {
		return fmt.Errorf("fleet: loading recent commands: %w", err)
	}
	for _, c := range cmds {
		a.addCommand(c.ID, c.Target, c.Media, c.ExpiresAt, now)
	}
	return nil
}

// setDesired replaces what a node was given by its desired state.
func (a *access) setDesired(d nodeproto.Desired) {
	g := given{media: map[string]bool{}, zones: slices.Clone(d.Zones)}
	for _, c := range d.Content {
		g.media[c.Media] = true
	}
	for _, s := range d.Schedule {
		g.media[s.Media] = true
	}
	a.mu.Lock()
	a.desired[d.Node] = g
	a.mu.Unlock()
}

func (a *access) forget(node string) {
	a.mu.Lock()
	delete(a.desired, node)
	a.mu.Unlock()
}

func (a *access) addCommand(id, target, media string, expires, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmds[id] = sentCommand{target: target, expires: expires}
	if media != "" {
		a.byMedia[media] = append(a.byMedia[media], grant{target: target, expires: expires})
	}
	if a.added++; a.added >= 256 {
		a.sweep(now)
	}
}

// sweep drops expired grants and long-expired commands; mu is held.
func (a *access) sweep(now time.Time) {
	a.added = 0
	for m, gs := range a.byMedia {
		gs = slices.DeleteFunc(gs, func(g grant) bool { return !g.expires.After(now) })
		if len(gs) == 0 {
			delete(a.byMedia, m)
		} else {
			a.byMedia[m] = gs
		}
	}
	for id, c := range a.cmds {
		if now.Sub(c.expires) > keepSent {
			delete(a.cmds, id)
		}
	}
}

// nodeZones are the zones a node belongs to: those of its desired state,
// or the registry's when it has none yet.
func (a *access) nodeZones(node string) []string {
	a.mu.RLock()
	g, ok := a.desired[node]
	a.mu.RUnlock()
	if ok {
		return g.zones
	}
	return a.zones(node)
}

// reaches reports whether target ("node:<id>" or "zone:<id>") includes node.
func (a *access) reaches(target, node string) bool {
	kind, id, _ := strings.Cut(target, ":")
	switch kind {
	case "node":
		return id == node
	case "zone":
		return slices.Contains(a.nodeZones(node), id)
	}
	return false
}

// mayFetch reports whether node was given media: by its current desired
// state, or by an unexpired command to it or to one of its zones.
func (a *access) mayFetch(node, media string, now time.Time) bool {
	a.mu.RLock()
	inDesired := a.desired[node].media[media]
	var targets []string
	for _, g := range a.byMedia[media] {
		if g.expires.After(now) {
			targets = append(targets, g.target)
		}
	}
	a.mu.RUnlock()
	if inDesired {
		return true
	}
	for _, t := range targets {
		if a.reaches(t, node) {
			return true
		}
	}
	return false
}

// sent returns where a command went: from memory, else from the registry.
func (a *access) sent(ctx context.Context, reg *registry.DB, id string) (string, bool, error) {
	a.mu.RLock()
	c, ok := a.cmds[id]
	a.mu.RUnlock()
	if ok {
		return c.target, true, nil
	}
	rec, err := reg.GetCommand(ctx, id)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return "", false, nil
		}
		return "", false, err
	}
	return rec.Target, true, nil
}
