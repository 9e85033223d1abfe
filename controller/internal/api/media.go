package api

// The media library over HTTP: upload (with the progress of the server's
// work streamed back on request), list, listen, rename and delete. A
// recording is stored once, content-addressed; each commune has it in its
// library under its own name (media_areas). Deleting refuses while a
// programme of the caller's communes or a command not yet expired needs
// the recording, and names what does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

func (a *API) mediaRoutes() {
	a.route("GET /api/v1/media", a.listMedia)
	a.route("POST /api/v1/media", a.uploadMedia)
	a.route("GET /api/v1/media/limits", a.mediaLimits)
	a.route("GET /api/v1/media/{sha}", a.getMedia)
	a.route("PATCH /api/v1/media/{sha}", a.renameMedia)
	a.route("DELETE /api/v1/media/{sha}", a.deleteMedia)
	a.route("GET /api/v1/media/{sha}/uses", a.mediaUsesOf)
	a.route("GET /api/v1/media/{sha}/audio", a.mediaAudio)
}

func (a *API) listMedia(w http.ResponseWriter, r *http.Request) error {
	all, err := a.cfg.Registry.ListMedia(r.Context())
	if err != nil {
		return err
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	if sc.all {
		writeJSON(w, http.StatusOK, all)
		return nil
	}
	links, err := a.cfg.Registry.MediaLinks(r.Context())
	if err != nil {
		return err
	}
	v := []registry.Media{}
	for _, m := range all {
		// Each area sees its own upload of it: who, when, under what name
		// (another commune's officer who uploaded the same file first
		// stays theirs).
		i := slices.IndexFunc(links[m.SHA256], func(l registry.MediaLink) bool { return sc.has(l.Area) })
		if i < 0 {
			continue
		}
		v = append(v, ownView(m, links[m.SHA256][i]))
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// ownView is a recording as one area's library has it.
func ownView(m registry.Media, l registry.MediaLink) registry.Media {
	if l.CreatedBy != "" {
		m.CreatedBy, m.CreatedAt = l.CreatedBy, l.CreatedAt
	}
	if l.Name != "" {
		m.Name = l.Name
	}
	return m
}

// MediaLimits are what an upload may be, for the form to state and check
// before sending, and the loudness every upload is brought to.
type MediaLimits struct {
	MaxUploadBytes int64   `json:"max_upload_bytes"`
	MaxDurationS   int64   `json:"max_duration_s"`
	MaxNameChars   int     `json:"max_name_chars"`
	TargetLUFS     float64 `json:"target_lufs"`
	TargetTP       float64 `json:"target_tp"`
	TargetLRA      float64 `json:"target_lra"`
}

func (a *API) mediaLimits(w http.ResponseWriter, r *http.Request) error {
	size, dur := a.cfg.Media.Limits()
	writeJSON(w, http.StatusOK, MediaLimits{MaxUploadBytes: size, MaxDurationS: int64(dur / time.Second), MaxNameChars: registry.MaxMediaName,
		TargetLUFS: media.TargetLUFS, TargetTP: media.TargetTP, TargetLRA: media.TargetLRA})
	return nil
}

// uploadMedia accepts a multipart form (field "file") or a raw body with
// ?name=; it is normalised and transcoded once to the delivery format.
// ?area= puts it in a commune's library (an administrator uploading for a
// commune). With ?progress=1 the answer streams JSON lines: progress
// ({"progress":{"stage":"measure","done":0.4}}) while the server works,
// then the answer ({"status":201,"body":{...}}); see progressWriter.
func (a *API) uploadMedia(w http.ResponseWriter, r *http.Request) error {
	if err := requireChange(r); err != nil {
		return err
	}
	area := principal(r).AreaID
	if q := r.URL.Query().Get("area"); q != "" { // an admin uploading for a commune
		sc, err := a.reqScope(r)
		if err != nil {
			return err
		}
		if !sc.has(q) {
			return forbidden("area " + q)
		}
		area = q
	}
	body, name := io.Reader(r.Body), r.URL.Query().Get("name")
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return errorf(http.StatusBadRequest, "bad multipart upload: %v", err)
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				return errorf(http.StatusBadRequest, "the upload has no 'file' field")
			}
			if p.FormName() == "file" {
				body = p
				if name == "" {
					name = p.FileName()
				}
				break
			}
		}
	}
	if name == "" {
		name = "upload"
	}
	name, err := registry.CheckMediaName(name)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("progress") != "1" {
		return a.ingest(w, r, body, name, area, nil)
	}
	pw := &progressWriter{w: w}
	err = a.ingest(pw, r, body, name, area, pw.progress)
	if err != nil && pw.started {
		// The status line is out: the error goes in the last line.
		a.cfg.Logger.Info("upload refused", "name", name, "err", err)
		pw.fail(err)
		return nil
	}
	return err
}

