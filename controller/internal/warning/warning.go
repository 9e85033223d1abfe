// Package warning owns emergency warnings ("Phát cảnh báo khẩn cấp"): one
// action sends a recording or a typed text, preceded by an attention
// signal, at emergency priority to every speaker cluster of the chosen
// areas, zones or map polygon, repeated with a gap; it can be cancelled at
// once everywhere, stops by itself at its expiry, and what it interrupted
// resumes (the node's player does that). No approval is needed (Circular
// 39/2020). Every step is audited here, where it happens, so that a warning
// ended by its clock is audited as one ended by an officer.
//
// CAP 1.2 alerts (cap.go) become warnings through the same path.
package warning

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/cap"
	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/tts"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Defaults of a warning.
const (
	DefaultTimes = 3                // plays in all (the first and two repeats)
	DefaultGapMS = 3000             // silence between plays
	MaxTimes     = 20               // more is a mistake
	MaxGapMS     = 10 * 60 * 1000   // ten minutes
	sendWorkers  = 8                // commands published at once
	maxTitle     = 200              // characters
	lateJoin     = 10 * time.Minute // a warning without an expiry ends this long after its last play
	pollEvery    = time.Second      // expiry check
	chimeSeconds = 2.4              // attention signal
)

// Errors a caller maps to what the person can do about them.
var (
	ErrInvalid   = errors.New("invalid warning")        // a bad request: say what to change
	ErrOutOfArea = errors.New("outside your area")      // targets the sender may not reach
	ErrNoAudio   = errors.New("the audio is not ready") // rendering or the attention signal failed
)

// Config of the service.
type Config struct {
	Registry *registry.DB
	Fleet    *fleet.Fleet
	Media    *media.Store
	TTS      *tts.Service
	Logger   *slog.Logger
	Now      func() time.Time
	// Lead is how far ahead play_at is set, so that the nodes of an area
	// start together (default 2 s).
	Lead time.Duration
	// Chime turns a recording into the recording preceded by the attention
	// signal, in the media store (default: ffmpeg, two tones).
	Chime func(ctx context.Context, sha string) (media.Info, error)
}

// Service sends, cancels and follows warnings.
type Service struct {
	cfg    Config
	mu     sync.Mutex
	chimed map[string]media.Info // recording -> recording with the attention signal
}

// New returns a service; Run ends warnings at their expiry.
func New(cfg Config) *Service {
	if cfg.Lead <= 0 {
		cfg.Lead = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, chimed: map[string]media.Info{}}
	if s.cfg.Chime == nil {
		s.cfg.Chime = s.ffmpegChime
	}
	return s
}

// Target says where a warning goes: the union of the areas (a province or
// communes), zones, nodes and a polygon drawn on the map.
type Target struct {
	Areas   []string    `json:"areas,omitempty"`
	Zones   []string    `json:"zones,omitempty"`
	Nodes   []string    `json:"nodes,omitempty"`
	Polygon cap.Polygon `json:"polygon,omitempty"`
	// info: a CAP alert's areas (polygons, circles, geocodes).
	info *cap.Info
}

func (t Target) empty() bool {
	return len(t.Areas)+len(t.Zones)+len(t.Nodes)+len(t.Polygon) == 0 && t.info == nil
}

// Request is one warning to send.
type Request struct {
	Title  string `json:"title"`
	Media  string `json:"media,omitempty"` // a recording's sha256
	Text   string `json:"text,omitempty"`  // or a typed text, read aloud
	Target Target `json:"target"`
	Times  int    `json:"times,omitempty"`  // plays in all (default 3)
	GapMS  *int64 `json:"gap_ms,omitempty"` // between plays (default 3 s)
	// Expires ends the warning by itself (zero: ten minutes after its
	// last play).
	Expires time.Time `json:"expires,omitzero"`
}

// Sender is who sends: how the audit log names them and which areas they
// may reach (nil May: everywhere).
type Sender struct {
	Actor  string
	Remote string
	May    func(area string) bool
}

func (s Sender) may(area string) bool { return s.May == nil || s.May(area) }

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// place is one node as a warning sees it.
type place struct {
	node     registry.Node
	commune  string
	province string
	codes    []string // administrative unit codes of its commune and province
	drills   bool
}

