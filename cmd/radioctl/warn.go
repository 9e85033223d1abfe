package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// warnCommand runs the warning and CAP commands; done is false for any
// other command.
func (c *client) warnCommand(cmd string, rest []string) (done bool, err error) {
	switch cmd {
	case "warn send":
		return true, c.warnSend(rest)
	case "warn status":
		if err := need(rest, 1, "ID"); err != nil {
			return true, err
		}
		return true, c.warnStatus(rest[0])
	case "warn cancel":
		if err := need(rest, 1, "ID"); err != nil {
			return true, err
		}
		return true, c.call("POST", "/api/v1/warnings/"+rest[0]+"/cancel", nil, nil)
	case "warn list":
		return true, c.table("/api/v1/warnings", "id", "created_at", "status", "source", "title", "created_by")
	case "cap send":
		if err := need(rest, 1, "FILE"); err != nil {
			return true, err
		}
		b, err := os.ReadFile(rest[0])
		if err != nil {
			return true, err
		}
		req, err := http.NewRequest("POST", c.server+"/api/v1/cap", bytes.NewReader(b))
		if err != nil {
			return true, err
		}
		req.Header.Set("Content-Type", "application/cap+xml")
		return true, c.do(req, nil)
	case "cap list":
		return true, c.table("/api/v1/cap/alerts", "received_at", "sender", "identifier", "status", "msg_type", "outcome", "warning", "detail")
	case "area code":
		if err := need(rest, 2, "ID CODE"); err != nil {
			return true, err
		}
		return true, c.call("PUT", "/api/v1/areas/"+rest[0]+"/warning-settings", map[string]any{"code": rest[1]}, nil)
	case "area drills":
		if err := need(rest, 2, "ID on|off"); err != nil {
			return true, err
		}
		if rest[1] != "on" && rest[1] != "off" {
			return true, fmt.Errorf("area drills: on or off")
		}
		return true, c.call("PUT", "/api/v1/areas/"+rest[0]+"/warning-settings", map[string]any{"drills": rest[1] == "on"}, nil)
	}
	return false, nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *client) warnSend(args []string) error {
	var text, media, title, areas, zones, nodes, polygon, expires string
	var times int
	var gap time.Duration
	var follow bool
	if _, _, err := flags("warn send", args, func(fs *flag.FlagSet) {
		fs.StringVar(&text, "text", "", "text to read aloud")
		fs.StringVar(&media, "media", "", "a recording's sha256")
		fs.StringVar(&title, "title", "", "title (default Cảnh báo khẩn cấp)")
		fs.StringVar(&areas, "area", "", "province or commune ids, comma-separated")
		fs.StringVar(&zones, "zone", "", "zone ids, comma-separated")
		fs.StringVar(&nodes, "node", "", "node ids, comma-separated")
		fs.StringVar(&polygon, "polygon", "", `"lat,lon lat,lon ..." closed on the first point`)
		fs.IntVar(&times, "times", 0, "plays in all (default 3)")
		fs.DurationVar(&gap, "gap", -1, "silence between plays (default 3s)")
		fs.StringVar(&expires, "expires", "", "stop by itself at this time (RFC 3339)")
		fs.BoolVar(&follow, "follow", false, "show which nodes have started it until all have")
	}); err != nil {
		return err
	}
	target := map[string]any{"areas": list(areas), "zones": list(zones), "nodes": list(nodes)}
	if polygon != "" {
		var pts []map[string]float64
		for _, f := range strings.Fields(polygon) {
			la, lo, _ := strings.Cut(f, ",")
			lat, err1 := strconv.ParseFloat(la, 64)
			lon, err2 := strconv.ParseFloat(lo, 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("-polygon: %q is not lat,lon", f)
			}
			pts = append(pts, map[string]float64{"lat": lat, "lon": lon})
		}
		target["polygon"] = pts
	}
	body := map[string]any{"title": title, "text": text, "media": media, "target": target}
	if times > 0 {
		body["times"] = times
	}
	if gap >= 0 {
		body["gap_ms"] = gap.Milliseconds()
	}
	if expires != "" {
		body["expires"] = expires
	}
	var w struct {
		ID      string `json:"id"`
		Targets []struct {
			Node, Error string
		} `json:"targets"`
	}
	if err := c.call("POST", "/api/v1/warnings", body, &w); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "warning %s sent to %d nodes (cancel: radioctl warn cancel %s)\n", w.ID, len(w.Targets), w.ID)
	if !follow {
		return nil
	}
	for range 120 {
		var p struct {
			Started, Pending int
			Nodes            []any
		}
		if err := c.call("GET", "/api/v1/warnings/"+w.ID, nil, &p); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "started on %d of %d nodes, %d waiting\n", p.Started, len(p.Nodes), p.Pending)
		if p.Pending == 0 {
			return c.warnStatus(w.ID)
		}
		time.Sleep(time.Second)
	}
	return c.warnStatus(w.ID)
}

func (c *client) warnStatus(id string) error {
	var p struct {
		ID, Status, Title string
		Started, Pending  int
		Nodes             []struct {
			Node, Area, Command, State, Reason string
		}
	}
	if err := c.call("GET", "/api/v1/warnings/"+id, nil, &p); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s %q: %s; started on %d of %d nodes\n", p.ID, p.Title, p.Status, p.Started, len(p.Nodes))
	tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tAREA\tSTATE\tREASON")
	for _, n := range p.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Node, n.Area, n.State, n.Reason)
	}
	return tw.Flush()
}