// ingest normalises, transcodes and stores an upload, and answers with it.
func (a *API) ingest(w http.ResponseWriter, r *http.Request, body io.Reader, name, area string, progress media.Progress) error {
	info, err := a.cfg.Media.IngestProgress(r.Context(), body, name, progress)
	if err != nil {
		return mediaErr(err)
	}
	m := registry.Media{SHA256: info.SHA256, Name: name, SourceFormat: info.SourceFormat, Size: info.Size,
		DurationMS: info.DurationMS, CreatedAt: a.now(), CreatedBy: actor(r)}
	if err := a.cfg.Registry.PutMedia(r.Context(), m); err != nil {
		return err
	}
	if area != "" {
		if err := a.cfg.Registry.LinkMedia(r.Context(), m.SHA256, area, actor(r), m.CreatedAt); err != nil {
			return err
		}
		if err := a.cfg.Registry.NameMedia(r.Context(), m.SHA256, area, name); err != nil {
			return err
		}
	}
	a.audit(r, area, "media.upload", m.SHA256, name)
	writeJSON(w, http.StatusCreated, uploaded{Media: m, InputLUFS: info.InputLUFS, TargetLUFS: media.TargetLUFS})
	return nil
}

// uploaded is the answer to an upload: the recording, and the loudness it
// had and was brought to.
type uploaded struct {
	registry.Media
	InputLUFS  float64 `json:"input_lufs,omitempty"`
	TargetLUFS float64 `json:"target_lufs"`
}

// mediaErr gives each refused upload its own code, so the web app tells
// an empty file from one that is not audio.
func mediaErr(err error) error {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{media.ErrEmpty, http.StatusUnprocessableEntity, "empty"},
		{media.ErrNotAudio, http.StatusUnprocessableEntity, "not_audio"},
		{media.ErrCorrupt, http.StatusUnprocessableEntity, "corrupt"},
		{media.ErrTooLong, http.StatusUnprocessableEntity, "too_long"},
		{media.ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	} {
		if errors.Is(err, c.err) {
			return &httpError{status: c.status, code: c.code, msg: err.Error()}
		}
	}
	return err
}

// progressWriter streams an ingest's progress as JSON lines, then the
// handler's answer (or the error adapter's) as one last line
// {"status":N,"body":...}: once the first line is out, the HTTP status is
// 200 and can no longer say how it ended. Until then it is the plain
// response writer, so a refusal before the work starts is an ordinary
// error answer.
type progressWriter struct {
	w       http.ResponseWriter
	started bool
	status  int
	stage   string
	done    float64
}

func (p *progressWriter) progress(stage string, done float64) {
	// A line per 2 % is plenty for a progress bar, and bounded.
	if p.started && stage == p.stage && done >= 0 && done < 1 && done-p.done < 0.02 {
		return
	}
	p.stage, p.done = stage, done
	if !p.started {
		p.started = true
		p.w.Header().Set("Content-Type", "application/x-ndjson")
		p.w.Header().Set("X-Content-Type-Options", "nosniff")
		p.w.WriteHeader(http.StatusOK)
	}
	b, _ := json.Marshal(map[string]any{"progress": map[string]any{"stage": stage, "done": done}})
	p.w.Write(append(b, '\n'))
	http.NewResponseController(p.w).Flush()
}

