package e2e

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// oauthEnv is a real Gatehouse (testenv: server.New, demo store API
// behind the gateway) with an enterprise tenant and its owner.
type oauthEnv struct {
	te     *testenv.Env
	t      *testing.T
	ctx    context.Context
	s      *server.Server
	base   string
	tenant *gatehouse.Tenant
	owner  admin.Actor
	email  string
	pass   string
}

func newOAuthEnv(t *testing.T, databaseURL string) *oauthEnv {
	t.Helper()
	te := testenv.New(t, testenv.Options{
		DatabaseURL: databaseURL,
		Demo:        true,
		Tenant:      testenv.Seed{Slug: "shop", Name: "Fax Shop", Email: "owner@shop.test"},
	})
	return &oauthEnv{te: te, t: t, ctx: te.Ctx, s: te.Server, base: te.URL, tenant: te.Tenant, owner: te.Owner,
		email: te.OwnerEmail, pass: testenv.Password}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formFields returns the hidden fields of the form that posts to action.
func formFields(t *testing.T, page, action string) url.Values {
	t.Helper()
	i := strings.Index(page, `action="`+action+`"`)
	if i < 0 {
		t.Fatalf("no form posting to %s in:\n%s", action, page)
	}
	form := page[i:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(form, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("form %s has no csrf_token", action)
	}
	return v
}

// readPage returns a reader of an HTTP answer's body, for
// readPage(t)(client.Get(…)).
func readPage(t *testing.T) func(*http.Response, error) (*http.Response, string) {
	return func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
}

// api calls the demo store API through the gateway.
func (e *oauthEnv) api(path, token, clientHeader string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if clientHeader != "" {
		req.Header.Set("X-Gatehouse-Client", clientHeader)
	}
	resp, body := readPage(e.t)(http.DefaultClient.Do(req))
	var refusal struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal([]byte(body), &refusal)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, refusal.Error.Code
	}
	return resp.StatusCode, ""
}

func (e *oauthEnv) wantAPI(path, token, clientHeader string, status int, code string) {
	e.t.Helper()
	if gotStatus, gotCode := e.api(path, token, clientHeader); gotStatus != status || gotCode != code {
		e.t.Fatalf("GET %s: %d %s, want %d %s", path, gotStatus, gotCode, status, code)
	}
}

// TestOAuth2AuthorizationCodeFlow drives seed 002's flow end to end with
// golang.org/x/oauth2 against a real server (issue 4 done-means 1): the
// user is sent to /oauth2/authorize, logs in and allows the app over HTTP
// (cookie jar, CSRF tokens parsed from the pages), the app's redirect URI
// receives the code, the app exchanges it with PKCE, calls the demo API
// through the gateway with Authorization: Bearer and X-Gatehouse-Client,
// refreshes, and revokes.
func TestOAuth2AuthorizationCodeFlow(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		e := newOAuthEnv(t, databaseURL)

		// The app's redirect URI: a loopback server that captures the code.
		got := make(chan url.Values, 4)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.URL.Query()
			io.WriteString(w, "you may close this window")
		}))
		defer cb.Close()
		app := e.te.App(e.owner, admin.ClientInput{
			Name:         "Fax Sync",
			RedirectURIs: []string{cb.URL + "/callback"},
			Scopes:       []string{"catalog", "sales"},
			Confidential: true,
		})
		secret := app.Secret
		if !strings.HasPrefix(app.ID, "APIK-") || len(secret) < 43 {
			t.Fatalf("client %s secret %d chars", app.ID, len(secret))
		}
		// The seed's HTTP Basic (testenv's AuthStyleInHeader).
		conf := app.Config
		conf.Scopes = []string{"sales.orders", "catalog"}

		// The user's browser.
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier))

		// No session: the authorization endpoint sends the user to log in.
		resp, page := readPage(t)(browser.Get(authURL))
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/console/login") {
			t.Fatalf("authorize without a session: %d at %s", resp.StatusCode, resp.Request.URL)
		}
		login := formFields(t, page, "/console/login")
		login.Set("email", e.email)
		login.Set("password", e.pass)
		resp, page = readPage(t)(browser.PostForm(e.base+"/console/login", login))
		// Logged in, back at the authorization endpoint: the consent page.
		if resp.StatusCode != 200 || resp.Request.URL.Path != "/oauth2/authorize" || !strings.Contains(page, "Fax Sync") || !strings.Contains(page, "Fax Shop") {
			t.Fatalf("consent page: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("consent page Cache-Control %q", cc)
		}
		consent := formFields(t, page, "/oauth2/authorize")
		consent.Set("decision", "allow")
		resp, _ = readPage(t)(browser.PostForm(e.base+"/oauth2/authorize", consent))
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), cb.URL+"/callback") {
			t.Fatalf("after Allow: %d at %s", resp.StatusCode, resp.Request.URL)
		}
		q := <-got
		if q.Get("state") != "state-1" || q.Get("code") == "" || q.Get("iss") != e.base {
			t.Fatalf("redirect parameters %v", q)
		}

		// The app exchanges the code (HTTP Basic + PKCE verifier).
		tok, err := conf.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != "catalog sales.orders" {
			t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
		}
		if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
			t.Fatalf("access token expires in %s, want 1h", d)
		}
		// The code is single use.
		if _, err := conf.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("second exchange: %v", err)
		}
		// That replay revoked the first exchange's tokens (RFC 6749 §4.1.2):
		// authorize again (consent is remembered: straight to the redirect).
		e.wantAPI("/rest/V1/orders", tok.AccessToken, app.ID, 401, "REVOKED")
		verifier = oauth2.GenerateVerifier()
		resp, _ = readPage(t)(browser.Get(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier))))
		if !strings.HasPrefix(resp.Request.URL.String(), cb.URL+"/callback") {
			t.Fatalf("remembered consent: landed at %s", resp.Request.URL)
		}
		q = <-got
		if q.Get("state") != "state-2" {
			t.Fatalf("redirect parameters %v", q)
		}
		tok, err = conf.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}

		// The demo API through the gateway: Bearer plus the client header.
		e.wantAPI("/rest/V1/orders", tok.AccessToken, app.ID, 200, "")
		e.wantAPI("/rest/V1/products", tok.AccessToken, app.ID, 200, "")
		e.wantAPI("/rest/V1/customers", tok.AccessToken, app.ID, 403, "INSUFFICIENT_SCOPE")
		// require_client_header is on by default: no header, or another
		// client's, is CLIENT_MISMATCH.
		e.wantAPI("/rest/V1/orders", tok.AccessToken, "", 403, "CLIENT_MISMATCH")
		e.wantAPI("/rest/V1/orders", tok.AccessToken, "APIK-SOMEONEELSE", 403, "CLIENT_MISMATCH")
		// RFC 6750 §2.3 query parameters are never read (RFC 9700 §4.3.2).
		e.wantAPI("/rest/V1/orders?access_token="+url.QueryEscape(tok.AccessToken), "", app.ID, 401, "MISSING")

		// Introspection by the app itself.
		var intro map[string]any
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(app.ID, secret)
		_, body := readPage(t)(http.DefaultClient.Do(req))
		json.Unmarshal([]byte(body), &intro)
		if intro["active"] != true || intro["client_id"] != app.ID || intro["tenant"] != "shop" || intro["sub"] != e.owner.UserID || intro["kind"] != "oauth2" {
			t.Fatalf("introspection %s", body)
		}

		// Refresh: the confidential app's refresh token does not rotate.
		stale := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Second)}
		fresh, err := conf.TokenSource(e.ctx, stale).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
			t.Fatalf("refresh: access %v, refresh kept %v", fresh.AccessToken != tok.AccessToken, fresh.RefreshToken == tok.RefreshToken)
		}
		e.wantAPI("/rest/V1/orders", fresh.AccessToken, app.ID, 200, "")
		e.wantAPI("/rest/V1/orders", tok.AccessToken, app.ID, 200, "") // the old one lives its hour
		// Access and refresh tokens, and the client secret, are stored only as hashes.
		wantNoPlaintext(t, databaseURL, tok.AccessToken, tok.RefreshToken, fresh.AccessToken, secret)

		// Revoke the refresh token: the whole grant stops at once.
		revoke(t, e.base, app.ID, secret, fresh.RefreshToken)
		e.wantAPI("/rest/V1/orders", fresh.AccessToken, app.ID, 401, "REVOKED")
		e.wantAPI("/rest/V1/orders", tok.AccessToken, app.ID, 401, "REVOKED")
		if _, err := conf.TokenSource(e.ctx, stale).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh after revocation: %v", err)
		}

		// Deny: the app hears access_denied and gets no code.
		if err := e.s.Admin.DisconnectApp(e.ctx, e.owner, app.ID); err != nil {
			t.Fatal(err)
		}
		resp, page = readPage(t)(browser.Get(conf.AuthCodeURL("state-3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))))
		if resp.Request.URL.Path != "/oauth2/authorize" {
			t.Fatalf("after disconnecting, no consent page: %s", resp.Request.URL)
		}
		consent = formFields(t, page, "/oauth2/authorize")
		consent.Set("decision", "deny")
		readPage(t)(browser.PostForm(e.base+"/oauth2/authorize", consent))
		q = <-got
		if q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "state-3" {
			t.Fatalf("deny redirect %v", q)
		}
	})
}

