package nodeproto

import (
	"strings"
	"testing"
)

func TestEpochValidation(t *testing.T) {
	ok := Event{Seq: 1, Type: EventStarted, ID: "c1", At: 1}
	for _, tc := range []struct {
		epoch string
		valid bool
	}{
		{"", true}, {"9f2c41d07be36a15", true}, {strings.Repeat("a", MaxEpoch), true},
		{strings.Repeat("a", MaxEpoch+1), false}, {"ABC", false}, {"a/b", false}, {"-a", false},
	} {
		ev := ok
		ev.Epoch = tc.epoch
		if err := ev.Validate(); (err == nil) != tc.valid {
			t.Errorf("event epoch %q: Validate = %v, want valid %v", tc.epoch, err, tc.valid)
		}
		e := tc.epoch
		a := Ack{Epoch: &e, Seqs: []uint64{1}}
		if err := a.Validate(); (err == nil) != tc.valid {
			t.Errorf("ack epoch %q: Validate = %v, want valid %v", tc.epoch, err, tc.valid)
		}
	}
}

// An ack names the epoch it acknowledges; only one from a controller that
// predates epochs (no field) covers every epoch.
func TestAckMatchesEpoch(t *testing.T) {
	var old Ack
	if err := Decode([]byte(`{"seqs":[1]}`), &old); err != nil {
		t.Fatal(err)
	}
	var legacy Ack
	if err := Decode([]byte(`{"epoch":"","seqs":[1]}`), &legacy); err != nil {
		t.Fatal(err)
	}
	var cur Ack
	if err := Decode([]byte(`{"epoch":"e1","seqs":[1]}`), &cur); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ack   Ack
		epoch string
		want  bool
	}{
		{"old controller, epoch e1", old, "e1", true},
		{"old controller, no epoch", old, "", true},
		{"legacy ack, epoch e1", legacy, "e1", false},
		{"legacy ack, no epoch", legacy, "", true},
		{"e1 ack, epoch e1", cur, "e1", true},
		{"e1 ack, epoch e2", cur, "e2", false},
		{"e1 ack, no epoch", cur, "", false},
	} {
		if got := tc.ack.Matches(tc.epoch); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
