package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// The programmes (schedules) resource: whole .radio files, as radioctl and
// scripts read and write them. The rules are the programme package's; this
// file checks who asks and turns answers into HTTP.

// Bulletin and Approval are the programme package's, as the API sends them.
type (
	Bulletin = programme.Bulletin
	Approval = programme.Approval
)

// editor is the caller as the programme package needs them.
func (a *API) editor(r *http.Request) programme.Actor {
	p := principal(r)
	name := p.Name
	if name == "" {
		name = p.Username
	}
	return programme.Actor{ID: p.Actor(), Name: name, CanApprove: p.CanApprove(),
		MayUseMedia: func(context.Context, string) error { return nil },
		MayChangeStation: func(_ context.Context, st string) error {
			_, err := a.allowStation(r, st, true)
			return err
		}}
}

// mediaEditor is editor that may schedule only its own area's recordings.
func (a *API) mediaEditor(r *http.Request) programme.Actor {
	e := a.editor(r)
	e.MayUseMedia = func(_ context.Context, sha string) error {
		_, err := a.allowMedia(r, sha)
		return err
	}
	return e
}

// scheduleErrors is a 400 with the list of mistakes, for the form.
type scheduleErrors struct{ msgs []string }

func (e *scheduleErrors) Error() string { return strings.Join(e.msgs, "; ") }

// staleError is a 409: the edit was made on an older version.
type staleError struct{ *programme.Stale }

// programmeErr turns the programme package's answers into messages an
// officer can act on, naming the file as they know it.
func (a *API) programmeErr(name string, err error) error {
	path := a.cfg.Schedules.Path(name)
	fix := func(m string) string {
		m = strings.ReplaceAll(m, path, name+schedule.Ext)
		if strings.Contains(m, "not found (looked for") {
			m += "; through the API, upload the recording first (radioctl media upload) and write: source media <its sha256>"
		}
		return m
	}
	var list schedule.ErrorList
	var pe *programme.Errors
	var st *programme.Stale
	switch {
	case errors.As(err, &list):
		msgs := make([]string, len(list))
		for i, e := range list {
			msgs[i] = fix(e.Error())
		}
		return &scheduleErrors{msgs: msgs}
	case errors.As(err, &pe):
		msgs := make([]string, len(pe.Msgs))
		for i, m := range pe.Msgs {
			msgs[i] = fix(m)
		}
		return &scheduleErrors{msgs: msgs}
	case errors.As(err, &st):
		return staleError{st}
	case errors.Is(err, programme.ErrNotFound):
		return &httpError{status: http.StatusNotFound, msg: strings.TrimPrefix(err.Error(), programme.ErrNotFound.Error()+": ")}
	case errors.Is(err, programme.ErrForbidden):
		return &httpError{status: http.StatusForbidden, msg: strings.TrimPrefix(err.Error(), programme.ErrForbidden.Error()+": ")}
	}
	return err
}

// programmeFile reads the programme of the request and checks the caller
// may see (or, with write, change) its station. A programme that does not
// exist yet belongs to the station newStation, or else to the station of
// the same id.
func (a *API) programmeFile(r *http.Request, write bool, newStation string) (programme.File, string, error) {
	name := r.PathValue("name")
	if msg := programme.CheckName(name); msg != "" {
		return programme.File{}, "", errorf(http.StatusBadRequest, "%s", msg)
	}
	f, err := a.cfg.Schedules.Read(name)
	if err != nil {
		return f, "", a.programmeErr(name, err)
	}
	station := f.Station
	if !f.Exists {
		station = name
		if newStation != "" {
			station = newStation
		}
	}
	if station == "" {
		return f, "", errorf(http.StatusConflict, "schedule %s names no station: fix its station line", name)
	}
	area, err := a.allowStation(r, station, write)
	if errors.Is(err, registry.ErrNotFound) && !f.Exists {
		return f, "", errorf(http.StatusNotFound, "no schedule %s, and no station of that id to make one for", name)
	}
	if !f.Exists {
		f.Station = station
	}
	return f, area, err
}

