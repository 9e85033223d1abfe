package api

import (
	"errors"
	"net/http"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/release"
)

// Node releases and rollouts (administrators only: a release runs as the
// node's own code on every box it reaches).
func (a *API) releaseRoutes() {
	a.route("GET /api/v1/releases", a.listReleases)
	a.route("POST /api/v1/releases", a.addRelease)
	a.route("GET /api/v1/rollouts", a.listRollouts)
	a.route("POST /api/v1/rollouts", a.startRollout)
	a.route("GET /api/v1/rollouts/{id}", a.getRollout)
	a.route("POST /api/v1/rollouts/{id}/stop", a.stopRollout)
}

func (a *API) releasesReady(r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	if a.cfg.Releases == nil {
		return errorf(http.StatusServiceUnavailable, "this controller keeps no node releases")
	}
	return nil
}

func releaseErr(err error) error {
	switch {
	case errors.Is(err, release.ErrInvalid):
		return errorf(http.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, release.ErrNotRunning):
		return errorf(http.StatusConflict, "%s", err.Error())
	case errors.Is(err, release.ErrBusy):
		return &httpError{status: http.StatusConflict, code: "rollout_running", msg: err.Error()}
	case errors.Is(err, registry.ErrExists):
		return errorf(http.StatusConflict, "%s: give the new build a new version", err.Error())
	}
	return err
}

// addRelease stores the request body (the node binary) as release
// ?version=&arch= and signs its manifest with the update key.
func (a *API) addRelease(w http.ResponseWriter, r *http.Request) error {
	if err := a.releasesReady(r); err != nil {
		return err
	}
	q := r.URL.Query()
	body := http.MaxBytesReader(w, r.Body, release.MaxSize+1)
	rel, err := a.cfg.Releases.Add(r.Context(), body, q.Get("version"), q.Get("arch"), actor(r))
	if err != nil {
		return releaseErr(err)
	}
	a.audit(r, "", "release.add", rel.Version+"/"+rel.Arch, rel.SHA256)
	writeJSON(w, http.StatusCreated, rel)
	return nil
}

func (a *API) listReleases(w http.ResponseWriter, r *http.Request) error {
	if err := a.releasesReady(r); err != nil {
		return err
	}
	rels, err := a.cfg.Registry.ListReleases(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"update_key": a.cfg.Releases.Key(), "releases": rels})
	return nil
}

func (a *API) startRollout(w http.ResponseWriter, r *http.Request) error {
	if err := a.releasesReady(r); err != nil {
		return err
	}
	var req release.Request
	if err := readJSON(r, &req); err != nil {
		return err
	}
	ro, err := a.cfg.Releases.Start(r.Context(), req, actor(r))
	if err != nil {
		return releaseErr(err)
	}
	a.audit(r, "", "rollout.start", ro.ID, ro.Version)
	writeJSON(w, http.StatusCreated, rolloutView(ro))
	return nil
}

func (a *API) listRollouts(w http.ResponseWriter, r *http.Request) error {
	if err := a.releasesReady(r); err != nil {
		return err
	}
	rs, err := a.cfg.Registry.ListRollouts(r.Context(), "")
	if err != nil {
		return err
	}
	out := []RolloutView{}
	for _, ro := range rs {
		out = append(out, rolloutView(ro))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getRollout(w http.ResponseWriter, r *http.Request) error {
	if err := a.releasesReady(r); err != nil {
		return err
	}
	ro, err := a.cfg.Registry.GetRollout(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rolloutView(ro))
	return nil
}

func (a *API) stopRollout(w http.ResponseWriter, r *http.Request) error {
	if err := a.releasesReady(r); err != nil {
		return err
	}
	ro, err := a.cfg.Releases.Stop(r.Context(), r.PathValue("id"), actor(r))
	if err != nil {
		return releaseErr(err)
	}
	a.audit(r, "", "rollout.stop", ro.ID, ro.Version)
	writeJSON(w, http.StatusOK, rolloutView(ro))
	return nil
}

// RolloutView is a rollout with its counts.
type RolloutView struct {
	registry.Rollout
	Targeted int `json:"targeted"`
	Updated  int `json:"updated"`
	Failed   int `json:"failed"`
	Sent     int `json:"sent"`    // updating now
	Pending  int `json:"pending"` // not sent yet
}

func rolloutView(ro registry.Rollout) RolloutView {
	v := RolloutView{Rollout: ro, Targeted: len(ro.Nodes)}
	for _, n := range ro.Nodes {
		switch n.Status {
		case registry.RolloutUpdated:
			v.Updated++
		case registry.RolloutFailed:
			v.Failed++
		case registry.RolloutSent:
			v.Sent++
		default:
			v.Pending++
		}
	}
	return v
}
