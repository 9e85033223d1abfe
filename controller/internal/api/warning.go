package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/communeradio/radio/controller/internal/cap"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/warning"
)

// Emergency warnings: the HTTP face of the warning package. Who may send:
// administrators anywhere; provincial staff within their province (the
// province issues warnings in practice, so its otherwise read-only role may
// do this one thing); commune officers and leaders within their commune.
// No approval is needed (Circular 39/2020).

func (a *API) warningRoutes() {
	a.route("POST /api/v1/warnings", a.sendWarning)
	a.route("GET /api/v1/warnings", a.listWarnings)
	a.route("GET /api/v1/warnings/{id}", a.getWarning)
	a.route("POST /api/v1/warnings/{id}/cancel", a.cancelWarning)
	a.route("PUT /api/v1/areas/{id}/warning-settings", a.putWarningSettings)
	a.route("GET /api/v1/areas/warning-settings", a.listWarningSettings)
	a.route("POST /api/v1/cap", a.postCAP)
	a.route("GET /api/v1/cap/alerts", a.listCAPAlerts)
	a.public("GET /api/v1/cap/feed.atom", a.capFeed)
}

// sender is the caller as the warning package sees them, after checking
// that their role may send warnings at all.
func (a *API) sender(r *http.Request) (warning.Sender, error) {
	p := principal(r)
	switch p.Role {
	case registry.RoleAdmin, registry.RoleProvince, registry.RoleOfficer, registry.RoleLeader:
	default:
		return warning.Sender{}, errorf(http.StatusForbidden, "your role (%s) may not send warnings", p.Role)
	}
	if a.cfg.Warnings == nil {
		return warning.Sender{}, errorf(http.StatusServiceUnavailable, "warnings are not available on this controller")
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return warning.Sender{}, err
	}
	s := warning.Sender{Actor: actor(r), Remote: a.clientIP(r)}
	if !sc.all {
		s.May = sc.has
	}
	return s, nil
}

// warningErr maps the warning package's errors to answers a person can act on.
func warningErr(err error) error {
	var he *httpError
	switch {
	case err == nil, errors.As(err, &he):
		return err
	case errors.Is(err, warning.ErrOutOfArea):
		return &httpError{status: http.StatusForbidden, code: "out_of_area", msg: err.Error()}
	case errors.Is(err, warning.ErrDuplicate):
		return &httpError{status: http.StatusConflict, code: "duplicate", msg: err.Error()}
	case errors.Is(err, warning.ErrExpired):
		return &httpError{status: http.StatusUnprocessableEntity, code: "expired", msg: err.Error()}
	case errors.Is(err, warning.ErrUnknown):
		return &httpError{status: http.StatusUnprocessableEntity, code: "unknown_reference", msg: err.Error()}
	case errors.Is(err, cap.ErrSigned):
		return &httpError{status: http.StatusUnprocessableEntity, code: "signature", msg: err.Error() + ": send it unsigned over HTTPS with the sender's token"}
	case errors.Is(err, cap.ErrInvalid):
		return &httpError{status: http.StatusBadRequest, code: "invalid_cap", msg: err.Error()}
	case errors.Is(err, warning.ErrInvalid):
		return &httpError{status: http.StatusBadRequest, code: "invalid", msg: err.Error()}
	case errors.Is(err, warning.ErrNoAudio):
		return &httpError{status: http.StatusUnprocessableEntity, code: "no_audio", msg: err.Error()}
	case errors.Is(err, registry.ErrEnded):
		return &httpError{status: http.StatusConflict, code: "ended", msg: err.Error()}
	}
	return err
}

func (a *API) sendWarning(w http.ResponseWriter, r *http.Request) error {
	by, err := a.sender(r)
	if err != nil {
		return err
	}
	var req warning.Request
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Media != "" {
		if _, err := a.allowMedia(r, req.Media); err != nil {
			return err
		}
	}
	wr, err := a.cfg.Warnings.Send(r.Context(), req, by)
	if err != nil {
		return warningErr(err)
	}
	writeJSON(w, http.StatusAccepted, wr)
	return nil
}

func (a *API) listWarnings(w http.ResponseWriter, r *http.Request) error {
	by, err := a.sender(r)
	if err != nil {
		return err
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	out, err := a.cfg.Warnings.List(r.Context(), limit, by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getWarning(w http.ResponseWriter, r *http.Request) error {
	by, err := a.sender(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := a.cfg.Warnings.Visible(r.Context(), id, by); err != nil {
		return warningErr(err)
	}
	p, err := a.cfg.Warnings.Progress(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) cancelWarning(w http.ResponseWriter, r *http.Request) error {
	by, err := a.sender(r)
	if err != nil {
		return err
	}
	wr, err := a.cfg.Warnings.Cancel(r.Context(), r.PathValue("id"), by)
	if err != nil {
		return warningErr(err)
	}
	writeJSON(w, http.StatusOK, wr)
	return nil
}

// putWarningSettings sets an area's administrative unit code and drills
// (administrators only: codes decide where CAP alerts play).
func (a *API) putWarningSettings(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req struct {
		Code   *string `json:"code"`
		Drills *bool   `json:"drills"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := a.cfg.Registry.GetArea(r.Context(), id); err != nil {
		return err
	}
	if req.Code != nil {
		if err := a.cfg.Registry.SetAreaCode(r.Context(), id, *req.Code); err != nil {
			return err
		}
		a.audit(r, id, "area.code", id, *req.Code)
	}
	if req.Drills != nil {
		if err := a.cfg.Registry.SetAreaDrills(r.Context(), id, *req.Drills); err != nil {
			return err
		}
		a.audit(r, id, "area.drills", id, strconv.FormatBool(*req.Drills))
	}
	set, err := a.cfg.Registry.AreaSettingsAll(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set[id])
	return nil
}

func (a *API) listWarningSettings(w http.ResponseWriter, r *http.Request) error {
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	set, err := a.cfg.Registry.AreaSettingsAll(r.Context())
	if err != nil {
		return err
	}
	out := []registry.AreaSettings{}
	for _, s := range set {
		if sc.has(s.ID) {
			out = append(out, s)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