// fail ends a started stream with an error as the error adapter would
// answer it: a refused upload's status, code and message; anything else
// an internal error.
func (p *progressWriter) fail(err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusInternalServerError, code: "internal", msg: "internal error: " + err.Error()}
	}
	code := he.code
	if code == "" {
		code = statusCodes[he.status]
	}
	writeJSON(p, he.status, map[string]any{"error": he.msg, "code": code})
}

func (p *progressWriter) Header() http.Header { return p.w.Header() }

func (p *progressWriter) WriteHeader(status int) {
	if !p.started {
		p.w.WriteHeader(status)
		return
	}
	p.status = status
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if !p.started {
		return p.w.Write(b)
	}
	var body bytes.Buffer
	if json.Compact(&body, b) != nil {
		body.Reset()
		j, _ := json.Marshal(string(b))
		body.Write(j)
	}
	line := fmt.Sprintf(`{"status":%d,"body":%s}`+"\n", p.status, body.Bytes())
	if _, err := io.WriteString(p.w, line); err != nil {
		return 0, err
	}
	return len(b), nil
}

// ownMedia is the recording the request names, and its place in the
// caller's library (zero for an administrator); not found when the caller
// has no such recording.
func (a *API) ownMedia(r *http.Request) (registry.Media, registry.MediaLink, error) {
	m, err := a.cfg.Registry.GetMedia(r.Context(), r.PathValue("sha"))
	if err != nil {
		return m, registry.MediaLink{}, err
	}
	l, err := a.allowMedia(r, m.SHA256)
	return m, l, err
}

func (a *API) getMedia(w http.ResponseWriter, r *http.Request) error {
	m, l, err := a.ownMedia(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ownView(m, l))
	return nil
}

func (a *API) mediaAudio(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.allowMedia(r, r.PathValue("sha")); err != nil {
		return err
	}
	p, err := a.cfg.Media.Path(r.PathValue("sha"))
	if err != nil {
		return errorf(http.StatusNotFound, "no such media")
	}
	w.Header().Set("Content-Type", "audio/ogg")
	http.ServeFile(w, r, p)
	return nil
}

