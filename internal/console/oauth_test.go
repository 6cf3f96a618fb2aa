package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
)

var (
	clientIDRE     = regexp.MustCompile(`id="client-id" [^>]*value="(APIK-[0-9A-Z]+)"`)
	clientSecretRE = regexp.MustCompile(`id="client-secret" [^>]*value="([0-9A-Za-z]{44})"`)
)

// enterprise puts tenant on the Enterprise plan, which OAuth apps need.
func (e *env) enterprise(t *gatehouse.Tenant) {
	e.t.Helper()
	t.Plan = gatehouse.PlanEnterprise
	if err := e.store.UpdateTenant(e.ctx, t); err != nil {
		e.t.Fatal(err)
	}
}

// appForm is a filled-in register form.
func appForm(name, redirects string, confidential bool, grants ...string) url.Values {
	f := url.Values{"name": {name}, "redirect_uris": {redirects}, "scopes": {"all"}, "grant_types": grants}
	if confidential {
		f.Set("client_type", "confidential")
	} else {
		f.Set("client_type", "public")
	}
	return f
}

// register submits the Activate form and returns the created page.
func (b *browser) register(form url.Values) *response {
	b.e.t.Helper()
	f := b.formOf("/console/oauth-apps")
	for k, v := range form {
		f[k] = v
	}
	return b.post("/console/oauth-apps", f)
}

// newApp registers an app through admin (as the tenant's owner).
func (e *env) newApp(tenant *gatehouse.Tenant, owner *gatehouse.Member, in admin.ClientInput) (*gatehouse.Client, string) {
	e.t.Helper()
	c, sec, err := e.admin.CreateClient(e.ctx, e.actor(tenant, owner), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, sec
}

func TestOAuthAppsActivateShownOnce(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")

	list := b.get("/console/oauth-apps")
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "Integrations › API", `action="/console/oauth-apps"`, `name="redirect_uris"`, `value="confidential"`, `value="public"`,
		`value="authorization_code"`, `value="refresh_token"`, `value="client_credentials"`, `value="catalog.products"`, "Activate",
		`href="/console/oauth-apps" aria-current="page"`, `href="/console/connected-apps"`)
	wantNoBody(t, list, `value="manage"`)

	f := b.formOf("/console/oauth-apps")
	for k, v := range appForm("Fax sender", "https://fax.example/cb\r\n\r\n  http://127.0.0.1:8765/cb  ", true, "authorization_code", "refresh_token") {
		f[k] = v
	}
	res := b.post("/console/oauth-apps", f)
	wantStatus(t, res, http.StatusOK)
	id, sec := clientIDRE.FindStringSubmatch(res.body), clientSecretRE.FindStringSubmatch(res.body)
	if id == nil || sec == nil {
		t.Fatalf("created page lacks the Client ID or Secret:\n%s", res.body)
	}
	clientID, clientSecret := id[1], sec[1]
	link := "http://gatehouse.test/oauth2/authorize?response_type=code&amp;client_id=" + clientID + "&amp;redirect_uri=https%3A%2F%2Ffax.example%2Fcb&amp;scope=all"
	wantBody(t, res, "Make sure to copy the Client Secret now", `data-copy-target="client-id"`, `data-copy-target="client-secret"`,
		"https://fax.example/cb", "http://127.0.0.1:8765/cb", link)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	stored, err := e.store.FindClient(e.ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.SecretHash) != string(secret.HashBytes(clientSecret)) || stored.TenantID != e.tenantA.ID || len(stored.RedirectURIs) != 2 {
		t.Errorf("stored = %+v", stored)
	}
	wantNotInDB(t, e, "gate_xxx_"+clientSecret, clientSecret[:21])

	// A reload re-posts the same nonce: no second app, no secret.
	again := b.post("/console/oauth-apps", f)
	wantRedirect(t, again, "/console/oauth-apps")
	if apps, _ := e.store.ListClients(e.ctx, e.tenantA.ID, gatehouse.ListFilter{}); len(apps) != 1 {
		t.Fatalf("%d apps after a reload", len(apps))
	}

	list = b.get("/console/oauth-apps")
	wantBody(t, list, "Fax sender", clientID, "Confidential", "https://fax.example/cb")
	wantNoBody(t, list, clientSecret)
	page := b.get("/console/oauth-apps/" + clientID)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, clientID, "Rotate secret", `href="/console/oauth-apps/`+clientID+`/rotate-secret"`, `href="/console/oauth-apps/`+clientID+`/edit"`,
		link, `href="/console/oauth-apps/`+clientID+`/delete"`)
	wantNoBody(t, page, clientSecret, `name="grace_period"`) // Rotate secret asks first, on its own page
	rotate := b.get("/console/oauth-apps/" + clientID + "/rotate-secret")
	wantBody(t, rotate, `type="radio" id="grace-0" name="grace_period" value="0" checked`, `value="1h"`, `value="24h"`, `value="168h"`)
	wantNoBody(t, rotate, clientSecret)

	// Validation re-renders the form with the admin's message.
	bad := b.register(appForm("Bad", "http://app.example/cb", true, "authorization_code"))
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, "http:// is allowed only for an app on the user&#39;s own computer", `value="Bad"`)
	bad = b.register(appForm("Bad", "https://app.example/cb", false, "client_credentials"))
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, "The Client Credentials grant needs a confidential app")
	bad = b.register(appForm("Bad", "https://app.example/cb", true))
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, "Choose at least one grant type.")
	if apps, _ := e.store.ListClients(e.ctx, e.tenantA.ID, gatehouse.ListFilter{}); len(apps) != 1 {
		t.Fatalf("%d apps after refused forms", len(apps))
	}

	// Without a CSRF token nothing is created.
	noCSRF := appForm("Forged", "https://evil.example/cb", true, "authorization_code")
	wantStatus(t, b.post("/console/oauth-apps", noCSRF), http.StatusForbidden)
	if apps, _ := e.store.ListClients(e.ctx, e.tenantA.ID, gatehouse.ListFilter{}); len(apps) != 1 {
		t.Fatal("a forged form created an app")
	}
}

