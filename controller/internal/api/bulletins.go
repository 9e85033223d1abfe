package api

import (
	"net/http"

	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// The bulletins resource: one item of a programme, as the web form edits
// it, and the leader's approval or sending back of it.

func (a *API) listBulletins(w http.ResponseWriter, r *http.Request) error {
	f, _, err := a.programmeFile(r, false, "")
	if err != nil {
		return err
	}
	out, err := a.cfg.Schedules.Bulletins(f.Name)
	if err != nil {
		return a.programmeErr(f.Name, err)
	}
	if out == nil {
		out = []programme.Bulletin{}
	}
	w.Header().Set("ETag", `"`+f.Version+`"`)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putBulletin creates or changes one bulletin. The body's version (or
// If-Match) is the version of the bulletin the edit was made on, "" for a
// new one: a stale edit is refused (409) with what changed. A change to
// an approved bulletin waits for a leader while the approved version airs.
func (a *API) putBulletin(w http.ResponseWriter, r *http.Request) error {
	var b programme.Bulletin
	if err := readJSON(r, &b); err != nil {
		return err
	}
	id := r.PathValue("id")
	if b.ID == "" {
		b.ID = id
	}
	if b.ID != id {
		return errorf(http.StatusBadRequest, "the bulletin's id (%s) is not the one in the address (%s)", b.ID, id)
	}
	if err := nodeproto.CheckID("bulletin", id); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	f, area, err := a.programmeFile(r, true, "")
	if err != nil {
		return err
	}
	b.Version = ifMatch(r, b.Version)
	res, err := a.cfg.Schedules.PutBulletin(r.Context(), a.mediaEditor(r), f.Name, b)
	if err != nil {
		return a.programmeErr(f.Name, err)
	}
	action := "bulletin.create"
	if res.Existed {
		action = "bulletin.change"
	}
	a.audit(r, area, action, f.Name+"/"+id, res.Detail)
	w.Header().Set("ETag", `"`+res.Version+`"`)
	writeJSON(w, http.StatusOK, res.Bulletin)
	return nil
}

func (a *API) deleteBulletin(w http.ResponseWriter, r *http.Request) error {
	f, area, err := a.programmeFile(r, true, "")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := a.cfg.Schedules.DeleteBulletin(r.Context(), a.editor(r), f.Name, id, ifMatch(r, r.URL.Query().Get("version"))); err != nil {
		return a.programmeErr(f.Name, err)
	}
	a.audit(r, area, "bulletin.delete", f.Name+"/"+id, "")
	writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
	return nil
}

// review is the body of an approval or a sending back: the version the
// leader saw, and for sending back, what the officer should change.
type review struct {
	Version string `json:"version"`
	Comment string `json:"comment"`
}

func (a *API) readReview(r *http.Request) (review, error) {
	var req review
	if r.ContentLength != 0 {
		if err := readJSON(r, &req); err != nil {
			return req, err
		}
	}
	return req, nil
}

// approveBulletin is a leader's approval: the bulletin, or its waiting
// change, goes on air.
func (a *API) approveBulletin(w http.ResponseWriter, r *http.Request) error {
	if !principal(r).CanApprove() {
		return errorf(http.StatusForbidden, "only the commune's leader (or an administrator) approves bulletins")
	}
	req, err := a.readReview(r)
	if err != nil {
		return err
	}
	f, area, err := a.programmeFile(r, true, "")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	res, err := a.cfg.Schedules.Approve(r.Context(), a.editor(r), f.Name, id, req.Version)
	if err != nil {
		if _, ok := a.programmeErr(f.Name, err).(staleError); ok {
			return errorf(http.StatusConflict, "the bulletin was changed after you opened it: look at it again, then approve")
		}
		return a.programmeErr(f.Name, err)
	}
	a.audit(r, area, "bulletin.approve", f.Name+"/"+id, "")
	writeJSON(w, http.StatusOK, res.Bulletin)
	return nil
}

// sendBackBulletin is a leader's "Trả lại": back to the officer with a
// comment they see; what airs does not change.
func (a *API) sendBackBulletin(w http.ResponseWriter, r *http.Request) error {
	if !principal(r).CanApprove() {
		return errorf(http.StatusForbidden, "only the commune's leader (or an administrator) sends bulletins back")
	}
	req, err := a.readReview(r)
	if err != nil {
		return err
	}
	f, area, err := a.programmeFile(r, true, "")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	res, err := a.cfg.Schedules.SendBack(r.Context(), a.editor(r), f.Name, id, req.Version, req.Comment)
	if err != nil {
		return a.programmeErr(f.Name, err)
	}
	a.audit(r, area, "bulletin.return", f.Name+"/"+id, res.Detail)
	writeJSON(w, http.StatusOK, res.Bulletin)
	return nil
}
