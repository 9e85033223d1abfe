package node

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// The box's health in its State (PROTOCOL.md §9): CPU temperature, uptime,
// and the mobile link where ModemManager runs. Paths and the command are
// configuration (Config), so tests point them at fixtures.

const (
	defaultThermal = "/sys/class/thermal/thermal_zone0/temp"
	defaultUptime  = "/proc/uptime"
	defaultMMCLI   = "mmcli"
	modemEvery     = time.Minute
)

// cpuTemp reads a thermal zone (millidegrees Celsius); nil when there is
// none or it says nothing sensible.
func cpuTemp(path string) *float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	milli, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return nil
	}
	c := float64(milli/100) / 10 // one decimal
	if c < -60 || c > 200 {
		return nil
	}
	return &c
}

// sysUptime is the box's uptime in seconds (/proc/uptime), 0 when unknown.
func sysUptime(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil || s < 0 {
		return 0
	}
	return int64(s)
}

// readModem asks ModemManager (`mmcli -m any --output-keyvalue`) for the
// first modem's signal; nil when the command or a modem is absent.
func readModem(ctx context.Context, command string) *nodeproto.Modem {
	path, err := exec.LookPath(command)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-m", "any", "--output-keyvalue").Output()
	if err != nil {
		return nil
	}
	return parseModem(string(out))
}

func parseModem(out string) *nodeproto.Modem {
	var m nodeproto.Modem
	found := false
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "--" {
			continue // mmcli's "none"
		}
		switch {
		case k == "modem.generic.signal-quality.value":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 100 {
				m.SignalPct, found = n, true
			}
		case strings.HasPrefix(k, "modem.generic.access-technologies.value") && m.Tech == "":
			m.Tech = truncate(v, 64)
		case k == "modem.3gpp.operator-name":
			m.Operator = truncate(v, 64)
		}
	}
	if !found {
		return nil
	}
	return &m
}

// watchModem refreshes the modem's health every minute until ctx ends.
func (a *agent) watchModem(ctx context.Context) {
	for {
		if m := readModem(ctx, a.cfg.ModemCommand); !sameModem(m, a.modem.Load()) {
			a.modem.Store(m)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(modemEvery):
		}
	}
}

func sameModem(a, b *nodeproto.Modem) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// healthTick reports a change of the modem's health (at most once a
// minute, when it is read) without waiting for the periodic state.
func (a *agent) healthTick() {
	if a.modem.Load() != a.sentModem {
		a.stateDirty = true
	}
}

// reportedHealth fills the State's health fields whose change is worth a
// report of its own: the clock, the modem.
func (a *agent) reportedHealth(s *nodeproto.State) {
	a.clockState(s)
	s.Modem = a.modem.Load()
}

// healthState fills the ever-changing health fields.
func (a *agent) healthState(s *nodeproto.State) {
	s.CPUTempC = cpuTemp(a.cfg.ThermalPath)
	s.SysUptimeS = sysUptime(defaultUptime)
}
