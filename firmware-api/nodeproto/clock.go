package nodeproto

// The node's clock (PROTOCOL.md §1, §9): a node reports whether its clock
// is synchronised, and from what; one that has no synchronised source asks
// the controller for its time through its State (ClockReq), and the
// controller answers with a signed `time` command to that node.

// CmdTime is the controller's answer to a node's ClockReq: Issued is the
// controller's clock when it answered, Time.Req echoes the request.
const CmdTime = "time"

// Clock states in State.Clock.
const (
	ClockSynced   = "synced"
	ClockUnsynced = "unsynced"
)

// Clock sources in State.ClockSource.
const (
	ClockNTP        = "ntp"        // systemd-timesyncd (timedatectl NTPSynchronized)
	ClockChrony     = "chrony"     // chronyc tracking: leap status normal
	ClockController = "controller" // a `time` command's round trip
	ClockRTC        = "rtc"        // configured: a battery-backed real-time clock, trusted as set
)

// TimeAnswer is the body of a `time` command.
type TimeAnswer struct {
	// Req is the State.ClockReq being answered, unchanged: the node takes
	// only the answer to its latest request, so an old answer replayed is
	// worth nothing.
	Req int64 `json:"req"`
}

// Modem is the mobile link's health, from ModemManager where a box has it.
type Modem struct {
	SignalPct int    `json:"signal_pct"`         // signal quality, 0-100
	Tech      string `json:"tech,omitempty"`     // access technology: lte, umts, gsm...
	Operator  string `json:"operator,omitempty"` // network operator's name
}

// Bounds of what a node may say of its health.
const (
	maxHealthText = 64 // bytes of Modem.Tech, Modem.Operator
	minCPUTemp    = -60
	maxCPUTemp    = 200
	maxClockError = 24 * 3600 * 1000 // ms
)

func (s *State) validateHealth() error {
	switch s.Clock {
	case "", ClockSynced, ClockUnsynced:
	default:
		return invalid("state clock %q", s.Clock)
	}
	switch s.ClockSource {
	case "", ClockNTP, ClockChrony, ClockController, ClockRTC:
	default:
		return invalid("state clock_source %q", s.ClockSource)
	}
	if s.ClockErrorMS < 0 || s.ClockErrorMS > maxClockError || s.ClockReq < 0 || s.SysUptimeS < 0 {
		return invalid("state clock_error_ms %d / clock_req %d / sys_uptime_s %d", s.ClockErrorMS, s.ClockReq, s.SysUptimeS)
	}
	if s.CPUTempC != nil && (*s.CPUTempC < minCPUTemp || *s.CPUTempC > maxCPUTemp) {
		return invalid("state cpu_temp_c %v", *s.CPUTempC)
	}
	if m := s.Modem; m != nil && (m.SignalPct < 0 || m.SignalPct > 100 || len(m.Tech) > maxHealthText || len(m.Operator) > maxHealthText) {
		return invalid("state modem %+v", *m)
	}
	return nil
}
