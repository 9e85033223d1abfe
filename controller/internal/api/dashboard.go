package api

import (
	"cmp"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
)

// Dashboard is what an officer sees first: which clusters are up, what is
// on air, what airs next, and what needs attention.
type Dashboard struct {
	Nodes   int         `json:"nodes"`
	Online  int         `json:"online"`
	Offline int         `json:"offline"`
	NoSound int         `json:"no_sound"` // online clusters that play into a silent sink
	Playing []NowOnAir  `json:"playing"`
	Next    []NextOnAir `json:"next"`
	Alerts  []NodeAlert `json:"alerts"`
	Time    time.Time   `json:"time"`
}

// NowOnAir is an item a node is playing.
type NowOnAir struct {
	Node     string    `json:"node"`
	NodeName string    `json:"node_name"`
	Item     string    `json:"item"`
	Title    string    `json:"title"`
	Media    string    `json:"media"`
	Priority string    `json:"priority"`
	Since    time.Time `json:"since"`
}

// NextOnAir is an upcoming occurrence.
type NextOnAir struct {
	Occurrence  string    `json:"occurrence"`
	Item        string    `json:"item"`
	Title       string    `json:"title"`
	Station     string    `json:"station"`
	StationName string    `json:"station_name"`
	At          time.Time `json:"at"`
	Priority    string    `json:"priority"`
	Status      string    `json:"status"`
}

// NodeAlert is something wrong with a node.
type NodeAlert struct {
	Kind     string     `json:"kind"` // offline, silent (no proof of play for hours), no_sound, not_heard, error, disk
	Node     string     `json:"node"`
	NodeName string     `json:"node_name"`
	Since    *time.Time `json:"since,omitempty"`
	Detail   string     `json:"detail,omitempty"`
}

// Thresholds of the dashboard's alerts.
const (
	silentAfter = 12 * time.Hour // online but no proof of play for this long
	lowDisk     = 50 << 20       // bytes free under the node's cache
	nextWindow  = 24 * time.Hour // "airs next" looks this far ahead
	maxNext     = 20
)

// noSoundReason is what alerts and the occurrence report say of a cluster
// that plays into its silent sink (PROTOCOL.md §9 audio "silent").
const noSoundReason = programme.NoSoundReason

// notHeardReason is what the alert says of a cluster whose microphone did
// not hear its last measured play (PROTOCOL.md §7 "heard").
const notHeardReason = "played, but the cluster's microphone did not hear it: check the amplifier and the speaker cable"

// notHeardWindow: a cluster's plays are looked at this far back for the
// not_heard alert.
const notHeardWindow = 24 * time.Hour

func (a *API) dashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	stations, err := a.stationsInScope(r)
	if err != nil {
		return err
	}
	all, err := a.cfg.Registry.ListNodes(ctx, "")
	if err != nil {
		return err
	}
	var nodes []registry.Node
	for _, n := range all {
		if _, ok := stations[n.StationID]; ok && !n.Revoked {
			nodes = append(nodes, n)
		}
	}
	views, err := a.nodeViews(ctx, nodes)
	if err != nil {
		return err
	}
	last, err := a.cfg.Registry.LastPlays(ctx, nodeIDs(nodes))
	if err != nil {
		return err
	}
	now := a.now()
	schedules := a.cfg.Schedules.Scheduler.Schedules()
	names := map[string]string{}
	stationName := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := id
		if st, err := a.cfg.Registry.GetStation(ctx, id); err == nil && st.Name != "" {
			n = st.Name
		}
		names[id] = n
		return n
	}

	d := Dashboard{Nodes: len(views), Playing: []NowOnAir{}, Next: []NextOnAir{}, Alerts: []NodeAlert{}, Time: now.UTC()}
	for _, v := range views {
		name := v.Name
		if name == "" {
			name = v.ID
		}
		if !v.Online {
			d.Offline++
			d.Alerts = append(d.Alerts, NodeAlert{Kind: "offline", Node: v.ID, NodeName: name, Since: v.UpdatedAt})
			continue
		}
		d.Online++
		if st := v.State; st != nil {
			if p := st.Playing; p != nil {
				d.Playing = append(d.Playing, NowOnAir{Node: v.ID, NodeName: name, Item: p.ID, Title: v.PlayingTitle, Media: p.Media,
					Priority: p.Priority, Since: time.UnixMilli(p.Since).UTC()})
			}
			if v.NoSound {
				d.NoSound++
				d.Alerts = append(d.Alerts, NodeAlert{Kind: "no_sound", Node: v.ID, NodeName: name, Detail: noSoundReason})
			}
			if st.Error != "" {
				d.Alerts = append(d.Alerts, NodeAlert{Kind: "error", Node: v.ID, NodeName: name, Detail: st.Error})
			}
			if st.DiskFree > 0 && st.DiskFree < lowDisk {
				d.Alerts = append(d.Alerts, NodeAlert{Kind: "disk", Node: v.ID, NodeName: name, Detail: "free bytes: " + itoa(st.DiskFree)})
			}
		}
		lp, ok := last[v.ID]
		if !ok {
			lp = v.CreatedAt
		}
		if now.Sub(lp) > silentAfter {
			t := lp
			d.Alerts = append(d.Alerts, NodeAlert{Kind: "silent", Node: v.ID, NodeName: name, Since: &t})
		}
	}
	d.Alerts = append(d.Alerts, a.notHeardAlerts(views, now)...)
	for _, sc := range schedules {
		if _, ok := stations[sc.Station]; !ok {
			continue
		}
		for _, o := range sc.Occurrences(now, now.Add(nextWindow), a.cfg.Schedules.Durations(ctx)) {
			d.Next = append(d.Next, NextOnAir{Occurrence: o.ID(), Item: o.Item.ID, Title: o.Item.Title, Station: sc.Station, StationName: stationName(sc.Station),
				At: o.At, Priority: o.Item.Priority, Status: map[bool]string{true: "approved", false: "draft"}[o.Item.Approved]})
		}
	}
	sort.Slice(d.Next, func(i, j int) bool { return d.Next[i].At.Before(d.Next[j].At) })
	if len(d.Next) > maxNext {
		d.Next = d.Next[:maxNext]
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// notHeardAlerts names the online clusters whose latest play measured by
// their microphone was not heard: a broken amplifier or a cut speaker
// cable. A cluster heard since, or with no microphone, is not named.
func (a *API) notHeardAlerts(views []NodeView, now time.Time) []NodeAlert {
	var out []NodeAlert
	a.cfg.Registry.ReadLive(now.Add(-notHeardWindow), func(lr registry.LiveReader) {
		for _, v := range views {
			rv, ok := lr.View(v.ID)
			if !v.Online || !ok {
				continue
			}
			if verdict, at := rv.LastHeard(); verdict == registry.HeardNo {
				name := cmp.Or(v.Name, v.ID)
				out = append(out, NodeAlert{Kind: "not_heard", Node: v.ID, NodeName: name, Since: &at, Detail: notHeardReason})
			}
		}
	})
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// nodeIDs lists the ids of nodes.
func nodeIDs(nodes []registry.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}
