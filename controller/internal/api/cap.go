package api

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/communeradio/radio/controller/internal/cap"
	"github.com/communeradio/radio/controller/internal/warning"
)

// postCAP takes a CAP 1.2 alert (XML) from an authorised sender: any
// principal that may send warnings, reaching only its own area (a
// province's alerting system gets a token of role province). The answer
// is 202 when it plays, 200 when it was accepted and plays nowhere
// (no_match, drills_off, not_played, cancelled), and an error with a code
// otherwise.
func (a *API) postCAP(w http.ResponseWriter, r *http.Request) error {
	by, err := a.sender(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, cap.MaxSize+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the alert: %v", err)
	}
	if len(body) > cap.MaxSize {
		return &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("the alert is over %d bytes", cap.MaxSize)}
	}
	res, err := a.cfg.Warnings.ReceiveCAP(r.Context(), body, by)
	if err != nil {
		a.audit(r, "", "cap.refused", res.Sender+","+res.Identifier, err.Error())
		return warningErr(err)
	}
	status := http.StatusOK
	if res.Outcome == warning.OutcomePlayed || res.Outcome == warning.OutcomeUpdated {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
	return nil
}

// listCAPAlerts lists received alerts: everything for an administrator,
// otherwise the alerts the caller sent.
func (a *API) listCAPAlerts(w http.ResponseWriter, r *http.Request) error {
	by, err := a.sender(r)
	if err != nil {
		return err
	}
	all, err := a.cfg.Registry.ListCAPAlerts(r.Context(), 200)
	if err != nil {
		return err
	}
	out := all[:0]
	for _, c := range all {
		if by.May == nil || c.ReceivedBy == by.Actor {
			out = append(out, c)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// capFeed is an Atom feed of the alerts this controller broadcast: CAP
// alerts that played (scope Public) and officers' warnings, each entry
// holding the alert as CAP 1.2 XML. It is public, like the loudspeakers:
// the province's e-boards, web sites and apps read it without a token.
func (a *API) capFeed(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Warnings == nil {
		return errorf(http.StatusServiceUnavailable, "warnings are not available on this controller")
	}
	entries, err := a.cfg.Warnings.Feed(r.Context(), 100)
	if err != nil {
		return err
	}
	type content struct {
		Type  string `xml:"type,attr"`
		Inner []byte `xml:",innerxml"`
	}
	type entry struct {
		ID      string  `xml:"id"`
		Title   string  `xml:"title"`
		Updated string  `xml:"updated"`
		Summary string  `xml:"summary"`
		Content content `xml:"content"`
	}
	feed := struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Link    struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Entries []entry `xml:"entry"`
	}{ID: "urn:communeradio:cap-feed", Title: "Cảnh báo khẩn cấp đã phát", Updated: a.now().UTC().Format(time.RFC3339)}
	feed.Link.Rel, feed.Link.Href = "self", "/api/v1/cap/feed.atom"
	for _, e := range entries {
		b, err := cap.Marshal(e.Alert)
		if err != nil {
			return err
		}
		feed.Entries = append(feed.Entries, entry{ID: e.ID, Title: e.Title, Updated: e.Updated.UTC().Format(time.RFC3339),
			Summary: e.Summary, Content: content{Type: "application/cap+xml", Inner: b}})
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", " ")
	if err := enc.Encode(feed); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Write(buf.Bytes())
	return nil
}
