package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Who may send a warning, and where: every refusal happens before anything
// is rendered or sent (this API has no fleet: a send would fail loudly).
func TestWarningScope(t *testing.T) {
	e := newEnv(t)
	oa, p1 := e.login("officer-a"), e.login("province-1")
	text := func(target map[string]any) map[string]any {
		return map[string]any{"title": "Cháy rừng", "text": "Cháy rừng ở đồi thông.", "target": target}
	}
	everywhere := []map[string]float64{{"lat": 20, "lon": 104}, {"lat": 20, "lon": 106}, {"lat": 22, "lon": 106}, {"lat": 22, "lon": 104}, {"lat": 20, "lon": 104}}
	for _, c := range []struct {
		name   string
		who    *client
		body   any
		status int
		code   string
	}{
		{"officer to another commune", oa, text(map[string]any{"areas": []string{"b"}}), 403, "out_of_area"},
		{"officer to the province", oa, text(map[string]any{"areas": []string{"p-1"}}), 403, "out_of_area"},
		{"officer's polygon over other communes", oa, text(map[string]any{"polygon": everywhere}), 403, "out_of_area"},
		{"officer to another commune's zone", oa, text(map[string]any{"zones": []string{"z-b"}}), 403, "out_of_area"},
		{"province to another province", p1, text(map[string]any{"areas": []string{"p-2"}}), 403, "out_of_area"},
		{"province to another province's node", p1, text(map[string]any{"nodes": []string{"n-c"}}), 403, "out_of_area"},
		{"no target", oa, text(map[string]any{}), 400, "invalid"},
		{"both media and text", oa, map[string]any{"media": shaA, "text": "x", "target": map[string]any{"areas": []string{"a"}}}, 400, "invalid"},
		{"open polygon", oa, text(map[string]any{"polygon": everywhere[:4]}), 400, "invalid"},
		{"unknown area", oa, text(map[string]any{"areas": []string{"x-nowhere"}}), 400, "invalid"},
		{"another commune's recording", oa, map[string]any{"media": shaB, "target": map[string]any{"areas": []string{"a"}}}, 404, "not_found"},
		{"a hundred plays", oa, map[string]any{"text": "x", "times": 100, "target": map[string]any{"areas": []string{"a"}}}, 400, "invalid"},
	} {
		if r := e.do(c.who, "POST", "/api/v1/warnings", c.body); r.status != c.status || r.code() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}

	// CAP: the province's sender covers a cluster of another province.
	alert := func(id, area string) string {
		return fmt.Sprintf(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>%s</identifier><sender>kttv</sender>
<sent>%d-12-01T08:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><language>vi</language><category>Fire</category><event>Cháy</event><urgency>Immediate</urgency><severity>Severe</severity>
<certainty>Observed</certainty><headline>Cháy rừng</headline><area><areaDesc>Đồi</areaDesc>%s</area></info></alert>`, id, fixtureYear, area)
	}
	if r := e.do(p1, "POST", "/api/v1/cap", alert("1", "<circle>21,105 1</circle>")); r.status != 403 || r.code() != "out_of_area" || !strings.Contains(r.body, "c") {
		t.Errorf("CAP over another province: %d %s, want 403 out_of_area", r.status, r.body)
	}
	signed := strings.Replace(alert("2", "<circle>21,105 1</circle>"), "</alert>", `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/></alert>`, 1)
	if r := e.do(p1, "POST", "/api/v1/cap", signed); r.status != 422 || r.code() != "signature" {
		t.Errorf("signed CAP: %d %s, want 422 signature", r.status, r.body)
	}
	cancel := strings.Replace(alert("3", "<circle>21,105 1</circle>"), "<msgType>Alert</msgType>", fmt.Sprintf("<msgType>Cancel</msgType><references>kttv,0,%d-12-01T07:00:00+07:00</references>", fixtureYear), 1)
	if r := e.do(p1, "POST", "/api/v1/cap", cancel); r.status != 422 || r.code() != "unknown_reference" {
		t.Errorf("cancel of an unknown alert: %d %s, want 422 unknown_reference", r.status, r.body)
	}
	// A draft is stored and never played, wherever it points.
	draft := strings.Replace(alert("4", "<circle>21,105 1</circle>"), "<status>Actual</status>", "<status>Draft</status>", 1)
	if r := e.do(p1, "POST", "/api/v1/cap", draft); r.status != 200 || !strings.Contains(r.body, `"not_played"`) {
		t.Errorf("draft: %d %s, want 200 not_played", r.status, r.body)
	}
	// Codes and drills are the administrator's to set.
	if r := e.do(p1, "PUT", "/api/v1/areas/p-1/warning-settings", map[string]any{"drills": true}); r.status != http.StatusForbidden {
		t.Errorf("province sets drills: %d, want 403", r.status)
	}
	if r := e.do(e.tokenClient(), "PUT", "/api/v1/areas/p-1/warning-settings", map[string]any{"code": "01", "drills": true}); r.status != 200 || !strings.Contains(r.body, `"drills": true`) {
		t.Errorf("admin sets code and drills: %d %s", r.status, r.body)
	}
	// The Atom feed needs no token and lists nothing that did not play.
	resp, err := http.Get(e.srv.URL + "/api/v1/cap/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Errorf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
