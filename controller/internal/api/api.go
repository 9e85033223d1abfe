// Package api is the controller's HTTP JSON API, used by radioctl, scripts
// and the web UI. Every route but /api/v1/health needs a bearer token.
// Handlers return errors to one adapter (serve) that maps them to a status
// and a message a person can act on.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/desired"
	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/live"
	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/release"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/controller/internal/warning"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Config of the API.
type Config struct {
	Registry *registry.DB
	Media    *media.Store
	Fleet    *fleet.Fleet
	Signer   *signer.Signer
	Logger   *slog.Logger
	// NodeBroker is the broker URL written into enrolled nodes' configs.
	NodeBroker string
	// OnCredentialsChanged runs after a node is enrolled or revoked, or zones
	// change (to rewrite an external broker's password and ACL files).
	OnCredentialsChanged func(ctx context.Context)
	// Disconnect cuts a revoked node's live connection (embedded broker).
	Disconnect func(node string)
	// DefaultLead is how far ahead "play now" sets play_at so that every
	// node of a zone can start together (default 4 s).
	DefaultLead time.Duration
	// PublishDesired sends nodes their desired state (settings, zones and
	// schedule) as the registry and scheduler have it now (desired.Publisher).
	PublishDesired func(ctx context.Context, nodes ...string) error
	// Reach tells how far ahead a node's last desired state reaches
	// (desired.Publisher.Reach; nil: not shown).
	Reach func(node string) (desired.Reach, bool)
	// Schedules manages the programme files.
	Schedules *programme.Store
	// Now is the clock of sessions and login limits (nil: time.Now).
	Now func() time.Time
	// TrustProxy reads the client's address and scheme from a reverse
	// proxy's X-Forwarded-For/-Proto headers on loopback connections.
	TrustProxy bool
	// Backup streams a backup of the controller's data (nil: none).
	Backup BackupFunc
	// Live runs live sessions: relays now and live from the browser (nil:
	// both are refused).
	Live *live.Manager
	// Warnings sends emergency warnings and takes CAP alerts (nil: none).
	Warnings *warning.Service
	// TLSPin is the pin (CertPin) of the certificate the API serves, given
	// with enrolment codes made over that listener ("": none).
	TLSPin string
	// Releases keeps node releases and runs rollouts (nil: none).
	Releases *release.Manager
}

// API serves HTTP.
type API struct {
	cfg   Config
	mux   *http.ServeMux
	limit *limiter
}

// New builds the handler.
func New(cfg Config) *API {
	if cfg.DefaultLead <= 0 {
		cfg.DefaultLead = 4 * time.Second
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.limit = newLimiter(a.now)
	a.routes()
	return a
}

//go:embed openapi.json
var openAPI []byte

// Routes lists every route as "METHOD /path" (for the API document test).
var Routes []string

// route adds an authenticated route.
func (a *API) route(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	Routes = appendOnce(Routes, pattern)
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, h, true)
	})
}

