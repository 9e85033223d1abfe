package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/tts"
)

// ttsPreview is the form's "Nghe thử" (listen) button: the text read with
// the commune's pronunciation list, as it would air, in audio/ogg.
func (a *API) ttsPreview(w http.ResponseWriter, r *http.Request) error {
	if err := requireChange(r); err != nil {
		return err
	}
	var req struct {
		Text string `json:"text"`
		Area string `json:"area,omitempty"` // whose pronunciation list; default the caller's
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	area, err := a.ttsArea(r, req.Area)
	if err != nil {
		return err
	}
	res, err := a.cfg.Schedules.Render(r.Context(), area, req.Text)
	if err != nil {
		return ttsErr(err)
	}
	p, err := a.cfg.Media.Path(res.SHA256)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "audio/ogg")
	w.Header().Set("X-TTS-Duration-Ms", strconv.FormatInt(res.DurationMS, 10))
	w.Header().Set("X-TTS-Spoken", url.QueryEscape(res.Spoken))
	http.ServeFile(w, r, p)
	return nil
}

// ttsArea is the area whose pronunciation list applies: the one asked
// for, within the caller's scope, or the caller's own.
func (a *API) ttsArea(r *http.Request, asked string) (string, error) {
	if asked == "" {
		return principal(r).AreaID, nil
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return "", err
	}
	if !sc.has(asked) {
		return "", forbidden("area " + asked)
	}
	return asked, nil
}

// ttsErr says what went wrong with a rendering in terms the officer can
// act on: their text (400) or the controller's engine (502).
func ttsErr(err error) error {
	switch {
	case errors.Is(err, tts.ErrEmptyText), errors.Is(err, tts.ErrTextTooLong):
		return errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, tts.ErrEngineMissing), errors.Is(err, tts.ErrEngineFailed):
		return &httpError{status: http.StatusBadGateway, code: "tts_failed", msg: err.Error() + ": ask the administrator to check the text-to-speech engine"}
	}
	return err
}

func (a *API) getLexicon(w http.ResponseWriter, r *http.Request) error {
	area, err := a.lexiconArea(r)
	if err != nil {
		return err
	}
	out, err := a.cfg.Registry.TTSLexicon(r.Context(), area)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putLexicon replaces a commune's pronunciation list; it applies to the
// notices rendered from then on (saved again, or at the next start).
func (a *API) putLexicon(w http.ResponseWriter, r *http.Request) error {
	if err := requireChange(r); err != nil {
		return err
	}
	area, err := a.lexiconArea(r)
	if err != nil {
		return err
	}
	var entries []registry.LexiconEntry
	if err := readJSON(r, &entries); err != nil {
		return err
	}
	if entries == nil {
		entries = []registry.LexiconEntry{}
	}
	if err := a.cfg.Registry.SetTTSLexicon(r.Context(), area, entries, actor(r), a.now()); err != nil {
		return err
	}
	a.audit(r, area, "tts.lexicon", area, strconv.Itoa(len(entries))+" words")
	writeJSON(w, http.StatusOK, entries)
	return nil
}

func (a *API) lexiconArea(r *http.Request) (string, error) {
	area := r.PathValue("area")
	sc, err := a.reqScope(r)
	if err != nil {
		return "", err
	}
	if !sc.has(area) {
		return "", forbidden("area " + area)
	}
	return area, nil
}
