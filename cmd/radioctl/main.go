// Command radioctl is the officers' and administrators' command line for the
// controller's HTTP API.
//
//	radioctl [-server URL] [-token T | -token-file F] COMMAND [ARGS]
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // officers read times in Vietnam time on any machine
)

// vn is the time zone times are shown in.
var vn, _ = time.LoadLocation("Asia/Ho_Chi_Minh")

const usage = `radioctl: control the commune radio controller

Usage: radioctl [-server URL] [-token TOKEN | -token-file FILE] COMMAND [ARGS]

Commands:
  area add ID NAME [-kind province|commune] [-parent ID]
  area list
  station add ID AREA NAME [-kind ip|fm|wired]
  station list
  node add ID STATION [-name N] [-lat X -lon Y] [-zone Z] [-out FILE]   enrol; prints the node's config
  node list
  node show ID
  node revoke ID
  node secret ID [-out FILE]  new broker credentials for a node (the old ones stop working); prints its config
  zone add ID STATION [-name N] [-offset-ms MS] [-nodes a,b,c]
  zone list
  media upload FILE [-area COMMUNE]   (administrators: -area puts it in that commune's library)
  media list
  play MEDIA (-node ID | -zone ID) [-at RFC3339 | -delay 5s] [-priority normal|priority|emergency] [-repeat N]
  stop (-node ID | -zone ID)
  volume LEVEL (-node ID | -zone ID)
  amp on|off (-node ID | -zone ID)
  schedule put NAME FILE [-version V] [-force]
                              save a programme file (.radio); mistakes come back as file:line;
                              an existing one is replaced only with -version (of schedule get)
  schedule get NAME           print a programme; its version goes to stderr
  schedule list
  schedule delete NAME
  report [-from DATE] [-to DATE]   scheduled vs aired, per occurrence and node (default today)
  key status                  signing keys, and nodes not yet trusting a prepared key
  key rotate prepare|commit [-force]   rotate the controller's signing key without re-enrolling
  user add USERNAME [-role officer|leader|province|admin] [-area ID] [-name N] [-password P]
                              a web UI account; prints its password (roles: see README)
  user list
  user disable|enable USERNAME
  user passwd USERNAME [-password P]   a forgotten password: a new one (printed), sessions ended
  token add NAME [-role R -area ID]   an API token for a script (your role and area; administrators: any)
  token list
  token revoke ID
  backup DIR                  administrators: copy the controller's registry, recordings, keys and programmes
                              into the new folder DIR, consistent while nodes report (restore:
                              radio-controller -restore DIR -data NEWDATADIR)
  warn send (-text T | -media SHA) [-title T] [-area IDS] [-zone IDS] [-node IDS] [-polygon "lat,lon lat,lon ..."]
            [-times 3] [-gap 3s] [-expires RFC3339] [-follow]
                              an emergency warning now, no approval (-follow: show which nodes started it)
  warn status ID              which nodes have started it, which not
  warn cancel ID              stop it at once everywhere
  warn list
  cap send FILE               post a CAP 1.2 alert (XML) as this token's sender
  cap list                    received CAP alerts and what came of them
  area code ID CODE           administrators: an area's national administrative unit code (CAP geocode)
  area drills ID on|off       administrators: play CAP Exercise/Test alerts there
  release add FILE -version V -arch A   administrators: store a node binary as a release, signed with the update key
  release list
  rollout start -version V (-zone ID | -percent P) [-parallel N] [-max-failures N]
                              administrators: update nodes a few at a time; halts at max-failures
  rollout list                rollouts and their progress
  rollout status ID           each node's progress
  rollout stop ID             halt a running rollout: no further node gets it
  command ID                  a command and the nodes' replies
  plays [-node ID] [-item ID] [-since RFC3339]   proof of play

Times are shown in Vietnam time (Asia/Ho_Chi_Minh).

For an https controller with its own CA, pass -cacert FILE (or $RADIO_CACERT).
The token comes from -token, else $RADIO_TOKEN, else -token-file (default data/admin.token).
`

type client struct {
	server string
	token  string
	out    io.Writer
}

