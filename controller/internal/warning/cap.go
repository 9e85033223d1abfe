package warning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/communeradio/radio/controller/internal/cap"
	"github.com/communeradio/radio/controller/internal/registry"
)

// CAP alerts: what each kind does.
//
//   - status Actual, msgType Alert: a warning to the nodes its Vietnamese
//     <info>'s areas cover (polygons, circles, geocodes = area codes).
//   - Exercise and Test: the same, but only on nodes whose commune or
//     province has drills on; the others are left out and listed.
//   - System and Draft, msgType Ack and Error: stored, never played.
//   - Update: the warnings of the alerts it references end (replaced) and
//     the new text plays where the update's areas say.
//   - Cancel: the warnings of the alerts it references stop everywhere.
//
// An alert whose areas cover no node is accepted and stored ("no_match")
// and plays nowhere. A sender may reach only its own area: an alert that
// covers a node outside it is refused whole.

// Outcomes of a CAP alert, as stored and answered.
const (
	OutcomePlayed    = "played"
	OutcomeUpdated   = "updated"
	OutcomeCancelled = "cancelled"
	OutcomeNoMatch   = "no_match"
	OutcomeDrillsOff = "drills_off"
	OutcomeNotPlayed = "not_played"
	OutcomeRefused   = "refused"
)

// Errors of ReceiveCAP besides cap.ErrInvalid, cap.ErrSigned, ErrInvalid,
// ErrOutOfArea and ErrNoAudio.
var (
	ErrDuplicate = errors.New("duplicate alert: this sender, identifier and sent time were received before")
	ErrExpired   = errors.New("the alert has expired")
	ErrUnknown   = errors.New("the alert references no alert this controller received")
)

// CAPResult is what came of an alert.
type CAPResult struct {
	ID         int64    `json:"id"`
	Sender     string   `json:"sender"`
	Identifier string   `json:"identifier"`
	Status     string   `json:"status"`
	MsgType    string   `json:"msg_type"`
	Outcome    string   `json:"outcome"`
	Detail     string   `json:"detail"`
	Warning    string   `json:"warning,omitempty"`
	Nodes      []string `json:"nodes"`               // where it plays
	NoDrills   []string `json:"no_drills,omitempty"` // covered, but drills are off there
	Ended      []string `json:"ended,omitempty"`     // warnings it stopped (update, cancel)
}

// ReceiveCAP validates a CAP 1.2 alert and acts on it. The alert is stored
// with its outcome once it is valid and not a duplicate (refusals after
// that point are stored too, as "refused").
func (s *Service) ReceiveCAP(ctx context.Context, raw []byte, by Sender) (CAPResult, error) {
	a, err := cap.Parse(raw)
	if err != nil {
		return CAPResult{}, err
	}
	now := s.cfg.Now()
	res := CAPResult{Sender: a.Sender, Identifier: a.Identifier, Status: a.Status, MsgType: a.MsgType, Nodes: []string{}}
	if exp := a.Expires(); !exp.IsZero() && !exp.After(now) {
		return res, fmt.Errorf("%w: it expired at %s", ErrExpired, cap.FormatTime(exp))
	}
	rec := &registry.CAPAlert{Sender: a.Sender, Identifier: a.Identifier, Sent: a.Sent, Status: a.Status, MsgType: a.MsgType,
		XML: raw, ReceivedBy: by.Actor, ReceivedAt: now, Outcome: "received"}
	if err := s.cfg.Registry.InsertCAPAlert(ctx, rec); errors.Is(err, registry.ErrExists) {
		return res, fmt.Errorf("%w (%s)", ErrDuplicate, a.Key())
	} else if err != nil {
		return res, err
	}
	res.ID = rec.ID
	err = s.actOnCAP(ctx, a, by, &res)
	if err != nil {
		res.Outcome, res.Detail = OutcomeRefused, err.Error()
	}
	if serr := s.cfg.Registry.SetCAPOutcome(ctx, rec.ID, res.Outcome, res.Detail, res.Warning); serr != nil && err == nil {
		err = serr
	}
	s.audit(ctx, by, "cap."+strings.ToLower(a.MsgType), a.Key().String(), fmt.Sprintf("%s %s: %s %s", a.Status, a.MsgType, res.Outcome, res.Detail), nil)
	return res, err
}

