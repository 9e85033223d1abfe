package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/communeradio/radio/controller/internal/live"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Live from the browser ("Phát trực tiếp"), in two steps so that every
// refusal reaches the page as an ordinary JSON error (a browser's
// WebSocket only ever sees "closed"):
//  1. POST /api/v1/live checks the caller, the target and that nobody else
//     is live on the station, and takes the station for the caller; the
//     answer carries a single-use ticket.
//  2. GET /api/v1/live/ws?session=…&ticket=… is upgraded to a WebSocket
//     (same origin only; the ticket, got with the CSRF header, stands in
//     for it). The page sends its MediaRecorder chunks as binary messages
//     and "stop" as text; the controller answers {"type":"started"} when
//     sample 0 is due at the speakers and {"type":"ended"} with the
//     recording once everything is out.
//
// A browser that goes away or stops sending for liveIdle ends the session:
// what ffmpeg holds goes out, then the last packet, so nodes stop cleanly.
const liveIdle = 3 * time.Second

// LiveRequest opens a live session: one of zone, node or station (every
// cluster of the station).
type LiveRequest struct {
	Station  string `json:"station,omitempty"`
	Zone     string `json:"zone,omitempty"`
	Node     string `json:"node,omitempty"`
	Priority string `json:"priority,omitempty"` // priority (default) or emergency
	Title    string `json:"title,omitempty"`
	// Slot takes a programme's live slot (an occurrence of an approved
	// `source live` bulletin, from GET /api/v1/live/slots) instead: its
	// target, priority and title, and its occurrence id as the session's,
	// so that proof of play and coverage count the slot as aired.
	Slot string `json:"slot,omitempty"`
}

// LiveSlot is an occurrence of an approved `source live` bulletin: a time
// the programme keeps for an officer to speak (the daily announcement).
type LiveSlot struct {
	Occurrence string    `json:"occurrence"`
	Station    string    `json:"station"`
	Title      string    `json:"title"`
	Priority   string    `json:"priority"`
	Target     string    `json:"target"`
	At         time.Time `json:"at"`
	End        time.Time `json:"end,omitzero"`
	target     schedule.Target
}

// liveSlotEarly is how long before its time a live slot may be taken.
const liveSlotEarly = 10 * time.Minute

// liveSlots lists the live slots of the caller's stations not yet over,
// from liveSlotEarly before now to 12 hours ahead.
func (a *API) liveSlots(r *http.Request) ([]LiveSlot, error) {
	sc, err := a.reqScope(r)
	if err != nil {
		return nil, err
	}
	stations, err := a.cfg.Registry.ListStations(r.Context(), "")
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, st := range stations {
		if sc.has(st.AreaID) {
			mine[st.ID] = true
		}
	}
	now := a.now()
	out := []LiveSlot{}
	for _, s := range a.cfg.Schedules.Scheduler.Schedules() {
		if !mine[s.Station] {
			continue
		}
		for _, o := range s.Occurrences(now.Add(-12*time.Hour), now.Add(12*time.Hour), a.cfg.Schedules.Durations(r.Context())) {
			end := o.End
			if end.IsZero() {
				end = o.At.Add(o.Item.Duration)
			}
			if o.Item.Source.Kind != schedule.SourceLive || !o.Item.Airs() || !end.After(now) {
				continue
			}
			prio := o.Item.Priority
			if prio == nodeproto.PriorityNormal || prio == "" {
				prio = nodeproto.PriorityHigh // live is "priority" unless the programme says emergency
			}
			out = append(out, LiveSlot{Occurrence: o.ID(), Station: s.Station, Title: o.Item.Title, Priority: prio,
				Target: o.Item.Target.String(), At: o.At, End: end, target: o.Item.Target})
		}
	}
	slices.SortFunc(out, func(x, y LiveSlot) int { return x.At.Compare(y.At) })
	return out, nil
}