func TestOAuthAppRotateAndDelete(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, oldSecret := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "Fax", RedirectURIs: []string{"https://fax.example/cb"}, Scopes: []string{"all"}, Confidential: true})
	public, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "SPA", RedirectURIs: []string{"http://localhost:3000/cb"}, Scopes: []string{"sales"}})
	b := e.browser()
	b.login("owner@acme.test")
	page := "/console/oauth-apps/" + app.ID

	f := b.formOf(page + "/rotate-secret")
	f.Set("grace_period", "24h")
	res := b.post(page+"/rotate-secret", f)
	wantStatus(t, res, http.StatusOK)
	m := clientSecretRE.FindStringSubmatch(res.body)
	if m == nil || m[1] == oldSecret {
		t.Fatalf("rotated page lacks a new secret:\n%s", res.body)
	}
	wantBody(t, res, "previous secret works until")
	stored, _ := e.store.FindClient(e.ctx, app.ID)
	if string(stored.SecretHash) != string(secret.HashBytes(m[1])) || string(stored.PrevSecretHash) != string(secret.HashBytes(oldSecret)) ||
		stored.PrevSecretExpiresAt == nil || stored.PrevSecretExpiresAt.Sub(e.clock.Now()).Round(time.Second) != 24*time.Hour {
		t.Errorf("after rotation = %+v", stored)
	}
	// The same form again (a reload) rotates nothing.
	wantRedirect(t, b.post(page+"/rotate-secret", f), page)
	if again, _ := e.store.FindClient(e.ctx, app.ID); string(again.SecretHash) != string(stored.SecretHash) {
		t.Error("a reload rotated the secret again")
	}
	// No grace: the old secret stops at once.
	f = b.formOf(page + "/rotate-secret")
	f.Set("grace_period", "0")
	wantStatus(t, b.post(page+"/rotate-secret", f), http.StatusOK)
	if now, _ := e.store.FindClient(e.ctx, app.ID); now.PrevSecretHash != nil {
		t.Error("the previous secret still works without a grace period")
	}
	f = b.formOf(page + "/rotate-secret")
	f.Set("grace_period", "720h")
	wantStatus(t, b.post(page+"/rotate-secret", f), http.StatusUnprocessableEntity)
	// A public app has no secret: no rotate form.
	wantNoBody(t, b.get("/console/oauth-apps/"+public.ID), "rotate-secret")

	// Delete asks first, then every token stops.
	confirm := b.get(page + "/delete")
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "Delete the app Fax?", "Every access and refresh token the app was issued stops working at once")
	res = b.submit(page+"/delete", page+"/delete", nil)
	wantRedirect(t, res, "/console/oauth-apps")
	wantBody(t, b.get("/console/oauth-apps"), "The app was deleted")
	if _, err := e.store.FindClient(e.ctx, app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("deleted app: %v", err)
	}
	wantStatus(t, b.get(page), http.StatusNotFound)
}