// public adds a route that needs no login (logging in itself).
func (a *API) public(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	Routes = appendOnce(Routes, pattern)
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, h, false)
	})
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func (a *API) routes() {
	a.mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	a.mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "time": a.now().UTC()})
	})
	a.public("POST /api/v1/login", a.login)
	a.route("POST /api/v1/logout", a.logout)
	a.route("GET /api/v1/me", a.me)
	a.route("POST /api/v1/me/password", a.changePassword)
	a.route("GET /api/v1/users", a.listUsers)
	a.route("POST /api/v1/users", a.createUser)
	a.route("POST /api/v1/users/{id}/disabled", a.disableUser)
	a.route("POST /api/v1/users/{id}/password", a.resetPassword)
	a.route("GET /api/v1/tokens", a.listTokens)
	a.route("POST /api/v1/tokens", a.createToken)
	a.route("DELETE /api/v1/tokens/{id}", a.deleteToken)
	a.route("GET /api/v1/dashboard", a.dashboard)
	a.route("GET /api/v1/coverage", a.coverage)
	a.route("GET /api/v1/areas", a.listAreas)
	a.route("POST /api/v1/areas", a.createArea)
	a.route("GET /api/v1/stations", a.listStations)
	a.route("POST /api/v1/stations", a.createStation)
	a.route("GET /api/v1/nodes", a.listNodes)
	a.route("POST /api/v1/nodes", a.enrolNode)
	a.route("GET /api/v1/nodes/{id}", a.getNode)
	a.route("POST /api/v1/nodes/{id}/revoke", a.revokeNode)
	a.route("POST /api/v1/nodes/{id}/secret", a.rotateSecret)
	a.route("GET /api/v1/zones", a.listZones)
	a.route("POST /api/v1/zones", a.createZone)
	a.route("PUT /api/v1/zones/{id}/nodes", a.setZoneNodes)
	a.mediaRoutes()
	a.route("POST /api/v1/play", a.play)
	a.route("POST /api/v1/stop", a.stop)
	a.route("POST /api/v1/volume", a.volume)
	a.route("POST /api/v1/amp", a.amp)
	a.route("GET /api/v1/commands/{id}", a.getCommand)
	a.route("GET /api/v1/plays", a.listPlays)
	a.route("GET /api/v1/plays.csv", a.playsCSV)
	a.route("GET /api/v1/audit", a.listAudit)
	a.route("GET /api/v1/schedules", a.listSchedules)
	a.route("GET /api/v1/schedules/{name}", a.getSchedule)
	a.route("PUT /api/v1/schedules/{name}", a.putSchedule)
	a.route("DELETE /api/v1/schedules/{name}", a.deleteSchedule)
	a.route("GET /api/v1/schedules/{name}/bulletins", a.listBulletins)
	a.route("PUT /api/v1/schedules/{name}/bulletins/{id}", a.putBulletin)
	a.route("DELETE /api/v1/schedules/{name}/bulletins/{id}", a.deleteBulletin)
	a.route("POST /api/v1/schedules/{name}/bulletins/{id}/approve", a.approveBulletin)
	a.route("POST /api/v1/schedules/{name}/bulletins/{id}/return", a.sendBackBulletin)
	a.route("GET /api/v1/schedules/{name}/occurrences", a.scheduleOccurrences)
	a.route("GET /api/v1/approvals", a.listApprovals)
	a.route("GET /api/v1/reports/occurrences", a.occurrenceReport)
	a.route("GET /api/v1/reports/occurrences.csv", a.occurrenceReportCSV)
	a.route("GET /api/v1/keys", a.getKeys)
	a.route("POST /api/v1/keys/rotate", a.rotateKey)
	a.route("POST /api/v1/backup", a.backup)
	a.route("POST /api/v1/tts/preview", a.ttsPreview)
	a.route("GET /api/v1/tts/lexicon/{area}", a.getLexicon)
	a.route("PUT /api/v1/tts/lexicon/{area}", a.putLexicon)
	a.route("POST /api/v1/relay", a.relayNow)
	a.route("GET /api/v1/channels", a.listChannels)
	a.route("PUT /api/v1/channels/{id}", a.putChannel)
	a.route("DELETE /api/v1/channels/{id}", a.deleteChannel)
	a.route("GET /api/v1/live", a.listLive)
	a.route("GET /api/v1/live/slots", a.listLiveSlots)
	a.route("POST /api/v1/live", a.startLive)
	a.route("GET /api/v1/live/ws", a.liveSocket)
	a.warningRoutes()
	a.enrolRoutes()
	a.adminRoutes()
	a.releaseRoutes()
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// httpError is an error with a status and a message for the user; code is
// a stable word the web UI translates (derived from status when empty).
type httpError struct {
	status     int
	code       string
	msg        string
	retryAfter int
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, a ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, a...)}
}

type ctxKey struct{}

// actor is who made the request, as the audit log names them.
func actor(r *http.Request) string {
	if p := principal(r); p.Kind != "" {
		return p.Actor()
	}
	return "anonymous"
}

// codes of the error responses, by status.
var statusCodes = map[int]string{
	http.StatusBadRequest: "invalid", http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden",
	http.StatusNotFound: "not_found", http.StatusConflict: "conflict", http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnprocessableEntity: "not_audio", http.StatusTooManyRequests: "rate_limited",
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) error, auth bool) {
	var err error
	if auth {
		var p Principal
		if p, err = a.authenticate(r); err == nil {
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		}
	}
	if err == nil {
		err = h(w, r)
	}
	if err == nil {
		return
	}
	status, msg, code := http.StatusInternalServerError, "internal error: "+err.Error(), ""
	var he *httpError
	var pe *nodeproto.Error
	var mbe *http.MaxBytesError
	var se *scheduleErrors
	var stale staleError
	var mu *mediaInUse
	body := map[string]any{}
	switch {
	case errors.As(err, &stale):
		status, code, msg = http.StatusConflict, "stale", stale.Error()
		for k, v := range staleBody(stale) {
			body[k] = v
		}
	case errors.As(err, &mu):
		status, msg, code = http.StatusConflict, err.Error(), "media_in_use"
		body["uses"] = mu.uses
	case errors.As(err, &se):
		status, code = http.StatusBadRequest, "schedule"
		msg = "the programme has mistakes; nothing was changed"
		body["errors"] = se.msgs
	case errors.As(err, &he):
		status, msg, code = he.status, he.msg, he.code
		if he.retryAfter > 0 {
			body["retry_after"] = he.retryAfter
		}
	case errors.Is(err, registry.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, registry.ErrExists):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, registry.ErrInvalid), errors.As(err, &pe), errors.Is(err, fleet.ErrNoTarget):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, media.ErrTooLarge), errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, media.ErrEmpty), errors.Is(err, media.ErrNotAudio), errors.Is(err, media.ErrCorrupt), errors.Is(err, media.ErrTooLong):
		status, msg = http.StatusUnprocessableEntity, err.Error()
	}
	if code == "" {
		code = statusCodes[status]
	}
	if code == "" {
		code = "internal"
	}
	if status >= 500 {
		a.cfg.Logger.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body["error"], body["code"] = msg, code
	writeJSON(w, status, body)
}

