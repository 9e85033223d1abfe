package api

import (
	"net/http"
	"strings"

	"github.com/communeradio/radio/controller/internal/registry"
)

// API tokens for scripts. A user makes tokens for themselves, with their
// own role and area (a script can do no more than its owner); an
// administrator may make one with any role and area. The secret is shown
// once; only its hash is kept.

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	v, err := a.cfg.Registry.ListTokens(r.Context(), p.Actor(), p.Role == registry.RoleAdmin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   string `json:"name"`
		Role   string `json:"role,omitempty"`
		AreaID string `json:"area_id,omitempty"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	p := principal(r)
	if p.Kind == "token" && p.Role != registry.RoleAdmin {
		// A token made by a token would outlive the user behind it.
		return errorf(http.StatusForbidden, "log in to the web app to make a token; a script's token cannot make others")
	}
	if strings.TrimSpace(req.Name) == "" {
		return errorf(http.StatusBadRequest, "give the token a name that says what uses it, e.g. \"backup script\"")
	}
	role, area := p.Role, p.AreaID
	if req.Role != "" || req.AreaID != "" {
		if p.Role != registry.RoleAdmin {
			if req.Role != p.Role || req.AreaID != p.AreaID {
				return errorf(http.StatusForbidden, "a token gets your own role and area (%s, %q); only an administrator makes others", p.Role, p.AreaID)
			}
		}
		role, area = req.Role, req.AreaID
	}
	if err := a.cfg.Registry.CheckRoleArea(r.Context(), role, area); err != nil {
		return err
	}
	b := randomSecret(24)
	secret := "rt_" + b
	t := registry.Token{ID: "t-" + randomSecret(6), Name: strings.TrimSpace(req.Name), Role: role, AreaID: area,
		CreatedAt: a.now(), CreatedBy: p.Actor()}
	if err := a.cfg.Registry.CreateToken(r.Context(), t, HashToken(secret)); err != nil {
		return err
	}
	a.audit(r, area, "token.create", t.ID, t.Name+" ("+role+")")
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret,
		"note": "this is the only time the secret is shown: store it where the script can read it (radioctl: RADIO_TOKEN)"})
	return nil
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	t, err := a.cfg.Registry.GetToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if p.Role != registry.RoleAdmin && t.CreatedBy != p.Actor() {
		return errorf(http.StatusForbidden, "you may revoke only the tokens you made")
	}
	if err := a.cfg.Registry.DeleteToken(r.Context(), t.ID); err != nil {
		return err
	}
	a.audit(r, t.AreaID, "token.revoke", t.ID, t.Name)
	writeJSON(w, http.StatusOK, map[string]string{"revoked": t.ID})
	return nil
}
