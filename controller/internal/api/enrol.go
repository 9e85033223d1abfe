package api

// Enrolment on the box: an administrator, or an officer or leader for a
// station of their commune, makes a one-time code for a new speaker cluster
// (its id, name, station, zones); the installer types it on the box
// (`radio-node enrol CODE`), which redeems it once over HTTPS for its config
// and broker credentials. The code is short enough to read over the phone,
// expires (24 h by default), is stored only as its sha256, and guessing is
// held back per source address.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

const (
	// enrolAlphabet has the capital letters that cannot be taken for a digit
	// or for each other when read aloud or written by hand: no I, L (1), O
	// (0), B (8), S (5), Z (2).
	enrolAlphabet = "ACDEFGHJKMNPQRTUVWXY"
	// enrolLetters is the code's length: 16 letters of 20, 69 bits. With at
	// most enrolFailLimit wrong tries per address before a wait, guessing
	// one of even a thousand live codes is out of reach.
	enrolLetters = 16
	// DefaultEnrolTTL is how long a code may be used; MaxEnrolTTL the most
	// an officer may ask for.
	DefaultEnrolTTL = 24 * time.Hour
	MaxEnrolTTL     = 7 * 24 * time.Hour
	// enrolFailLimit wrong codes from one address in a row make it wait
	// (30 s, doubling).
	enrolFailLimit = 10
	// enrolListDays is how far back the list of codes reaches.
	enrolListDays = 7
)

// NewEnrolCode makes a random code, in groups of four: "KMTX-ACHR-PQNW-EFJY".
func NewEnrolCode() string {
	var b strings.Builder
	buf := make([]byte, 1)
	for n := 0; n < enrolLetters; {
		rand.Read(buf)
		if int(buf[0]) >= 256/len(enrolAlphabet)*len(enrolAlphabet) {
			continue // no modulo bias
		}
		if n > 0 && n%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(enrolAlphabet[int(buf[0])%len(enrolAlphabet)])
		n++
	}
	return b.String()
}

// normalizeEnrolCode is the code as stored: capitals, no blanks or dashes.
// It says false for text that cannot be a code.
func normalizeEnrolCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case strings.ContainsRune(enrolAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == enrolLetters
}

func hashEnrolCode(norm string) []byte {
	h := sha256.Sum256([]byte("radio enrol code\x00" + norm))
	return h[:]
}

// CertPin is the pin of a TLS certificate that `radio-node enrol -pin`
// checks: "sha256//" and the base64 sha256 of its public key (as curl's
// --pinnedpubkey), so a renewed certificate on the same key keeps it.
func CertPin(cert tls.Certificate) (string, error) {
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return "", fmt.Errorf("api: certificate pin: no certificate")
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return "", fmt.Errorf("api: certificate pin: %w", err)
		}
	}
	h := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return "sha256//" + base64.StdEncoding.EncodeToString(h[:]), nil
}

// EnrolCodeRequest asks for a code for a new cluster.
type EnrolCodeRequest struct {
	ID        string   `json:"id"`
	Name      string   `json:"name,omitempty"`
	StationID string   `json:"station_id"`
	Zones     []string `json:"zones,omitempty"`
	Lat       float64  `json:"lat,omitempty"`
	Lon       float64  `json:"lon,omitempty"`
	Hours     int      `json:"hours,omitempty"` // lifetime; default 24
}

// EnrolCodeView is a code as listed: never the code itself.
type EnrolCodeView struct {
	registry.EnrolCode
	Status string `json:"status"` // pending, used, expired
}

// NewEnrolCodeAnswer is the answer to a new code: the only time the code is
// shown.
type NewEnrolCodeAnswer struct {
	EnrolCodeView
	Code       string `json:"code"`
	Controller string `json:"controller"`        // the address the box enrols at
	Pin        string `json:"pin,omitempty"`     // of the controller's certificate, when it serves HTTPS itself
	Command    string `json:"command"`           // what the installer runs on the box (the QR code holds it)
	QR         string `json:"qr_png"`            // data: URL of a PNG QR code of Command
	Insecure   bool   `json:"insecure,omitzero"` // the controller is reached over plain HTTP: a box will not enrol
}

