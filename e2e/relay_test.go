package e2e

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// icecast is Debian's icecast2 serving on 127.0.0.1: the upstream a relay
// pulls, as VOV's or a provincial station's Icecast server would be.
type icecast struct {
	*proc
	addr, password string
}

// startIcecast writes a config into dir and runs icecast2 on a free port.
// icecast2 refuses to run as root: then it is told to become nobody
// (<changeowner>), and its folders are opened to that account.
func startIcecast(t *testing.T, dir string) *icecast {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ic := &icecast{addr: fmt.Sprintf("127.0.0.1:%d", port), password: "nguon-thu"}
	logDir := filepath.Join(dir, "icecast-log")
	if err := os.MkdirAll(logDir, 0o777); err != nil {
		t.Fatal(err)
	}
	owner := ""
	if os.Geteuid() == 0 {
		owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
		for d := logDir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			os.Chmod(d, 0o777) // let nobody write the log it reopens
		}
	}
	conf := fmt.Sprintf(`<icecast>
  <limits><clients>20</clients><sources>4</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout><source-timeout>10</source-timeout>
    <burst-size>65535</burst-size></limits>
  <authentication><source-password>%[1]s</source-password><relay-password>%[1]s</relay-password>
    <admin-user>admin</admin-user><admin-password>%[1]s</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>%[2]d</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>%[3]s</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>%[4]s</security>
</icecast>
`, ic.password, port, logDir, owner)
	cfg := filepath.Join(dir, "icecast.xml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ic.proc = start(t, "icecast2", nil, "icecast2", "-c", cfg)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(logDir, "error.log"))
			t.Logf("---- icecast error.log ----\n%s", b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + ic.addr + "/status-json.xsl")
		if err == nil {
			resp.Body.Close()
			return ic
		}
		if time.Now().After(deadline) {
			t.Fatalf("icecast2 does not answer on %s: %v\n%s", ic.addr, err, ic.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// url is the listeners' address of a mount.
func (ic *icecast) url(mount string) string { return "http://" + ic.addr + "/" + mount }

// feed streams a sine tone as 64 kbit/s MP3 into a mount, in real time,
// as a radio station's encoder does; it returns once listeners get audio.
func (ic *icecast) feed(t *testing.T, mount string, hz int) *proc {
	t.Helper()
	p := start(t, "feeder-"+mount, nil, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d", hz), "-c:a", "libmp3lame", "-b:a", "64k",
		"-f", "mp3", "-content_type", "audio/mpeg", fmt.Sprintf("icecast://source:%s@%s/%s", ic.password, ic.addr, mount))
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(ic.url(mount))
		if err == nil {
			buf := make([]byte, 1024)
			n, _ := resp.Body.Read(buf)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && n > 0 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount %s never streamed: %v\n%s\n%s", mount, err, p.Log(), ic.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// relayPacket is a stream packet as a node received it, and when.
type relayPacket struct {
	nodeproto.StreamPacket
	At time.Time
}

// relayTimeline is what a node of a zone receives of live sessions: the
// stream commands and the packets, each verified against the controller's
// key. Today a paho client stands in for a node (connected with a node's
// own credentials, so the broker's ACL applies); with real node processes
// the same timeline is what their sink recordings are compared with.
type relayTimeline struct {
	mu       sync.Mutex
	commands []nodeproto.Stream
	packets  []relayPacket
	bad      []string
}

// listenRelay connects as the node whose config is at cfgPath and
// subscribes, as a node does, to its zone's command and stream topics.
func listenRelay(t *testing.T, ctl *controller, cfgPath, zone string) *relayTimeline {
	t.Helper()
	var cfg struct {
		ID             string          `json:"id"`
		Secret         string          `json:"secret"`
		ControllerKeys []nodeproto.Key `json:"controller_keys"`
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil || len(cfg.ControllerKeys) == 0 {
		t.Fatalf("node config %s: %v", cfgPath, err)
	}
	ring := nodeproto.Keyring{}
	for _, k := range cfg.ControllerKeys {
		ring[k.ID] = ed25519.PublicKey(k.Pub)
	}
	tl := &relayTimeline{}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + ctl.mqtt).SetClientID(cfg.ID).
		SetUsername(cfg.ID).SetPassword(cfg.Secret).SetCleanSession(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", cfg.ID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	sub := func(topic string, h mqtt.MessageHandler) {
		tok := c.Subscribe(topic, 1, h)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, tok.Error())
		}
	}
	sub(nodeproto.ZoneCmdTopic(zone), func(_ mqtt.Client, m mqtt.Message) {
		var cmd nodeproto.Command
		err := ring.Open(m.Payload(), &cmd)
		tl.mu.Lock()
		defer tl.mu.Unlock()
		switch {
		case err != nil:
			tl.bad = append(tl.bad, "command: "+err.Error())
		case cmd.Type == nodeproto.CmdStream && cmd.Stream != nil:
			tl.commands = append(tl.commands, *cmd.Stream)
		}
	})
	sub(nodeproto.ZoneStreamTopic(zone), func(_ mqtt.Client, m mqtt.Message) {
		at := time.Now()
		var p nodeproto.StreamPacket
		var err error
		for _, pub := range ring {
			if p, err = nodeproto.UnmarshalStreamPacket(pub, m.Payload()); err == nil {
				break
			}
		}
		tl.mu.Lock()
		defer tl.mu.Unlock()
		if err != nil {
			tl.bad = append(tl.bad, "packet: "+err.Error())
			return
		}
		// A session's first packets come once more for nodes whose
		// subscription came late (PROTOCOL.md §10): the same packet.
		for _, q := range tl.packets {
			if q.Session == p.Session && q.Seq == p.Seq {
				if q.Pos != p.Pos || len(q.Frames) != len(p.Frames) || q.Last != p.Last {
					tl.bad = append(tl.bad, fmt.Sprintf("packet %d of %s sent twice with different content", p.Seq, p.Session))
				}
				return
			}
		}
		tl.packets = append(tl.packets, relayPacket{StreamPacket: p, At: at})
	})
	return tl
}

// session returns a session's command (the first seen) and its packets
// in the order they came.
func (tl *relayTimeline) session(id string) (cmd nodeproto.Stream, packets []relayPacket, bad []string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, c := range tl.commands {
		if c.Session == id {
			cmd = c
			break
		}
	}
	for _, p := range tl.packets {
		if p.Session == id {
			packets = append(packets, p)
		}
	}
	return cmd, packets, append([]string(nil), tl.bad...)
}

// waitLast waits for a session's last packet.
func (tl *relayTimeline) waitLast(t *testing.T, id string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, ps, _ := tl.session(id)
		if len(ps) > 0 && ps[len(ps)-1].Last {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("session %s: no last packet within %s", id, timeout)
}

// sampleTime converts a sample position to a duration.
func sampleTime(pos uint64) time.Duration {
	return time.Duration(pos) * time.Second / nodeproto.StreamRate
}

// relayJump is a jump in a session's positions: audio [From, To) was
// never sent, and nodes play it as silence.
type relayJump struct {
	From, To uint64
	Before   relayPacket // the packet that ended at From
	After    relayPacket // the packet that starts at To
}

// jumps checks packets for order (seq from 0, one each) and returns where
// positions skip ahead; going back is an error.
func jumps(t *testing.T, ps []relayPacket) []relayJump {
	t.Helper()
	var out []relayJump
	var next uint64
	for i, p := range ps {
		if p.Seq != uint32(i) {
			t.Errorf("packet %d has seq %d (lost, duplicated or reordered)", i, p.Seq)
		}
		switch {
		case i > 0 && p.Pos < next:
			t.Errorf("packet %d starts at %s, before the previous one ended (%s)", i, sampleTime(p.Pos), sampleTime(next))
		case i > 0 && p.Pos > next:
			out = append(out, relayJump{From: next, To: p.Pos, Before: ps[i-1], After: p})
		}
		next = p.Pos + uint64(len(p.Frames))*nodeproto.StreamSamplesPerFrame
	}
	return out
}

// A programme relays an Icecast stream to a zone for 20 s. The upstream's
// encoder dies 7 s in and comes back 3 s later. What a node of the zone
// receives: every packet signed by the controller, positions back to back
// except one hole as long as the relay was without audio, the relay back
// on the controller's clock after it, the window's audio exactly 20 s,
// and the last packet when the window ends.
func TestRelayScheduledSurvivesUpstreamDrop(t *testing.T) {
	dir := t.TempDir()
	ic := startIcecast(t, dir)
	feeder := ic.feed(t, "vov1.mp3", 440)

	// Reconnections at most 500 ms apart: the hole is the outage, not the backoff.
	ctl := startController(t, filepath.Join(dir, "ctl"), "-relay-retry-max", "500ms")
	ctl.setupCommune(t)
	cfgPath := ctl.enrol(t, "r1", "z-center", dir, "silent")
	tl := listenRelay(t, ctl, cfgPath, "z-center")

	const window = 20 * time.Second
	start := time.Now().Add(10 * time.Second).Truncate(time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin tiep-song
  title Tiếp sóng thử
  source relay %s
  target zone z-center
  status approved
  once %s
  duration %ds
`, ic.url("vov1.mp3"), at(start), int(window/time.Second)))
	id := occurrenceID("tiep-song", start)

	// The upstream drops 7 s into the window and is back 3 s later.
	time.Sleep(time.Until(start.Add(7 * time.Second)))
	killedAt := time.Now()
	feeder.kill()
	time.Sleep(3 * time.Second)
	ic.feed(t, "vov1.mp3", 440)
	restartedAt := time.Now()
	tl.waitLast(t, id, time.Until(start.Add(window+10*time.Second)))

	cmd, ps, bad := tl.session(id)
	for _, b := range bad {
		t.Errorf("a node would refuse: %s", b)
	}
	if cmd.Session != id || cmd.StartAt != start.UnixMilli() || cmd.EndsAt != start.Add(window).UnixMilli() {
		t.Fatalf("stream command %+v, want session %s from %d to %d", cmd, id, start.UnixMilli(), start.Add(window).UnixMilli())
	}
	// The controller's clock origin: audio arriving at origin+d is heard as sample d.
	latency := 1500 * time.Millisecond
	origin := start.Add(-latency)
	js := jumps(t, ps)
	for _, j := range js {
		t.Logf("hole of %s at %s (packet %d received %s after the kill, the one before %s)", sampleTime(j.To-j.From),
			sampleTime(j.From), j.After.Seq, j.After.At.Sub(killedAt), j.Before.At.Sub(killedAt))
	}
	if len(js) != 1 {
		t.Fatalf("%d holes in the relay, want the upstream's one", len(js))
	}
	j := js[0]
	hole := sampleTime(j.To - j.From)
	// The hole is where the upstream was down, and the relay resumed after
	// the encoder came back.
	if at := origin.Add(sampleTime(j.From)); at.Before(killedAt.Add(-2*time.Second)) || at.After(restartedAt) {
		t.Errorf("the hole starts at %s into the window, the upstream dropped at %s", sampleTime(j.From), killedAt.Sub(origin))
	}
	if !j.After.At.After(restartedAt) {
		t.Errorf("audio after the hole came %s, before the upstream was back (%s)", j.After.At, restartedAt)
	}
	// The hole equals the outage the relay saw: from the audio it held
	// (sent up to j.From) to the audio that came back, on the clock. The
	// packet after the hole is stamped with its arrival at the controller,
	// which the node-side receive time bounds from above.
	outage := j.After.At.Sub(origin) - sampleTime(j.From)
	if d := hole - outage; d < -500*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("hole of %s, outage seen %s", hole, outage)
	}
	// No more silence than the upstream's outage and the time to reconnect.
	if hole > j.After.At.Sub(killedAt)+500*time.Millisecond {
		t.Errorf("hole of %s, longer than the %s from the drop to the audio back", hole, j.After.At.Sub(killedAt))
	}
	if hole < 3*time.Second-time.Second-500*time.Millisecond {
		t.Errorf("hole of %s for a 3 s outage: the relay cannot hold more than 1 s ahead", hole)
	}
	// The window is honoured to the sample, and the last packet comes as it ends.
	last := ps[len(ps)-1]
	end := last.Pos + uint64(len(last.Frames))*nodeproto.StreamSamplesPerFrame
	if end != uint64(window/time.Second)*nodeproto.StreamRate {
		t.Errorf("the relay sent %s of audio, want the window's %s", sampleTime(end), window)
	}
	if late := last.At.Sub(start.Add(window)); late > time.Second || late < -latency-time.Second-500*time.Millisecond {
		t.Errorf("last packet %s after the window's end", late)
	}
	t.Logf("%d packets; upstream down %s (kill to the mount streaming again); hole %s; last packet %s after the window's end",
		len(ps), restartedAt.Sub(killedAt).Round(time.Millisecond), hole, last.At.Sub(start.Add(window)).Round(time.Millisecond))
}

// Relay now through the API: the administrator lists a channel, an
// officer's request relays it to a zone at once, a stop with the session
// id ends it at the controller (the last packet goes out), an upstream
// that is down answers 502 "upstream" and airs nothing, and a programme
// naming a channel not on the list does not save.
func TestRelayNowAndChannels(t *testing.T) {
	dir := t.TempDir()
	ic := startIcecast(t, dir)
	ic.feed(t, "vov1.mp3", 440)
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	tl := listenRelay(t, ctl, ctl.enrol(t, "r1", "z-center", dir, "silent"), "z-center")

	ctl.mustCall(t, "PUT", "/api/v1/channels/vov1", map[string]any{"name": "VOV1 – Thời sự", "url": ic.url("vov1.mp3")}, nil)
	ctl.mustCall(t, "PUT", "/api/v1/channels/chet", map[string]any{"name": "Kênh hỏng", "url": ic.url("khong-co.mp3")}, nil)
	var chans []struct{ ID, URL string }
	ctl.mustCall(t, "GET", "/api/v1/channels", nil, &chans)
	if len(chans) != 2 || chans[1].ID != "vov1" || chans[1].URL != ic.url("vov1.mp3") {
		t.Fatalf("channels %+v", chans)
	}

	var got struct {
		Session string `json:"session"`
		StartAt string `json:"start_at"`
	}
	var raw map[string]any
	if code := ctl.call(t, "POST", "/api/v1/relay", map[string]any{"zone": "z-center", "channel": "vov1", "minutes": 5}, &raw); code != http.StatusAccepted {
		t.Fatalf("relay now: HTTP %d %v", code, raw)
	}
	b, _ := json.Marshal(raw)
	json.Unmarshal(b, &got)
	start, err := time.Parse(time.RFC3339Nano, got.StartAt)
	if err != nil || got.Session == "" {
		t.Fatalf("relay now answered %v", raw)
	}
	// Some audio flows, then the officer stops it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ps, _ := tl.session(got.Session); len(ps) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audio from the relay now")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctl.mustCall(t, "POST", "/api/v1/stop", map[string]any{"zone": "z-center", "value": got.Session}, nil)
	tl.waitLast(t, got.Session, 10*time.Second)
	cmd, ps, bad := tl.session(got.Session)
	if len(bad) > 0 {
		t.Errorf("refused: %v", bad)
	}
	if cmd.StartAt != start.UnixMilli() || cmd.EndsAt != start.Add(5*time.Minute).UnixMilli() || cmd.Source != "relay:vov1" {
		t.Errorf("command %+v, want start %d, 5 minutes, relay:vov1", cmd, start.UnixMilli())
	}
	if js := jumps(t, ps); len(js) != 0 {
		t.Errorf("holes %+v in a relay whose upstream never dropped", js)
	}

	// A channel whose upstream gives nothing.
	var e struct{ Error, Code string }
	if code := ctl.call(t, "POST", "/api/v1/relay", map[string]any{"zone": "z-center", "channel": "chet", "minutes": 5}, &e); code != http.StatusBadGateway || e.Code != "upstream" {
		t.Errorf("relay of a dead channel: HTTP %d %+v, want 502 upstream", code, e)
	}
	// A programme naming a channel that is not on the list.
	var se struct{ Errors []string }
	if code := ctl.call(t, "PUT", "/api/v1/schedules/x-an-phu", []byte(`station st-1 Đài
bulletin tiep-song
  title Tiếp sóng
  source relay vov9
  target zone z-center
  status approved
  daily 05:00
  duration 30m
`), &se); code != http.StatusBadRequest || len(se.Errors) != 1 || !strings.Contains(se.Errors[0], `relay channel "vov9" is not on the channel list`) {
		t.Errorf("programme with an unknown channel: HTTP %d %v, want 400 naming it", code, se.Errors)
	}
}