func main() {
	fs := flag.NewFlagSet("radioctl", flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	server := fs.String("server", envOr("RADIO_SERVER", "http://127.0.0.1:8080"), "controller URL")
	token := fs.String("token", os.Getenv("RADIO_TOKEN"), "API token")
	tokenFile := fs.String("token-file", "data/admin.token", "file holding the API token")
	caFile := fs.String("cacert", os.Getenv("RADIO_CACERT"), "PEM CA to verify an https controller (default: the system's)")
	fs.Parse(os.Args[1:])
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "radioctl: -cacert %s: not a PEM certificate file (%v)\n", *caFile, err)
			os.Exit(2)
		}
		http.DefaultTransport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	if *token == "" {
		if b, err := os.ReadFile(*tokenFile); err == nil {
			*token = strings.TrimSpace(string(b))
		}
	}
	c := &client{server: strings.TrimRight(*server, "/"), token: *token, out: os.Stdout}
	if err := c.run(fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "radioctl:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// flags parses sub-command flags that may come after positional arguments.
func flags(name string, args []string, def func(*flag.FlagSet)) (*flag.FlagSet, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	def(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs, pos, nil
}

func need(pos []string, n int, what string) error {
	if len(pos) < n {
		return fmt.Errorf("missing arguments: %s", what)
	}
	return nil
}

func (c *client) run(args []string) error {
	cmd := args[0]
	if len(args) > 1 && (cmd == "area" || cmd == "station" || cmd == "node" || cmd == "zone" || cmd == "media" || cmd == "schedule" || cmd == "key" || cmd == "user" || cmd == "token" || cmd == "warn" || cmd == "cap" || cmd == "release" || cmd == "rollout") {
		cmd += " " + args[1]
		args = args[1:]
	}
	rest := args[1:]
	var target struct{ node, zone string }
	targetFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&target.node, "node", "", "node id")
		fs.StringVar(&target.zone, "zone", "", "zone id")
	}
	targetBody := func(m map[string]any) map[string]any {
		if target.node != "" {
			m["node"] = target.node
		}
		if target.zone != "" {
			m["zone"] = target.zone
		}
		return m
	}
	if done, err := c.warnCommand(cmd, rest); done {
		return err
	}
	if done, err := c.releaseCommand(cmd, rest); done {
		return err
	}
	switch cmd {
	case "area add":
		var kind, parent string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&kind, "kind", "commune", "province or commune")
			fs.StringVar(&parent, "parent", "", "parent area id")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 2, "ID NAME"); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/areas", map[string]any{"id": pos[0], "name": strings.Join(pos[1:], " "), "kind": kind, "parent_id": parent}, nil)
	case "area list":
		return c.table("/api/v1/areas", "id", "kind", "name", "parent_id")
	case "station add":
		var kind string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) { fs.StringVar(&kind, "kind", "ip", "ip, fm or wired") })
		if err != nil {
			return err
		}
		if err := need(pos, 3, "ID AREA NAME"); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/stations", map[string]any{"id": pos[0], "area_id": pos[1], "name": strings.Join(pos[2:], " "), "kind": kind}, nil)
	case "station list":
		return c.table("/api/v1/stations", "id", "area_id", "kind", "name")
	case "node add":
		var name, zone, out string
		var lat, lon float64
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "name")
			fs.StringVar(&zone, "zone", "", "zone to join")
			fs.StringVar(&out, "out", "", "write the node config to this file (0600)")
			fs.Float64Var(&lat, "lat", 0, "latitude")
			fs.Float64Var(&lon, "lon", 0, "longitude")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 2, "ID STATION"); err != nil {
			return err
		}
		body := map[string]any{"id": pos[0], "station_id": pos[1], "name": name, "lat": lat, "lon": lon}
		if zone != "" {
			body["zones"] = []string{zone}
		}
		var resp struct {
			Config json.RawMessage `json:"config"`
		}
		if err := c.call("POST", "/api/v1/nodes", body, &resp); err != nil {
			return err
		}
		return c.writeConfig(pos[0], resp.Config, out, "enrolled")
	case "node list":
		return c.nodes()
	case "node show":
		if err := need(rest, 1, "ID"); err != nil {
			return err
		}
		return c.call("GET", "/api/v1/nodes/"+url.PathEscape(rest[0]), nil, nil)
	case "node secret":
		var out string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) { fs.StringVar(&out, "out", "", "write the node config to this file (0600)") })
		if err != nil {
			return err
		}
		if err := need(pos, 1, "ID"); err != nil {
			return err
		}
		var resp struct {
			Config json.RawMessage `json:"config"`
		}
		if err := c.call("POST", "/api/v1/nodes/"+url.PathEscape(pos[0])+"/secret", nil, &resp); err != nil {
			return err
		}
		return c.writeConfig(pos[0], resp.Config, out, "new credentials issued")
	case "node revoke":
		if err := need(rest, 1, "ID"); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/nodes/"+url.PathEscape(rest[0])+"/revoke", nil, nil)
	case "zone add":
		var name, nodes string
		var offset int
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "name")
			fs.StringVar(&nodes, "nodes", "", "comma-separated node ids")
			fs.IntVar(&offset, "offset-ms", 0, "start offset of this zone, ms")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 2, "ID STATION"); err != nil {
			return err
		}
		body := map[string]any{"id": pos[0], "station_id": pos[1], "name": name, "offset_ms": offset}
		if nodes != "" {
			body["nodes"] = strings.Split(nodes, ",")
		}
		return c.call("POST", "/api/v1/zones", body, nil)
	case "zone list":
		return c.table("/api/v1/zones", "id", "station_id", "offset_ms", "nodes")
	case "media upload":
		var area string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&area, "area", "", "the commune whose media library gets it (administrators)")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 1, "FILE"); err != nil {
			return err
		}
		return c.upload(pos[0], area)
	case "user add":
		var role, area, name, password string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&role, "role", "officer", "officer, leader, province or admin")
			fs.StringVar(&area, "area", "", "the commune (officer, leader) or province (province) of the account")
			fs.StringVar(&name, "name", "", "the person's full name")
			fs.StringVar(&password, "password", "", "initial password (default: one is made and printed)")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 1, "USERNAME"); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/users", map[string]any{"username": pos[0], "role": role, "area_id": area, "name": name, "password": password}, nil)
	case "token add":
		var role, area string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&role, "role", "", "administrators: the token's role (default: your own)")
			fs.StringVar(&area, "area", "", "administrators: the token's area (default: your own)")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 1, "NAME"); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/tokens", map[string]any{"name": strings.Join(pos, " "), "role": role, "area_id": area}, nil)
	case "token list":
		return c.table("/api/v1/tokens", "id", "name", "role", "area_id", "created_by", "created_at")
	case "token revoke":
		if err := need(rest, 1, "ID"); err != nil {
			return err
		}
		return c.call("DELETE", "/api/v1/tokens/"+url.PathEscape(rest[0]), nil, nil)
	case "user list":
		return c.table("/api/v1/users", "username", "role", "area_id", "name", "disabled")
	case "user passwd":
		var password string
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&password, "password", "", "the new password (default: one is made and printed)")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 1, "USERNAME"); err != nil {
			return err
		}
		id, err := c.userID(pos[0])
		if err != nil {
			return err
		}
		return c.call("POST", "/api/v1/users/"+url.PathEscape(id)+"/password", map[string]any{"password": password}, nil)
	case "user disable", "user enable":
		if err := need(rest, 1, "USERNAME"); err != nil {
			return err
		}
		id, err := c.userID(rest[0])
		if err != nil {
			return err
		}
		return c.call("POST", "/api/v1/users/"+url.PathEscape(id)+"/disabled", map[string]any{"disabled": cmd == "user disable"}, nil)
	case "media list":
		return c.table("/api/v1/media", "sha256", "name", "duration_ms", "size")
	case "play":
		var at, priority string
		var delay time.Duration
		var repeat int
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			targetFlags(fs)
			fs.StringVar(&at, "at", "", "start time, RFC 3339")
			fs.DurationVar(&delay, "delay", 0, "start after this delay")
			fs.StringVar(&priority, "priority", "normal", "normal, priority or emergency")
			fs.IntVar(&repeat, "repeat", 0, "extra plays")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 1, "MEDIA (sha256 from 'media list')"); err != nil {
			return err
		}
		body := targetBody(map[string]any{"media": pos[0], "priority": priority, "repeat": repeat})
		if at != "" {
			body["play_at"] = at
		}
		if delay > 0 {
			body["delay_ms"] = delay.Milliseconds()
		}
		return c.call("POST", "/api/v1/play", body, nil)
	case "stop":
		if _, _, err := flags(cmd, rest, targetFlags); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/stop", targetBody(map[string]any{}), nil)
	case "volume", "amp":
		_, pos, err := flags(cmd, rest, targetFlags)
		if err != nil {
			return err
		}
		if err := need(pos, 1, "VALUE"); err != nil {
			return err
		}
		var v any = pos[0]
		if cmd == "volume" {
			var n int
			if _, err := fmt.Sscan(pos[0], &n); err != nil {
				return fmt.Errorf("volume: want a number from 0 to 100")
			}
			v = n
		} else {
			v = pos[0] == "on"
		}
		return c.call("POST", "/api/v1/"+cmd, targetBody(map[string]any{"value": v}), nil)
	case "schedule put":
		var version string
		var force bool
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&version, "version", "", "the version the file was made from (printed by schedule get); needed to replace an existing programme")
			fs.BoolVar(&force, "force", false, "replace the programme whatever its version (the audit log says so)")
		})
		if err != nil {
			return err
		}
		if err := need(pos, 2, "NAME FILE"); err != nil {
			return err
		}
		b, err := os.ReadFile(pos[1])
		if err != nil {
			return err
		}
		u := c.server + "/api/v1/schedules/" + url.PathEscape(pos[0])
		if force {
			u += "?force=true"
		}
		req, err := http.NewRequest("PUT", u, bytes.NewReader(b))
		if err != nil {
			return err
		}
		if version != "" {
			req.Header.Set("If-Match", `"`+version+`"`)
		}
		var resp struct {
			Version string   `json:"version"`
			Drafts  []string `json:"drafts"`
			Waiting []string `json:"waiting"`
		}
		if err := c.do(req, &resp); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "schedule %s saved (version %s); nodes get their new programme now\n", pos[0], resp.Version)
		if len(resp.Drafts) > 0 {
			fmt.Fprintf(c.out, "drafts until the commune's leader approves them: %s\n", strings.Join(resp.Drafts, ", "))
		}
		if len(resp.Waiting) > 0 {
			fmt.Fprintf(c.out, "changes waiting for the leader (the approved versions air meanwhile): %s\n", strings.Join(resp.Waiting, ", "))
		}
		return nil
	case "schedule get":
		if err := need(rest, 1, "NAME"); err != nil {
			return err
		}
		req, err := http.NewRequest("GET", c.server+"/api/v1/schedules/"+url.PathEscape(rest[0]), nil)
		if err != nil {
			return err
		}
		v, err := c.doVersion(req)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "version %s: after editing, save with radioctl schedule put %s FILE -version %s\n", v, rest[0], v)
		return nil
	case "key status":
		return c.call("GET", "/api/v1/keys", nil, nil)
	case "key rotate":
		var force bool
		_, pos, err := flags(cmd, rest, func(fs *flag.FlagSet) { fs.BoolVar(&force, "force", false, "commit even if some nodes are behind") })
		if err != nil {
			return err
		}
		if err := need(pos, 1, "prepare or commit"); err != nil {
			return err
		}
		return c.call("POST", "/api/v1/keys/rotate", map[string]any{"step": pos[0], "force": force}, nil)
	case "schedule list":
		return c.table("/api/v1/schedules", "name", "station", "items")
	case "schedule delete":
		if err := need(rest, 1, "NAME"); err != nil {
			return err
		}
		return c.call("DELETE", "/api/v1/schedules/"+url.PathEscape(rest[0]), nil, nil)
	case "report":
		var from, to string
		if _, _, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&from, "from", "", "start, RFC 3339 (default: today 00:00 Vietnam time)")
			fs.StringVar(&to, "to", "", "end, RFC 3339")
		}); err != nil {
			return err
		}
		q := url.Values{}
		if from != "" {
			q.Set("from", from)
		}
		if to != "" {
			q.Set("to", to)
		}
		return c.table("/api/v1/reports/occurrences?"+q.Encode(), "at", "node", "occurrence", "priority", "status", "reason")
	case "backup":
		if err := need(rest, 1, "DIR"); err != nil {
			return err
		}
		return c.backup(rest[0])
	case "command":
		if err := need(rest, 1, "ID"); err != nil {
			return err
		}
		return c.call("GET", "/api/v1/commands/"+url.PathEscape(rest[0]), nil, nil)
	case "plays":
		var node, item, since string
		if _, _, err := flags(cmd, rest, func(fs *flag.FlagSet) {
			fs.StringVar(&node, "node", "", "node id")
			fs.StringVar(&item, "item", "", "command or slot id")
			fs.StringVar(&since, "since", "", "RFC 3339")
		}); err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"node": node, "item": item, "since": since} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return c.table("/api/v1/plays?"+q.Encode(), "at", "node_id", "type", "item_id", "offset_us", "played_ms", "reason")
	}
	return fmt.Errorf("unknown command %q (run radioctl without arguments for help)", strings.Join(args, " "))
}

