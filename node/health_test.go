package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// ModemManager's key-value answer gives the signal, technology and
// operator; a box without mmcli, or without a modem, reports none.
func TestModemHealth(t *testing.T) {
	dir := t.TempDir()
	mmcli := filepath.Join(dir, "mmcli")
	os.WriteFile(mmcli, []byte("#!/bin/sh\ncat <<'EOF'\nmodem.generic.access-technologies.value[1]       : lte\nmodem.generic.signal-quality.value               : 67\nmodem.generic.signal-quality.recent              : yes\nmodem.3gpp.operator-name                         : Viettel\nEOF\n"), 0o755)
	got := readModem(context.Background(), mmcli)
	if want := (nodeproto.Modem{SignalPct: 67, Tech: "lte", Operator: "Viettel"}); got == nil || *got != want {
		t.Errorf("modem %+v, want %+v", got, want)
	}
	if got := readModem(context.Background(), filepath.Join(dir, "absent")); got != nil {
		t.Errorf("modem without mmcli: %+v, want none", got)
	}
	noModem := filepath.Join(dir, "mmcli-none")
	os.WriteFile(noModem, []byte("#!/bin/sh\necho 'error: couldn't find modem' >&2\nexit 1\n"), 0o755)
	if got := readModem(context.Background(), noModem); got != nil {
		t.Errorf("modem when mmcli finds none: %+v, want none", got)
	}
	if got := parseModem("modem.generic.signal-quality.value : 900\n"); got != nil {
		t.Errorf("signal 900%%: %+v, want none", got)
	}
}

func TestCPUTempAndUptime(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "temp")
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{{"48512\n", 48.5, true}, {"-5000", -5, true}, {"999999999", 0, false}, {"hot", 0, false}} {
		os.WriteFile(p, []byte(c.in), 0o644)
		got := cpuTemp(p)
		if (got != nil) != c.ok || (got != nil && *got != c.want) {
			t.Errorf("cpuTemp(%q) = %v, want %v (%v)", c.in, got, c.want, c.ok)
		}
	}
	os.WriteFile(p, []byte("3600.52 7000.10\n"), 0o644)
	if got := sysUptime(p); got != 3600 {
		t.Errorf("uptime %d, want 3600", got)
	}
}
