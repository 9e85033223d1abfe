package api

// Managing the commune's radio from the web app, not only with radioctl:
// renaming areas, stations, zones and speaker clusters, and moving a cluster
// between zones. An administrator does it anywhere; an officer or leader
// for the stations of their commune (and only areas are the
// administrator's alone: a commune does not rename itself). Ids never
// change: programmes, records and the boxes themselves name them.

import (
	"context"
	"net/http"
	"strings"

	"github.com/communeradio/radio/controller/internal/registry"
)

func (a *API) adminRoutes() {
	a.route("PATCH /api/v1/areas/{id}", a.patchArea)
	a.route("PATCH /api/v1/stations/{id}", a.patchStation)
	a.route("PATCH /api/v1/zones/{id}", a.patchZone)
	a.route("PATCH /api/v1/nodes/{id}", a.patchNode)
}

// renamed is one rename: who may do it (returning the area, for the audit
// log), the change, and the record to answer with.
type renamed struct {
	kind   string
	allow  func(r *http.Request, id string) (string, error)
	rename func(ctx context.Context, id, name string) error
	get    func(ctx context.Context, id string) (any, error)
}

func (a *API) rename(w http.ResponseWriter, r *http.Request, op renamed) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	area, err := op.allow(r, id)
	if err != nil {
		return err
	}
	if err := op.rename(r.Context(), id, req.Name); err != nil {
		return err
	}
	a.audit(r, area, op.kind+".rename", id, req.Name)
	v, err := op.get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) patchArea(w http.ResponseWriter, r *http.Request) error {
	reg := a.cfg.Registry
	return a.rename(w, r, renamed{kind: "area",
		allow:  func(r *http.Request, id string) (string, error) { return id, requireAdmin(r) },
		rename: reg.RenameArea,
		get:    func(ctx context.Context, id string) (any, error) { return reg.GetArea(ctx, id) }})
}

func (a *API) patchStation(w http.ResponseWriter, r *http.Request) error {
	reg := a.cfg.Registry
	return a.rename(w, r, renamed{kind: "station",
		allow:  func(r *http.Request, id string) (string, error) { return a.allowStation(r, id, true) },
		rename: reg.RenameStation,
		get:    func(ctx context.Context, id string) (any, error) { return reg.GetStation(ctx, id) }})
}

func (a *API) patchZone(w http.ResponseWriter, r *http.Request) error {
	reg := a.cfg.Registry
	return a.rename(w, r, renamed{kind: "zone",
		allow:  func(r *http.Request, id string) (string, error) { return a.allowZone(r, id, true) },
		rename: reg.RenameZone,
		get:    func(ctx context.Context, id string) (any, error) { return reg.GetZone(ctx, id) }})
}

// NodePatch changes a cluster: its name, and/or the zones it is in (all
// zones of its station; [] takes it out of every zone).
type NodePatch struct {
	Name  *string   `json:"name,omitempty"`
	Zones *[]string `json:"zones,omitempty"`
}

func (a *API) patchNode(w http.ResponseWriter, r *http.Request) error {
	var req NodePatch
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Zones == nil {
		return errorf(http.StatusBadRequest, "nothing to change: give name and/or zones")
	}
	id := r.PathValue("id")
	area, err := a.allowNode(r, id, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if req.Name != nil {
		if err := a.cfg.Registry.RenameNode(ctx, id, *req.Name); err != nil {
			return err
		}
		a.audit(r, area, "node.rename", id, *req.Name)
	}
	if req.Zones != nil {
		old, err := a.cfg.Registry.SetNodeZones(ctx, id, *req.Zones)
		if err != nil {
			return err
		}
		// The broker's zone ACL, then the node's desired state: it must
		// subscribe to its new zones' topics and leave the old ones'.
		a.credentialsChanged(ctx)
		if err := a.publishDesired(ctx, id); err != nil {
			return err
		}
		a.audit(r, area, "node.zones", id, strings.Join(old, ",")+" -> "+strings.Join(*req.Zones, ","))
	}
	n, err := a.cfg.Registry.GetNode(ctx, id)
	if err != nil {
		return err
	}
	v, err := a.nodeViews(ctx, []registry.Node{n})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v[0])
	return nil
}

// allowArea checks that the caller may change things in an area: an
// administrator anywhere, an officer or leader in their commune.
func (a *API) allowArea(r *http.Request, area string) error {
	if err := requireChange(r); err != nil {
		return err
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	if !sc.has(area) {
		return forbidden("area " + area)
	}
	return nil
}
