package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// The amplifier relay on a file line (amp_path): an item asked to play at
// once waits for the pre-roll while the amplifier is off, and does not once
// it is on; the operator's "off" switches it off at once.
func TestAmpPreRoll(t *testing.T) {
	f, cfg := newFixture(t)
	cfg.AmpPath = filepath.Join(t.TempDir(), "amp")
	cfg.AmpPreRollMS, cfg.AmpHoldS = 1500, 600
	audio, media := opusTone(t, 0.3, 440)
	f.mu.Lock()
	f.files[media] = audio
	f.mu.Unlock()
	stop := runNode(t, cfg)
	defer stop()
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50,
		Content: []nodeproto.ContentRef{{Media: media, Size: int64(len(audio))}}}))
	f.reply("desired:1")
	waitCached(t, cfg, media)
	if _, err := os.Stat(cfg.AmpPath); err == nil {
		t.Fatal("the amplifier was switched with nothing to play")
	}
	amp := func() string {
		b, _ := os.ReadFile(cfg.AmpPath)
		return strings.TrimSpace(string(b))
	}
	playNow := func(id string) nodeproto.Event {
		t.Helper()
		c := nodeproto.Command{ID: id, Type: "play", Node: "n1", Issued: now(), Expires: now() + 60000,
			Play: &nodeproto.Play{Media: media, Size: int64(len(audio))}}
		f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, c))
		if r := f.reply(id); !r.OK {
			t.Fatalf("play refused: %+v", r)
		}
		st := f.event("started", id, 20*time.Second)
		if amp() != "1" {
			t.Errorf("%s started with the amplifier %q, want 1", id, amp())
		}
		f.event("finished", id, 20*time.Second)
		return st
	}
	sent := now()
	if st := playNow("c-cold"); st.PlayAt < sent+1500 {
		t.Errorf("played at once with the amplifier off: play_at %d ms after the command, want the 1500 ms pre-roll", st.PlayAt-sent)
	}
	if st := playNow("c-warm"); st.PlayAt != 0 {
		t.Errorf("the amplifier was on, yet the item waited until %d", st.PlayAt)
	}
	states := f.states()
	off := false
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, nodeproto.Command{ID: "c-amp", Type: "amp", Node: "n1",
		Issued: now(), Expires: now() + 60000, Amp: &off}))
	f.reply("c-amp")
	if amp() != "0" {
		t.Errorf("amplifier %q after the operator switched it off, want 0", amp())
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-states:
			if s.Online && !s.Amp {
				return
			}
		case <-deadline:
			t.Fatal("no state saying the amplifier is off")
		}
	}
}

// A relay line that cannot be had is reported in the node's state; the
// node runs on. Contradictory or out-of-range relay settings are refused.
func TestAmpConfig(t *testing.T) {
	f, cfg := newFixture(t)
	base := cfg
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"a file and a GPIO line", func(c *Config) { c.AmpPath, c.AmpGPIO = "/tmp/amp", &AmpGPIO{Chip: "gpiochip0", Line: 17} }},
		{"a negative line", func(c *Config) { c.AmpGPIO = &AmpGPIO{Chip: "gpiochip0", Line: -1} }},
		{"no chip", func(c *Config) { c.AmpGPIO = &AmpGPIO{Line: 4} }},
		{"a pre-roll of a minute", func(c *Config) { c.AmpPreRollMS = 60000 }},
		{"a negative hold", func(c *Config) { c.AmpHoldS = -1 }},
	} {
		c := base
		tc.edit(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	cfg.AmpGPIO = &AmpGPIO{Chip: "/dev/null", Line: 17, ActiveLow: true}
	stop := runNode(t, cfg)
	defer stop()
	states := f.states()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case s := <-states:
			if s.Online && strings.Contains(s.Error, "amplifier relay") && strings.Contains(s.Error, "/dev/null line 17") {
				return
			}
		case <-deadline:
			t.Fatal("no state naming the relay line that could not be had")
		}
	}
}

// states delivers the node's state reports from now on.
func (f *fixture) states() <-chan nodeproto.State {
	states := make(chan nodeproto.State, 100)
	f.ctl.Subscribe("radio/v1/node/n1/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil {
			states <- s
		}
	}).Wait()
	return states
}
