package console_test

import (
	"context"
	"crypto/sha256"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/console"
	"github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
	"github.com/gatehouse/gatehouse/internal/verify"
)

const password = "correct horse battery"

// env is a console over a real SQLite store behind a real HTTP server.
type env struct {
	t       *testing.T
	ctx     context.Context
	dbPath  string
	store   *sqlstore.DB
	admin   *admin.Service
	console *console.Console
	srv     *httptest.Server
	clock   *testclock.Clock
	keys    *secret.Keyring
	tenantA *gatehouse.Tenant
	tenantB *gatehouse.Tenant
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New(time.Now().UTC())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := secret.NewKeyring(make([]byte, secret.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(db, tree, admin.Options{Now: clk.Now, Log: log, LoginFailures: 3,
		Keys: keys, Deliver: deliverHTTP, PublicURL: "http://gatehouse.test",
		Callbacks: admin.CallbackPolicy{AllowHTTP: true}}) // receivers are httptest servers on loopback
	v := verify.New(db, tree, verify.Options{Now: clk.Now, Logger: log})
	t.Cleanup(func() { v.Close() })
	provider := oauth2.New(oauth2.Config{Store: db, Tree: tree, Verifier: v, Issuer: "http://gatehouse.test", Now: clk.Now, Log: log})
	c, err := console.New(console.Config{OAuth2: provider, Admin: svc, Store: db, Keys: keys, PublicURL: "http://gatehouse.test", Log: log, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Mounted as internal/server mounts them.
	mux := http.NewServeMux()
	mux.Handle("/console/", c)
	mux.Handle(console.AuthorizePath, c.AuthorizeHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{t: t, ctx: ctx, dbPath: dbPath, store: db, admin: svc, console: c, srv: srv, clock: clk, keys: keys}
	if e.tenantA, err = svc.CreateTenant(ctx, "acme", "Acme Store", ""); err != nil {
		t.Fatal(err)
	}
	if e.tenantB, err = svc.CreateTenant(ctx, "bolt", "Bolt Shop", ""); err != nil {
		t.Fatal(err)
	}
	return e
}

// member adds email to tenant with role (and the test password).
func (e *env) member(tenant *gatehouse.Tenant, email string, role gatehouse.Role) *gatehouse.Member {
	e.t.Helper()
	op := admin.Actor{Operator: true, TenantID: tenant.ID, Name: admin.OperatorName}
	m, err := e.admin.AddMember(e.ctx, op, admin.NewMember{Email: email, Role: role, Password: password})
	if err != nil {
		e.t.Fatalf("add member %s: %v", email, err)
	}
	return m
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e      *env
	client *http.Client
	header http.Header
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, header: http.Header{}, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.e.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &response{res, string(body)}
}

func (b *browser) get(path string) *response {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) *response {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf fetches page and returns the CSRF token of its forms.
func (b *browser) csrf(page string) string {
	b.e.t.Helper()
	res := b.get(page)
	m := csrfRE.FindStringSubmatch(res.body)
	if m == nil {
		b.e.t.Fatalf("GET %s (%d): no csrf token in page", page, res.StatusCode)
	}
	return html.UnescapeString(m[1])
}

// submit posts form to path with the CSRF token of page.
func (b *browser) submit(page, path string, form url.Values) *response {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.csrf(page))
	return b.post(path, form)
}

func (b *browser) login(email string) *response {
	b.e.t.Helper()
	res := b.submit("/console/login", "/console/login", url.Values{"email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("login %s: status %d\n%s", email, res.StatusCode, res.body)
	}
	return res
}

func wantStatus(t *testing.T, res *response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, res.body)
	}
}

func wantBody(t *testing.T, res *response, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(res.body, s) {
			t.Errorf("%s %s: body lacks %q\n%s", res.Request.Method, res.Request.URL.Path, s, res.body)
		}
	}
}

func wantNoBody(t *testing.T, res *response, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(res.body, s) {
			t.Errorf("%s %s: body contains %q", res.Request.Method, res.Request.URL.Path, s)
		}
	}
}

func wantRedirect(t *testing.T, res *response, to string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != to {
		t.Fatalf("%s %s: status %d Location %q, want 303 %q\n%s", res.Request.Method, res.Request.URL.Path,
			res.StatusCode, res.Header.Get("Location"), to, res.body)
	}
}

const csrfMessage = "The form expired or was not sent from this site; reload and try again."

func findCookie(res *response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLoginSuccessAndCookie(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()

	page := b.get("/console/login")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, `name="email"`, `name="password"`, `name="csrf_token"`)
	pre := findCookie(page, "gatehouse_csrf")
	if pre == nil || !pre.HttpOnly || pre.SameSite != http.SameSiteStrictMode {
		t.Fatalf("pre-session cookie = %+v, want HttpOnly SameSite=Strict", pre)
	}

	res := b.login("Owner@Acme.test")
	wantRedirect(t, res, "/console/tokens")
	ck := findCookie(res.response(), "gatehouse_session")
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure on http", ck)
	}
	raw := res.Header.Values("Set-Cookie")
	if !strings.Contains(strings.Join(raw, "\n"), "gatehouse_session=") {
		t.Errorf("Set-Cookie = %q", raw)
	}
	// The store keeps the SHA-256 of the cookie, not the cookie.
	h := sha256.Sum256([]byte(ck.Value))
	s, err := e.store.FindSessionByHash(e.ctx, h[:])
	if err != nil {
		t.Fatalf("session by hash: %v", err)
	}
	if s.TenantID != e.tenantA.ID || !s.ExpiresAt.After(e.clock.Now().Add(11*time.Hour)) {
		t.Errorf("session = %+v", s)
	}

	home := b.get("/console/tokens")
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "owner@acme.test", "Personal access tokens", "Acme Store", "Generate Token")
	if cc := home.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	csp := home.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "style-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline: %q", csp)
	}
	if home.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options = %q", home.Header.Get("X-Frame-Options"))
	}
	// No inline script anywhere (CSP would block it anyway).
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(home.body) || strings.Contains(home.body, " onclick=") {
		t.Error("page has inline script")
	}

	// A logged-in visit to the login page goes straight on.
	wantRedirect(t, b.get("/console/login"), "/console/tokens")
	wantRedirect(t, b.get("/console/"), "/console/tokens")
}