// HashToken is how tokens are stored: only their sha256.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewToken creates a token and returns its secret, shown once.
func NewToken(ctx context.Context, reg *registry.DB, name, role string) (string, error) {
	b := make([]byte, 24)
	rand.Read(b)
	secret := "rt_" + base64.RawURLEncoding.EncodeToString(b)
	t := registry.Token{ID: "t-" + base64.RawURLEncoding.EncodeToString(b[:6]), Name: name, Role: role}
	if err := reg.CreateToken(ctx, t, HashToken(secret)); err != nil {
		return "", err
	}
	return secret, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// readJSON decodes a small JSON request body strictly.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "request body is not the JSON expected: %v", err)
	}
	return nil
}

// audit records an action about area ("" = the whole system).
func (a *API) audit(r *http.Request, area, action, target, detail string) {
	a.auditAs(r, actor(r), area, action, target, detail)
}

func (a *API) auditAs(r *http.Request, who, area, action, target, detail string) {
	err := a.cfg.Registry.AddAudit(r.Context(), registry.Audit{At: a.now(), Actor: who, Action: action,
		Target: target, Detail: detail, Remote: a.clientIP(r), AreaID: area})
	if err != nil {
		a.cfg.Logger.Error("audit", "err", err)
	}
}

func (a *API) listAreas(w http.ResponseWriter, r *http.Request) error {
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	all, err := a.cfg.Registry.ListAreas(r.Context())
	if err != nil {
		return err
	}
	v := []registry.Area{}
	for _, ar := range all {
		if sc.has(ar.ID) {
			v = append(v, ar)
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) createArea(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var v registry.Area
	if err := readJSON(r, &v); err != nil {
		return err
	}
	if err := a.cfg.Registry.CreateArea(r.Context(), v); err != nil {
		return err
	}
	a.audit(r, v.ID, "area.create", v.ID, v.Name)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) listStations(w http.ResponseWriter, r *http.Request) error {
	all, err := a.cfg.Registry.ListStations(r.Context(), r.URL.Query().Get("area"))
	if err != nil {
		return err
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	v := []registry.Station{}
	for _, st := range all {
		if sc.has(st.AreaID) {
			v = append(v, st)
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) createStation(w http.ResponseWriter, r *http.Request) error {
	var v registry.Station
	if err := readJSON(r, &v); err != nil {
		return err
	}
	if err := a.allowArea(r, v.AreaID); err != nil {
		return err
	}
	if err := a.cfg.Registry.CreateStation(r.Context(), v); err != nil {
		return err
	}
	a.audit(r, v.AreaID, "station.create", v.ID, v.Name)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// NodeView is a node with its last reported state.
type NodeView struct {
	registry.Node
	Online    bool             `json:"online"`
	State     *nodeproto.State `json:"state,omitempty"`
	UpdatedAt *time.Time       `json:"state_updated_at,omitempty"`
	// PlayingTitle names what it plays now (State.Playing).
	PlayingTitle string `json:"playing_title,omitempty"`
	// Schedule is how far ahead the controller's last desired state for
	// the node reaches: cut short of the plan to fit one message, or
	// refused (desired.Reach). Absent before the first one since start.
	Schedule *desired.Reach `json:"schedule,omitempty"`
	// NoSound: online, but its state says it plays into its silent sink (no
	// sound device, or it failed): nobody hears it, a warning for staff.
	NoSound bool `json:"no_sound,omitempty"`
}

func (a *API) nodeViews(ctx context.Context, nodes []registry.Node) ([]NodeView, error) {
	var ids []string // all: one scan beats a list of 100,000 ids
	if len(nodes) <= 1000 {
		ids = make([]string, len(nodes))
		for i, n := range nodes {
			ids[i] = n.ID
		}
	}
	states, err := a.cfg.Registry.NodeStatesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := map[string]registry.NodeState{}
	for _, s := range states {
		byID[s.NodeID] = s
	}
	out := make([]NodeView, 0, len(nodes))
	var title func(station, item, media string) string
	for _, n := range nodes {
		v := NodeView{Node: n}
		if s, ok := byID[n.ID]; ok {
			var st nodeproto.State
			if json.Unmarshal(s.State, &st) == nil {
				v.State = &st
				v.NoSound = s.Online && st.Audio == nodeproto.AudioSilent
				if p := st.Playing; p != nil && s.Online {
					if title == nil {
						title = a.titler(ctx)
					}
					v.PlayingTitle = title(n.StationID, p.ID, p.Media)
				}
			}
			v.Online = s.Online
			t := s.UpdatedAt
			v.UpdatedAt = &t
		}
		if a.cfg.Reach != nil {
			if r, ok := a.cfg.Reach(n.ID); ok {
				v.Schedule = &r
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func (a *API) listNodes(w http.ResponseWriter, r *http.Request) error {
	all, err := a.cfg.Registry.ListNodes(r.Context(), r.URL.Query().Get("station"))
	if err != nil {
		return err
	}
	stations, err := a.stationsInScope(r)
	if err != nil {
		return err
	}
	nodes := []registry.Node{}
	for _, n := range all {
		if _, ok := stations[n.StationID]; ok {
			nodes = append(nodes, n)
		}
	}
	v, err := a.nodeViews(r.Context(), nodes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) getNode(w http.ResponseWriter, r *http.Request) error {
	n, err := a.cfg.Registry.GetNode(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := a.allowStation(r, n.StationID, false); err != nil {
		return err
	}
	v, err := a.nodeViews(r.Context(), []registry.Node{n})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v[0])
	return nil
}

// NodeConfig is the config file of an enrolled node (node.Config's JSON form).
type NodeConfig struct {
	ID             string          `json:"id"`
	Secret         string          `json:"secret"`
	Broker         string          `json:"broker"`
	ControllerKeys []nodeproto.Key `json:"controller_keys"`
	UpdateKeys     []nodeproto.Key `json:"update_keys,omitempty"` // verify node releases (update command)
	DataDir        string          `json:"data_dir"`
	AudioOutput    string          `json:"audio_output,omitempty"`
}

// nodeConfig is the config an enrolled node (or one with a new secret) gets.
func (a *API) nodeConfig(id, secret string) NodeConfig {
	return NodeConfig{ID: id, Secret: secret, Broker: a.cfg.NodeBroker, ControllerKeys: a.cfg.Signer.Keys(),
		UpdateKeys: a.updateKeys(), DataDir: "/var/lib/radio-node"}
}

// updateKeys are the keys a node pins to verify releases (none when the
// controller keeps no releases); every way of enrolling gives them.
func (a *API) updateKeys() []nodeproto.Key {
	if a.cfg.Releases == nil {
		return nil
	}
	return []nodeproto.Key{a.cfg.Releases.Key()}
}

type enrolRequest struct {
	registry.Node
	Zones []string `json:"zones,omitempty"`
}

// enrolNode registers a node and returns its config, secret included. The
// secret is shown only here; the registry keeps its hash.
func (a *API) enrolNode(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req enrolRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	n := req.Node
	n.CreatedAt = a.now()
	for _, z := range req.Zones { // before anything is created: a typo must not leave a half-enrolled node
		if _, err := a.cfg.Registry.GetZone(r.Context(), z); err != nil {
			return err
		}
	}
	secret := broker.NewSecret()
	hash, err := broker.HashSecret(secret)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.CreateNode(r.Context(), n, []byte(hash)); err != nil {
		return err
	}
	for _, z := range req.Zones {
		if err := a.cfg.Registry.AddZoneNode(r.Context(), z, n.ID); err != nil {
			return err
		}
	}
	a.credentialsChanged(r.Context())
	if err := a.publishDesired(r.Context(), n.ID); err != nil {
		// The node is enrolled and its secret must reach the officer; its
		// desired state is sent again at the next change or controller start.
		a.cfg.Logger.Warn("enrolled node's desired state not published yet", "node", n.ID, "err", err)
	}
	a.audit(r, a.areaOfStation(r.Context(), n.StationID), "node.enrol", n.ID, n.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"node": n, "config": a.nodeConfig(n.ID, secret)})
	return nil
}

func (a *API) credentialsChanged(ctx context.Context) {
	if a.cfg.OnCredentialsChanged != nil {
		a.cfg.OnCredentialsChanged(ctx)
	}
}

// targetNodes lists the nodes a target covers, through the programme's
// one resolver (revoked nodes left out).
func (a *API) targetNodes(ctx context.Context, t fleet.Target) ([]string, error) {
	var station string
	var target schedule.Target
	if t.Node != "" {
		n, err := a.cfg.Registry.GetNode(ctx, t.Node)
		if err != nil {
			return nil, err
		}
		if n.Revoked {
			return nil, errorf(http.StatusConflict, "speaker cluster %s is revoked: re-enable it (new secret) before changing its settings", t.Node)
		}
		station, target = n.StationID, schedule.Target{Kind: schedule.TargetNodes, IDs: []string{t.Node}}
	} else {
		z, err := a.cfg.Registry.GetZone(ctx, t.Zone)
		if err != nil {
			return nil, err
		}
		station, target = z.StationID, schedule.Target{Kind: schedule.TargetZone, IDs: []string{t.Zone}}
	}
	nodes, _, err := programme.ResolveNow(ctx, a.cfg.Registry, station, target)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(nodes)), nil
}

// settle stores a setting as desired state of every node of the target and
// publishes it, so nodes that are offline now get it when they return.
func (a *API) settle(ctx context.Context, t fleet.Target, set func([]string) error) error {
	nodes, err := a.targetNodes(ctx, t)
	if err != nil {
		return err
	}
	if err := set(nodes); err != nil {
		return err
	}
	return a.publishDesired(ctx, nodes...)
}

func (a *API) publishDesired(ctx context.Context, nodes ...string) error {
	return a.cfg.PublishDesired(ctx, nodes...)
}

func (a *API) revokeNode(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	area, err := a.allowNode(r, id, true)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.RevokeNode(r.Context(), id); err != nil {
		return err
	}
	if a.cfg.Fleet != nil {
		a.cfg.Fleet.Forget(id)
	}
	a.credentialsChanged(r.Context())
	if a.cfg.Disconnect != nil {
		a.cfg.Disconnect(id)
	}
	// Its last will is dropped now (it is no longer a node), so say it here.
	if err := a.cfg.Registry.MarkOffline(r.Context(), id); err != nil {
		return err
	}
	a.audit(r, area, "node.revoke", id, "")
	writeJSON(w, http.StatusOK, map[string]string{"revoked": id})
	return nil
}

// rotateSecret gives a node new broker credentials: the old secret stops
// working at once (its session is cut) and the new config, shown only here,
// goes to the box. It also re-enables a revoked node being re-provisioned.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	n, err := a.cfg.Registry.GetNode(r.Context(), id)
	if err != nil {
		return err
	}
	secret := broker.NewSecret()
	hash, err := broker.HashSecret(secret)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.SetNodeSecret(r.Context(), id, []byte(hash)); err != nil {
		return err
	}
	a.cfg.Fleet.Forget(id)
	a.credentialsChanged(r.Context())
	if a.cfg.Disconnect != nil {
		a.cfg.Disconnect(id)
	}
	if err := a.publishDesired(r.Context(), id); err != nil {
		a.cfg.Logger.Warn("desired state after credential rotation not published yet", "node", id, "err", err)
	}
	a.audit(r, a.areaOfStation(r.Context(), n.StationID), "node.secret", id, "")
	writeJSON(w, http.StatusOK, map[string]any{"node": n, "config": a.nodeConfig(id, secret)})
	return nil
}

func (a *API) listZones(w http.ResponseWriter, r *http.Request) error {
	all, err := a.cfg.Registry.ListZones(r.Context())
	if err != nil {
		return err
	}
	stations, err := a.stationsInScope(r)
	if err != nil {
		return err
	}
	v := []registry.Zone{}
	for _, z := range all {
		if _, ok := stations[z.StationID]; ok {
			v = append(v, z)
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) createZone(w http.ResponseWriter, r *http.Request) error {
	var z registry.Zone
	if err := readJSON(r, &z); err != nil {
		return err
	}
	if _, err := a.allowStation(r, z.StationID, true); err != nil {
		return err
	}
	if err := a.cfg.Registry.CreateZone(r.Context(), z); err != nil {
		return err
	}
	if len(z.Nodes) > 0 {
		if err := a.applyZoneNodes(r.Context(), z.ID, z.Nodes); err != nil {
			return err
		}
	}
	a.audit(r, a.areaOfStation(r.Context(), z.StationID), "zone.create", z.ID, z.Name)
	writeJSON(w, http.StatusCreated, z)
	return nil
}

func (a *API) setZoneNodes(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Nodes []string `json:"nodes"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	area, err := a.allowZone(r, id, true)
	if err != nil {
		return err
	}
	if err := a.applyZoneNodes(r.Context(), id, req.Nodes); err != nil {
		return err
	}
	a.audit(r, area, "zone.nodes", id, strings.Join(req.Nodes, ","))
	z, err := a.cfg.Registry.GetZone(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, z)
	return nil
}

// applyZoneNodes sets a zone's members and sends every affected node its new
// desired state (it must subscribe to, or leave, the zone's topic).
func (a *API) applyZoneNodes(ctx context.Context, zone string, nodes []string) error {
	old, err := a.cfg.Registry.GetZone(ctx, zone)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.SetZoneNodes(ctx, zone, nodes); err != nil {
		return err
	}
	a.credentialsChanged(ctx)
	touched := map[string]bool{}
	var all []string
	for _, n := range append(old.Nodes, nodes...) {
		if !touched[n] {
			touched[n] = true
			all = append(all, n)
		}
	}
	return a.publishDesired(ctx, all...)
}

// maxPlayAhead is how far ahead an officer's "play now" may be set.
const maxPlayAhead = 10 * time.Minute

// PlayRequest asks a node or zone to play a media file: the protocol's
// Play (its size is the library's, not the caller's), with the start as
// people write it.
type PlayRequest struct {
	fleet.Target
	nodeproto.Play
	PlayAt  string `json:"play_at,omitempty"`  // RFC 3339; empty = now + lead (shadows Play's unix ms)
	DelayMS int64  `json:"delay_ms,omitempty"` // alternative to play_at
}

func (a *API) play(w http.ResponseWriter, r *http.Request) error {
	var req PlayRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if !nodeproto.ValidMedia(req.Media) {
		return errorf(http.StatusBadRequest, "media must be the sha256 of an uploaded file (see GET /api/v1/media)")
	}
	m, err := a.cfg.Registry.GetMedia(r.Context(), req.Media)
	if err != nil {
		return err
	}
	area, err := a.allowTarget(r, req.Target)
	if err != nil {
		return err
	}
	if _, err := a.allowMedia(r, m.SHA256); err != nil {
		return err
	}
	at := a.now().Add(a.cfg.DefaultLead)
	switch {
	case req.PlayAt != "":
		at, err = time.Parse(time.RFC3339Nano, req.PlayAt)
		if err != nil {
			return errorf(http.StatusBadRequest, "play_at %q: use RFC 3339, e.g. 2026-11-23T06:30:00+07:00", req.PlayAt)
		}
	case req.DelayMS > 0:
		at = a.now().Add(time.Duration(req.DelayMS) * time.Millisecond)
	}
	if !principal(r).CanApprove() && at.After(a.now().Add(maxPlayAhead)) {
		// Later than that is programme, which a leader approves.
		return errorf(http.StatusForbidden, "play now starts within %v; to air it later, add it to the programme (Lịch phát) for the leader to approve", maxPlayAhead)
	}
	if req.Zone != "" {
		z, err := a.cfg.Registry.GetZone(r.Context(), req.Zone)
		if err != nil {
			return err
		}
		at = at.Add(time.Duration(z.OffsetMS) * time.Millisecond)
	}
	p := req.Play
	p.Media, p.Size, p.PlayAt = m.SHA256, m.Size, at.UnixMilli()
	if p.Priority == "" {
		p.Priority = nodeproto.PriorityNormal
	}
	c, err := a.cfg.Fleet.Send(r.Context(), req.Target, nodeproto.Command{Type: nodeproto.CmdPlay, Play: &p}, actor(r))
	if err != nil {
		return err
	}
	a.audit(r, area, "play", req.Target.String(), c.ID+" "+m.SHA256)
	writeJSON(w, http.StatusAccepted, map[string]any{"command": c.ID, "play_at": at.UTC().Format(time.RFC3339Nano), "target": req.Target.String()})
	return nil
}

func (a *API) simple(w http.ResponseWriter, r *http.Request, action string, body func(*nodeproto.Command, json.RawMessage) error) error {
	return a.simpleThen(w, r, action, body, nil)
}

// simpleThen first applies then (desired state) and sends the command
// unless then says the desired state is all it takes.
func (a *API) simpleThen(w http.ResponseWriter, r *http.Request, action string, body func(*nodeproto.Command, json.RawMessage) error, then func(context.Context, fleet.Target, *nodeproto.Command) (send bool, err error)) error {
	var req struct {
		fleet.Target
		Value json.RawMessage `json:"value,omitempty"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	area, err := a.allowTarget(r, req.Target)
	if err != nil {
		return err
	}
	c := nodeproto.Command{Type: action}
	if err := body(&c, req.Value); err != nil {
		return err
	}
	if then != nil {
		send, err := then(r.Context(), req.Target, &c)
		if err != nil {
			return err
		}
		if !send {
			a.audit(r, area, action, req.Target.String(), string(req.Value))
			writeJSON(w, http.StatusAccepted, map[string]any{"target": req.Target.String(), "desired": true})
			return nil
		}
	}
	c, err = a.cfg.Fleet.Send(r.Context(), req.Target, c, actor(r))
	if err != nil {
		return err
	}
	a.audit(r, area, action, req.Target.String(), c.ID+" "+string(req.Value))
	writeJSON(w, http.StatusAccepted, map[string]any{"command": c.ID, "target": req.Target.String()})
	return nil
}

func (a *API) stop(w http.ResponseWriter, r *http.Request) error {
	return a.simple(w, r, nodeproto.CmdStop, func(c *nodeproto.Command, v json.RawMessage) error {
		c.Stop = &nodeproto.Stop{}
		if len(v) > 0 {
			if err := json.Unmarshal(v, &c.Stop.ID); err != nil {
				return errorf(http.StatusBadRequest, "value: the id of the item to stop, as a string")
			}
		}
		_, err := a.stopSession(r, c.Stop.ID) // a live session or relay ends at the controller too
		return err
	})
}

// volume sets the volume now (a command) and keeps it (desired state).
func (a *API) volume(w http.ResponseWriter, r *http.Request) error {
	return a.simpleThen(w, r, nodeproto.CmdVolume, func(c *nodeproto.Command, v json.RawMessage) error {
		var n int
		if err := json.Unmarshal(v, &n); err != nil || n < 0 || n > 100 {
			return errorf(http.StatusBadRequest, "value: a volume from 0 to 100")
		}
		c.Volume = &n
		return nil
	}, func(ctx context.Context, t fleet.Target, c *nodeproto.Command) (bool, error) {
		return true, a.settle(ctx, t, func(nodes []string) error { return a.cfg.Registry.SetNodeVolume(ctx, nodes, *c.Volume) })
	})
}

// amp switches the amplifier: true/false force it on/off, "auto" returns it
// to on-while-playing.
func (a *API) amp(w http.ResponseWriter, r *http.Request) error {
	mode := ""
	return a.simpleThen(w, r, nodeproto.CmdAmp, func(c *nodeproto.Command, v json.RawMessage) error {
		var on bool
		if err := json.Unmarshal(v, &on); err == nil {
			c.Amp = &on
			mode = map[bool]string{true: "on", false: "off"}[on]
			return nil
		}
		var s string
		if json.Unmarshal(v, &s) == nil && s == "auto" {
			off := false
			c.Amp, mode = &off, "auto"
			return nil
		}
		return errorf(http.StatusBadRequest, "value: true (amplifier on), false (off) or \"auto\" (on while playing)")
	}, func(ctx context.Context, t fleet.Target, c *nodeproto.Command) (bool, error) {
		// "auto" lives in the desired state only: a command would force on/off.
		return mode != "auto", a.settle(ctx, t, func(nodes []string) error { return a.cfg.Registry.SetNodeAmp(ctx, nodes, mode) })
	})
}

func (a *API) getCommand(w http.ResponseWriter, r *http.Request) error {
	c, err := a.cfg.Registry.GetCommand(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.allowTargetString(r, c.Target); err != nil {
		return err
	}
	replies, err := a.cfg.Registry.ListReplies(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"command": c, "replies": replies})
	return nil
}

func parseTime(q, name string) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(q, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339, q)
	if err != nil {
		return t, errorf(http.StatusBadRequest, "%s %q: use RFC 3339 or unix milliseconds", name, q)
	}
	return t, nil
}

// playFilter reads the proof-of-play filters of a request, limited to the
// nodes the caller may see (and to one station with ?station=).
func (a *API) playFilter(r *http.Request) (registry.PlayFilter, error) {
	q := r.URL.Query()
	f := registry.PlayFilter{NodeID: q.Get("node"), ItemID: q.Get("item"), Media: q.Get("media"), Type: q.Get("type")}
	var err error
	if f.Since, err = parseTime(q.Get("since"), "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q.Get("until"), "until"); err != nil {
		return f, err
	}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	sc, err := a.reqScope(r)
	if err != nil {
		return f, err
	}
	station := q.Get("station")
	if sc.all && station == "" {
		return f, nil
	}
	stations, err := a.stationsInScope(r)
	if err != nil {
		return f, err
	}
	if station != "" {
		if _, ok := stations[station]; !ok {
			return f, forbidden("station " + station)
		}
	}
	nodes, err := a.cfg.Registry.ListNodes(r.Context(), station)
	if err != nil {
		return f, err
	}
	f.Nodes = []string{}
	for _, n := range nodes {
		if _, ok := stations[n.StationID]; ok {
			f.Nodes = append(f.Nodes, n.ID)
		}
	}
	return f, nil
}

// PlayRow is a proof-of-play record with the names a person reads.
type PlayRow struct {
	registry.PlayEvent
	Title    string `json:"title,omitempty"`     // the bulletin's, or the recording's for "play now"
	NodeName string `json:"node_name,omitempty"` // the speaker cluster's
	Source   string `json:"source"`              // "schedule" or "command"
}

// titler names what a node plays or played: a scheduled occurrence by its
// bulletin's title, a "play now" command by its title, else the recording.
// It remembers what it looked up; make one per request.
// Bulletin ids are unique within a station only, so titles are looked up
// in the node's own station's programme.
func (a *API) titler(ctx context.Context) func(station, item, media string) string {
	titles := map[[2]string]string{} // (station, bulletin id) -> title
	for _, sc := range a.cfg.Schedules.Scheduler.Schedules() {
		for _, it := range sc.Items {
			titles[[2]string{sc.Station, it.ID}] = it.Title
		}
	}
	commands := map[string]string{}   // command id -> title
	planned := map[[2]string]string{} // (station, occurrence id) -> title when planned
	mediaNames := map[string]string{}
	return func(station, item, media string) string {
		var t string
		if strings.HasPrefix(item, "c-") {
			var ok bool
			if t, ok = commands[item]; !ok {
				if c, err := a.cfg.Registry.GetCommand(ctx, item); err == nil {
					var body nodeproto.Command
					if json.Unmarshal(c.Body, &body) == nil && body.Play != nil {
						t = body.Play.Title
					}
				}
				commands[item] = t
			}
		} else if n := len(item) - len("-20061102-150405"); n > 0 {
			// The title it had when it was due (history), else today's.
			k := [2]string{station, item}
			var ok bool
			if t, ok = planned[k]; !ok {
				t, _ = a.cfg.Registry.OccurrenceTitle(ctx, station, item)
				planned[k] = t
			}
			if t == "" {
				t = titles[[2]string{station, item[:n]}]
			}
		}
		if t == "" && media != "" {
			name, ok := mediaNames[media]
			if !ok {
				name = a.cfg.Registry.MediaName(ctx, media) // a deleted recording keeps its name in reports
				mediaNames[media] = name
			}
			t = name
		}
		return t
	}
}

// playRows names the items and nodes of proof-of-play records.
func (a *API) playRows(r *http.Request, evs []registry.PlayEvent) []PlayRow {
	ctx := r.Context()
	title := a.titler(ctx)
	nodes := map[string]registry.Node{}
	out := make([]PlayRow, len(evs))
	for i, e := range evs {
		n, ok := nodes[e.NodeID]
		if !ok {
			n, _ = a.cfg.Registry.GetNode(ctx, e.NodeID)
			nodes[e.NodeID] = n
		}
		row := PlayRow{PlayEvent: e, Source: "schedule", Title: title(n.StationID, e.ItemID, e.Media), NodeName: n.Name}
		if strings.HasPrefix(e.ItemID, "c-") {
			row.Source = "command"
		}
		out[i] = row
	}
	return out
}

func (a *API) listPlays(w http.ResponseWriter, r *http.Request) error {
	f, err := a.playFilter(r)
	if err != nil {
		return err
	}
	v, err := a.cfg.Registry.ListPlayEvents(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.playRows(r, v))
	return nil
}

// Words of the spreadsheets, for the officers who file them.
var (
	eventWords = map[string]string{"started": "bắt đầu phát", "resumed": "phát tiếp", "finished": "phát xong",
		"interrupted": "bị ngắt", "failed": "không phát được"}
	// heardWords say in Vietnamese what a cluster's microphone made of a
	// play (PROTOCOL.md §7 "heard").
	heardWords = map[string]string{registry.HeardYes: "micrô nghe thấy", registry.HeardNo: "micrô không nghe thấy",
		registry.HeardNotMeasured: "chưa đo"}
	statusWords = map[string]string{"played": "đã phát", "partly played": "phát một phần", "missed": "không phát",
		"playing": "đang phát", "upcoming": "chưa đến giờ", "unheard": "không phát ra loa"}
	priorityWords = map[string]string{nodeproto.PriorityNormal: "thông thường", nodeproto.PriorityHigh: "ưu tiên",
		nodeproto.PriorityEmergency: "khẩn cấp"}
)

func word(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

// vnTime formats t in Vietnam time for a spreadsheet ("" if zero).
func vnTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(schedule.Zone).Format("02/01/2006 15:04:05")
}

// cell makes text safe for a spreadsheet: a cell that starts like a
// formula (= + - @, tab, CR) would be run by Excel, so it is quoted.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvStart begins a spreadsheet download: UTF-8 with a byte order mark, so
// that Excel shows Vietnamese right.
func csvStart(w http.ResponseWriter, filename string, header ...string) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write(header)
	return cw
}

// playsCSV is the proof-of-play list as a spreadsheet, in Vietnamese, times
// in Vietnam time.
func (a *API) playsCSV(w http.ResponseWriter, r *http.Request) error {
	f, err := a.playFilter(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("limit") == "" {
		f.Limit = registry.MaxPlayEvents
	}
	v, err := a.cfg.Registry.ListPlayEvents(r.Context(), f)
	if err != nil {
		return err
	}
	cw := csvStart(w, "nhat-ky-phat.csv", "Thời điểm (giờ Việt Nam)", "Cụm loa", "Mã cụm loa", "Sự kiện", "Bản tin", "Mã bản tin / lệnh",
		"Mức ưu tiên", "Đã phát (giây)", "Lệch so với giờ hẹn (ms)", "Lý do", "Giờ hẹn phát", "Nhận lúc", "Bản ghi (sha256)", "Số thứ tự")
	for _, e := range a.playRows(r, v) {
		ev := word(eventWords, e.Type)
		if e.Silent {
			ev += " (không phát ra loa)" // into the silent sink: nobody heard it
		}
		if e.Heard != nil {
			ev += " (" + heardWords[map[bool]string{true: registry.HeardYes, false: registry.HeardNo}[*e.Heard]] + ")"
		}
		cw.Write([]string{vnTime(e.At), cell(e.NodeName), e.NodeID, ev, cell(e.Title), e.ItemID, word(priorityWords, e.Priority),
			strconv.FormatFloat(float64(e.PlayedMS)/1000, 'f', 1, 64), strconv.FormatFloat(float64(e.OffsetUS)/1000, 'f', 3, 64),
			cell(e.Reason), vnTime(e.PlayAt), vnTime(e.ReceivedAt), e.Media, strconv.FormatUint(e.Seq, 10)})
	}
	cw.Flush()
	return cw.Error()
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	sc, err := a.reqScope(r)
	if err != nil {
		return err
	}
	v, err := a.cfg.Registry.ListAudit(r.Context(), 500, sc.list())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// areaOfStation is the area of a station, "" if unknown (for the audit log).
func (a *API) areaOfStation(ctx context.Context, station string) string {
	st, err := a.cfg.Registry.GetStation(ctx, station)
	if err != nil {
		return ""
	}
	return st.AreaID
}

// allowTargetString checks a stored command target ("node:x" / "zone:y").
func (a *API) allowTargetString(r *http.Request, target string) error {
	kind, id, _ := strings.Cut(target, ":")
	var err error
	switch kind {
	case "node":
		_, err = a.allowNode(r, id, false)
	case "zone":
		_, err = a.allowZone(r, id, false)
	default:
		err = requireAdmin(r)
	}
	return err
}