func (s *Service) actOnCAP(ctx context.Context, a *cap.Alert, by Sender, res *CAPResult) error {
	switch {
	case a.MsgType == "Cancel":
		ended, err := s.endReferenced(ctx, a, by, registry.WarningCancelled)
		if err != nil {
			return err
		}
		res.Outcome, res.Ended = OutcomeCancelled, ended
		res.Detail = fmt.Sprintf("stopped %d warning(s) everywhere they played", len(ended))
		return nil
	case a.Status == "System" || a.Status == "Draft" || a.MsgType == "Ack" || a.MsgType == "Error":
		res.Outcome, res.Detail = OutcomeNotPlayed, fmt.Sprintf("%s %s alerts are stored, never played", a.Status, a.MsgType)
		return nil
	}
	vi, ok := a.Vietnamese()
	if !ok {
		return fmt.Errorf("%w: no Vietnamese <info> (language vi or vi-VN) to read aloud", cap.ErrInvalid)
	}
	req := Request{Title: firstOf(vi.Headline, vi.Event), Target: Target{info: &vi}, Expires: a.Expires()}
	if a.Status != "Actual" {
		req.Title = "[Diễn tập] " + req.Title
	}
	if err := s.capAudio(ctx, vi, &req); err != nil {
		return err
	}
	places, err := s.resolve(ctx, req.Target)
	if err != nil {
		return err
	}
	if bad := outside(places, by); len(bad) > 0 {
		return fmt.Errorf("%w: the alert's area covers speaker clusters in %s", ErrOutOfArea, strings.Join(bad, ", "))
	}
	if a.Status != "Actual" { // Exercise, Test: only where drills are on
		var on []place
		for _, p := range places {
			if p.drills {
				on = append(on, p)
			} else {
				res.NoDrills = append(res.NoDrills, p.node.ID)
			}
		}
		places = on
	}
	if a.MsgType == "Update" {
		if res.Ended, err = s.endReferenced(ctx, a, by, registry.WarningReplaced); err != nil {
			return err
		}
	}
	switch {
	case len(places) == 0 && len(res.NoDrills) > 0:
		res.Outcome, res.Detail = OutcomeDrillsOff, fmt.Sprintf("a %s alert: drills are off where it applies (%s); nothing played", a.Status, strings.Join(res.NoDrills, ", "))
		return nil
	case len(places) == 0:
		res.Outcome, res.Detail = OutcomeNoMatch, "its area covers no speaker cluster of this controller; nothing played"
		return nil
	}
	if err := req.check(s.cfg.Now()); err != nil {
		return err
	}
	w, err := s.broadcast(ctx, req, by, "cap", places)
	if err != nil {
		return err
	}
	res.Outcome, res.Warning = OutcomePlayed, w.ID
	if a.MsgType == "Update" {
		res.Outcome = OutcomeUpdated
	}
	for _, t := range w.Targets {
		res.Nodes = append(res.Nodes, t.Node)
	}
	res.Detail = fmt.Sprintf("sent to %d speaker clusters", len(w.Targets))
	return nil
}

// capAudio sets what a CAP alert says: an embedded audio resource, else
// the text of its Vietnamese info. Resources are never fetched from a URI:
// the controller does not reach out to addresses an alert names.
func (s *Service) capAudio(ctx context.Context, vi cap.Info, req *Request) error {
	if r, ok := vi.Audio(); ok && len(r.Data) > 0 {
		info, err := s.cfg.Media.Ingest(ctx, bytes.NewReader(r.Data), "cap-resource")
		if err != nil {
			return fmt.Errorf("%w: the audio <resource> %q is not audio this controller can play: %v", cap.ErrInvalid, r.Desc, err)
		}
		req.Media = info.SHA256
		return nil
	}
	req.Text = vi.Text()
	if req.Text == "" {
		if r, ok := vi.Audio(); ok {
			return fmt.Errorf("%w: the audio <resource> %q has only a <uri>: embed it in <derefUri> (base64), this controller does not fetch remote files", cap.ErrInvalid, r.Desc)
		}
		return fmt.Errorf("%w: the Vietnamese <info> has no headline, description or instruction to read, and no audio <resource>", cap.ErrInvalid)
	}
	return nil
}

// endReferenced ends the active warnings of the alerts a references.
func (s *Service) endReferenced(ctx context.Context, a *cap.Alert, by Sender, status string) ([]string, error) {
	var ended []string
	known := 0
	for _, ref := range a.References {
		if ref.Sender != a.Sender {
			return nil, fmt.Errorf("%w: <references> names %s, an alert of another sender", ErrInvalid, ref)
		}
		old, err := s.cfg.Registry.FindCAPAlert(ctx, ref.Sender, ref.Identifier, ref.Sent)
		if errors.Is(err, registry.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		known++
		if old.Warning == "" {
			continue
		}
		_, err = s.end(ctx, old.Warning, status, by)
		switch {
		case errors.Is(err, registry.ErrEnded):
		case err != nil:
			return nil, err
		default:
			ended = append(ended, old.Warning)
		}
	}
	if known == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrUnknown, refsString(a.References))
	}
	return ended, nil
}

func refsString(rs []cap.Ref) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return strings.Join(out, " ")
}

func firstOf(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}
