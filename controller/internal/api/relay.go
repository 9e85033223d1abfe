package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/live"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Relay now and the relay channels: an officer relays a channel (VOV1, the
// provincial station) to a zone or node of their area at once, for a
// number of minutes; the administrator keeps the channel list that
// programmes (`source relay vov1`) and this form name.

// maxRelayMinutes bounds a relay now (PROTOCOL.md §10: a session lasts at most 24 h).
const maxRelayMinutes = 24 * 60

// RelayRequest asks for a relay now.
type RelayRequest struct {
	fleet.Target
	Channel  string `json:"channel,omitempty"` // a relay channel id, or
	URL      string `json:"url,omitempty"`     // a stream address
	Minutes  int    `json:"minutes"`
	Priority string `json:"priority,omitempty"`
	Title    string `json:"title,omitempty"`
}

func (a *API) relayNow(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Live == nil {
		return errorf(http.StatusServiceUnavailable, "relays are not available on this controller")
	}
	var req RelayRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	area, err := a.allowTarget(r, req.Target)
	if err != nil {
		return err
	}
	if req.Minutes < 1 || req.Minutes > maxRelayMinutes {
		return errorf(http.StatusBadRequest, "minutes: how long to relay, 1 to %d", maxRelayMinutes)
	}
	switch req.Priority {
	case "":
		req.Priority = nodeproto.PriorityNormal
	case nodeproto.PriorityNormal, nodeproto.PriorityHigh, nodeproto.PriorityEmergency:
	default:
		return errorf(http.StatusBadRequest, "priority: normal, priority or emergency")
	}
	source, url := req.URL, req.URL
	switch {
	case (req.Channel == "") == (req.URL == ""):
		return errorf(http.StatusBadRequest, "give a channel (see GET /api/v1/channels) or a url, not both")
	case req.Channel != "":
		ch, err := a.cfg.Registry.GetRelayChannel(r.Context(), req.Channel)
		if err != nil {
			return err
		}
		source, url = ch.ID, ch.URL
		if req.Title == "" {
			req.Title = "Tiếp sóng " + ch.Name
		}
	default:
		if err := registry.CheckRelayURL(req.URL); err != nil {
			return err
		}
	}
	target := live.Target{Target: req.Target}
	if req.Zone != "" {
		z, err := a.cfg.Registry.GetZone(r.Context(), req.Zone)
		if err != nil {
			return err
		}
		target.Offset = time.Duration(z.OffsetMS) * time.Millisecond
	}
	// The window runs from when the first audio is in; RelayNow sets the start.
	s, err := a.cfg.Live.RelayNow(r.Context(), live.Spec{Source: "relay:" + source, Title: req.Title, Priority: req.Priority,
		Targets: []live.Target{target}, By: actor(r), Window: time.Duration(req.Minutes) * time.Minute}, url)
	if errors.Is(err, live.ErrUpstream) {
		return &httpError{status: http.StatusBadGateway, code: "upstream",
			msg: "Không nhận được âm thanh từ nguồn tiếp sóng; hãy kiểm tra địa chỉ kênh hoặc thử lại sau. " +
				"The relay's source gives no audio; check the channel's address or try again later. (" + err.Error() + ")"}
	}
	if err != nil {
		return err
	}
	a.audit(r, area, "relay", req.Target.String(), s.ID()+" "+source)
	writeJSON(w, http.StatusAccepted, map[string]any{"session": s.ID(), "start_at": s.StartAt().UTC().Format(time.RFC3339Nano),
		"ends_at": s.EndsAt().UTC().Format(time.RFC3339Nano), "target": req.Target.String(), "source": source})
	return nil
}

// stopSession ends a running live session named by a stop's value, if the
// caller may reach every target it plays on. It reports whether one ran.
func (a *API) stopSession(r *http.Request, id string) (bool, error) {
	if a.cfg.Live == nil || id == "" {
		return false, nil
	}
	targets, ok := a.cfg.Live.Targets(id)
	if !ok {
		return false, nil
	}
	for _, t := range targets {
		if _, err := a.allowTarget(r, t.Target); err != nil {
			return false, err
		}
	}
	return a.cfg.Live.Stop(id, "stopped by "+actor(r)), nil
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) error {
	v, err := a.cfg.Registry.ListRelayChannels(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) putChannel(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var c registry.RelayChannel
	if err := readJSON(r, &c); err != nil {
		return err
	}
	c.ID, c.UpdatedAt, c.UpdatedBy = r.PathValue("id"), a.now(), actor(r)
	if err := a.cfg.Registry.PutRelayChannel(r.Context(), c); err != nil {
		return err
	}
	a.audit(r, "", "channel.put", c.ID, c.Name+" "+c.URL)
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := a.cfg.Registry.DeleteRelayChannel(r.Context(), id); err != nil {
		return err
	}
	a.audit(r, "", "channel.delete", id, "")
	writeJSON(w, http.StatusOK, map[string]any{"deleted": id})
	return nil
}

// relayFailures returns the failure of a relay occurrence that aired
// nothing (keyed by occurrence id; empty for anything else).
func (a *API) relayFailures(ctx context.Context, o schedule.Occurrence) (map[string]string, error) {
	if o.Item.Source.Kind != schedule.SourceRelay {
		return nil, nil
	}
	return a.cfg.Registry.RelayFailures(ctx, []string{o.ID()})
}