// areas returns every area and each area's warning settings.
func (s *Service) areas(ctx context.Context) ([]registry.Area, map[string]registry.AreaSettings, error) {
	areas, err := s.cfg.Registry.ListAreas(ctx)
	if err != nil {
		return nil, nil, err
	}
	set, err := s.cfg.Registry.AreaSettingsAll(ctx)
	if err != nil {
		return nil, nil, err
	}
	return areas, set, nil
}

// places lists every enrolled, not revoked node with its areas.
func (s *Service) places(ctx context.Context) ([]place, error) {
	nodes, err := s.cfg.Registry.ListNodes(ctx, "")
	if err != nil {
		return nil, err
	}
	stations, err := s.cfg.Registry.ListStations(ctx, "")
	if err != nil {
		return nil, err
	}
	areas, set, err := s.areas(ctx)
	if err != nil {
		return nil, err
	}
	areaOf := map[string]string{}
	for _, st := range stations {
		areaOf[st.ID] = st.AreaID
	}
	parent := map[string]string{}
	for _, a := range areas {
		parent[a.ID] = a.ParentID
	}
	var out []place
	for _, n := range nodes {
		if n.Revoked {
			continue
		}
		p := place{node: n, commune: areaOf[n.StationID]}
		p.province = parent[p.commune]
		if p.province == "" { // a station of the province itself
			p.province = p.commune
		}
		p.codes = []string{set[p.commune].Code, set[p.province].Code}
		p.drills = set[p.commune].Drills || set[p.province].Drills
		out = append(out, p)
	}
	return out, nil
}

// resolve returns the places a target covers, sorted by node.
func (s *Service) resolve(ctx context.Context, t Target) ([]place, error) {
	all, err := s.places(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, p := range all {
		known[p.node.ID], known[p.commune], known[p.province] = true, true, true
	}
	for _, a := range t.Areas {
		if !known[a] {
			if _, err := s.cfg.Registry.GetArea(ctx, a); err != nil {
				return nil, invalidf("area %q does not exist", a)
			}
		}
	}
	for _, z := range t.Zones {
		if _, err := s.cfg.Registry.GetZone(ctx, z); err != nil {
			return nil, invalidf("zone %q does not exist", z)
		}
	}
	for _, n := range t.Nodes {
		if !known[n] {
			return nil, invalidf("node %q does not exist or is revoked", n)
		}
	}
	var out []place
	for _, p := range all {
		pt := cap.Point{Lat: p.node.Lat, Lon: p.node.Lon}
		if slices.Contains(t.Areas, p.commune) || slices.Contains(t.Areas, p.province) ||
			slices.Contains(t.Nodes, p.node.ID) || slices.ContainsFunc(t.Zones, func(z string) bool { return slices.Contains(p.node.Zones, z) }) ||
			(len(t.Polygon) > 0 && t.Polygon.Contains(pt)) || (t.info != nil && t.info.Covers(pt, p.codes...)) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b place) int { return strings.Compare(a.node.ID, b.node.ID) })
	return out, nil
}

// outside returns the areas of places the sender may not reach.
func outside(ps []place, by Sender) []string {
	var bad []string
	for _, p := range ps {
		if !by.may(p.commune) && !slices.Contains(bad, p.commune) {
			bad = append(bad, p.commune)
		}
	}
	return bad
}