func TestOAuthAppsPlanRolesAndIsolation(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	e.member(e.tenantB, "owner@acme.test", gatehouse.RoleOwner) // tenant B is on the standard plan
	e.member(e.tenantA, "staff@acme.test", gatehouse.RoleStaff)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "Fax", RedirectURIs: []string{"https://fax.example/cb"}, Scopes: []string{"all"}, Confidential: true})

	b := e.browser()
	b.login("owner@acme.test")
	wantStatus(t, b.submit("/console/oauth-apps", "/console/tenant", url.Values{"tenant_id": {e.tenantB.ID}}), http.StatusSeeOther)
	page := b.get("/console/oauth-apps")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Available on the Enterprise plan.", `id="plan"`)
	wantNoBody(t, page, `action="/console/oauth-apps"`, "Fax")
	// Posting anyway shows the panel again, not a crash.
	f := b.formOf("/console/settings")
	for k, v := range appForm("Fax", "https://fax.example/cb", true, "authorization_code") {
		f[k] = v
	}
	res := b.post("/console/oauth-apps", f)
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Available on the Enterprise plan.")
	// Another tenant's app is 404.
	wantStatus(t, b.get("/console/oauth-apps/"+app.ID), http.StatusNotFound)
	wantStatus(t, b.get("/console/oauth-apps/"+app.ID+"/delete"), http.StatusNotFound)
	wantStatus(t, b.submit("/console/settings", "/console/oauth-apps/"+app.ID+"/delete", nil), http.StatusNotFound)

	staff := e.browser()
	staff.login("staff@acme.test")
	wantStatus(t, staff.get("/console/oauth-apps"), http.StatusForbidden)
	wantStatus(t, staff.get("/console/oauth-apps/"+app.ID), http.StatusForbidden)
	wantStatus(t, staff.submit("/console/connected-apps", "/console/oauth-apps/"+app.ID+"/delete", nil), http.StatusForbidden)
	wantStatus(t, staff.get("/console/connected-apps"), http.StatusOK) // every member has their own
	if _, err := e.store.FindClient(e.ctx, app.ID); err != nil {
		t.Fatal("the app is gone")
	}
}

// authorizeFixture is an Enterprise tenant with an owner, a confidential
// app and a public one, and a signed-in browser.
type authorizeFixture struct {
	e      *env
	owner  *gatehouse.Member
	app    *gatehouse.Client
	public *gatehouse.Client
}

const redirectURI = "https://fax.example/cb?tenant=1"