// response returns r itself; it keeps call sites symmetrical.
func (r *response) response() *response { return r }

func TestSecureCookieOnHTTPS(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	keys, _ := secret.NewKeyring(make([]byte, secret.KeyLen))
	c, err := console.New(console.Config{Admin: e.admin, Store: e.store, Keys: keys, PublicURL: "https://gatehouse.example", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Drive the handler directly: a cookie jar would not send a Secure cookie over http.
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/login", nil))
	pre := findCookie(&response{Response: rec.Result()}, "gatehouse_csrf")
	if pre == nil || !pre.Secure {
		t.Fatalf("pre-session cookie %+v, want Secure", pre)
	}
	tok := html.UnescapeString(csrfRE.FindStringSubmatch(rec.Body.String())[1])
	form := url.Values{"email": {"owner@acme.test"}, "password": {password}, "csrf_token": {tok}}
	req := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(pre)
	rec = httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login status %d\n%s", rec.Code, rec.Body)
	}
	ck := findCookie(&response{Response: rec.Result()}, "gatehouse_session")
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v, want Secure HttpOnly Lax", ck)
	}
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()

	for i := 0; i < 3; i++ {
		res := b.submit("/console/login", "/console/login", url.Values{"email": {"owner@acme.test"}, "password": {"wrong password"}})
		wantStatus(t, res, http.StatusUnauthorized)
		wantBody(t, res, "The email or password is incorrect.", `value="owner@acme.test"`)
		if findCookie(res, "gatehouse_session") != nil {
			t.Fatal("failed login set a session cookie")
		}
	}
	// Throttled now, even with the right password.
	res := b.submit("/console/login", "/console/login", url.Values{"email": {"owner@acme.test"}, "password": {password}})
	wantStatus(t, res, http.StatusTooManyRequests)
	wantBody(t, res, "Too many failed logins", `value="owner@acme.test"`)
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("throttled login: Retry-After %q, want the seconds left in the window", ra)
	}

	// After the window, the right password works again.
	e.clock.Advance(16 * time.Minute)
	b.login("owner@acme.test")
}

func TestLoginUnknownUserAndNoTenant(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	res := b.submit("/console/login", "/console/login", url.Values{"email": {"nobody@acme.test"}, "password": {password}})
	wantStatus(t, res, http.StatusUnauthorized)

	// A user whose only membership was removed cannot log in.
	m := e.member(e.tenantA, "gone@acme.test", gatehouse.RoleAdmin)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	op := admin.Actor{Operator: true, TenantID: e.tenantA.ID, Name: admin.OperatorName}
	if err := e.admin.RemoveMember(e.ctx, op, m.UserID); err != nil {
		t.Fatal(err)
	}
	res = b.submit("/console/login", "/console/login", url.Values{"email": {"gone@acme.test"}, "password": {password}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "not a member of any tenant")
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	ck := findCookie(b.login("owner@acme.test"), "gatehouse_session")

	// Logout without a token is refused and leaves the session alive.
	res := b.post("/console/logout", url.Values{})
	wantStatus(t, res, http.StatusForbidden)
	wantStatus(t, b.get("/console/tokens"), http.StatusOK)

	res = b.submit("/console/tokens", "/console/logout", nil)
	wantRedirect(t, res, "/console/login")
	if c := findCookie(res, "gatehouse_session"); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", c)
	}
	wantRedirect(t, b.get("/console/tokens"), "/console/login?next=%2Fconsole%2Ftokens")
	page := b.get("/console/login")
	wantBody(t, page, "You have logged out.")

	// The old cookie is dead server-side: the row is gone.
	h := sha256.Sum256([]byte(ck.Value))
	if _, err := e.store.FindSessionByHash(e.ctx, h[:]); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("session after logout: %v", err)
	}
	replay := e.browser()
	u, _ := url.Parse(e.srv.URL)
	replay.client.Jar.SetCookies(u, []*http.Cookie{ck})
	wantStatus(t, replay.get("/console/tokens"), http.StatusSeeOther)
}

