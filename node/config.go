// Package node is the loudspeaker node daemon: it keeps one MQTT link to the
// controller, verifies signed commands and desired state, fetches and caches
// content, plays it through the sound card at the instant asked, and reports
// its state and proof of play. Run is its entry point; cmd/radio-node only
// turns flags into a Config.
package node

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/clock"
)

// Config of a node daemon. The JSON form is the file enrolment prints.
type Config struct {
	ID             string          `json:"id"`
	Secret         string          `json:"secret"`
	Broker         string          `json:"broker"` // tcp://host:1883 or ssl://host:8883
	ControllerKeys []nodeproto.Key `json:"controller_keys"`
	DataDir        string          `json:"data_dir"`
	CacheMaxMB     int64           `json:"cache_max_mb,omitempty"`
	AudioOutput    string          `json:"audio_output,omitempty"` // auto (default), oto (the sound device through ALSA: the name is kept from the library it once used), silent
	AmpPath        string          `json:"amp_path,omitempty"`     // file that switches the amplifier: "1"/"0" (a GPIO value file)
	CAFile         string          `json:"ca_file,omitempty"`      // PEM CA(s) to verify an ssl:// broker; empty = the system's
	// UpdateKeys verify node releases (PROTOCOL.md §5, update): a key apart
	// from the command keys. Without one the node installs no update.
	UpdateKeys []nodeproto.Key `json:"update_keys,omitempty"`
	// Binary is the installed program the service manager starts, which an
	// update replaces (default: the running executable).
	Binary string `json:"binary,omitempty"`
	// ClockSources say how the node knows its clock is right (PROTOCOL.md
	// §1): "system" (timesyncd or chrony), "controller" (the controller's
	// time over a round trip), "rtc" (a battery-backed real-time clock:
	// trusted as set). Default system and controller.
	ClockSources  []string `json:"clock_sources,omitempty"`
	ClockSyncFile string   `json:"clock_sync_file,omitempty"` // timesyncd's flag; default /run/systemd/timesync/synchronized
	ThermalPath   string   `json:"thermal_path,omitempty"`    // CPU temperature; default /sys/class/thermal/thermal_zone0/temp
	ModemCommand  string   `json:"modem_command,omitempty"`   // ModemManager's CLI; default mmcli (absent: no modem health)
	// CaptureDevice is the ALSA capture device of a microphone or a line-in
	// tapped after the amplifier ("default", "hw:1,0", ...): the node listens
	// while it plays and says in proof of play whether it was heard
	// (PROTOCOL.md §7). Empty: no capture, nothing said about heard.
	CaptureDevice string `json:"capture_device,omitempty"`
	// The amplifier's power relay on a GPIO line (instead of amp_path),
	// switched on amp_preroll_ms (default 2000) before an item starts and
	// off amp_hold_s (default 10) after the last one ends.
	AmpGPIO      *AmpGPIO `json:"amp_gpio,omitempty"`
	AmpPreRollMS int      `json:"amp_preroll_ms,omitempty"`
	AmpHoldS     int      `json:"amp_hold_s,omitempty"`

	Logger        *slog.Logger  `json:"-"`
	Version       string        `json:"-"`
	StateInterval time.Duration `json:"-"` // periodic state report, default 60 s
	// UpdateHealthWait is how soon a new version must be healthy (default 2 min).
	UpdateHealthWait time.Duration `json:"-"`
	// Alive, if set, is called by the main loop on its one-second tick:
	// cmd/radio-node feeds systemd's watchdog from it, so a node
	// whose loop is stuck is restarted.
	Alive func() `json:"-"`
	// ClockOffset simulates a box whose system clock is this far off (an
	// unset real-time clock) until the system's NTP state says synchronised
	// (only ClockSyncFile is read then): for tests and demonstrations.
	ClockOffset time.Duration `json:"-"`
}

// LoadConfig reads a JSON config file.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("node: config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("node: config %s: %w", path, err)
	}
	return c, c.Check()
}

// Check validates the configuration.
func (c *Config) Check() error {
	if err := nodeproto.CheckID("node", c.ID); err != nil {
		return fmt.Errorf("node: config: %w", err)
	}
	if c.Secret == "" || c.Broker == "" || c.DataDir == "" {
		return fmt.Errorf("node: config: secret, broker and data_dir are required")
	}
	if len(c.ControllerKeys) == 0 {
		return fmt.Errorf("node: config: no controller_keys: commands could never be verified")
	}
	for _, k := range c.ControllerKeys {
		if k.ID == "" || len(k.Pub) != 32 {
			return fmt.Errorf("node: config: controller key %q is not a 32-byte Ed25519 key", k.ID)
		}
	}
	if err := checkUpdateKeys(c.UpdateKeys); err != nil {
		return err
	}
	if _, err := clock.New(clock.Config{Sources: c.ClockSources}); err != nil {
		return fmt.Errorf("node: config: clock_sources: %w", err)
	}
	switch c.AudioOutput {
	case "", "auto", "oto", "silent":
	default:
		return fmt.Errorf("node: config: audio_output %q: want auto, oto or silent", c.AudioOutput)
	}
	return c.checkAmp()
}