func newAuthorizeFixture(t *testing.T) *authorizeFixture {
	e := newEnv(t)
	e.tenantA.Name = "Demo Store"
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "Fax sender", RedirectURIs: []string{redirectURI, "http://127.0.0.1:9/cb"}, Scopes: []string{"sales", "catalog.products"}, Confidential: true})
	public, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "SPA", RedirectURIs: []string{"http://localhost:3000/cb"}, Scopes: []string{"all"}})
	return &authorizeFixture{e: e, owner: owner, app: app, public: public}
}

// authorizeURL is the app's authorization request with extra parameters.
func (f *authorizeFixture) authorizeURL(extra ...string) string {
	q := "/oauth2/authorize?response_type=code&client_id=" + f.app.ID + "&redirect_uri=" + url.QueryEscape(redirectURI) + "&scope=all&state=xyz"
	for _, x := range extra {
		q += "&" + x
	}
	return q
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consentForm reads the consent page's hidden fields.
func consentForm(t *testing.T, res *response) url.Values {
	t.Helper()
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(res.body, -1) {
		f.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if f.Get("csrf_token") == "" || f.Get("client_id") == "" {
		t.Fatalf("consent page lacks its form:\n%s", res.body)
	}
	return f
}

// wantCode checks a redirect to the registered URI with a code and state.
func wantCode(t *testing.T, res *response, status int) string {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", res.StatusCode, status, res.body)
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil || u.Scheme+"://"+u.Host+u.Path != "https://fax.example/cb" {
		t.Fatalf("Location = %q", res.Header.Get("Location"))
	}
	q := u.Query()
	if q.Get("code") == "" || q.Get("state") != "xyz" || q.Get("tenant") != "1" || q.Get("iss") != "http://gatehouse.test" || q.Get("error") != "" {
		t.Fatalf("redirect query = %v", q)
	}
	return q.Get("code")
}

func TestAuthorizeRefusedWithoutRedirect(t *testing.T) {
	f := newAuthorizeFixture(t)
	b := f.e.browser()
	b.login("owner@acme.test")
	enc := url.QueryEscape
	base := "/oauth2/authorize?response_type=code&scope=all&state=xyz"
	for _, tt := range []struct{ name, query, want string }{
		{"unknown client", base + "&client_id=APIK-NOPE&redirect_uri=" + enc(redirectURI), "The application is not registered"},
		{"missing client", base + "&redirect_uri=" + enc(redirectURI), "The application is not registered"},
		{"unregistered redirect", base + "&client_id=" + f.app.ID + "&redirect_uri=" + enc("https://evil.example/cb"), "The redirect URI is not registered"},
		{"registered plus a query", base + "&client_id=" + f.app.ID + "&redirect_uri=" + enc(redirectURI+"&x=1"), "The redirect URI is not registered"},
		{"registered plus a fragment", base + "&client_id=" + f.app.ID + "&redirect_uri=" + enc(redirectURI+"#f"), "The redirect URI is not registered"},
		{"registered plus a slash", base + "&client_id=" + f.app.ID + "&redirect_uri=" + enc("http://127.0.0.1:9/cb/"), "The redirect URI is not registered"},
		{"other case", base + "&client_id=" + f.app.ID + "&redirect_uri=" + enc("https://FAX.example/cb?tenant=1"), "The redirect URI is not registered"},
		{"missing redirect with two registered", base + "&client_id=" + f.app.ID, "The redirect URI is not registered"},
		{"duplicated client_id", base + "&client_id=" + f.app.ID + "&client_id=" + f.app.ID + "&redirect_uri=" + enc(redirectURI), "client_id is repeated"},
		{"duplicated redirect_uri", base + "&client_id=" + f.app.ID + "&redirect_uri=" + enc(redirectURI) + "&redirect_uri=" + enc(redirectURI), "redirect_uri is repeated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, br := range []*browser{b, f.e.browser()} { // signed in and anonymous
				res := br.get(tt.query)
				wantStatus(t, res, http.StatusBadRequest)
				if loc := res.Header.Get("Location"); loc != "" {
					t.Fatalf("Location %q", loc)
				}
				wantBody(t, res, tt.want, "You can close this page.")
				wantNoBody(t, res, `class="sidebar"`, "evil.example/cb?")
				if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Frame-Options") != "DENY" {
					t.Errorf("headers = %v", res.Header)
				}
			}
		})
	}
}

