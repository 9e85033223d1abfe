package warning

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/cap"
	"github.com/communeradio/radio/controller/internal/registry"
)

// FeedSender is the CAP <sender> of the warnings officers send from this
// controller, as the Atom feed writes them.
const FeedSender = "radio-controller"

// FeedEntry is one alert this controller broadcast, as CAP 1.2.
type FeedEntry struct {
	ID      string
	Title   string
	Updated time.Time
	Summary string
	Alert   *cap.Alert
}

// Feed lists the newest alerts this controller broadcast: CAP alerts
// that played, were updated or cancelled (scope Public only), and the
// warnings officers sent, written as CAP 1.2 alerts (an Alert, and a Cancel
// for one that was cancelled).
func (s *Service) Feed(ctx context.Context, limit int) ([]FeedEntry, error) {
	var out []FeedEntry
	alerts, err := s.cfg.Registry.ListCAPAlerts(ctx, limit, OutcomePlayed, OutcomeUpdated, OutcomeCancelled)
	if err != nil {
		return nil, err
	}
	for _, c := range alerts {
		a, err := cap.Parse(c.XML)
		if err != nil || a.Scope != "Public" {
			continue
		}
		title := a.MsgType + " " + a.Identifier
		if vi, ok := a.Vietnamese(); ok && vi.Headline != "" {
			title = vi.Headline
		}
		out = append(out, FeedEntry{ID: fmt.Sprintf("urn:cap:%s:%d", a.Key(), c.ID), Title: title, Updated: c.ReceivedAt,
			Summary: c.Outcome + ": " + c.Detail, Alert: a})
	}
	ws, err := s.cfg.Registry.ListWarnings(ctx, limit)
	if err != nil {
		return nil, err
	}
	areas, set, err := s.areas(ctx)
	if err != nil {
		return nil, err
	}
	name := map[string]string{}
	for _, a := range areas {
		name[a.ID] = a.Name
	}
	for _, w := range ws {
		if w.Source != "manual" {
			continue // a CAP alert's warning: listed as the alert above
		}
		communes, err := s.cfg.Registry.WarningAreas(ctx, w.ID)
		if err != nil {
			return nil, err
		}
		a := manualAlert(w, communes, name, set)
		out = append(out, FeedEntry{ID: "urn:warning:" + w.ID, Title: w.Title, Updated: w.CreatedAt, Summary: "sent by an officer", Alert: a})
		if w.Status == registry.WarningCancelled {
			c := *a
			c.Identifier, c.MsgType, c.Sent, c.References = w.ID+"-cancel", "Cancel", w.EndedAt, []cap.Ref{a.Key()}
			out = append(out, FeedEntry{ID: "urn:warning:" + w.ID + ":cancel", Title: w.Title, Updated: w.EndedAt, Summary: "cancelled", Alert: &c})
		}
	}
	slices.SortStableFunc(out, func(a, b FeedEntry) int { return b.Updated.Compare(a.Updated) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// manualAlert writes an officer's warning as a CAP 1.2 alert: its communes
// as the area, with their administrative unit codes where they have one.
func manualAlert(w registry.Warning, communes []string, name map[string]string, set map[string]registry.AreaSettings) *cap.Alert {
	ar := cap.Area{}
	var names []string
	for _, c := range communes {
		names = append(names, firstOf(name[c], c))
		if code := set[c].Code; code != "" {
			ar.Geocodes = append(ar.Geocodes, cap.Geocode{ValueName: "MaDVHC", Value: code})
		}
	}
	ar.Desc = firstOf(strings.Join(names, ", "), "—")
	in := cap.Info{Language: "vi-VN", Categories: []string{"Safety"}, Event: w.Title, Urgency: "Immediate", Severity: "Severe",
		Certainty: "Observed", Expires: w.ExpiresAt, Headline: w.Title, Description: w.Text, Areas: []cap.Area{ar}}
	return &cap.Alert{Identifier: w.ID, Sender: FeedSender, Sent: w.CreatedAt, Status: "Actual", MsgType: "Alert", Scope: "Public", Infos: []cap.Info{in}}
}
