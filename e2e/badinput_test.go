package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Bad input over HTTP and MQTT is refused with a clear error, the
// controller keeps running, and good input after it is still accepted.
func TestBadInputIsRefused(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	cfgPath := ctl.enrol(t, "b1", "z-center", dir, "silent")

	t.Run("uploads", func(t *testing.T) {
		mp3, _ := os.ReadFile(tone(t, dir, 440, 1))
		for _, tc := range []struct {
			name string
			body []byte
			want int
			msg  string
		}{
			{"empty", nil, http.StatusUnprocessableEntity, "empty"},
			{"text", []byte("Kính gửi bà con: đây không phải âm thanh.\n"), http.StatusUnprocessableEntity, "no audio"},
			{"truncated mp3", mp3[:300], http.StatusUnprocessableEntity, ""},
			{"random bytes", bytes.Repeat([]byte{0x13, 0x37, 0xfe}, 5000), http.StatusUnprocessableEntity, ""},
		} {
			var e struct {
				Error string `json:"error"`
			}
			code := ctl.call(t, "POST", "/api/v1/media?name="+strings.ReplaceAll(tc.name, " ", "_")+".mp3", tc.body, &e)
			if code != tc.want || e.Error == "" || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s: HTTP %d %q, want %d with a message containing %q", tc.name, code, e.Error, tc.want, tc.msg)
			}
		}
	})

	t.Run("api", func(t *testing.T) {
		var e struct {
			Error string `json:"error"`
		}
		if code := ctl.call(t, "POST", "/api/v1/play", map[string]any{"node": "ghost", "media": strings.Repeat("a", 64)}, &e); code != http.StatusNotFound {
			t.Errorf("play of unknown media to unknown node: HTTP %d %q, want 404", code, e.Error)
		}
		m := ctl.upload(t, tone(t, dir, 440, 1))
		if code := ctl.call(t, "POST", "/api/v1/play", map[string]any{"node": "ghost", "media": m.SHA256}, &e); code != http.StatusNotFound || !strings.Contains(e.Error, "ghost") {
			t.Errorf("play to unknown node: HTTP %d %q, want 404 naming it", code, e.Error)
		}
		if code := ctl.call(t, "POST", "/api/v1/play", map[string]any{"node": "b1", "zone": "z-center", "media": m.SHA256}, &e); code != http.StatusBadRequest {
			t.Errorf("play to node and zone: HTTP %d, want 400", code)
		}
		if code := ctl.call(t, "POST", "/api/v1/nodes", map[string]any{"id": "Bad/Id", "station_id": "st-1"}, &e); code != http.StatusBadRequest {
			t.Errorf("enrol with a bad id: HTTP %d %q, want 400", code, e.Error)
		}
		req, _ := http.NewRequest("GET", ctl.url+"/api/v1/nodes", nil)
		req.Header.Set("Authorization", "Bearer forged")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged token: %v %v, want 401", resp.StatusCode, err)
		}
	})

	t.Run("mqtt", func(t *testing.T) {
		// Act as node b1 with its own credentials, sending garbage on its topics.
		var cfg struct {
			ID, Secret string
		}
		b, _ := os.ReadFile(cfgPath)
		json.Unmarshal(b, &cfg)
		acks := make(chan []byte, 10)
		o := mqtt.NewClientOptions().AddBroker("tcp://" + ctl.mqtt).SetClientID(cfg.ID).SetUsername(cfg.ID).SetPassword(cfg.Secret).
			SetCleanSession(true)
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect as b1: %v", tok.Error())
		}
		defer func() { c.Disconnect(100) }()
		c.Subscribe(nodeproto.NodeTopic("b1", nodeproto.LeafAck), 1, func(_ mqtt.Client, m mqtt.Message) { acks <- m.Payload() }).Wait()
		pub := func(leaf string, payload []byte) {
			tok := c.Publish(nodeproto.NodeTopic("b1", leaf), 1, false, payload)
			tok.WaitTimeout(10 * time.Second)
		}
		huge := bytes.Repeat([]byte("x"), nodeproto.MaxJSONPayload+10)
		for _, leaf := range []string{"events", "state", "fetch", "reply"} {
			pub(leaf, []byte("{"))
			pub(leaf, []byte{0xff, 0x00, 0x12})
			pub(leaf, []byte(`{"node":"someone-else","events":[{"seq":1,"type":"started","id":"x","at":1}]}`))
			pub(leaf, huge) // over the protocol's limit; a broker may also cut the connection
			if !c.IsConnectionOpen() {
				c.Disconnect(0)
				c = mqtt.NewClient(o)
				if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Fatalf("reconnect as b1: %v", tok.Error())
				}
				c.Subscribe(nodeproto.NodeTopic("b1", nodeproto.LeafAck), 1, func(_ mqtt.Client, m mqtt.Message) { acks <- m.Payload() }).Wait()
			}
		}
		pub("events", []byte(`{"node":"b1","events":[{"seq":0,"type":"exploded","id":"x","at":1}]}`))
		pub("fetch", []byte(`{"media":"`+strings.Repeat("b", 64)+`","chunks":[0]}`))
		pub("fetch", []byte(`{"media":"../../etc/passwd","chunks":[0]}`))

		// Still alive, and a good batch is stored and acknowledged.
		good, _ := json.Marshal(nodeproto.Events{Node: "b1", Events: []nodeproto.Event{{Seq: 1, Type: "failed", ID: "c-probe", At: time.Now().UnixMilli(), Reason: "probe"}}})
		pub("events", good)
		// (The invalid event with seq 0 above is acknowledged without being
		// stored, so that it cannot block the outbox; skip that ack.)
		for acked := false; !acked; {
			select {
			case a := <-acks:
				var ack nodeproto.Ack
				if json.Unmarshal(a, &ack) != nil {
					t.Fatalf("bad ack %s", a)
				}
				if slices.Contains(ack.Seqs, 1) {
					acked = true
					if len(ack.Seqs) != 1 {
						t.Errorf("ack = %s, want seq 1 only", a)
					}
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no ack for a good batch after the bad ones:\n%s", ctl.Log())
			}
		}
		ctl.waitPlays(t, "c-probe", 10*time.Second, func(e []playEvent) bool { return len(e) == 1 })
		// The same batch again is harmless: still one row.
		pub("events", good)
		<-acks
		if evs := ctl.waitPlays(t, "c-probe", time.Second, func([]playEvent) bool { return true }); len(evs) != 1 {
			t.Errorf("duplicate batch stored twice: %+v", evs)
		}
		if !strings.Contains(ctl.Log(), "bad message dropped") {
			t.Errorf("controller did not log the bad messages it dropped")
		}
	})
}
