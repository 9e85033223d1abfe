package api

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

// Principal is who makes a request: a logged-in user (browser session) or
// an API token (scripts, radioctl). Both carry a role scoped to an area.
type Principal struct {
	Kind     string // "session" or "token"
	ID       string // user id or token id
	Username string // user name, or the token's name
	Name     string
	Role     string
	AreaID   string // "" for admin
	CSRF     string // sessions only
}

// Actor is how the principal appears in the audit log and in records.
func (p Principal) Actor() string {
	if p.Kind == "token" {
		return "token:" + p.Username + "#" + p.ID // names are free text; the id is not
	}
	return p.Username
}

// CanChange reports whether the role may change anything at all.
func (p Principal) CanChange() bool {
	return p.Role == registry.RoleAdmin || p.Role == registry.RoleOfficer || p.Role == registry.RoleLeader
}

// CanApprove reports whether the role may approve bulletins.
func (p Principal) CanApprove() bool {
	return p.Role == registry.RoleAdmin || p.Role == registry.RoleLeader
}

func principal(r *http.Request) Principal {
	p, _ := r.Context().Value(ctxKey{}).(Principal)
	return p
}

// Session lifetimes: an idle session ends after SessionIdle, any session
// after SessionMax.
const (
	SessionIdle   = 12 * time.Hour
	SessionMax    = 7 * 24 * time.Hour
	sessionCookie = "radio_session"
	csrfHeader    = "X-CSRF-Token"
	touchEvery    = time.Minute
)

// Passwords are stored as PBKDF2-HMAC-SHA256 (RFC 8018; the iteration count
// OWASP recommends for it), "pbkdf2-sha256$<iterations>$<salt>$<key>". The
// count is in each hash, so it can be raised later without a reset.
var pbkdf2Iter = 600_000 // tests lower it: the race detector makes it slow

// HashPassword derives a storable hash of a password.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pw, salt, pbkdf2Iter, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pbkdf2Iter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches a hash made by HashPassword.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1000 || iter > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the user does not exist, so that a
// wrong username costs as much time as a wrong password.
var dummyHash = sync.OnceValue(func() string { h, _ := HashPassword("not a password"); return h })

// NewPassword makes a random password that is easy to read out on a phone.
func NewPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 15)
	rand.Read(b)
	out := make([]byte, 0, 17)
	for i, c := range b {
		if i > 0 && i%5 == 0 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

func randomSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// limiter slows down password guessing: after failLimit wrong passwords in
// a row for one key (a username, or a client address with a higher limit)
// every further attempt is refused until a wait that doubles each time, up
// to maxWait. A correct password resets the user's key; a key left alone
// for forgetAfter starts over (so an office behind one address is not
// locked out by typos spread over weeks). State is in memory: a controller
// restart forgets it, which only gives a guesser a few more tries.
type limiter struct {
	mu    sync.Mutex
	now   func() time.Time
	state map[string]*limitState
}

type limitState struct {
	fails int
	until time.Time
	last  time.Time
}

const (
	failLimit   = 5
	ipFailLimit = 20
	firstWait   = 30 * time.Second
	maxWait     = 15 * time.Minute
	forgetAfter = time.Hour
	maxKeys     = 100_000
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, state: map[string]*limitState{}}
}

