package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A commune officer, in the browser, makes an enrolment code (text and QR
// code), which a box redeems; then manages the zones and clusters of the
// commune: adds and renames a zone, renames a cluster, moves it to another
// zone, revokes it (it leaves its zones), and cancels an unused code. The
// first half at desk size, the second at phone size.
func TestWebOfficerEnrolsAndManagesClusters(t *testing.T) {
	chromium, _, ctl := webCommune(t)
	pw := ctl.createUser(t, "can.bo.an", "Nguyễn Văn An", "officer", "x-an-phu")
	b := newBrowser(t, chromium, ctl.url)
	asked := b.acceptDialogs()
	b.login("can.bo.an", pw)
	b.open("manage")
	if b.has(`#area-form`) {
		t.Error("an officer sees the form to add areas (administrators only)")
	}

	// A new zone, and z-center renamed.
	b.wait("#zone-id", time.Minute)
	b.redrawn(chromedp.SendKeys(chromedp.CSS("#zone-id"), "thon-2"), chromedp.SendKeys(chromedp.CSS("#zone-name"), "Thôn 2"),
		chromedp.Click(chromedp.CSS("#zone-create")))
	b.wait(`tr[data-test="zone-thon-2"]`, time.Minute)
	b.redrawn(chromedp.SetValue(chromedp.CSS(`[data-test="zone-name-z-center"]`), "Trung tâm xã mới"),
		chromedp.Click(chromedp.CSS(`[data-test="zone-rename-z-center"]`)))

	// A code for a new cluster in z-center.
	b.wait(`[data-test="enrol-zone-z-center"]`, time.Minute)
	b.do(chromedp.SendKeys(chromedp.CSS("#enrol-id"), "cum-cho"), chromedp.SendKeys(chromedp.CSS("#enrol-name"), "Cụm loa chợ"),
		chromedp.Click(chromedp.CSS(`[data-test="enrol-zone-z-center"]`)), chromedp.Click(chromedp.CSS("#enrol-create")))
	b.wait(`[data-test="enrol-done-cum-cho"]`, time.Minute)
	code := strings.TrimSpace(b.text("#enrol-code"))
	if !regexp.MustCompile(`^[ACDEFGHJKMNPQRTUVWXY]{4}(-[ACDEFGHJKMNPQRTUVWXY]{4}){3}$`).MatchString(code) {
		t.Errorf("the code shown reads %q", code)
	}
	if cmd := b.text("#enrol-command"); !strings.HasPrefix(cmd, "radio-node enrol "+code+" -controller "+ctl.url) {
		t.Errorf("the command shown reads %q", cmd)
	}
	if w := b.eval(`String(document.getElementById('enrol-qr').naturalWidth)`); w == "0" || w == "" {
		t.Error("the QR code image did not load")
	}
	if !b.visible("#enrol-insecure") {
		t.Error("a code made over plain HTTP should warn that boxes enrol over HTTPS only")
	}
	b.wait(`tr[data-test="code-cum-cho"]`, time.Minute)
	b.shot("desk-manage-code")

	// The box redeems it (the API; the radio-node command is in TestEnrolOnTheBox).
	var en struct {
		ID    string   `json:"id"`
		Zones []string `json:"zones"`
	}
	if status := ctl.call(t, "POST", "/api/v1/enrol", map[string]string{"code": code}, &en); status != http.StatusOK || en.ID != "cum-cho" {
		t.Fatalf("redeeming the code: HTTP %d %+v", status, en)
	}

	// Phone size: rename, move, revoke the cluster; a second code, cancelled.
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("dashboard")
	b.open("manage")
	b.wait(`tr[data-test="mg-node-cum-cho"]`, time.Minute)
	if txt := b.text(`tr[data-test="code-cum-cho"]`); !strings.Contains(txt, "Đã dùng") {
		t.Errorf("the used code's row reads %q, want Đã dùng", txt)
	}
	b.redrawn(chromedp.SetValue(chromedp.CSS(`[data-test="node-name-cum-cho"]`), "Cụm loa chợ mới"),
		chromedp.Click(chromedp.CSS(`[data-test="node-rename-cum-cho"]`)))
	b.redrawn(chromedp.Click(chromedp.CSS(`[data-test="node-zone-cum-cho-z-center"]`)), chromedp.Click(chromedp.CSS(`[data-test="node-zone-cum-cho-thon-2"]`)),
		chromedp.Click(chromedp.CSS(`[data-test="node-move-cum-cho"]`)))
	waitNode(t, ctl, "cum-cho", func(n webNode) bool { return slices.Equal(n.Zones, []string{"thon-2"}) })
	if !b.has(`[data-test="node-zone-cum-cho-thon-2"]:checked`) || b.has(`[data-test="node-zone-cum-cho-z-center"]:checked`) {
		t.Error("after the move the page does not show the cluster in thon-2 only")
	}
	b.shot("phone-manage-moved")
	b.redrawn(chromedp.Click(chromedp.CSS(`[data-test="node-revoke-cum-cho"]`)))
	n := waitNode(t, ctl, "cum-cho", func(n webNode) bool { return n.Revoked })
	if n.Name != "Cụm loa chợ mới" || len(n.Zones) != 0 {
		t.Errorf("after rename, move and revoke the cluster is %+v, want renamed and in no zone", n)
	}
	if q := asked(); len(q) != 1 || !strings.Contains(q[0], "Cụm loa chợ mới") {
		t.Errorf("the revoke asked %q, want one question naming the cluster", q)
	}
	var zone struct {
		Name  string   `json:"name"`
		Nodes []string `json:"nodes"`
	}
	ctl.mustCall(t, "GET", "/api/v1/zones", nil, nil)
	for id, want := range map[string]string{"z-center": "Trung tâm xã mới", "thon-2": "Thôn 2"} {
		var zones []struct {
			ID    string   `json:"id"`
			Name  string   `json:"name"`
			Nodes []string `json:"nodes"`
		}
		ctl.mustCall(t, "GET", "/api/v1/zones", nil, &zones)
		for _, z := range zones {
			if z.ID == id {
				zone.Name, zone.Nodes = z.Name, z.Nodes
			}
		}
		if zone.Name != want || len(zone.Nodes) != 0 {
			t.Errorf("zone %s: name %q nodes %v, want %q and no nodes", id, zone.Name, zone.Nodes, want)
		}
	}
	if b.has(`[data-test="node-revoke-cum-cho"]`) {
		t.Error("a revoked cluster still has a Revoke button")
	}

	b.waitGone(`[data-test="msg-ok"]`, time.Minute) // on a phone the notices cover the form's button a while
	b.do(chromedp.SendKeys(chromedp.CSS("#enrol-id"), "cum-dinh"), chromedp.Click(chromedp.CSS("#enrol-create")))
	b.wait(`[data-test="enrol-done-cum-dinh"]`, time.Minute)
	b.shot("phone-manage-code")
	b.wait(`[data-test="code-cancel-cum-dinh"]`, time.Minute)
	b.do(chromedp.Click(chromedp.CSS(`[data-test="code-cancel-cum-dinh"]`)))
	b.wait(`[data-test="msg-ok"]`, time.Minute)
	b.waitGone(`[data-test="code-cancel-cum-dinh"]`, time.Minute)
	if status := ctl.call(t, "POST", "/api/v1/enrol", map[string]string{"code": strings.TrimSpace(b.text("#enrol-code"))}, nil); status != http.StatusNotFound {
		t.Errorf("a cancelled code: HTTP %d, want 404", status)
	}
	b.shot("phone-manage")
	b.checkConsole()
}

// redrawn runs steps that change the management page and waits until it
// is drawn again with the change.
func (b *browser) redrawn(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	before := b.eval(`document.getElementById('page-manage').dataset.drawn`)
	b.waitGone(`[data-test="msg-ok"]`, time.Minute) // on a phone a notice may lie over the button for its 6 s
	b.do(steps...)
	b.wait(fmt.Sprintf(`#page-manage:not([data-drawn=%q])`, before), time.Minute)
}

type webNode struct {
	Name    string   `json:"name"`
	Zones   []string `json:"zones"`
	Revoked bool     `json:"revoked"`
}

func waitNode(t *testing.T, ctl *controller, id string, cond func(webNode) bool) webNode {
	t.Helper()
	var n webNode
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctl.mustCall(t, "GET", "/api/v1/nodes/"+id, nil, &n)
		if cond(n) {
			return n
		}
	}
	t.Fatalf("node %s is %s, not as expected within a minute", id, fmt.Sprintf("%+v", n))
	return n
}