func TestSessionFixationAndExpiry(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	first := findCookie(b.login("owner@acme.test"), "gatehouse_session")
	// Logging in again (e.g. from the OAuth login page) issues a new id
	// and deletes the old one.
	res := b.submit("/console/tokens", "/console/login", url.Values{"email": {"owner@acme.test"}, "password": {password}})
	wantStatus(t, res, http.StatusSeeOther)
	second := findCookie(res, "gatehouse_session")
	if second == nil || second.Value == first.Value {
		t.Fatal("login kept the session id")
	}
	h := sha256.Sum256([]byte(first.Value))
	if _, err := e.store.FindSessionByHash(e.ctx, h[:]); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("old session survived a new login: %v", err)
	}
	wantStatus(t, b.get("/console/tokens"), http.StatusOK)
	e.clock.Advance(console.SessionLifetime + time.Minute)
	wantStatus(t, b.get("/console/tokens"), http.StatusSeeOther)
}

func TestRedirectAfterLogin(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	res := b.get("/console/users?x=1")
	wantRedirect(t, res, "/console/login?next=%2Fconsole%2Fusers%3Fx%3D1")
	page := b.get(res.Header.Get("Location"))
	wantBody(t, page, `name="next" value="/console/users?x=1"`)
	form := url.Values{"email": {"owner@acme.test"}, "password": {password}, "next": {"/console/users?x=1"},
		"csrf_token": {html.UnescapeString(csrfRE.FindStringSubmatch(page.body)[1])}}
	wantRedirect(t, b.post("/console/login", form), "/console/users?x=1")

	for _, next := range []string{"//evil.test/x", "https://evil.test/", "/\\evil.test", "javascript:alert(1)", "/%0d%0aSet-Cookie:x", "evil", "/\t/evil.test"} {
		t.Run(next, func(t *testing.T) {
			b := e.browser()
			form := url.Values{"email": {"owner@acme.test"}, "password": {password}, "next": {next}}
			form.Set("csrf_token", b.csrf("/console/login?next="+url.QueryEscape(next)))
			res := b.post("/console/login", form)
			loc := res.Header.Get("Location")
			if loc != "/console/tokens" && loc != next {
				t.Fatalf("Location %q", loc)
			}
			if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Scheme != "" || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\r\n\t") {
				t.Fatalf("open redirect to %q", loc)
			}
		})
	}
}

func TestSafeRedirect(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "/console/tokens",
		"/console/users":          "/console/users",
		"/console/audit?before=x": "/console/audit?before=x",
		"/oauth2/authorize?client_id=APIK-1&scope=all": "/oauth2/authorize?client_id=APIK-1&scope=all",
		"//evil.test":         "/console/tokens",
		"/\\evil.test":        "/console/tokens",
		"https://evil.test":   "/console/tokens",
		"http:/evil.test":     "/console/tokens",
		"console/users":       "/console/tokens",
		"/x\r\nLocation: //e": "/console/tokens",
	} {
		if got := console.SafeRedirect(in); got != want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", in, got, want)
		}
	}
}

var tokenRE = regexp.MustCompile(`gate_pat_[0-9A-Za-z]{38}`)

func TestGeneratePATShownOnce(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")

	page := b.get("/console/tokens")
	wantBody(t, page, `name="scopes" value="sales.orders"`, `value="manage"`, `value="verify"`, `value="all"`, "Generate Token")
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(page.body)[1]
	exp := e.clock.Now().AddDate(0, 0, 30).Format(time.DateOnly)
	form := url.Values{
		"csrf_token": {html.UnescapeString(csrfRE.FindStringSubmatch(page.body)[1])},
		"nonce":      {nonce},
		"name":       {"Order export"},
		"expires_at": {exp},
		"scopes":     {"sales", "sales.orders", "verify"},
	}
	res := b.post("/console/tokens", form)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Make sure to copy your personal access token now. You won&#39;t be able to see it again!", "Copy", "Order export")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("result page Cache-Control = %q", cc)
	}
	tok := tokenRE.FindString(res.body)
	if tok == "" {
		t.Fatalf("no token on the result page\n%s", res.body)
	}
	if _, ok := secret.ParseToken(tok); !ok {
		t.Fatalf("token %q does not parse", tok)
	}
	if strings.Contains(res.Header.Get("Location"), tok) || strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), ";"), tok) {
		t.Fatal("token leaked into a header")
	}

	// The store holds the hash; the list shows the hint, never the token.
	cred, err := e.store.FindCredentialByHash(e.ctx, secret.HashBytes(tok))
	if err != nil {
		t.Fatalf("credential by hash: %v", err)
	}
	if cred.TenantID != e.tenantA.ID || cred.Name != "Order export" || cred.ExpiresAt == nil {
		t.Errorf("credential = %+v", cred)
	}
	if got := strings.Join(cred.Scopes, " "); got != "sales sales.orders verify" {
		t.Errorf("scopes = %q", got)
	}
	list := b.get("/console/tokens")
	wantBody(t, list, "Order export", html.EscapeString(cred.Hint), "verify")
	wantNoBody(t, list, tok, tok[len(tok)-12:])

	// Reposting the same form (a reload of the result page) makes no second token.
	res = b.post("/console/tokens", form)
	wantRedirect(t, res, "/console/tokens")
	pats, _ := e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT})
	if len(pats) != 1 {
		t.Errorf("%d tokens after a resubmission, want 1", len(pats))
	}

	// The database files never contain the plaintext.
	for _, f := range []string{e.dbPath, e.dbPath + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.Contains(string(data), tok) || strings.Contains(string(data), tok[9:30]) {
			t.Errorf("%s contains the token", filepath.Base(f))
		}
	}
}