// attempt counts one try for each key and says how long to wait if any of
// them is held back. It counts before the password is checked, so parallel
// guesses are held back as surely as sequential ones; ok undoes it.
func (l *limiter) attempt(keys map[string]int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for key := range keys {
		if s, ok := l.state[key]; ok && now.Sub(s.last) <= forgetAfter {
			wait = max(wait, s.until.Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	if len(l.state)+len(keys) > maxKeys {
		l.evict(now)
	}
	for key, limit := range keys {
		s := l.state[key]
		if s == nil || now.Sub(s.last) > forgetAfter {
			s = &limitState{}
			l.state[key] = s
		}
		s.fails++
		s.last = now
		if s.fails >= limit {
			s.until = now.Add(min(firstWait<<min(s.fails-limit, 10), maxWait))
		}
	}
	return 0
}

// evict drops forgotten keys, then, if that is not enough (a flood of
// names), the oldest half.
func (l *limiter) evict(now time.Time) {
	for k, s := range l.state {
		if now.Sub(s.last) > forgetAfter {
			delete(l.state, k)
		}
	}
	if len(l.state) < maxKeys/2 {
		return
	}
	lasts := make([]time.Time, 0, len(l.state))
	for _, s := range l.state {
		lasts = append(lasts, s.last)
	}
	slices.SortFunc(lasts, func(a, b time.Time) int { return a.Compare(b) })
	cut := lasts[len(lasts)/2]
	for k, s := range l.state {
		if s.last.Before(cut) {
			delete(l.state, k)
		}
	}
}

// ok forgets a key's failures (the one just counted included).
func (l *limiter) ok(key string) {
	l.mu.Lock()
	delete(l.state, key)
	l.mu.Unlock()
}

// undo takes back the try attempt counted for an address, after a right
// password: a busy office's logins do not add up against it.
func (l *limiter) undo(key string) {
	l.mu.Lock()
	if s, ok := l.state[key]; ok && s.fails > 0 {
		s.fails--
		if s.fails < ipFailLimit {
			s.until = time.Time{}
		}
	}
	l.mu.Unlock()
}

// kdfSlots bounds how many password hashes run at once: each is ~0.3 s of
// a core, and the controller has proof of play to ingest.
var kdfSlots = make(chan struct{}, 2)

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fromProxy reports whether the request came through the trusted reverse
// proxy: the option is on and the connection is from this machine.
func (a *API) fromProxy(r *http.Request) bool {
	if !a.cfg.TrustProxy {
		return false
	}
	ip := net.ParseIP(peerIP(r))
	return ip != nil && ip.IsLoopback()
}

// clientIP is the address of the person's machine: the connection's, or
// behind the trusted proxy the last address it added to X-Forwarded-For
// (earlier ones are what the client claimed).
func (a *API) clientIP(r *http.Request) string {
	if a.fromProxy(r) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	return peerIP(r)
}

// secure reports whether the person's connection is HTTPS.
func (a *API) secure(r *http.Request) bool {
	return r.TLS != nil || (a.fromProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// authenticate finds the principal of a request: a bearer token, or a
// session cookie (then a state-changing request must carry the session's
// CSRF token in X-CSRF-Token).
func (a *API) authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			return Principal{}, errorf(http.StatusUnauthorized, "the Authorization header must be 'Bearer <token>'")
		}
		t, err := a.cfg.Registry.TokenByHash(r.Context(), HashToken(secret))
		if err != nil {
			return Principal{}, errorf(http.StatusUnauthorized, "unknown or revoked API token")
		}
		if owner := t.CreatedBy; owner != "" && !strings.HasPrefix(owner, "token:") { // made by a user (tokens made by administrator tokens have no user)
			// A user's token works only while the user may log in.
			if u, _, err := a.cfg.Registry.UserByName(r.Context(), owner); err != nil || u.Disabled {
				return Principal{}, errorf(http.StatusUnauthorized, "this API token's owner (%s) is disabled or gone: ask the administrator", owner)
			}
		}
		return Principal{Kind: "token", ID: t.ID, Username: t.Name, Name: t.Name, Role: t.Role, AreaID: t.AreaID}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return Principal{}, errorf(http.StatusUnauthorized, "not logged in: log in at / (scripts: send 'Authorization: Bearer <token>'; the first token is saved in the controller's data directory as admin.token)")
	}
	hash := HashToken(c.Value)
	s, u, err := a.cfg.Registry.SessionByHash(r.Context(), hash)
	now := a.now()
	if err != nil || now.Sub(s.SeenAt) > SessionIdle || now.Sub(s.CreatedAt) > SessionMax {
		if err == nil {
			a.cfg.Registry.DeleteSession(r.Context(), hash)
		}
		return Principal{}, errorf(http.StatusUnauthorized, "your session has ended: log in again")
	}
	p := Principal{Kind: "session", ID: u.ID, Username: u.Username, Name: u.Name, Role: u.Role, AreaID: u.AreaID, CSRF: s.CSRF}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		got := r.Header.Get(csrfHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
			return Principal{}, &httpError{status: http.StatusForbidden, code: "csrf",
				msg: "the request lacks a valid CSRF token (X-CSRF-Token): reload the page and try again"}
		}
	}
	if now.Sub(s.SeenAt) > touchEvery {
		if err := a.cfg.Registry.TouchSession(r.Context(), hash, now); err != nil {
			a.cfg.Logger.Warn("session not touched", "err", err)
		}
	}
	return p, nil
}

func (a *API) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}