func (a *API) listLiveSlots(w http.ResponseWriter, r *http.Request) error {
	out, err := a.liveSlots(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// LiveTicket is the answer to a LiveRequest.
type LiveTicket struct {
	Session string `json:"session"`
	Ticket  string `json:"ticket"`
	WS      string `json:"ws"` // the path to open as a WebSocket
}

// liveTarget resolves a request's target to its station and programme
// target, checking the caller may change that station.
func (a *API) liveTarget(r *http.Request, req LiveRequest) (station, area string, t schedule.Target, err error) {
	n := 0
	for _, s := range []string{req.Station, req.Zone, req.Node} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return "", "", t, errorf(http.StatusBadRequest, "name exactly one of station, zone or node to speak to")
	}
	switch {
	case req.Zone != "":
		z, err := a.cfg.Registry.GetZone(r.Context(), req.Zone)
		if err != nil {
			return "", "", t, err
		}
		station, t = z.StationID, schedule.Target{Kind: schedule.TargetZone, IDs: []string{z.ID}}
	case req.Node != "":
		nd, err := a.cfg.Registry.GetNode(r.Context(), req.Node)
		if err != nil {
			return "", "", t, err
		}
		station, t = nd.StationID, schedule.Target{Kind: schedule.TargetNodes, IDs: []string{nd.ID}}
	default:
		station, t = req.Station, schedule.Target{Kind: schedule.TargetCommune}
	}
	area, err = a.allowStation(r, station, true)
	return station, area, t, err
}

func (a *API) startLive(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Live == nil {
		return errorf(http.StatusServiceUnavailable, "live sessions are not available on this controller")
	}
	var req LiveRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	switch req.Priority {
	case "":
		req.Priority = nodeproto.PriorityHigh
	case nodeproto.PriorityHigh, nodeproto.PriorityEmergency:
	default:
		return errorf(http.StatusBadRequest, "priority of a live session is %q (default) or %q", nodeproto.PriorityHigh, nodeproto.PriorityEmergency)
	}
	if len(req.Title) > 200 {
		return errorf(http.StatusBadRequest, "the title is longer than 200 characters")
	}
	var slot *LiveSlot
	if req.Slot != "" {
		slots, err := a.liveSlots(r)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(slots, func(s LiveSlot) bool { return s.Occurrence == req.Slot })
		if i < 0 {
			return errorf(http.StatusNotFound, "live slot %q: not a live slot of your stations that is still to come or on air now", req.Slot)
		}
		slot = &slots[i]
		if now := a.now(); now.Before(slot.At.Add(-liveSlotEarly)) {
			return errorf(http.StatusConflict, "live slot %q starts at %s (Vietnam time): it can be taken from %s",
				slot.Title, slot.At.In(schedule.Zone).Format("15:04"), slot.At.Add(-liveSlotEarly).In(schedule.Zone).Format("15:04"))
		}
		req = LiveRequest{Station: slot.Station, Priority: slot.Priority, Title: slot.Title}
	}
	station, area, target, err := a.liveTarget(r, req)
	if err != nil {
		return err
	}
	session := ""
	if slot != nil {
		target, session = slot.target, slot.Occurrence // the slot's zones or clusters, its occurrence id
	}
	targets, err := live.Targets(r.Context(), a.cfg.Registry, station, target)
	if err != nil {
		if errors.Is(err, live.ErrNoTargets) {
			return errorf(http.StatusBadRequest, "station %s has no speaker cluster to speak to", station)
		}
		return err
	}
	p := principal(r)
	c, ticket, err := a.cfg.Live.Claim(live.Claim{Station: station, Session: session, User: p.Actor(), Name: p.Name, Area: area,
		Priority: req.Priority, Title: req.Title, Target: target.String()}, targets)
	var busy *live.BusyError
	if errors.As(err, &busy) {
		who := busy.Claim.Name
		if who == "" {
			who = busy.Claim.User
		}
		return &httpError{status: http.StatusConflict, code: "live_busy",
			msg: fmt.Sprintf("%s is live on station %s: one live session per station; wait until it ends", who, station)}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, LiveTicket{Session: c.Session, Ticket: ticket, WS: "/api/v1/live/ws?session=" + c.Session + "&ticket=" + ticket})
	return nil
}

// listLive lists who is live now on the stations the caller may see.
func (a *API) listLive(w http.ResponseWriter, r *http.Request) error {
	out := []live.Claim{}
	if a.cfg.Live != nil {
		sc, err := a.reqScope(r)
		if err != nil {
			return err
		}
		for _, c := range a.cfg.Live.Claims() {
			if sc.has(c.Area) {
				out = append(out, c)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var liveUpgrader = websocket.Upgrader{ReadBufferSize: 16 << 10, WriteBufferSize: 4 << 10} // CheckOrigin nil: same origin only

// liveMsg is what the controller tells the page on the WebSocket.
type liveMsg struct {
	Type    string `json:"type"` // started, ended
	Session string `json:"session"`
	StartAt string `json:"start_at,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Media   string `json:"media,omitempty"` // the recording, in the media library
	Error   string `json:"error,omitempty"`
}

func (a *API) liveSocket(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Live == nil {
		return errorf(http.StatusServiceUnavailable, "live sessions are not available on this controller")
	}
	q := r.URL.Query()
	c, err := a.cfg.Live.Take(q.Get("session"), q.Get("ticket"), actor(r))
	if err != nil {
		return errorf(http.StatusForbidden, "%v", err)
	}
	conn, err := liveUpgrader.Upgrade(w, r, nil) // answers a foreign origin itself
	if err != nil {
		a.cfg.Live.Release(c.Station, c.Session)
		a.cfg.Logger.Warn("live: websocket refused", "session", c.Session, "err", err)
		return nil
	}
	defer conn.Close()
	defer a.cfg.Live.Release(c.Station, c.Session)
	ctx := context.WithoutCancel(r.Context())
	log := a.cfg.Logger.With("session", c.Session, "by", c.User)
	rec, err := os.CreateTemp("", "radio-live-*.ogg")
	if err != nil {
		a.liveEnd(conn, c, "", err)
		return nil
	}
	defer os.Remove(rec.Name())
	defer rec.Close()
	feed, err := a.cfg.Live.Speak(c, c.User, rec)
	if err != nil {
		a.liveEnd(conn, c, "", err)
		return nil
	}
	a.audit(r, c.Area, "live.start", c.Target, fmt.Sprintf("%s %s %q", c.Session, c.Priority, c.Title))

	// The read loop below is the browser's; a reader blocked there is
	// released by a deadline in the past (idle browser, or the feed ended).
	unblock := func() { conn.SetReadDeadline(time.Unix(1, 0)) }
	idle := time.AfterFunc(liveIdle, unblock)
	defer idle.Stop()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		select {
		case s := <-feed.Opened():
			conn.WriteJSON(liveMsg{Type: "started", Session: c.Session, StartAt: s.StartAt().UTC().Format(time.RFC3339Nano)})
		case <-feed.Done():
		}
		<-feed.Done()
		unblock()
	}()
	conn.SetReadLimit(1 << 20)
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		idle.Reset(liveIdle)
		if typ == websocket.TextMessage {
			if string(data) == "stop" {
				break
			}
			continue
		}
		if err := feed.Write(data); err != nil {
			break // ffmpeg has gone; the feed says why
		}
	}
	feed.Close()
	<-wrote
	reason, ferr := feed.Result()
	log.Info("live: browser session over", "reason", reason)
	sha := ""
	if ferr == nil {
		sha, err = a.keepRecording(ctx, c, rec)
		if err != nil {
			log.Error("live: the recording could not be kept", "err", err)
			ferr = fmt.Errorf("the recording could not be kept: %w", err)
		}
	}
	a.auditAs(r, c.User, c.Area, "live.stop", c.Target, fmt.Sprintf("%s %s; recording %s", c.Session, reason, sha))
	msg := liveMsg{Type: "ended", Session: c.Session, Reason: reason, Media: sha}
	if ferr != nil {
		msg.Error = ferr.Error()
	}
	conn.WriteJSON(msg)
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return nil
}

func (a *API) liveEnd(conn *websocket.Conn, c live.Claim, reason string, err error) {
	a.cfg.Logger.Error("live", "session", c.Session, "err", err)
	conn.WriteJSON(liveMsg{Type: "ended", Session: c.Session, Reason: reason, Error: err.Error()})
}

// keepRecording puts what was said into the media library of the
// station's commune, as an upload would be.
func (a *API) keepRecording(ctx context.Context, c live.Claim, rec *os.File) (string, error) {
	if _, err := rec.Seek(0, 0); err != nil {
		return "", err
	}
	name := "Phát trực tiếp " + c.Since.In(schedule.Zone).Format("2006-01-02 15:04") + " (" + c.User + ")"
	if c.Title != "" {
		name = c.Title + " — " + name
	}
	info, err := a.cfg.Media.Ingest(ctx, rec, name)
	if err != nil {
		return "", err
	}
	now := a.now()
	m := registry.Media{SHA256: info.SHA256, Name: name, SourceFormat: info.SourceFormat, Size: info.Size,
		DurationMS: info.DurationMS, CreatedAt: now, CreatedBy: c.User}
	if err := a.cfg.Registry.PutMedia(ctx, m); err != nil {
		return "", err
	}
	if c.Area != "" {
		if err := a.cfg.Registry.LinkMedia(ctx, m.SHA256, c.Area, c.User, now); err != nil {
			return "", err
		}
	}
	return m.SHA256, nil
}