// renameMedia renames a recording in the caller's library (an
// administrator: the recording's own name, which libraries without a name
// of their own show).
func (a *API) renameMedia(w http.ResponseWriter, r *http.Request) error {
	if err := requireChange(r); err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	m, l, err := a.ownMedia(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.RenameMedia(r.Context(), m.SHA256, l.Area, req.Name); err != nil {
		return err
	}
	name, _ := registry.CheckMediaName(req.Name)
	old := ownView(m, l).Name
	a.audit(r, l.Area, "media.rename", m.SHA256, old+" → "+name)
	l.Name = name
	if l.Area == "" {
		m.Name = name
	}
	writeJSON(w, http.StatusOK, ownView(m, l))
	return nil
}

// MediaUse is something that needs a recording: a bulletin of a
// programme, or a command that has not expired yet.
type MediaUse struct {
	Kind        string    `json:"kind"`           // "bulletin", "programme" (a file that does not load), "warning" (active) or "command"
	Area        string    `json:"area,omitempty"` // the area it belongs to
	Schedule    string    `json:"schedule,omitempty"`
	Station     string    `json:"station,omitempty"`
	StationName string    `json:"station_name,omitempty"`
	Bulletin    string    `json:"bulletin,omitempty"`
	Title       string    `json:"title,omitempty"`
	Command     string    `json:"command,omitempty"`
	Warning     string    `json:"warning,omitempty"`
	Target      string    `json:"target,omitempty"`
	TargetName  string    `json:"target_name,omitempty"`
	PlayAt      time.Time `json:"play_at,omitzero"`
	Expires     time.Time `json:"expires,omitzero"`
}

func (u MediaUse) String() string {
	if u.Kind == "warning" {
		return fmt.Sprintf("the emergency warning %q (active until %s)", orID(u.Title, u.Warning), u.Expires.In(schedule.Zone).Format("15:04 02/01/2006"))
	}
	if u.Kind == "command" {
		return fmt.Sprintf("the command %s to %s (until %s)", u.Command, orID(u.TargetName, u.Target), u.Expires.In(schedule.Zone).Format("15:04 02/01/2006"))
	}
	if u.Bulletin == "" {
		return fmt.Sprintf("the programme %s of %s", u.Schedule, orID(u.StationName, u.Station))
	}
	return fmt.Sprintf("the bulletin %q of the programme of %s", orID(u.Title, u.Bulletin), orID(u.StationName, u.Station))
}

func orID(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// mediaInUse refuses a delete: the uses are in the answer for the web app
// to name in the officer's language.
type mediaInUse struct {
	uses []MediaUse
}

func (e *mediaInUse) Error() string {
	s := make([]string, len(e.uses))
	for i, u := range e.uses {
		s[i] = u.String()
	}
	return "the recording is still needed by " + strings.Join(s, "; ") + ": take it out of those first, or wait until the command has expired"
}

// mediaUses lists what needs recording sha, everywhere.
func (a *API) mediaUses(ctx context.Context, sha string) ([]MediaUse, error) {
	var out []MediaUse
	stations := map[string]registry.Station{}
	station := func(id string) registry.Station {
		if st, ok := stations[id]; ok {
			return st
		}
		st, _ := a.cfg.Registry.GetStation(ctx, id)
		stations[id] = st
		return st
	}
	loaded := map[string]bool{}
	if s := a.cfg.Schedules; s != nil && s.Scheduler != nil {
		for name, sc := range s.Scheduler.Schedules() {
			loaded[name] = true
			for _, it := range sc.Items {
				if it.Source.Media == sha {
					st := station(sc.Station)
					out = append(out, MediaUse{Kind: "bulletin", Area: st.AreaID, Schedule: name, Station: sc.Station, StationName: st.Name,
						Bulletin: it.ID, Title: it.Title})
				}
			}
		}
	}
	if s := a.cfg.Schedules; s != nil && s.Dir != "" {
		// A programme that does not load today (broken, or being written)
		// still keeps what it names, as the retention sweep does.
		files, _ := filepath.Glob(filepath.Join(s.Dir, "*"+schedule.Ext))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), schedule.Ext)
			if loaded[name] {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("programme %s: %w", name, err)
			}
			if bytes.Contains(b, []byte(sha)) {
				st := station(programme.StationOf(b))
				out = append(out, MediaUse{Kind: "programme", Area: st.AreaID, Schedule: name, Station: st.ID, StationName: st.Name})
			}
		}
	}
	// An active warning is named once per commune it reaches, not as its
	// play command to each node; it keeps its recording until it ends,
	// even past its commands' life.
	ws, err := a.cfg.Registry.ListWarnings(ctx, 1000, registry.WarningActive)
	if err != nil {
		return nil, err
	}
	warned := map[string]bool{} // command ids of those warnings
	for _, w := range ws {
		if w.Media != sha {
			continue
		}
		if w, err = a.cfg.Registry.GetWarning(ctx, w.ID); err != nil {
			return nil, err
		}
		areas := map[string]bool{}
		for _, t := range w.Targets {
			warned[t.Command] = true
			if !areas[t.Area] {
				areas[t.Area] = true
				out = append(out, MediaUse{Kind: "warning", Area: t.Area, Warning: w.ID, Title: w.Title, Expires: w.ExpiresAt})
			}
		}
	}
	cmds, err := a.cfg.Registry.CommandsSince(ctx, a.now())
	if err != nil {
		return nil, err
	}
	for _, c := range cmds {
		if c.Media != sha || warned[c.ID] {
			continue
		}
		u := MediaUse{Kind: "command", Command: c.ID, Target: c.Target, PlayAt: c.PlayAt, Expires: c.ExpiresAt}
		kind, id, _ := strings.Cut(c.Target, ":")
		switch kind {
		case "node":
			if n, err := a.cfg.Registry.GetNode(ctx, id); err == nil {
				u.TargetName, u.Area = orID(n.Name, n.ID), station(n.StationID).AreaID
			}
		case "zone":
			if z, err := a.cfg.Registry.GetZone(ctx, id); err == nil {
				u.TargetName, u.Area = orID(z.Name, z.ID), station(z.StationID).AreaID
			}
		}
		out = append(out, u)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}

