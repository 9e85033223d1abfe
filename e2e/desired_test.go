package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// nodeReach is what the API says about how far ahead a node's schedule reaches.
type nodeReach struct {
	State *struct {
		DesiredRev    int64 `json:"desired_rev"`
		ScheduleUntil int64 `json:"schedule_until"`
	} `json:"state"`
	Schedule *struct {
		Until   time.Time `json:"until"`
		Planned time.Time `json:"planned"`
		Slots   int       `json:"slots"`
		Error   string    `json:"error"`
	} `json:"schedule"`
}

// A programme too dense for one desired state must not take the
// controller's connection down (before: the broker cut the controller off
// for the oversized packet, paho sent it again after every reconnect, and
// no command reached any node). A programme whose week does not fit is cut
// to fit, at least a day ahead (1,500 starts a day, the most a programme
// file may hold, in the compact form), the node reports how far it
// reaches, and a play to another node still arrives.
func TestDenseProgrammeKeepsCommandsFlowing(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	startNode(t, "d1", ctl.enrol(t, "d1", "", dir, "silent"), nil)
	ctl.waitOnline(t, "d1")

	// d2 is watched through its own MQTT client, as its daemon would be.
	var d2 struct{ ID, Secret string }
	b, _ := os.ReadFile(ctl.enrol(t, "d2", "", dir, "silent"))
	json.Unmarshal(b, &d2)
	cmds := make(chan []byte, 10)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + ctl.mqtt).
		SetClientID(d2.ID).SetUsername(d2.ID).SetPassword(d2.Secret).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as d2: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe(nodeproto.NodeTopic("d2", nodeproto.LeafCmd), 1, func(_ mqtt.Client, m mqtt.Message) { cmds <- m.Payload() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe as d2: %v", tok.Error())
	}
	m := ctl.upload(t, tone(t, dir, 440, 1))

	reach := func() nodeReach {
		var r nodeReach
		ctl.mustCall(t, "GET", "/api/v1/nodes/d1", nil, &r)
		return r
	}
	waitReach := func(what string, cond func(nodeReach) bool) nodeReach {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if r := reach(); cond(r) {
				return r
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s: not within 60 s; node d1 is %+v", what, reach())
		return nodeReach{}
	}
	playToD2 := func() {
		t.Helper()
		var sent struct{ Command string }
		ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": "d2", "media": m.SHA256}, &sent)
		select {
		case p := <-cmds:
			var env nodeproto.Envelope
			var cmd nodeproto.Command
			if json.Unmarshal(p, &env) != nil || json.Unmarshal(env.Msg, &cmd) != nil || cmd.ID != sent.Command {
				t.Fatalf("d2 got %s, want command %s", p, sent.Command)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the play command to d2 did not arrive within 30 s (controller connected?)")
		}
	}
	programme := func(lines string) string {
		return fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin nhac-hieu
  title Nhạc hiệu
  source media %s
  target nodes d1
  status approved
  %s
`, m.SHA256, lines)
	}

	// 288 starts a day: a week (~570 KB signed in full) fits one message in
	// the compact form (slots name their file by its place in the content
	// list): all of it is sent.
	ctl.putSchedule(t, "x-an-phu", programme(`cron "0 */5 * * * *"`))
	start := time.Now()
	r := waitReach("a week of 288 a day sent", func(r nodeReach) bool {
		return r.Schedule != nil && r.Schedule.Slots >= 288*6 && r.State != nil && r.State.ScheduleUntil == r.Schedule.Until.UnixMilli()
	})
	if !r.Schedule.Planned.IsZero() || r.Schedule.Error != "" {
		t.Errorf("288 a day: %+v, want the whole week", r.Schedule)
	}
	playToD2()

	// 1,500 starts a day (the most one file may hold): a week does not fit
	// even compact; the schedule is cut at least a day ahead, d1 applies it
	// and reports how far it reaches, and commands still flow.
	var daily []string
	for i := 0; i < 60; i++ {
		daily = append(daily, fmt.Sprintf("%02d:%02d:30", i*24/60, i*24%60))
	}
	ctl.putSchedule(t, "x-an-phu", programme(`cron "0 * * * * *"`)+fmt.Sprintf(`bulletin nhac-hieu-2
  title Nhạc hiệu 2
  source media %s
  target nodes d1
  status approved
  daily %s
`, m.SHA256, strings.Join(daily, ",")))
	r = waitReach("1,500 a day cut to fit", func(r nodeReach) bool {
		return r.Schedule != nil && !r.Schedule.Planned.IsZero() && r.State != nil && r.State.ScheduleUntil == r.Schedule.Until.UnixMilli()
	})
	until := r.Schedule.Until
	if r.Schedule.Error != "" || until.Before(start.Add(24*time.Hour)) || !until.Before(r.Schedule.Planned) {
		t.Errorf("schedule %+v: want it cut at least a day ahead of %v and before the plan's end", r.Schedule, start)
	}
	if l := until.In(vn); l.Minute() != 0 || l.Second() != 0 {
		t.Errorf("schedule cut at %v, want a whole hour", l)
	}
	if want := 1500; r.Schedule.Slots < want {
		t.Errorf("%d slots sent, want at least a day's (%d)", r.Schedule.Slots, want)
	}
	playToD2()
	if strings.Contains(ctl.Log(), "broker connection lost") || strings.Contains(ctl.Log(), "oversized packet") {
		t.Errorf("the controller lost its broker connection:\n%s", ctl.Log())
	}
}