func TestAuthorizeErrorsRedirect(t *testing.T) {
	f := newAuthorizeFixture(t)
	b := f.e.browser() // anonymous: errors come back before login
	for _, tt := range []struct{ name, url, code string }{
		{"token", strings.Replace(f.authorizeURL(), "response_type=code", "response_type=token", 1), "unsupported_response_type"},
		{"unknown scope", strings.Replace(f.authorizeURL(), "scope=all", "scope=warp", 1), "invalid_scope"},
		{"scope beyond the app", strings.Replace(f.authorizeURL(), "scope=all", "scope=customers", 1), "invalid_scope"},
		{"plain PKCE", f.authorizeURL("code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=plain"), "invalid_request"},
		{"repeated state", f.authorizeURL("state=again"), "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := b.get(tt.url)
			if res.StatusCode != http.StatusFound {
				t.Fatalf("status %d\n%s", res.StatusCode, res.body)
			}
			u, _ := url.Parse(res.Header.Get("Location"))
			if u.Host != "fax.example" || u.Query().Get("error") != tt.code || u.Query().Get("code") != "" {
				t.Fatalf("Location = %s", u)
			}
		})
	}
	// A public client without PKCE is refused at the redirect URI too.
	res := b.get("/oauth2/authorize?response_type=code&client_id=" + f.public.ID + "&scope=all&state=s")
	if u, _ := url.Parse(res.Header.Get("Location")); res.StatusCode != http.StatusFound || u.Query().Get("error") != "invalid_request" || u.Host != "localhost:3000" {
		t.Fatalf("public without PKCE: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestAuthorizeLoginConsentAllow(t *testing.T) {
	f := newAuthorizeFixture(t)
	b := f.e.browser()
	start := f.authorizeURL("code_challenge=" + strings.Repeat("A", 43) + "&code_challenge_method=S256")

	// Not signed in: to the login page, which comes back here.
	res := b.get(start)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/console/login?next="+url.QueryEscape(start) {
		t.Fatalf("anonymous: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	login := b.get(res.Header.Get("Location"))
	wantBody(t, login, `name="next" value="`+html.EscapeString(start)+`"`)
	if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://fax.example;") {
		t.Errorf("login CSP = %q", csp)
	}
	form := url.Values{"email": {"owner@acme.test"}, "password": {password}, "next": {start}, "csrf_token": {html.UnescapeString(csrfRE.FindStringSubmatch(login.body)[1])}}
	wantRedirect(t, b.post("/console/login", form), start)

	consent := b.get(start)
	wantStatus(t, consent, http.StatusOK)
	wantBody(t, consent, "Fax sender wants to access your account", "Demo Store", "owner@acme.test",
		"Catalog › Products", "<strong>Sales</strong>", "including Orders, Invoices", "fax.example",
		`name="decision" value="allow"`, `name="decision" value="deny"`, `action="/oauth2/authorize"`,
		`name="code_challenge_method" value="S256"`, `name="state" value="xyz"`)
	wantNoBody(t, consent, `class="sidebar"`)
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := consent.Header.Get(k); got != want {
			t.Errorf("%s = %q", k, got)
		}
	}
	if csp := consent.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self' https://fax.example;") {
		t.Errorf("consent CSP = %q", csp)
	}
	cf := consentForm(t, consent)
	cf.Set("decision", "allow")
	res = b.post("/oauth2/authorize", cf)
	code := wantCode(t, res, http.StatusSeeOther)
	ac, err := f.e.store.RedeemAuthCode(f.e.ctx, &gatehouse.CodeRedemption{
		Hash: secret.HashBytes(code), TenantID: f.e.tenantA.ID, ClientID: f.app.ID, RedirectURI: redirectURI,
		Challenge: strings.Repeat("A", 43), Now: f.e.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ac.ClientID != f.app.ID || ac.UserID != f.owner.UserID || ac.RedirectURI != redirectURI || ac.CodeChallenge != strings.Repeat("A", 43) ||
		strings.Join(ac.Scopes, " ") != "catalog.products sales" {
		t.Errorf("code = %+v", ac)
	}

	// The consent is remembered: the page is skipped, scope=all or less.
	res = b.get(f.authorizeURL())
	wantCode(t, res, http.StatusFound)
	res = b.get(strings.Replace(f.authorizeURL(), "scope=all", "scope=sales.orders", 1))
	wantCode(t, res, http.StatusFound)

	// Connected apps lists it; Revoke access forgets it.
	list := b.get("/console/connected-apps")
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "Fax sender", f.app.ID, "Catalog › Products", `href="/console/connected-apps/`+f.app.ID+`/revoke"`)
	confirm := b.get("/console/connected-apps/" + f.app.ID + "/revoke")
	wantBody(t, confirm, "Revoke the access of Fax sender?")
	wantRedirect(t, b.submit("/console/connected-apps", "/console/connected-apps/"+f.app.ID+"/revoke", nil), "/console/connected-apps")
	wantBody(t, b.get("/console/connected-apps"), "The app&#39;s access was revoked.", "You have not allowed any app yet.")
	wantStatus(t, b.get("/console/connected-apps/"+f.app.ID+"/revoke"), http.StatusNotFound)
	// So the next request asks again.
	wantStatus(t, b.get(f.authorizeURL()), http.StatusOK)
}