func (c *client) do(req *http.Request, out any) error {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the controller at %s (is it running?): %w", c.server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return httpError(resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	_, err = c.out.Write(b)
	return err
}

// doVersion is do for a GET whose answer names a version (ETag).
func (c *client) doVersion(req *http.Request) (string, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach the controller at %s (is it running?): %w", c.server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode >= 300 {
		return "", httpError(resp.StatusCode, b)
	}
	_, err = c.out.Write(b)
	return strings.Trim(resp.Header.Get("ETag"), `"`), err
}

// httpError is the controller's error answer as the user reads it.
func httpError(status int, b []byte) error {
	var e struct {
		Error   string   `json:"error"`
		Errors  []string `json:"errors"`
		Code    string   `json:"code"`
		Version string   `json:"version"`
	}
	if json.Unmarshal(b, &e) == nil && e.Code == "stale" {
		return fmt.Errorf("%s (HTTP %d).\nThe programme is now at version %s: radioctl schedule get NAME shows it; -force replaces it anyway", e.Error, status, e.Version)
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		if len(e.Errors) > 0 {
			return fmt.Errorf("%s (HTTP %d):\n  %s", e.Error, status, strings.Join(e.Errors, "\n  "))
		}
		return fmt.Errorf("%s (HTTP %d)", e.Error, status)
	}
	return fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(b))
}