func (a *API) enrolRoutes() {
	a.route("GET /api/v1/enrol-codes", a.listEnrolCodes)
	a.route("POST /api/v1/enrol-codes", a.createEnrolCode)
	a.route("DELETE /api/v1/enrol-codes/{id}", a.deleteEnrolCode)
	a.public("POST "+nodeproto.EnrolPath, a.redeemEnrolCode)
}

func (a *API) createEnrolCode(w http.ResponseWriter, r *http.Request) error {
	var req EnrolCodeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	area, err := a.allowStation(r, req.StationID, true)
	if err != nil {
		return err
	}
	ttl := DefaultEnrolTTL
	if req.Hours != 0 {
		ttl = time.Duration(req.Hours) * time.Hour
		if ttl < time.Hour || ttl > MaxEnrolTTL {
			return errorf(http.StatusBadRequest, "hours: a code lasts from 1 to %d hours", int(MaxEnrolTTL.Hours()))
		}
	}
	now := a.now()
	code := NewEnrolCode()
	c := registry.EnrolCode{ID: "e-" + randomSecret(9), CreatedAt: now, CreatedBy: actor(r), ExpiresAt: now.Add(ttl),
		Node: registry.Node{ID: req.ID, Name: strings.TrimSpace(req.Name), StationID: req.StationID, Lat: req.Lat, Lon: req.Lon, Zones: req.Zones}}
	if c.Node.Zones == nil {
		c.Node.Zones = []string{}
	}
	if len(c.Node.Name) > 200 {
		return errorf(http.StatusBadRequest, "name: at most 200 bytes")
	}
	norm, _ := normalizeEnrolCode(code)
	if err := a.cfg.Registry.CreateEnrolCode(r.Context(), c, hashEnrolCode(norm)); err != nil {
		return err
	}
	ans := NewEnrolCodeAnswer{EnrolCodeView: EnrolCodeView{EnrolCode: c, Status: "pending"}, Code: code,
		Controller: a.publicURL(r), Insecure: !a.secure(r)}
	if r.TLS != nil { // the box reaches this same listener: its certificate is ours
		ans.Pin = a.cfg.TLSPin
	}
	ans.Command = "radio-node enrol " + code + " -controller " + ans.Controller
	if ans.Pin != "" {
		ans.Command += " -pin " + ans.Pin
	}
	png, err := qrcode.Encode(ans.Command, qrcode.Medium, 320)
	if err != nil {
		return fmt.Errorf("api: QR code: %w", err)
	}
	ans.QR = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	a.audit(r, area, "enrol.code", c.Node.ID, c.ID+" until "+c.ExpiresAt.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusCreated, ans)
	return nil
}