func TestAuthorizeDenyAndCSRF(t *testing.T) {
	f := newAuthorizeFixture(t)
	b := f.e.browser()
	b.login("owner@acme.test")
	consent := b.get(f.authorizeURL())
	wantStatus(t, consent, http.StatusOK)
	cf := consentForm(t, consent)

	// No or a wrong CSRF token: 403, no code, no consent.
	for _, tok := range []string{"", "AAAA"} {
		forged := url.Values{}
		for k, v := range cf {
			forged[k] = v
		}
		forged.Set("csrf_token", tok)
		forged.Set("decision", "allow")
		res := b.post("/oauth2/authorize", forged)
		wantStatus(t, res, http.StatusForbidden)
		if res.Header.Get("Location") != "" || strings.Contains(res.body, "code=") {
			t.Fatalf("forged consent answered %v", res.Header)
		}
	}
	if _, err := f.e.store.FindConsent(f.e.ctx, f.e.tenantA.ID, f.owner.UserID, f.app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("a forged form saved consent: %v", err)
	}
	// A cross-site POST is refused whatever it carries.
	cross := url.Values{}
	for k, v := range cf {
		cross[k] = v
	}
	cross.Set("decision", "allow")
	req, _ := http.NewRequest(http.MethodPost, f.e.srv.URL+"/oauth2/authorize", strings.NewReader(cross.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, b.do(req), http.StatusForbidden)

	// The hidden fields are checked again: a redirect_uri swapped in the
	// form is refused without a redirect.
	swapped := url.Values{}
	for k, v := range cf {
		swapped[k] = v
	}
	swapped.Set("redirect_uri", "https://evil.example/cb")
	swapped.Set("decision", "allow")
	res := b.post("/oauth2/authorize", swapped)
	wantStatus(t, res, http.StatusBadRequest)
	if res.Header.Get("Location") != "" {
		t.Fatal("a swapped redirect_uri was followed")
	}
	bogus := url.Values{}
	for k, v := range cf {
		bogus[k] = v
	}
	bogus.Set("decision", "maybe")
	wantStatus(t, b.post("/oauth2/authorize", bogus), http.StatusBadRequest)

	// Deny goes back with access_denied and the state.
	cf.Set("decision", "deny")
	res = b.post("/oauth2/authorize", cf)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("deny: %d", res.StatusCode)
	}
	u, _ := url.Parse(res.Header.Get("Location"))
	if q := u.Query(); u.Host != "fax.example" || q.Get("error") != "access_denied" || q.Get("state") != "xyz" || q.Get("code") != "" {
		t.Fatalf("deny Location = %s", u)
	}
	if _, err := f.e.store.FindConsent(f.e.ctx, f.e.tenantA.ID, f.owner.UserID, f.app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("deny saved consent: %v", err)
	}

	// A POST after the session ended goes back through the login page.
	anon := f.e.browser()
	res = anon.post("/oauth2/authorize", cf)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/login?next=%2Foauth2%2Fauthorize%3F") {
		t.Fatalf("anonymous POST: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestAuthorizeTenantMembership(t *testing.T) {
	f := newAuthorizeFixture(t)
	// A member of tenant B only cannot allow tenant A's app.
	f.e.member(f.e.tenantB, "bob@bolt.test", gatehouse.RoleOwner)
	b := f.e.browser()
	b.login("bob@bolt.test")
	res := b.get(f.authorizeURL())
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "Your account is not a member of Demo Store")
	if res.Header.Get("Location") != "" {
		t.Fatal("non-member redirected")
	}

	// A member of both whose session shows B sees A's consent page, but a
	// GET — which any site can make the browser send — does not switch the
	// console's tenant; the consent form's POST (CSRF-checked) does.
	f.e.member(f.e.tenantB, "owner@acme.test", gatehouse.RoleStaff)
	o := f.e.browser()
	o.login("owner@acme.test")
	wantStatus(t, o.submit("/console/connected-apps", "/console/tenant", url.Values{"tenant_id": {f.e.tenantB.ID}}), http.StatusSeeOther)
	consent := o.get(f.authorizeURL())
	wantStatus(t, consent, http.StatusOK)
	wantBody(t, consent, "Demo Store")
	wantBody(t, o.get("/console/connected-apps"), `<option value="`+f.e.tenantB.ID+`" selected>`)
	cf := consentForm(t, consent)
	cf.Set("decision", "allow")
	wantCode(t, o.post("/oauth2/authorize", cf), http.StatusSeeOther)
	wantBody(t, o.get("/console/connected-apps"), `<option value="`+f.e.tenantA.ID+`" selected>`)

	// Once allowed, the GET answers with a code at once: still no switch.
	wantStatus(t, o.submit("/console/connected-apps", "/console/tenant", url.Values{"tenant_id": {f.e.tenantB.ID}}), http.StatusSeeOther)
	wantCode(t, o.get(f.authorizeURL()), http.StatusFound)
	wantBody(t, o.get("/console/connected-apps"), `<option value="`+f.e.tenantB.ID+`" selected>`)
}

// TestConnectedAppsNeverShowManage: a consent saved before apps could no
// longer hold manage (SPEC §9) lists what the app can still use, not
// "Manage Gatehouse".
func TestConnectedAppsNeverShowManage(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{
		Name: "Fax sender", RedirectURIs: []string{"https://fax.example/cb"}, Scopes: []string{"catalog"},
		GrantTypes: []string{gatehouse.GrantAuthorizationCode},
	})
	legacy := &gatehouse.Consent{TenantID: e.tenantA.ID, UserID: owner.UserID, ClientID: app.ID, Scopes: []string{"catalog", gatehouse.ScopeManage}}
	if err := e.store.SaveConsent(e.ctx, legacy); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("owner@acme.test")
	list := b.get("/console/connected-apps")
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "Fax sender", "Catalog")
	wantNoBody(t, list, "Manage Gatehouse", ">manage<")
}
