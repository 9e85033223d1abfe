package nodeproto

import (
	"strings"
	"testing"
)

// What a node says of its health is untrusted: out-of-range or unknown
// values make its State invalid (the controller drops it), never reach the
// registry, the metrics or the web page.
func TestStateHealthValidated(t *testing.T) {
	hot, cold, ok := 1e9, -300.0, 48.5
	for _, c := range []struct {
		name string
		s    State
		bad  bool
	}{
		{"healthy", State{Clock: ClockSynced, ClockSource: ClockController, ClockErrorMS: 12, CPUTempC: &ok, SysUptimeS: 60, Modem: &Modem{SignalPct: 67, Tech: "lte", Operator: "Viettel"}}, false},
		{"unknown clock", State{Clock: "maybe"}, true},
		{"unknown source", State{ClockSource: "sundial"}, true},
		{"negative error", State{ClockErrorMS: -1}, true},
		{"error over a day", State{ClockErrorMS: 86_400_001}, true},
		{"negative request", State{ClockReq: -5}, true},
		{"CPU at a billion degrees", State{CPUTempC: &hot}, true},
		{"CPU below absolute zero", State{CPUTempC: &cold}, true},
		{"signal 500%", State{Modem: &Modem{SignalPct: 500}}, true},
		{"operator of 10 KB", State{Modem: &Modem{SignalPct: 5, Operator: strings.Repeat("x", 10_000)}}, true},
		{"negative uptime", State{SysUptimeS: -1}, true},
	} {
		c.s.Node = "n1"
		if err := c.s.Validate(); (err != nil) != c.bad {
			t.Errorf("%s: Validate() = %v, want bad %v", c.name, err, c.bad)
		}
	}
}

func TestTimeCommandValidated(t *testing.T) {
	base := Command{ID: "t-1", Type: CmdTime, Issued: 1, Expires: 60_001}
	c := base
	c.Node, c.Time = "n1", &TimeAnswer{Req: 5}
	if err := c.Validate(); err != nil {
		t.Errorf("a time answer to one node: %v", err)
	}
	c = base
	c.Zone, c.Time = "z1", &TimeAnswer{Req: 5}
	if err := c.Validate(); err == nil {
		t.Error("a time answer to a zone validated")
	}
	c = base
	c.Node = "n1"
	if err := c.Validate(); err == nil {
		t.Error("a time command without its body validated")
	}
}