type meResponse struct {
	User registry.User `json:"user"`
	CSRF string        `json:"csrf,omitempty"`
}

func (a *API) userOf(ctx context.Context, p Principal) registry.User {
	if p.Kind == "session" {
		if u, err := a.cfg.Registry.GetUser(ctx, p.ID); err == nil {
			return u
		}
	}
	u := registry.User{ID: p.ID, Username: p.Username, Name: p.Name, Role: p.Role, AreaID: p.AreaID}
	if ar, err := a.cfg.Registry.GetArea(ctx, p.AreaID); err == nil {
		u.AreaName = ar.Name
	}
	return u
}

// login checks a password and starts a session.
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	user := strings.ToLower(strings.TrimSpace(req.Username))
	if !registry.ValidUsername(user) {
		return errorf(http.StatusUnauthorized, "wrong username or password")
	}
	ip := a.clientIP(r)
	if d := a.limit.attempt(map[string]int{"u:" + user: failLimit, "ip:" + ip: ipFailLimit}); d > 0 {
		secs := int(d.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &httpError{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: secs,
			msg: fmt.Sprintf("too many wrong passwords: wait %d seconds, then try again (or ask the administrator to reset your password)", secs)}
	}
	u, hash, err := a.cfg.Registry.UserByName(r.Context(), user)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	if err != nil || u.Disabled {
		hash = dummyHash()
	}
	kdfSlots <- struct{}{}
	right := CheckPassword(hash, req.Password)
	<-kdfSlots
	if !right || err != nil || u.Disabled {
		why := "wrong password"
		switch {
		case err != nil:
			why = "no such user"
		case u.Disabled:
			why = "account disabled"
		}
		a.auditAs(r, user, u.AreaID, "login.fail", user, why)
		return errorf(http.StatusUnauthorized, "wrong username or password")
	}
	a.limit.ok("u:" + user)
	a.limit.undo("ip:" + ip)
	secret := randomSecret(32)
	now := a.now()
	s := registry.Session{UserID: u.ID, CSRF: randomSecret(24), CreatedAt: now, SeenAt: now, Remote: ip}
	if err := a.cfg.Registry.CreateSession(r.Context(), HashToken(secret), s); err != nil {
		return err
	}
	// Ended sessions are refused anyway; this keeps the table small.
	if _, err := a.cfg.Registry.DeleteExpiredSessions(r.Context(), now.Add(-SessionIdle), now.Add(-SessionMax)); err != nil {
		a.cfg.Logger.Warn("deleting ended sessions", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: a.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: int(SessionMax.Seconds())})
	a.auditAs(r, u.Username, u.AreaID, "login", u.Username, "")
	writeJSON(w, http.StatusOK, meResponse{User: u, CSRF: s.CSRF})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := a.cfg.Registry.DeleteSession(r.Context(), HashToken(c.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1, SameSite: http.SameSiteStrictMode})
	p := principal(r)
	a.audit(r, p.AreaID, "logout", p.Username, "")
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	writeJSON(w, http.StatusOK, meResponse{User: a.userOf(r.Context(), p), CSRF: p.CSRF})
	return nil
}

