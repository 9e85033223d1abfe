package warning

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/communeradio/radio/controller/internal/cap"
)

// alertXML is a CAP alert with one Vietnamese info block.
func alertXML(id, status, msgType, extra, info, area string) []byte {
	return fmt.Appendf(nil, `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>%s</identifier><sender>kttv</sender>
<sent>2026-12-07T14:00:00+07:00</sent><status>%s</status><msgType>%s</msgType><scope>Public</scope>%s
<info><language>vi</language><category>Met</category><event>Bão</event><urgency>Immediate</urgency><severity>Severe</severity>
<certainty>Observed</certainty>%s<headline>Bão số 9</headline><area><areaDesc>Vùng</areaDesc>%s</area></info></alert>`, id, status, msgType, extra, info, area)
}

// What CAP alerts do before anything is sent: drafts stored, alerts over
// no cluster accepted, drills off, and the refusals; every accepted alert
// is stored with its outcome. (The service has no fleet: a send would
// fail loudly.)
func TestReceiveCAPOutcomes(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	by := Sender{Actor: "token:kttv#1"}
	overA1 := "<circle>10.75,106.70 0.5</circle>"
	for _, c := range []struct {
		name     string
		doc      []byte
		outcome  string
		noDrills []string
		err      error
	}{
		{"draft", alertXML("1", "Draft", "Alert", "", "", overA1), OutcomeNotPlayed, nil, nil},
		{"system", alertXML("2", "System", "Alert", "", "", overA1), OutcomeNotPlayed, nil, nil},
		{"nowhere", alertXML("3", "Actual", "Alert", "", "", "<circle>15,112 10</circle>"), OutcomeNoMatch, nil, nil},
		{"exercise where drills are off", alertXML("4", "Exercise", "Alert", "", "", overA1), OutcomeDrillsOff, []string{"a1"}, nil},
		{"test where drills are off", alertXML("5", "Test", "Alert", "", "", overA1), OutcomeDrillsOff, []string{"a1"}, nil},
		{"duplicate", alertXML("3", "Actual", "Alert", "", "", overA1), "", nil, ErrDuplicate},
		{"expired", alertXML("6", "Actual", "Alert", "", "<expires>2026-12-07T14:59:59+07:00</expires>", overA1), "", nil, ErrExpired},
		{"update of nothing known", alertXML("7", "Actual", "Update", "<references>kttv,0,2026-12-07T13:00:00+07:00</references>", "", overA1), OutcomeRefused, nil, ErrUnknown},
		{"cancel of another sender's alert", alertXML("8", "Actual", "Cancel", "<references>vov,3,2026-12-07T14:00:00+07:00</references>", "", overA1), OutcomeRefused, nil, ErrInvalid},
		{"no Vietnamese", []byte(strings.Replace(string(alertXML("9", "Actual", "Alert", "", "", overA1)), "<language>vi</language>", "<language>en</language>", 1)), OutcomeRefused, nil, cap.ErrInvalid},
		{"another province's cluster", alertXML("10", "Actual", "Alert", "", "", "<circle>21.03,105.85 1</circle>"), "", nil, nil},
	} {
		if c.name == "another province's cluster" {
			by.May = func(a string) bool { return a == "x-a" || a == "x-b" || a == "p-79" }
			c.outcome, c.err = OutcomeRefused, ErrOutOfArea
		}
		res, err := s.ReceiveCAP(ctx, c.doc, by)
		if c.err != nil && !errors.Is(err, c.err) || c.err == nil && err != nil {
			t.Errorf("%s: err %v, want %v", c.name, err, c.err)
		}
		if c.err == nil && (res.Outcome != c.outcome || !slices.Equal(res.NoDrills, c.noDrills) || len(res.Nodes) != 0 || res.Warning != "") {
			t.Errorf("%s: %+v, want outcome %s, nothing played", c.name, res, c.outcome)
		}
	}
	stored, err := s.cfg.Registry.ListCAPAlerts(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range stored {
		got = append(got, a.Identifier+":"+a.Outcome)
	}
	slices.Sort(got)
	want := []string{"10:refused", "1:not_played", "2:not_played", "3:no_match", "4:drills_off", "5:drills_off", "7:refused", "8:refused", "9:refused"}
	if !slices.Equal(got, want) {
		t.Errorf("stored %v, want %v (duplicates and expired alerts are not stored again)", got, want)
	}
}