// schedulesInScope returns the loaded schedules of the stations the caller
// may see, by name.
func (a *API) schedulesInScope(r *http.Request) (map[string]*schedule.Schedule, error) {
	stations, err := a.stationsInScope(r)
	if err != nil {
		return nil, err
	}
	out := map[string]*schedule.Schedule{}
	for name, sc := range a.cfg.Schedules.Scheduler.Schedules() {
		if _, ok := stations[sc.Station]; ok {
			out[name] = sc
		}
	}
	return out, nil
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request) error {
	type row struct {
		Name    string `json:"name"`
		Station string `json:"station"`
		Items   int    `json:"items"`
		Drafts  int    `json:"drafts"`
	}
	schedules, err := a.schedulesInScope(r)
	if err != nil {
		return err
	}
	out := []row{}
	for name, sc := range schedules {
		drafts := 0
		for _, it := range sc.Items {
			if !it.Approved {
				drafts++
			}
		}
		out = append(out, row{name, sc.Station, len(sc.Items), drafts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getSchedule sends the file as it is, its version in the ETag: a put
// that changes it names that version (If-Match).
func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) error {
	f, _, err := a.programmeFile(r, false, "")
	if err != nil {
		return err
	}
	if !f.Exists {
		return errorf(http.StatusNotFound, "no such schedule")
	}
	w.Header().Set("ETag", `"`+f.Version+`"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(f.Src)
	return nil
}

// ifMatch is the version an edit names: the If-Match header, or else the
// given field.
func ifMatch(r *http.Request, field string) string {
	if v := strings.Trim(strings.TrimPrefix(r.Header.Get("If-Match"), "W/"), `"`); v != "" {
		return v
	}
	return field
}

// putSchedule saves a whole schedule file after checking it; every mistake
// comes back with its line so the officer can fix them all at once. It
// replaces an existing programme only when it names the version it
// replaces (If-Match, from GET; ?force=true replaces whatever is there and
// says so in the audit log). Only a leader (or an administrator) may
// approve: an officer's new bulletins are saved as drafts, and their
// changes to approved ones wait beside them; the answer lists both.
func (a *API) putSchedule(w http.ResponseWriter, r *http.Request) error {
	src, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return err
	}
	if len(src) > 1<<20 {
		return errorf(http.StatusRequestEntityTooLarge, "a schedule file is at most 1 MB")
	}
	f, area, err := a.programmeFile(r, true, programme.StationOf(src))
	if err != nil {
		return err
	}
	if st := programme.StationOf(src); !f.Exists && st != "" && st != f.Name && principal(r).Role != registry.RoleAdmin {
		// The web app finds a station's programme by the station's id: a
		// file named after another station would take that name from it.
		return errorf(http.StatusBadRequest, "name a new programme after its station: PUT /api/v1/schedules/%s", st)
	}
	if st := programme.StationOf(src); st != "" && st != f.Station {
		if area, err = a.allowStation(r, st, true); err != nil {
			return err
		}
	}
	force := r.URL.Query().Get("force") == "true"
	res, err := a.cfg.Schedules.PutFile(r.Context(), a.mediaEditor(r), f.Name, src, ifMatch(r, ""), force)
	if err != nil {
		return a.programmeErr(f.Name, err)
	}
	a.audit(r, area, "schedule.save", f.Name, res.Detail)
	resp := map[string]any{"name": res.Name, "station": res.Station, "items": res.Items, "version": res.Version}
	if len(res.Drafts) > 0 {
		resp["drafts"] = res.Drafts
		resp["note"] = "new or changed bulletins are drafts until the commune's leader approves them"
	}
	if len(res.Waiting) > 0 {
		resp["waiting"] = res.Waiting
		resp["note"] = "new bulletins are drafts, and changes to approved bulletins wait, until the commune's leader approves them; the approved versions air meanwhile"
	}
	w.Header().Set("ETag", `"`+res.Version+`"`)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	f, area, err := a.programmeFile(r, true, "")
	if err != nil {
		return err
	}
	if !f.Exists {
		return errorf(http.StatusNotFound, "no such schedule")
	}
	if v := ifMatch(r, ""); v != "" && v != f.Version {
		return staleError{&programme.Stale{Name: f.Name, Version: f.Version}}
	}
	if err := a.cfg.Schedules.Delete(f.Name); err != nil {
		return a.programmeErr(f.Name, err)
	}
	a.audit(r, area, "schedule.delete", f.Name, "")
	writeJSON(w, http.StatusOK, map[string]string{"deleted": f.Name})
	return nil
}

func (e staleError) Error() string { return e.Stale.Error() }

// staleBody is the 409 answer: what changed, for the person to look again.
func staleBody(e staleError) map[string]any {
	changes := e.Changes
	if changes == nil {
		changes = []programme.Change{}
	}
	return map[string]any{"version": e.Version, "changes": changes, "missing_version": e.Missing}
}