const minPassword = 10

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if p.Kind != "session" {
		return errorf(http.StatusBadRequest, "API tokens have no password; log in to change yours")
	}
	var req struct {
		Old string `json:"old"`
		New string `json:"new"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	u, hash, err := a.cfg.Registry.UserByName(r.Context(), p.Username)
	if err != nil {
		return err
	}
	if !CheckPassword(hash, req.Old) {
		return errorf(http.StatusForbidden, "the current password is wrong")
	}
	if len([]rune(req.New)) < minPassword {
		return errorf(http.StatusBadRequest, "the new password needs at least %d characters", minPassword)
	}
	h, err := HashPassword(req.New)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.SetPassword(r.Context(), u.ID, h); err != nil {
		return err
	}
	a.audit(r, u.AreaID, "user.password", u.Username, "")
	writeJSON(w, http.StatusOK, map[string]string{"ok": "password changed: log in again with it"})
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	v, err := a.cfg.Registry.ListUsers(r.Context(), nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req struct {
		Username string `json:"username"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		AreaID   string `json:"area_id"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	pw, h, err := passwordFor(req.Password)
	if err != nil {
		return err
	}
	u := registry.User{ID: "u-" + randomSecret(6), Username: strings.ToLower(strings.TrimSpace(req.Username)), Name: req.Name,
		Role: req.Role, AreaID: req.AreaID, CreatedAt: a.now()}
	if err := a.cfg.Registry.CreateUser(r.Context(), u, h); err != nil {
		return err
	}
	u, err = a.cfg.Registry.GetUser(r.Context(), u.ID)
	if err != nil {
		return err
	}
	a.audit(r, u.AreaID, "user.create", u.Username, u.Role)
	resp := map[string]any{"user": u}
	if req.Password == "" {
		resp["password"] = pw
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// resetPassword is the administrator's answer to a forgotten password: a
// new one (made, if none is given), shown once; the user's sessions end.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	u, err := a.cfg.Registry.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	pw, h, err := passwordFor(req.Password)
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.SetPassword(r.Context(), u.ID, h); err != nil {
		return err
	}
	a.limit.ok("u:" + u.Username)
	a.audit(r, u.AreaID, "user.password.reset", u.Username, "")
	resp := map[string]any{"user": u}
	if req.Password == "" {
		resp["password"] = pw
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) disableUser(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req struct {
		Disabled bool `json:"disabled"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	u, err := a.cfg.Registry.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.cfg.Registry.SetUserDisabled(r.Context(), u.ID, req.Disabled); err != nil {
		return err
	}
	a.audit(r, u.AreaID, map[bool]string{true: "user.disable", false: "user.enable"}[req.Disabled], u.Username, "")
	u.Disabled = req.Disabled
	writeJSON(w, http.StatusOK, u)
	return nil
}

// passwordFor checks a password given by an administrator, or makes one
// when none is given, and returns it with its hash.
func passwordFor(given string) (pw, hash string, err error) {
	pw = given
	if pw == "" {
		pw = NewPassword()
	} else if len([]rune(pw)) < minPassword {
		return "", "", errorf(http.StatusBadRequest, "a password needs at least %d characters (or leave it empty to get one made)", minPassword)
	}
	hash, err = HashPassword(pw)
	return pw, hash, err
}

// FirstAdmin returns, when there is no user yet, the password of the
// administrator account "admin" to be made and the function that makes
// it ("" and nil when there is a user). Hashing the password takes a
// noticeable time by design (PBKDF2, 600,000 rounds): the controller
// saves the password at once and makes the account while it starts.
func FirstAdmin(ctx context.Context, reg *registry.DB) (string, func(context.Context) error, error) {
	n, err := reg.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", nil, err
	}
	pw := NewPassword()
	return pw, func(ctx context.Context) error {
		h, err := HashPassword(pw)
		if err != nil {
			return err
		}
		u := registry.User{ID: "u-admin", Username: "admin", Name: "Quản trị viên", Role: registry.RoleAdmin}
		return reg.CreateUser(ctx, u, h)
	}, nil
}