// usesInScope is what of uses the caller's communes have.
func usesInScope(uses []MediaUse, sc scope) []MediaUse {
	out := []MediaUse{}
	for _, u := range uses {
		if sc.has(u.Area) {
			out = append(out, u)
		}
	}
	return out
}

// ownMediaInScope is the caller's recording named in the path, and the
// caller's communes.
func (a *API) ownMediaInScope(r *http.Request) (registry.Media, scope, error) {
	m, _, err := a.ownMedia(r)
	if err != nil {
		return registry.Media{}, scope{}, err
	}
	sc, err := a.reqScope(r)
	return m, sc, err
}

// mediaUsesOf answers what in the caller's communes needs a recording.
func (a *API) mediaUsesOf(w http.ResponseWriter, r *http.Request) error {
	m, sc, err := a.ownMediaInScope(r)
	if err != nil {
		return err
	}
	uses, err := a.mediaUses(r.Context(), m.SHA256)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, usesInScope(uses, sc))
	return nil
}

// deleteMedia takes a recording out of the caller's library, refusing
// while a programme of the caller's communes or a pending command needs
// it. The recording itself (its file, and its row but for the name that
// proof of play still shows) goes when no library holds it any more and
// nothing anywhere needs it; an administrator deletes it from every
// library at once, refused while anything needs it.
func (a *API) deleteMedia(w http.ResponseWriter, r *http.Request) error {
	if err := requireChange(r); err != nil {
		return err
	}
	ctx := r.Context()
	m, sc, err := a.ownMediaInScope(r)
	if err != nil {
		return err
	}
	if a.cfg.Schedules != nil {
		// No programme saved between the check and the delete.
		defer a.cfg.Schedules.Exclusive()()
	}
	uses, err := a.mediaUses(ctx, m.SHA256)
	if err != nil {
		return err
	}
	if mine := usesInScope(uses, sc); len(mine) > 0 {
		return &mediaInUse{uses: mine}
	}
	left := 0
	if !sc.all {
		links, err := a.cfg.Registry.MediaLinksOf(ctx, m.SHA256)
		if err != nil {
			return err
		}
		for _, l := range links {
			if !sc.has(l.Area) {
				left++
				continue
			}
			if _, err := a.cfg.Registry.UnlinkMedia(ctx, m.SHA256, l.Area); err != nil {
				return err
			}
			a.audit(r, l.Area, "media.delete", m.SHA256, ownView(m, l).Name)
		}
	}
	removed := left == 0 && len(uses) == 0
	if removed {
		if err := a.cfg.Registry.DeleteMedia(ctx, m.SHA256, a.now()); err != nil {
			return err
		}
		if err := a.cfg.Media.Delete(m.SHA256); err != nil && !errors.Is(err, os.ErrNotExist) {
			a.cfg.Logger.Error("removing a deleted recording's file", "sha256", m.SHA256, "err", err)
		}
		if sc.all {
			a.audit(r, "", "media.delete", m.SHA256, m.Name)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha256": m.SHA256, "removed": removed})
	return nil
}