// publicURL is the controller's address as the person making a code reached
// it: the box is told to enrol there.
func (a *API) publicURL(r *http.Request) string {
	scheme := "http"
	if a.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func enrolStatus(c registry.EnrolCode, now time.Time) string {
	switch {
	case !c.UsedAt.IsZero():
		return "used"
	case !now.Before(c.ExpiresAt):
		return "expired"
	}
	return "pending"
}

func (a *API) listEnrolCodes(w http.ResponseWriter, r *http.Request) error {
	stations, err := a.stationsInScope(r)
	if err != nil {
		return err
	}
	var ids []string // nil: every station
	if sc, _ := a.reqScope(r); !sc.all {
		ids = []string{}
		for id := range stations {
			ids = append(ids, id)
		}
	}
	now := a.now()
	codes, err := a.cfg.Registry.ListEnrolCodes(r.Context(), ids, now.AddDate(0, 0, -enrolListDays))
	if err != nil {
		return err
	}
	out := make([]EnrolCodeView, len(codes))
	for i, c := range codes {
		out[i] = EnrolCodeView{EnrolCode: c, Status: enrolStatus(c, now)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteEnrolCode(w http.ResponseWriter, r *http.Request) error {
	c, err := a.cfg.Registry.GetEnrolCode(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	area, err := a.allowStation(r, c.Node.StationID, true)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.DeleteEnrolCode(r.Context(), c.ID); err != nil {
		return err
	}
	a.audit(r, area, "enrol.cancel", c.Node.ID, c.ID)
	writeJSON(w, http.StatusOK, map[string]string{"deleted": c.ID})
	return nil
}

// redeemEnrolCode is the box's one request: the code, once, for its config.
func (a *API) redeemEnrolCode(w http.ResponseWriter, r *http.Request) error {
	ip := a.clientIP(r)
	key := "enrol:" + ip
	if d := a.limit.attempt(map[string]int{key: enrolFailLimit}); d > 0 {
		secs := int(d.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &httpError{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: secs,
			msg: fmt.Sprintf("too many wrong enrolment codes from this address: wait %d seconds, then type the code again", secs)}
	}
	var req nodeproto.EnrolRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	norm, ok := normalizeEnrolCode(req.Code)
	if !ok {
		a.auditAs(r, "enrol", "", "enrol.fail", "", "malformed code")
		return &httpError{status: http.StatusNotFound, code: "enrol_unknown",
			msg: fmt.Sprintf("this is not an enrolment code: a code is %d letters in groups of four, like KMTX-ACHR-PQNW-EFJY (the letters I, L, O, B, S and Z are never used)", enrolLetters)}
	}
	secret := broker.NewSecret()
	hash, err := broker.HashSecret(secret)
	if err != nil {
		return err
	}
	now := a.now()
	c, err := a.cfg.Registry.RedeemEnrolCode(r.Context(), hashEnrolCode(norm), now, ip, []byte(hash))
	if err != nil {
		return a.enrolRefused(r, c, err)
	}
	a.limit.undo(key)
	area := a.areaOfStation(r.Context(), c.Node.StationID)
	a.credentialsChanged(r.Context())
	if err := a.publishDesired(r.Context(), c.Node.ID); err != nil {
		// The box has its config; its desired state goes out again at the
		// next change or controller start.
		a.cfg.Logger.Warn("enrolled node's desired state not published yet", "node", c.Node.ID, "err", err)
	}
	a.auditAs(r, "enrol:"+c.CreatedBy, area, "node.enrol", c.Node.ID, c.ID+" from "+ip+" "+req.Version)
	writeJSON(w, http.StatusOK, nodeproto.Enrolment{ID: c.Node.ID, Name: c.Node.Name, Station: c.Node.StationID, Zones: c.Node.Zones,
		Secret: secret, Broker: a.brokerFor(r), ControllerKeys: a.cfg.Signer.Keys(), UpdateKeys: a.updateKeys(), DataDir: "/var/lib/radio-node"})
	return nil
}

// enrolRefused says why a code was refused, for the installer at the box.
func (a *API) enrolRefused(r *http.Request, c registry.EnrolCode, err error) error {
	area := ""
	if c.Node.StationID != "" {
		area = a.areaOfStation(r.Context(), c.Node.StationID)
	}
	a.auditAs(r, "enrol", area, "enrol.fail", c.Node.ID, err.Error())
	switch {
	case errors.Is(err, registry.ErrCodeUnknown):
		return &httpError{status: http.StatusNotFound, code: "enrol_unknown",
			msg: "unknown enrolment code: check each letter, or ask the officer for a new code"}
	case errors.Is(err, registry.ErrCodeUsed):
		return &httpError{status: http.StatusGone, code: "enrol_used",
			msg: fmt.Sprintf("this enrolment code was already used (%s): a code works once; ask the officer for a new one", c.UsedAt.UTC().Format(time.RFC3339))}
	case errors.Is(err, registry.ErrCodeExpired):
		return &httpError{status: http.StatusGone, code: "enrol_expired",
			msg: fmt.Sprintf("this enrolment code expired at %s: ask the officer for a new one", c.ExpiresAt.UTC().Format(time.RFC3339))}
	}
	return err
}

// brokerFor is the broker URL for a box enrolling through r: the configured
// one, or, where that names no host (a listener on 0.0.0.0), the name the
// box has just reached the controller by (and verified its certificate for).
func (a *API) brokerFor(r *http.Request) string {
	u, err := url.Parse(a.cfg.NodeBroker)
	if err != nil {
		return a.cfg.NodeBroker
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return a.cfg.NodeBroker
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return a.cfg.NodeBroker
	}
	name := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		name = h
	}
	u.Host = net.JoinHostPort(strings.Trim(name, "[]"), port)
	return u.String()
}
