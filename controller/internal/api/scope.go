package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/registry"
)

// scope is the set of areas a principal may see: an admin everything, a
// province role its province and the province's communes, a commune role
// its commune. Nobody sees or changes anything outside it.
type scope struct {
	all   bool
	areas map[string]bool
}

func (s scope) has(area string) bool { return s.all || s.areas[area] }

// list is the areas for a registry filter; nil means every area.
func (s scope) list() []string {
	if s.all {
		return nil
	}
	out := make([]string, 0, len(s.areas))
	for a := range s.areas {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func (a *API) scopeOf(ctx context.Context, p Principal) (scope, error) {
	if p.Role == registry.RoleAdmin && p.AreaID == "" {
		return scope{all: true}, nil
	}
	s := scope{areas: map[string]bool{}}
	if p.AreaID == "" {
		return s, nil
	}
	s.areas[p.AreaID] = true
	areas, err := a.cfg.Registry.ListAreas(ctx)
	if err != nil {
		return s, err
	}
	for _, ar := range areas { // two levels: province > commune
		if ar.ParentID == p.AreaID {
			s.areas[ar.ID] = true
		}
	}
	return s, nil
}

func (a *API) reqScope(r *http.Request) (scope, error) { return a.scopeOf(r.Context(), principal(r)) }

func forbidden(what string) error {
	return errorf(http.StatusForbidden, "%s is outside your area: ask an officer of that commune or the administrator", what)
}

func requireAdmin(r *http.Request) error {
	if principal(r).Role != registry.RoleAdmin {
		return errorf(http.StatusForbidden, "only an administrator may do this")
	}
	return nil
}

func requireChange(r *http.Request) error {
	if !principal(r).CanChange() {
		return errorf(http.StatusForbidden, "your role (%s) may look but not change anything", principal(r).Role)
	}
	return nil
}

// stationArea returns the area of a station, and whether the caller may
// see it. A station outside the caller's area looks like one that does not
// exist only when it does not; otherwise the answer is "forbidden", so an
// officer learns to ask the right person.
func (a *API) stationArea(r *http.Request, station string) (string, error) {
	st, err := a.cfg.Registry.GetStation(r.Context(), station)
	if err != nil {
		return "", err
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return "", err
	}
	if !sc.has(st.AreaID) {
		return "", forbidden("station " + station)
	}
	return st.AreaID, nil
}

// allowStation checks that the caller may see (write=false) or change
// (write=true) a station, and returns its area.
func (a *API) allowStation(r *http.Request, station string, write bool) (string, error) {
	if write {
		if err := requireChange(r); err != nil {
			return "", err
		}
	}
	return a.stationArea(r, station)
}

func (a *API) allowNode(r *http.Request, node string, write bool) (string, error) {
	n, err := a.cfg.Registry.GetNode(r.Context(), node)
	if err != nil {
		return "", err
	}
	return a.allowStation(r, n.StationID, write)
}

func (a *API) allowZone(r *http.Request, zone string, write bool) (string, error) {
	z, err := a.cfg.Registry.GetZone(r.Context(), zone)
	if err != nil {
		return "", err
	}
	return a.allowStation(r, z.StationID, write)
}

// allowTarget checks a node or zone target of a command.
func (a *API) allowTarget(r *http.Request, t fleet.Target) (string, error) {
	switch {
	case (t.Node == "") == (t.Zone == ""):
		return "", fleet.ErrNoTarget
	case t.Node != "":
		return a.allowNode(r, t.Node, true)
	default:
		return a.allowZone(r, t.Zone, true)
	}
}

// stationsInScope maps the ids of the stations the caller may see to
// their area.
func (a *API) stationsInScope(r *http.Request) (map[string]string, error) {
	sc, err := a.reqScope(r)
	if err != nil {
		return nil, err
	}
	all, err := a.cfg.Registry.ListStations(r.Context(), "")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range all {
		if sc.has(s.AreaID) {
			out[s.ID] = s.AreaID
		}
	}
	return out, nil
}

// allowMedia checks that a recording belongs to the caller's area (an
// administrator sees every recording), and returns its place in that
// area's library (zero for an administrator).
func (a *API) allowMedia(r *http.Request, sha string) (registry.MediaLink, error) {
	sc, err := a.reqScope(r)
	if err != nil || sc.all {
		return registry.MediaLink{}, err
	}
	links, err := a.cfg.Registry.MediaLinksOf(r.Context(), sha)
	if err != nil {
		return registry.MediaLink{}, err
	}
	for _, l := range links {
		if sc.has(l.Area) {
			return l, nil
		}
	}
	return registry.MediaLink{}, errorf(http.StatusNotFound, "media %s is not in your media library: upload the recording first", sha)
}