func TestGeneratePATValidation(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no name", url.Values{"name": {""}, "scopes": {"sales"}}, "The name must be 1 to 100 characters."},
		{"no scopes", url.Values{"name": {"x"}}, "Choose at least one scope."},
		{"unknown scope", url.Values{"name": {"x"}, "scopes": {"bogus"}}, "“bogus” is not a resource of this service."},
		{"past expiry", url.Values{"name": {"x"}, "scopes": {"sales"}, "expires_at": {"2001-01-01"}}, "The expiration date must be in the future."},
		{"bad date", url.Values{"name": {"x"}, "scopes": {"sales"}, "expires_at": {"tomorrow"}}, "Enter a date as YYYY-MM-DD."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.submit("/console/tokens", "/console/tokens", tc.form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, tc.want, "Generate Token")
			if n := len(tc.form["name"]); n > 0 && tc.form.Get("name") != "" {
				wantBody(t, res, `value="x"`)
			}
			if tokenRE.MatchString(res.body) {
				t.Error("a token was shown")
			}
		})
	}
	pats, _ := e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT})
	if len(pats) != 0 {
		t.Errorf("%d tokens created by invalid forms", len(pats))
	}
	// No expiry is allowed.
	res := b.submit("/console/tokens", "/console/tokens", url.Values{"name": {"forever"}, "scopes": {"all"}, "expires_at": {""}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Never")
}

// createPAT makes a token in tenant for the member through admin.
func (e *env) createPAT(tenant *gatehouse.Tenant, m *gatehouse.Member, name string) *gatehouse.Credential {
	e.t.Helper()
	a, err := e.admin.ActorFor(e.ctx, tenant.ID, m.UserID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	c, _, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: name, Scopes: []string{"all"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestRevokePAT(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	cred := e.createPAT(e.tenantA, owner, "CI deploy")
	b := e.browser()
	b.login("owner@acme.test")

	list := b.get("/console/tokens")
	wantBody(t, list, "/console/tokens/"+cred.ID+"/revoke")
	confirm := b.get("/console/tokens/" + cred.ID + "/revoke")
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "CI deploy", "Revoke token", `action="/console/tokens/`+cred.ID+`/revoke"`)
	// Showing the confirmation changed nothing.
	if c, _ := e.store.FindCredential(e.ctx, e.tenantA.ID, cred.ID); c.Revoked() {
		t.Fatal("the confirmation page revoked the token")
	}
	res := b.submit("/console/tokens/"+cred.ID+"/revoke", "/console/tokens/"+cred.ID+"/revoke", nil)
	wantRedirect(t, res, "/console/tokens")
	c, err := e.store.FindCredential(e.ctx, e.tenantA.ID, cred.ID)
	if err != nil || !c.Revoked() {
		t.Fatalf("after revoke: %+v %v", c, err)
	}
	list = b.get("/console/tokens")
	wantBody(t, list, "The token was revoked.")
	wantNoBody(t, list, "CI deploy")
	wantStatus(t, b.get("/console/tokens/nope/revoke"), http.StatusNotFound)
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	staff := e.member(e.tenantA, "staff@acme.test", gatehouse.RoleStaff)
	cred := e.createPAT(e.tenantA, owner, "keep me")
	b := e.browser()
	b.login("owner@acme.test")
	other := e.browser()
	other.login("owner@acme.test")
	foreign := other.csrf("/console/tokens") // a valid token of another session

	countPATs := func() int {
		l, _ := e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT})
		return len(l)
	}
	countMembers := func() int {
		l, _ := e.store.ListMembers(e.ctx, e.tenantA.ID, gatehouse.MemberFilter{})
		return len(l)
	}
	settingsBefore, _ := e.store.Settings(e.ctx, e.tenantA.ID)
	auditBefore, _ := e.store.ListAudit(e.ctx, e.tenantA.ID, gatehouse.AuditQuery{Limit: gatehouse.MaxAuditLimit})

	cases := []struct {
		name string
		path string
		form url.Values
	}{
		{"generate token", "/console/tokens", url.Values{"name": {"evil"}, "scopes": {"all", "manage"}}},
		{"revoke token", "/console/tokens/" + cred.ID + "/revoke", url.Values{}},
		{"add user", "/console/users", url.Values{"email": {"evil@evil.test"}, "role": {"admin"}, "password": {password}}},
		{"change role", "/console/users/" + staff.UserID + "/role", url.Values{"role": {"admin"}}},
		{"remove user", "/console/users/" + staff.UserID + "/remove", url.Values{}},
		{"save settings", "/console/settings", url.Values{"allow_anonymous_guest_access": {"1"}, "password": {password}}},
		{"switch tenant", "/console/tenant", url.Values{"tenant_id": {e.tenantB.ID}}},
		{"set locale", "/console/locale", url.Values{"locale": {"ru"}}},
	}
	for _, tc := range cases {
		for _, tok := range []struct{ name, value string }{{"missing", ""}, {"wrong", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, {"garbage", "%%%"}, {"other session", foreign}} {
			t.Run(tc.name+"/"+tok.name, func(t *testing.T) {
				f := url.Values{}
				for k, v := range tc.form {
					f[k] = v
				}
				if tok.value != "" {
					f.Set("csrf_token", tok.value)
				}
				res := b.post(tc.path, f)
				wantStatus(t, res, http.StatusForbidden)
				wantBody(t, res, csrfMessage)
			})
		}
	}
	if n := countPATs(); n != 1 {
		t.Errorf("%d tokens, want 1", n)
	}
	if c, _ := e.store.FindCredential(e.ctx, e.tenantA.ID, cred.ID); c.Revoked() {
		t.Error("token revoked by a forged form")
	}
	if n := countMembers(); n != 2 {
		t.Errorf("%d members, want 2", n)
	}
	if m, _ := e.store.FindMembership(e.ctx, e.tenantA.ID, staff.UserID); m == nil || m.Role != gatehouse.RoleStaff {
		t.Errorf("staff membership = %+v", m)
	}
	if s, _ := e.store.Settings(e.ctx, e.tenantA.ID); s != settingsBefore {
		t.Errorf("settings changed: %+v", s)
	}
	if a, _ := e.store.ListAudit(e.ctx, e.tenantA.ID, gatehouse.AuditQuery{Limit: gatehouse.MaxAuditLimit}); len(a.Events) != len(auditBefore.Events) {
		t.Errorf("audit grew from %d to %d", len(auditBefore.Events), len(a.Events))
	}
	if u, _ := e.store.FindUserByEmail(e.ctx, "owner@acme.test"); u.Locale != "" {
		t.Errorf("locale changed to %q", u.Locale)
	}

	// Cross-origin POSTs are refused by the second layer even with a valid token.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/settings",
		strings.NewReader(url.Values{"csrf_token": {b.csrf("/console/settings")}, "allow_anonymous_guest_access": {"1"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res := b.do(req)
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, csrfMessage)
	if s, _ := e.store.Settings(e.ctx, e.tenantA.ID); s != settingsBefore {
		t.Errorf("settings changed by a cross-site POST: %+v", s)
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.get("/console/login") // sets the pre-session cookie
	for _, tok := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f := url.Values{"email": {"owner@acme.test"}, "password": {password}}
		if tok != "" {
			f.Set("csrf_token", tok)
		}
		res := b.post("/console/login", f)
		wantStatus(t, res, http.StatusForbidden)
		wantBody(t, res, csrfMessage)
		if findCookie(res, "gatehouse_session") != nil {
			t.Fatal("session created without a CSRF token")
		}
	}
	// A token without its cookie (a login CSRF from another browser) fails too.
	tok := b.csrf("/console/login")
	fresh := e.browser()
	res := fresh.post("/console/login", url.Values{"email": {"owner@acme.test"}, "password": {password}, "csrf_token": {tok}})
	wantStatus(t, res, http.StatusForbidden)
	wantStatus(t, b.get("/console/tokens"), http.StatusSeeOther)
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")

	page := b.get("/console/users")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "owner@acme.test", `name="email"`, `name="role"`, `name="password"`)

	res := b.submit("/console/users", "/console/users", url.Values{"email": {"New.Admin@acme.test"}, "role": {"admin"}, "password": {"s3cret-pass"}})
	wantRedirect(t, res, "/console/users")
	u, err := e.store.FindUserByEmail(e.ctx, "new.admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := e.store.FindMembership(e.ctx, e.tenantA.ID, u.ID); m == nil || m.Role != gatehouse.RoleAdmin {
		t.Fatalf("membership = %+v", m)
	}
	page = b.get("/console/users")
	wantBody(t, page, "new.admin@acme.test", "The user was added.")

	// Validation errors re-render the form with the typed email and 422.
	res = b.submit("/console/users", "/console/users", url.Values{"email": {"not-an-email"}, "role": {"staff"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "Enter a valid email address.", `value="not-an-email"`)
	res = b.submit("/console/users", "/console/users", url.Values{"email": {"short@acme.test"}, "role": {"staff"}, "password": {"short"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "The password must be at least 8 characters.")
	res = b.submit("/console/users", "/console/users", url.Values{"email": {"new.admin@acme.test"}, "role": {"staff"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "new.admin@acme.test is already a member.")

	// Change the role.
	res = b.submit("/console/users", "/console/users/"+u.ID+"/role", url.Values{"role": {"staff"}})
	wantRedirect(t, res, "/console/users")
	if m, _ := e.store.FindMembership(e.ctx, e.tenantA.ID, u.ID); m.Role != gatehouse.RoleStaff {
		t.Fatalf("role = %s", m.Role)
	}
	// The last owner cannot be demoted: the row shows why, 409.
	owner, _ := e.store.FindUserByEmail(e.ctx, "owner@acme.test")
	res = b.submit("/console/users", "/console/users/"+owner.ID+"/role", url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "A tenant must keep at least one owner.")

	// Remove, with a confirmation step.
	confirm := b.get("/console/users/" + u.ID + "/remove")
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "Remove new.admin@acme.test from this tenant?", "Remove user")
	if m, _ := e.store.FindMembership(e.ctx, e.tenantA.ID, u.ID); m == nil {
		t.Fatal("the confirmation page removed the user")
	}
	res = b.submit("/console/users/"+u.ID+"/remove", "/console/users/"+u.ID+"/remove", nil)
	wantRedirect(t, res, "/console/users")
	if _, err := e.store.FindMembership(e.ctx, e.tenantA.ID, u.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("membership after remove: %v", err)
	}
	wantNoBody(t, b.get("/console/users"), "new.admin@acme.test")
	wantStatus(t, b.get("/console/users/"+u.ID+"/remove"), http.StatusNotFound)
}

func TestAdminCannotMakeOwner(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	e.member(e.tenantA, "admin@acme.test", gatehouse.RoleAdmin)
	b := e.browser()
	b.login("admin@acme.test")
	res := b.submit("/console/users", "/console/users", url.Values{"email": {"x@acme.test"}, "role": {"owner"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Only owners may make owners.", `value="x@acme.test"`)
}

// TestDomainErrorsTranslated: the admin service's refusals that a form
// shows carry message ids, so each reader sees them in their language.
func TestDomainErrorsTranslated(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	e.member(e.tenantA, "admin@acme.test", gatehouse.RoleAdmin)
	ru := e.browser()
	ru.header.Set("Accept-Language", "ru")
	ru.login("admin@acme.test")
	res := ru.submit("/console/users", "/console/users", url.Values{"email": {"x@acme.test"}, "role": {"owner"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Только владельцы могут назначать владельцев.")
	wantNoBody(t, res, "only owners may make owners")

	tw := e.browser()
	tw.header.Set("Accept-Language", "zh-TW")
	tw.login("owner@acme.test")
	owner, _ := e.store.FindUserByEmail(e.ctx, "owner@acme.test")
	res = tw.submit("/console/users", "/console/users/"+owner.ID+"/role", url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "商店必須至少保留一位擁有者。")

	cn := e.browser()
	cn.header.Set("Accept-Language", "zh-CN")
	cn.login("owner@acme.test")
	res = cn.submit("/console/users", "/console/users", url.Values{"email": {"admin@acme.test"}, "role": {"staff"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "admin@acme.test 已经是成员。")
}

func TestSettings(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	page := b.get("/console/settings")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Stores › Configuration › Services › Web API Security", "Allow Anonymous Guest Access", "Save Config",
		`name="allow_anonymous_guest_access"`, `name="enhanced_security"`, `name="oauth1_tokens_as_bearer"`, `name="require_client_header" value="1" checked`)

	res := b.submit("/console/settings", "/console/settings", url.Values{"allow_anonymous_guest_access": {"1"}, "enhanced_security": {"1"}, "password": {password}})
	wantRedirect(t, res, "/console/settings")
	s, _ := e.store.Settings(e.ctx, e.tenantA.ID)
	want := gatehouse.Settings{AllowAnonymousGuestAccess: true, EnhancedSecurity: true}
	if s != want {
		t.Fatalf("settings = %+v, want %+v", s, want)
	}
	page = b.get("/console/settings")
	wantBody(t, page, "You saved the configuration.", `name="allow_anonymous_guest_access" value="1" checked`)
	wantNoBody(t, page, `name="require_client_header" value="1" checked`)
	if s, _ := e.store.Settings(e.ctx, e.tenantB.ID); s != gatehouse.DefaultSettings() {
		t.Errorf("tenant B settings changed: %+v", s)
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	e.createPAT(e.tenantA, owner, "audited token")
	for i := 0; i < 60; i++ {
		ev := &gatehouse.AuditEvent{TenantID: e.tenantA.ID, Time: e.clock.Now().Add(time.Duration(i) * time.Second), Actor: "owner@acme.test", Action: "test.event", Target: "n" + string(rune('A'+i%26)), IP: "203.0.113.7"}
		if err := e.store.AppendAudit(e.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login("owner@acme.test")
	page := b.get("/console/audit")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "test.event", "203.0.113.7", "owner@acme.test", "Older")
	older := regexp.MustCompile(`href="/console/audit\?next=([^"]+)"`).FindStringSubmatch(page.body)
	if older == nil {
		t.Fatal("no older link")
	}
	page2 := b.get("/console/audit?next=" + html.UnescapeString(older[1]))
	wantStatus(t, page2, http.StatusOK)
	wantBody(t, page2, "pat.create", "audited token", "tenant.create", "user.create", "Newest")
	if strings.Contains(page2.body, `href="/console/audit?next=`) {
		t.Error("the last page offers an older page")
	}
}

func TestAuditRecordsConsoleActions(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	b.submit("/console/settings", "/console/settings", url.Values{"enhanced_security": {"1"}, "require_client_header": {"1"}, "password": {password}})
	page := b.get("/console/audit")
	wantBody(t, page, "settings.update", "enhanced_security=true", "127.0.0.1")
}

func TestStaffForbidden(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	staff := e.member(e.tenantA, "staff@acme.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("staff@acme.test")
	for _, p := range []string{"/console/tokens", "/console/users", "/console/settings", "/console/audit", "/console/users/" + staff.UserID + "/remove"} {
		res := b.get(p)
		wantStatus(t, res, http.StatusForbidden)
		wantBody(t, res, "Access denied", "cannot manage credentials", "staff@acme.test")
	}
	res := b.submit("/console/tokens", "/console/tokens", url.Values{"name": {"mine"}, "scopes": {"all"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Access denied")
	res = b.submit("/console/tokens", "/console/settings", url.Values{"allow_anonymous_guest_access": {"1"}})
	wantStatus(t, res, http.StatusForbidden)
	res = b.submit("/console/tokens", "/console/users", url.Values{"email": {"x@acme.test"}, "role": {"staff"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Access denied")
	if s, _ := e.store.Settings(e.ctx, e.tenantA.ID); s != gatehouse.DefaultSettings() {
		t.Errorf("staff changed settings: %+v", s)
	}
	pats, _ := e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{})
	if len(pats) != 0 {
		t.Errorf("staff created %d credentials", len(pats))
	}
	// Staff can still log out.
	wantRedirect(t, b.submit("/console/tokens", "/console/logout", nil), "/console/login")
}

func TestTenantSwitchAndIsolation(t *testing.T) {
	e := newEnv(t)
	ownerA := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	onlyA := e.member(e.tenantA, "clerk@acme.test", gatehouse.RoleStaff)
	e.member(e.tenantB, "owner@acme.test", gatehouse.RoleAdmin)
	ownerB := e.member(e.tenantB, "boss@bolt.test", gatehouse.RoleOwner)
	e.member(e.tenantB, "other@bolt.test", gatehouse.RoleOwner)
	credA := e.createPAT(e.tenantA, ownerA, "acme token")
	credB := e.createPAT(e.tenantB, ownerB, "bolt token")

	b := e.browser()
	b.login("owner@acme.test")
	page := b.get("/console/tokens")
	wantBody(t, page, "acme token", `name="tenant_id"`, "Acme Store", "Bolt Shop")
	wantNoBody(t, page, "bolt token")

	res := b.submit("/console/tokens", "/console/tenant", url.Values{"tenant_id": {e.tenantB.ID}})
	wantRedirect(t, res, "/console/tokens")
	page = b.get("/console/tokens")
	wantBody(t, page, "bolt token", "Switched tenant.")
	wantNoBody(t, page, "acme token")
	res = b.submit("/console/tokens", "/console/tenant", url.Values{"tenant_id": {e.tenantA.ID}})
	wantRedirect(t, res, "/console/tokens")

	// Someone only in tenant B cannot see or revoke tenant A's token by id,
	// even with a hand-crafted POST carrying a valid CSRF token.
	intruder := e.browser()
	intruder.login("other@bolt.test")
	wantStatus(t, intruder.get("/console/tokens/"+credA.ID+"/revoke"), http.StatusNotFound)
	res = intruder.submit("/console/tokens", "/console/tokens/"+credA.ID+"/revoke", nil)
	wantStatus(t, res, http.StatusNotFound)
	wantBody(t, res, "Not found")
	if c, _ := e.store.FindCredential(e.ctx, e.tenantA.ID, credA.ID); c.Revoked() {
		t.Fatal("a user of tenant B revoked tenant A's token")
	}
	// Nor remove tenant A's users, nor switch into tenant A.
	res = intruder.submit("/console/tokens", "/console/users/"+onlyA.UserID+"/remove", nil)
	wantStatus(t, res, http.StatusNotFound)
	res = intruder.submit("/console/tokens", "/console/users/"+onlyA.UserID+"/role", url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusNotFound)
	if m, err := e.store.FindMembership(e.ctx, e.tenantA.ID, onlyA.UserID); err != nil || m.Role != gatehouse.RoleStaff {
		t.Fatalf("tenant A membership changed from tenant B: %+v %v", m, err)
	}
	res = intruder.submit("/console/tokens", "/console/tenant", url.Values{"tenant_id": {e.tenantA.ID}})
	wantStatus(t, res, http.StatusNotFound)
	wantNoBody(t, intruder.get("/console/tokens"), "acme token")
	// The owner of A, now in tenant A again, cannot revoke B's token by id.
	res = b.submit("/console/tokens", "/console/tokens/"+credB.ID+"/revoke", nil)
	wantStatus(t, res, http.StatusNotFound)
	if c, _ := e.store.FindCredential(e.ctx, e.tenantB.ID, credB.ID); c.Revoked() {
		t.Fatal("tenant B's token revoked from tenant A")
	}
}

func TestRemovedFromCurrentTenant(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	m := e.member(e.tenantA, "admin@acme.test", gatehouse.RoleAdmin)
	e.member(e.tenantB, "admin@acme.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("admin@acme.test")
	wantStatus(t, b.get("/console/users"), http.StatusOK)
	op := admin.Actor{Operator: true, TenantID: e.tenantA.ID, Name: admin.OperatorName}
	if err := e.admin.RemoveMember(e.ctx, op, m.UserID); err != nil {
		t.Fatal(err)
	}
	// The session moves to the tenant the user still belongs to (as staff there).
	res := b.get("/console/users")
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Bolt Shop")
	wantNoBody(t, res, "Acme Store")
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)

	ru := e.browser()
	ru.header.Set("Accept-Language", "ru-RU,ru;q=0.9,en;q=0.5")
	page := ru.get("/console/login")
	wantBody(t, page, `<html lang="ru">`, "Пароль")

	tw := e.browser()
	tw.header.Set("Accept-Language", "zh-TW")
	wantBody(t, tw.get("/console/login"), `<html lang="zh-Hant">`)
	cn := e.browser()
	cn.header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	wantBody(t, cn.get("/console/login"), `<html lang="zh-Hans">`)
	xx := e.browser()
	xx.header.Set("Accept-Language", "tlh, *;q=0.1")
	wantBody(t, xx.get("/console/login"), `<html lang="en">`, "Password")

	// A Russian browser sees Russian PAT pages, falling back to English
	// for messages the Russian file lacks.
	ru.login("owner@acme.test")
	page = ru.get("/console/tokens")
	wantBody(t, page, `<html lang="ru">`, "Сгенерировать токен")

	// The user's saved language wins over Accept-Language.
	res := ru.submit("/console/tokens", "/console/locale", url.Values{"locale": {"zh-Hans"}, "next": {"/console/users"}})
	wantRedirect(t, res, "/console/users")
	if u, _ := e.store.FindUserByEmail(e.ctx, "owner@acme.test"); u.Locale != "zh-Hans" {
		t.Fatalf("locale = %q", u.Locale)
	}
	wantBody(t, ru.get("/console/tokens"), `<html lang="zh-Hans">`)
	res = ru.submit("/console/tokens", "/console/locale", url.Values{"locale": {"xx-bogus"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	res = ru.submit("/console/tokens", "/console/locale", url.Values{"locale": {""}, "next": {"//evil.test"}})
	wantRedirect(t, res, "/console/tokens")
	wantBody(t, ru.get("/console/tokens"), `<html lang="ru">`)

	// The time zone: the browser's until the user picks one (seed 001's
	// admins at UTC+8); the pages tell the browser which.
	wantBody(t, ru.get("/console/tokens"), `<body data-time-zone="">`, `<option value="Asia/Taipei">`)
	res = ru.submit("/console/tokens", "/console/locale", url.Values{"time_zone": {"Asia/Taipei"}, "next": {"/console/tokens"}})
	wantRedirect(t, res, "/console/tokens")
	if u, _ := e.store.FindUserByEmail(e.ctx, "owner@acme.test"); u.TimeZone != "Asia/Taipei" || u.Locale != "" {
		t.Fatalf("time zone = %q, locale = %q", u.TimeZone, u.Locale)
	}
	wantBody(t, ru.get("/console/tokens"), `data-time-zone="Asia/Taipei"`, `<option value="Asia/Taipei" selected>`)
	for _, bad := range []string{"Mars/Olympus_Mons", "../etc/passwd", "Local", strings.Repeat("A", 65)} {
		res = ru.submit("/console/tokens", "/console/locale", url.Values{"time_zone": {bad}})
		wantStatus(t, res, http.StatusUnprocessableEntity)
	}
	res = ru.submit("/console/tokens", "/console/locale", url.Values{"time_zone": {""}, "next": {"/console/tokens"}})
	wantRedirect(t, res, "/console/tokens")
	if u, _ := e.store.FindUserByEmail(e.ctx, "owner@acme.test"); u.TimeZone != "" {
		t.Fatalf("time zone after browser default = %q", u.TimeZone)
	}
}

func TestStaticAndNotFound(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	page := b.get("/console/login")
	css := regexp.MustCompile(`href="(/console/static/console\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(page.body)
	if css == nil {
		t.Fatalf("no stylesheet link\n%s", page.body)
	}
	res := b.get(html.UnescapeString(css[1]))
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(res.Header.Get("Cache-Control"), "max-age=31536000") {
		t.Errorf("static Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("css Content-Type = %q", res.Header.Get("Content-Type"))
	}
	js := b.get("/console/static/console.js")
	wantStatus(t, js, http.StatusOK)
	wantStatus(t, b.get("/console/static/"), http.StatusNotFound)
	res = b.get("/console/nope")
	wantStatus(t, res, http.StatusNotFound)
	wantBody(t, res, "Not found")
}