func (r *Request) check(now time.Time) error {
	r.Title = strings.TrimSpace(r.Title)
	r.Text = strings.TrimSpace(r.Text)
	switch {
	case (r.Media == "") == (r.Text == ""):
		return invalidf("give either a recording (media) or a text to read aloud, not both")
	case r.Media != "" && !nodeproto.ValidMedia(r.Media):
		return invalidf("media must be the sha256 of an uploaded recording")
	case r.Target.empty():
		return invalidf("choose where it goes: areas, zones, nodes or a polygon drawn on the map")
	case len(r.Target.Polygon) > 0 && (len(r.Target.Polygon) < 4 || r.Target.Polygon[0] != r.Target.Polygon[len(r.Target.Polygon)-1]):
		return invalidf("a polygon needs at least 4 points, the last equal to the first")
	case r.Times < 0 || r.Times > MaxTimes:
		return invalidf("times: from 1 to %d plays", MaxTimes)
	case r.GapMS != nil && (*r.GapMS < 0 || *r.GapMS > MaxGapMS):
		return invalidf("gap_ms: from 0 to %d", MaxGapMS)
	case !r.Expires.IsZero() && !r.Expires.After(now):
		return invalidf("it expired at %s", r.Expires.Format(time.RFC3339))
	case len([]rune(r.Title)) > maxTitle:
		return invalidf("title: at most %d characters", maxTitle)
	}
	for _, p := range r.Target.Polygon {
		if p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 {
			return invalidf("polygon point %v,%v is not a latitude,longitude", p.Lat, p.Lon)
		}
	}
	if r.Times == 0 {
		r.Times = DefaultTimes
	}
	if r.GapMS == nil {
		g := int64(DefaultGapMS)
		r.GapMS = &g
	}
	if r.Title == "" {
		r.Title = "Cảnh báo khẩn cấp"
	}
	return nil
}

// Send resolves the targets, prepares the audio (text read aloud, the
// attention signal first) and sends every node its play command. A node
// that could not be sent to is recorded with why; the others play.
func (s *Service) Send(ctx context.Context, req Request, by Sender) (registry.Warning, error) {
	now := s.cfg.Now()
	if err := req.check(now); err != nil {
		return registry.Warning{}, err
	}
	places, err := s.resolve(ctx, req.Target)
	if err != nil {
		return registry.Warning{}, err
	}
	if bad := outside(places, by); len(bad) > 0 {
		return registry.Warning{}, fmt.Errorf("%w: it would reach %s; ask the province or the administrator", ErrOutOfArea, strings.Join(bad, ", "))
	}
	if len(places) == 0 {
		return registry.Warning{}, invalidf("no speaker cluster is in the chosen area")
	}
	return s.broadcast(ctx, req, by, "manual", places)
}

// broadcast sends req to places (already resolved and allowed).
func (s *Service) broadcast(ctx context.Context, req Request, by Sender, source string, places []place) (registry.Warning, error) {
	m, err := s.audio(ctx, req, places)
	if err != nil {
		return registry.Warning{}, err
	}
	audio := m.SHA256
	now := s.cfg.Now() // after rendering, which takes a while
	// In the library of every commune it plays in, so officers can listen
	// to what aired and reports name it.
	if err := s.cfg.Registry.PutMedia(ctx, registry.Media{SHA256: audio, Name: "cảnh báo: " + req.Title, SourceFormat: "warning",
		Size: m.Size, DurationMS: m.DurationMS, CreatedAt: now, CreatedBy: by.Actor}); err != nil {
		return registry.Warning{}, err
	}
	for _, p := range places {
		if err := s.cfg.Registry.LinkMedia(ctx, audio, p.commune, by.Actor, now); err != nil {
			return registry.Warning{}, err
		}
	}
	at := now.Add(s.cfg.Lead)
	ends, expires := lifetime(now, at, req, m.DurationMS)
	reqJSON, _ := json.Marshal(req.Target)
	w := registry.Warning{ID: newID(now), Title: req.Title, Source: source, Media: audio, Text: req.Text,
		Repeat: req.Times - 1, GapMS: *req.GapMS, Request: string(reqJSON), Status: registry.WarningActive,
		CreatedBy: by.Actor, CreatedAt: now, ExpiresAt: ends}
	play := nodeproto.Play{Media: audio, Size: m.Size, PlayAt: at.UnixMilli(), Priority: nodeproto.PriorityEmergency,
		Title: req.Title, Repeat: req.Times - 1, GapMS: *req.GapMS}
	w.Targets = each(places, func(p place) registry.WarningTarget {
		t := registry.WarningTarget{Node: p.node.ID, Area: p.commune}
		pl := play
		c, err := s.cfg.Fleet.Send(ctx, fleet.Target{Node: p.node.ID},
			nodeproto.Command{Type: nodeproto.CmdPlay, Expires: expires.UnixMilli(), Play: &pl}, by.Actor)
		if err != nil {
			t.Error = err.Error()
		} else {
			t.Command = c.ID
		}
		return t
	})
	if err := s.cfg.Registry.InsertWarning(ctx, w); err != nil {
		return w, err
	}
	sent := 0
	for _, t := range w.Targets {
		if t.Command != "" {
			sent++
		}
	}
	s.audit(ctx, by, "warning.send", w.ID, fmt.Sprintf("%s: %q to %d of %d nodes, %d plays, media %s", source, w.Title, sent, len(w.Targets), req.Times, audio), places)
	s.cfg.Logger.Info("warning sent", "warning", w.ID, "source", source, "nodes", len(w.Targets), "sent", sent, "media", audio)
	return w, nil
}

