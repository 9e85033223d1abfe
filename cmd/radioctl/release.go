package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
)

// releaseCommand runs the release and rollout commands; done is false for
// any other command.
func (c *client) releaseCommand(cmd string, rest []string) (done bool, err error) {
	switch cmd {
	case "release add":
		return true, c.releaseAdd(rest)
	case "release list":
		var out struct {
			Releases []map[string]any `json:"releases"`
		}
		if err := c.call("GET", "/api/v1/releases", nil, &out); err != nil {
			return true, err
		}
		tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tARCH\tSIZE\tSHA256\tCREATED_AT")
		for _, r := range out.Releases {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(r["version"]), cell(r["arch"]), cell(r["size"]), cell(r["sha256"]), cell(r["created_at"]))
		}
		return true, tw.Flush()
	case "rollout start":
		return true, c.rolloutStart(rest)
	case "rollout stop":
		if err := need(rest, 1, "ID"); err != nil {
			return true, err
		}
		return true, c.call("POST", "/api/v1/rollouts/"+url.PathEscape(rest[0])+"/stop", nil, nil)
	case "rollout list":
		return true, c.table("/api/v1/rollouts", "id", "version", "arch", "status", "targeted", "updated", "failed", "sent", "pending", "reason")
	case "rollout status":
		if err := need(rest, 1, "ID"); err != nil {
			return true, err
		}
		var ro struct {
			ID, Version, Status, Reason        string
			Targeted, Updated, Failed, Pending int
			Nodes                              []map[string]any
		}
		if err := c.call("GET", "/api/v1/rollouts/"+url.PathEscape(rest[0]), nil, &ro); err != nil {
			return true, err
		}
		fmt.Fprintf(c.out, "%s %s: %s (targeted %d, updated %d, failed %d, pending %d) %s\n", ro.ID, ro.Version, ro.Status, ro.Targeted, ro.Updated, ro.Failed, ro.Pending, ro.Reason)
		tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tSTATUS\tREASON")
		for _, n := range ro.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", cell(n["node_id"]), cell(n["status"]), cell(n["reason"]))
		}
		return true, tw.Flush()
	}
	return false, nil
}

func (c *client) releaseAdd(args []string) error {
	var version, arch string
	_, pos, err := flags("release add", args, func(fs *flag.FlagSet) {
		fs.StringVar(&version, "version", "", "the release's version (as the binary reports it)")
		fs.StringVar(&arch, "arch", "", "GOARCH the binary runs on: arm64, arm, amd64")
	})
	if err != nil {
		return err
	}
	if err := need(pos, 1, "FILE -version V -arch A"); err != nil {
		return err
	}
	if version == "" || arch == "" {
		return fmt.Errorf("release add: -version and -arch are required")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequest("POST", c.server+"/api/v1/releases?version="+url.QueryEscape(version)+"&arch="+url.QueryEscape(arch), f)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return c.do(req, nil)
}

func (c *client) rolloutStart(args []string) error {
	var version, arch, zone string
	var percent, parallel, maxFailures int
	_, pos, err := flags("rollout start", args, func(fs *flag.FlagSet) {
		fs.StringVar(&version, "version", "", "release version")
		fs.StringVar(&arch, "arch", "", "release arch (default: the version's only one)")
		fs.StringVar(&zone, "zone", "", "every node of this zone")
		fs.IntVar(&percent, "percent", 0, "or this percentage of the fleet (1-100)")
		fs.IntVar(&parallel, "parallel", 0, "nodes updating at once (default: max-failures)")
		fs.IntVar(&maxFailures, "max-failures", 0, "failures that halt the rollout (default: max(1, 10% of the nodes))")
	})
	if err != nil {
		return err
	}
	if version == "" && len(pos) > 0 {
		version = pos[0]
	}
	if version == "" {
		return fmt.Errorf("rollout start: -version is required")
	}
	body := map[string]any{"version": strings.TrimSpace(version), "arch": arch, "zone": zone, "percent": percent,
		"parallel": parallel, "max_failures": maxFailures}
	return c.call("POST", "/api/v1/rollouts", body, nil)
}