func (c *client) call(method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.server+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

// userID finds a user's id by username.
func (c *client) userID(username string) (string, error) {
	var users []map[string]any
	if err := c.call("GET", "/api/v1/users", nil, &users); err != nil {
		return "", err
	}
	for _, u := range users {
		if u["username"] == username {
			return fmt.Sprint(u["id"]), nil
		}
	}
	return "", fmt.Errorf("no user %q (radioctl user list)", username)
}

func (c *client) upload(path, area string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequest("POST", c.server+"/api/v1/media?name="+url.QueryEscape(filepath.Base(path))+"&area="+url.QueryEscape(area), f)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return c.do(req, nil)
}

func (c *client) table(path string, cols ...string) error {
	var rows []map[string]any
	if err := c.call("GET", path, nil, &rows); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		var cells []string
		for _, col := range cols {
			cells = append(cells, cell(r[col]))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) >= 20 {
			return t.In(vn).Format("2006-01-02 15:04:05.000")
		}
	case float64:
		return fmt.Sprintf("%.0f", x)
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, cell(e))
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}

func (c *client) nodes() error {
	var rows []struct {
		ID        string `json:"id"`
		StationID string `json:"station_id"`
		Name      string `json:"name"`
		Revoked   bool   `json:"revoked"`
		Online    bool   `json:"online"`
		State     *struct {
			Audio   string `json:"audio"`
			Volume  int    `json:"volume"`
			Playing *struct {
				ID string `json:"id"`
			} `json:"playing"`
			Outbox int `json:"outbox"`
		} `json:"state"`
	}
	if err := c.call("GET", "/api/v1/nodes", nil, &rows); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATION\tONLINE\tAUDIO\tVOLUME\tPLAYING\tOUTBOX\tNAME")
	for _, n := range rows {
		online := "offline"
		if n.Online {
			online = "online"
		}
		if n.Revoked {
			online = "revoked"
		}
		audio, vol, playing, outbox := "-", "-", "-", "-"
		if s := n.State; s != nil {
			audio, vol, outbox = s.Audio, fmt.Sprint(s.Volume), fmt.Sprint(s.Outbox)
			if s.Playing != nil {
				playing = s.Playing.ID
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.StationID, online, audio, vol, playing, outbox, n.Name)
	}
	return tw.Flush()
}

// writeConfig prints a node config, or writes it owner-only to out.
func (c *client) writeConfig(id string, cfg json.RawMessage, out, what string) error {
	var pretty bytes.Buffer
	json.Indent(&pretty, cfg, "", "  ")
	pretty.WriteByte('\n')
	if out == "" {
		_, err := c.out.Write(pretty.Bytes())
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, pretty.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "node %s %s; config written to %s (it holds the node's secret: copy it to the box as /etc/radio/node.json)\n", id, what, out)
	return nil
}