// lifetime returns when a warning ends (its expiry, or else when its
// last play ends plus lateJoin, so that a node that was away plays it only
// while it is news) and when its play commands expire (the same, within
// the protocol's longest command life).
func lifetime(now, at time.Time, req Request, durationMS int64) (ends, cmdExpires time.Time) {
	ends = req.Expires
	if ends.IsZero() {
		plays := time.Duration(req.Times) * time.Duration(durationMS) * time.Millisecond
		gaps := time.Duration(req.Times-1) * time.Duration(*req.GapMS) * time.Millisecond
		ends = at.Add(plays + gaps + lateJoin)
	}
	cmdExpires = now.Add(nodeproto.MaxCommandLife - time.Minute)
	if ends.Before(cmdExpires) {
		cmdExpires = ends
	}
	return ends, cmdExpires
}

// each runs fn for every item, a few at once (commands are published
// one broker round trip each), keeping the order.
func each[T any](items []T, fn func(T) registry.WarningTarget) []registry.WarningTarget {
	out := make([]registry.WarningTarget, len(items))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(sendWorkers, len(items)) {
		wg.Go(func() {
			for i := range work {
				out[i] = fn(items[i])
			}
		})
	}
	for i := range items {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

// audio returns the media to play: the recording or the rendered text,
// with the attention signal before it.
func (s *Service) audio(ctx context.Context, req Request, places []place) (media.Info, error) {
	sha := req.Media
	if req.Text != "" {
		if s.cfg.TTS == nil {
			return media.Info{}, fmt.Errorf("%w: text to speech is not configured", ErrNoAudio)
		}
		var lex []registry.LexiconEntry
		if c := onlyCommune(places); c != "" { // local place names, when there is one commune
			lex, _ = s.cfg.Registry.TTSLexicon(ctx, c)
		}
		dict := tts.Lexicon{}
		for _, e := range lex {
			dict[e.Word] = e.Spoken
		}
		r, err := s.cfg.TTS.Render(ctx, req.Text, dict)
		if err != nil {
			return media.Info{}, fmt.Errorf("%w: reading the text aloud: %v", ErrNoAudio, err)
		}
		sha = r.SHA256
	} else if !s.cfg.Media.Has(sha) {
		return media.Info{}, invalidf("recording %s is not in the media library: upload it first", sha)
	}
	out, err := s.withChime(ctx, sha)
	if err != nil {
		return media.Info{}, fmt.Errorf("%w: adding the attention signal: %v", ErrNoAudio, err)
	}
	return out, nil
}

func onlyCommune(ps []place) string {
	c := ""
	for _, p := range ps {
		if c != "" && p.commune != c {
			return ""
		}
		c = p.commune
	}
	return c
}

func (s *Service) withChime(ctx context.Context, sha string) (media.Info, error) {
	s.mu.Lock()
	out, ok := s.chimed[sha]
	s.mu.Unlock()
	if ok && s.cfg.Media.Has(out.SHA256) {
		return out, nil
	}
	out, err := s.cfg.Chime(ctx, sha)
	if err != nil {
		return media.Info{}, err
	}
	s.mu.Lock()
	s.chimed[sha] = out
	s.mu.Unlock()
	return out, nil
}

// chimeFilter is the attention signal: two tones (880 and 660 Hz)
// alternating every 0.3 s, fading in and out, then half a second of quiet.
var chimeFilter = fmt.Sprintf("aevalsrc='0.5*sin(2*PI*if(lt(mod(t\\,0.6)\\,0.3)\\,880\\,660)*t)':d=%g:s=48000,afade=t=in:d=0.05,afade=t=out:st=%g:d=0.1,apad=pad_dur=0.5", chimeSeconds, chimeSeconds-0.1)

// ffmpegChime writes the attention signal followed by the recording into
// the media store.
func (s *Service) ffmpegChime(ctx context.Context, sha string) (media.Info, error) {
	in, err := s.cfg.Media.Path(sha)
	if err != nil {
		return media.Info{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", chimeFilter, "-i", in,
		"-filter_complex", "[0:a]aformat=sample_rates=48000:channel_layouts=mono[a];[1:a]aformat=sample_rates=48000:channel_layouts=mono[b];[a][b]concat=n=2:v=0:a=1",
		"-c:a", "libopus", "-b:a", "64k", "-f", "ogg", "-") // a WAV on a pipe has no length in its header
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return media.Info{}, fmt.Errorf("ffmpeg: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return s.cfg.Media.Ingest(ctx, bytes.NewReader(out), "warning.ogg")
}

// Cancel stops a warning at once on every node it was sent to.
func (s *Service) Cancel(ctx context.Context, id string, by Sender) (registry.Warning, error) {
	return s.end(ctx, id, registry.WarningCancelled, by)
}

func (s *Service) end(ctx context.Context, id, status string, by Sender) (registry.Warning, error) {
	w, err := s.cfg.Registry.GetWarning(ctx, id)
	if err != nil {
		return w, err
	}
	for _, t := range w.Targets {
		if !by.may(t.Area) {
			return w, fmt.Errorf("%w: warning %s also plays in %s; ask the province or the administrator", ErrOutOfArea, id, t.Area)
		}
	}
	if err := s.cfg.Registry.EndWarning(ctx, id, status, by.Actor, s.cfg.Now()); err != nil {
		return w, err
	}
	var sent []registry.WarningTarget
	for _, t := range w.Targets {
		if t.Command != "" {
			sent = append(sent, t)
		}
	}
	res := each(sent, func(x registry.WarningTarget) registry.WarningTarget {
		t := registry.WarningTarget{Node: x.Node, Area: x.Area}
		if _, err := s.cfg.Fleet.Send(ctx, fleet.Target{Node: x.Node},
			nodeproto.Command{Type: nodeproto.CmdStop, Stop: &nodeproto.Stop{ID: x.Command}}, by.Actor); err != nil {
			t.Error = err.Error()
		}
		return t
	})
	var ps []place // for the audit's communes
	for _, t := range sent {
		ps = append(ps, place{commune: t.Area})
	}
	failed := 0
	for _, t := range res {
		if t.Error != "" {
			failed++
			s.cfg.Logger.Warn("warning stop not sent", "warning", id, "node", t.Node, "err", t.Error)
		}
	}
	s.audit(ctx, by, "warning."+status, id, fmt.Sprintf("stop sent to %d nodes, %d failed", len(sent)-failed, failed), ps)
	w, err = s.cfg.Registry.GetWarning(ctx, id)
	return w, err
}

// Run ends warnings at their expiry until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Expire(ctx)
		}
	}
}

// Expire stops every active warning whose expiry has passed.
func (s *Service) Expire(ctx context.Context) {
	ws, err := s.cfg.Registry.ListWarnings(ctx, 1000, registry.WarningActive)
	if err != nil {
		s.cfg.Logger.Error("warnings: listing active", "err", err)
		return
	}
	now := s.cfg.Now()
	for _, w := range ws {
		if !w.ExpiresAt.IsZero() && !w.ExpiresAt.After(now) {
			if _, err := s.end(ctx, w.ID, registry.WarningExpired, Sender{Actor: "controller"}); err != nil && !errors.Is(err, registry.ErrEnded) {
				s.cfg.Logger.Error("warnings: expiring", "warning", w.ID, "err", err)
			}
		}
	}
}

// NodeProgress is how far a warning got on one node.
type NodeProgress struct {
	registry.WarningTarget
	// State: not_sent, sent (no report yet), started, finished,
	// interrupted, failed, refused (the node replied with an error).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Progress is a warning with each node's state, for the officer's live view.
type Progress struct {
	registry.Warning
	Nodes   []NodeProgress `json:"nodes"`
	Started int            `json:"started"` // nodes that started it
	Pending int            `json:"pending"` // sent, not started (yet)
}

// Progress reads a warning's state on each node from proof of play (the
// events of its command ids) and the nodes' replies: from the registry's
// in-memory mirror while the warning is recent (an officer's page asks
// every second, for every node), else from SQLite.
func (s *Service) Progress(ctx context.Context, id string) (Progress, error) {
	w, err := s.cfg.Registry.GetWarning(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Warning: w, Nodes: make([]NodeProgress, len(w.Targets))}
	outcome := make([]registry.PlayOutcome, len(w.Targets))
	live := s.cfg.Registry.ReadLive(w.CreatedAt, func(r registry.LiveReader) {
		for i, t := range w.Targets {
			if v, ok := r.View(t.Node); ok && t.Command != "" {
				outcome[i] = v.Outcome(t.Command)
			}
		}
	})
	for i, t := range w.Targets {
		np := NodeProgress{WarningTarget: t, State: "not_sent", Reason: t.Error}
		if t.Command != "" {
			if !live {
				evs, err := s.cfg.Registry.ListPlayEvents(ctx, registry.PlayFilter{ItemID: t.Command, NodeID: t.Node, Limit: 50})
				if err != nil {
					return p, err
				}
				outcome[i] = outcomeOf(evs)
			}
			np.State = stateOf(outcome[i])
		}
		if np.State == "sent" { // no proof of play yet: did the node refuse it?
			reps, err := s.cfg.Registry.ListReplies(ctx, t.Command)
			if err != nil {
				return p, err
			}
			for _, r := range reps {
				if !r.OK && r.NodeID == t.Node {
					np.State, np.Reason = "refused", r.Reason
				}
			}
		}
		if outcome[i].Started {
			p.Started++
		}
		if np.State == "sent" {
			p.Pending++
		}
		p.Nodes[i] = np
	}
	return p, nil
}

func outcomeOf(evs []registry.PlayEvent) registry.PlayOutcome { return registry.OutcomeOf(evs) }

// stateOf names how far an item got on a node.
func stateOf(o registry.PlayOutcome) string {
	switch {
	case o.Failed && !o.Started:
		return "failed"
	case o.Finished:
		return "finished"
	case o.Interrupted:
		return "interrupted"
	case o.Failed:
		return "failed"
	case o.Started:
		return "started"
	}
	return "sent"
}

// List returns the newest warnings a sender may see.
func (s *Service) List(ctx context.Context, limit int, by Sender) ([]registry.Warning, error) {
	all, err := s.cfg.Registry.ListWarnings(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := []registry.Warning{}
	for _, w := range all {
		areas, err := s.cfg.Registry.WarningAreas(ctx, w.ID)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(areas, by.may) || by.May == nil {
			out = append(out, w)
		}
	}
	return out, nil
}

// Visible reports whether the sender may see a warning (it plays in one
// of their areas).
func (s *Service) Visible(ctx context.Context, id string, by Sender) error {
	areas, err := s.cfg.Registry.WarningAreas(ctx, id)
	if err != nil {
		return err
	}
	if by.May != nil && !slices.ContainsFunc(areas, by.may) {
		return fmt.Errorf("%w: warning %s plays elsewhere", ErrOutOfArea, id)
	}
	return nil
}

// audit writes one entry per commune concerned, so each commune's log shows it.
func (s *Service) audit(ctx context.Context, by Sender, action, target, detail string, ps []place) {
	var areas []string
	for _, p := range ps {
		if !slices.Contains(areas, p.commune) {
			areas = append(areas, p.commune)
		}
	}
	if len(areas) == 0 {
		areas = []string{""}
	}
	for _, a := range areas {
		if err := s.cfg.Registry.AddAudit(ctx, registry.Audit{At: s.cfg.Now(), Actor: by.Actor, Action: action,
			Target: target, Detail: detail, Remote: by.Remote, AreaID: a}); err != nil {
			s.cfg.Logger.Error("audit", "err", err)
		}
	}
}

func newID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "w-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}