// TestOAuth2ClientCredentialsFlow is done-means 1's second half: an app
// gets its own token with golang.org/x/oauth2/clientcredentials, calls the
// demo API through the gateway, and revokes the token.
func TestOAuth2ClientCredentialsFlow(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		e := newOAuthEnv(t, databaseURL)
		app := e.te.App(e.owner, admin.ClientInput{
			Name:         "Nightly export",
			Scopes:       []string{"sales.orders", "catalog.products"},
			Confidential: true,
			GrantTypes:   []string{gatehouse.GrantClientCredentials},
		})
		secret := app.Secret
		conf := app.ClientCredentials("sales.orders")
		tok, err := conf.Token(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken != "" || tok.Extra("scope") != "sales.orders" {
			t.Fatalf("token %+v", tok)
		}
		e.wantAPI("/rest/V1/orders", tok.AccessToken, app.ID, 200, "")
		e.wantAPI("/rest/V1/products", tok.AccessToken, app.ID, 403, "INSUFFICIENT_SCOPE")
		e.wantAPI("/rest/V1/orders", tok.AccessToken, "", 403, "CLIENT_MISMATCH")

		// The library's HTTP client adds the bearer header itself.
		hc := conf.Client(e.ctx)
		req, _ := http.NewRequest(http.MethodGet, e.base+"/rest/V1/orders", nil)
		req.Header.Set("X-Gatehouse-Client", app.ID)
		if resp, _ := readPage(t)(hc.Do(req)); resp.StatusCode != 200 {
			t.Fatalf("through conf.Client: %d", resp.StatusCode)
		}

		revoke(t, e.base, app.ID, secret, tok.AccessToken)
		e.wantAPI("/rest/V1/orders", tok.AccessToken, app.ID, 401, "REVOKED")

		// Deleting the app stops every token it issued and the app itself.
		tok2, err := conf.Token(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.Admin.DeleteClient(e.ctx, e.owner, app.ID); err != nil {
			t.Fatal(err)
		}
		e.wantAPI("/rest/V1/orders", tok2.AccessToken, app.ID, 401, "REVOKED")
		if _, err := conf.Token(e.ctx); !isOAuthError(err, "invalid_client") {
			t.Fatalf("token for a deleted app: %v", err)
		}
	})
}

func revoke(t *testing.T, base, clientID, secret, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, body := readPage(t)(http.DefaultClient.Do(req))
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
}

func isOAuthError(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}
