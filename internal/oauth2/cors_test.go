package oauth2_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// preflight sends a CORS preflight (Fetch §3.2.2) for path from origin.
func (e *env) preflight(path, origin, method string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodOptions, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// wantACAO checks a response's Access-Control-Allow-Origin ("" for none)
// and that it never allows credentials.
func wantACAO(t *testing.T, what string, h http.Header, want string) {
	t.Helper()
	if got := h.Get("Access-Control-Allow-Origin"); got != want {
		t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, got, want)
	}
	if h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("%s: Access-Control-Allow-Credentials %q, want none", what, h.Get("Access-Control-Allow-Credentials"))
	}
}

func withOrigin(origin string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Origin", origin) }
}

// TestCORSTokenAndRevoke: a browser app (public client, PKCE) on an origin
// of its redirect URIs gets its preflights answered and may read its token
// and revocation answers, refusals included; a page of another app's
// origin gets the preflight (an origin some app allows) but cannot read
// this app's answers; an origin no app allows, "null", and a preflight
// for another method get no CORS headers.
func TestCORSTokenAndRevoke(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		spa, _ := e.app(e.owner, false, []string{"catalog"}) // redirect URIs on http://127.0.0.1:9 and http://localhost:9
		const own, other = "http://127.0.0.1:9", "https://other.example.com"
		_, boltOwner := e.newTenant("bolt", "owner@bolt.example") // another tenant's app
		if _, _, err := e.admin.CreateClient(e.ctx, boltOwner, admin.ClientInput{Name: "Other SPA", Scopes: []string{"catalog"},
			RedirectURIs: []string{"https://other.example.com/cb"}, AllowedOrigins: []string{other}}); err != nil {
			t.Fatal(err)
		}

		for _, path := range []string{"/oauth2/token", "/oauth2/revoke"} {
			for origin, want := range map[string]string{own: own, "http://localhost:9": "http://localhost:9", other: other,
				"https://evil.example.com": "", "null": "", "http://127.0.0.1:9/": "", "HTTP://127.0.0.1:9": "",
				"https://" + strings.Repeat("a", 400) + ".example.com": "", "https://%.example.com": "", "https://_.example.com": ""} {
				resp := e.preflight(path, origin, http.MethodPost)
				if resp.StatusCode != http.StatusNoContent {
					t.Errorf("preflight %s from %s: %d, want 204", path, origin, resp.StatusCode)
				}
				wantACAO(t, "preflight "+path+" from "+origin, resp.Header, want)
				if want != "" {
					if resp.Header.Get("Access-Control-Allow-Methods") != "POST" ||
						!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") ||
						!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
						t.Errorf("preflight %s from %s: methods %q headers %q", path, origin,
							resp.Header.Get("Access-Control-Allow-Methods"), resp.Header.Get("Access-Control-Allow-Headers"))
					}
				} else if resp.Header.Get("Access-Control-Allow-Methods") != "" {
					t.Errorf("refused preflight %s from %s allows methods %q", path, origin, resp.Header.Get("Access-Control-Allow-Methods"))
				}
				if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
					t.Errorf("preflight %s: Vary %q lacks Origin", path, resp.Header.Values("Vary"))
				}
			}
			resp := e.preflight(path, own, http.MethodDelete)
			wantACAO(t, "preflight for DELETE", resp.Header, "")
		}

		// The token request from the app's own page: readable.
		verifier, challenge := pkce("spa")
		code := e.code(spa, e.owner.UserID, "catalog", challenge)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
			"code_verifier": {verifier}, "client_id": {spa.ID}}
		a := e.do("/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), withOrigin(own))
		access, refresh := wantTokens(t, a)
		wantACAO(t, "token from the app's origin", a.Header, own)
		if !strings.Contains(strings.Join(a.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("token answer: Vary %q lacks Origin", a.Header.Values("Vary"))
		}
		// The same request from another app's page: served (a form POST
		// needs no preflight), but not readable there. The code is spent,
		// so this is also the app's own refusal.
		a = e.do("/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), withOrigin(other))
		wantError(t, a, http.StatusBadRequest, "invalid_grant")
		wantACAO(t, "token from another app's origin", a.Header, "")
		// The app's own refusal is readable by its page.
		a = e.do("/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), withOrigin(own))
		wantError(t, a, http.StatusBadRequest, "invalid_grant")
		wantACAO(t, "token refusal from the app's origin", a.Header, own)
		// A failed client authentication names no app: not readable.
		bad := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"APIK-NOSUCH"}}
		a = e.do("/oauth2/token", "application/x-www-form-urlencoded", bad.Encode(), withOrigin(own))
		wantError(t, a, http.StatusUnauthorized, "invalid_client")
		wantACAO(t, "unknown client", a.Header, "")

		// Revocation: another origin's page cannot read the answer; the
		// app's own can, and the token is revoked.
		rev := url.Values{"token": {access}, "client_id": {spa.ID}}
		a = e.do("/oauth2/revoke", "application/x-www-form-urlencoded", rev.Encode(), withOrigin("https://evil.example.com"))
		wantACAO(t, "revoke from an unknown origin", a.Header, "")
		rev.Set("token", refresh)
		a = e.do("/oauth2/revoke", "application/x-www-form-urlencoded", rev.Encode(), withOrigin(own))
		if a.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", a.Status, a.Raw)
		}
		wantACAO(t, "revoke from the app's origin", a.Header, own)
		if got := e.check(access, spa.ID); got != gatehouse.CodeRevoked {
			t.Errorf("access token after revoking its grant: %s, want REVOKED", got)
		}

		// Without Origin (a server-side client), nothing CORS is added.
		a = e.do("/oauth2/revoke", "application/x-www-form-urlencoded", rev.Encode(), nil)
		wantACAO(t, "revoke without Origin", a.Header, "")
	})
}

// TestCORSMetadata: the RFC 8414 document, the OpenID configuration and
// the JWKS are public: any origin may read them ("*", no credentials), and
// their preflights are answered. Introspection and device authorization
// have no CORS: OPTIONS there is still 405.
func TestCORSMetadata(t *testing.T) {
	e := newEnv(t, "")
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/oauth2/jwks"} {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.url+path, nil)
		req.Header.Set("Origin", "https://anyone.example.com")
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		wantACAO(t, path, resp.Header, "*")
		pre := e.preflight(path, "https://anyone.example.com", http.MethodGet)
		if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Errorf("%s preflight: %d, methods %q", path, pre.StatusCode, pre.Header.Get("Access-Control-Allow-Methods"))
		}
		wantACAO(t, path+" preflight", pre.Header, "*")
	}
	pre := e.preflight("/oauth2/device", "http://127.0.0.1:9", http.MethodPost)
	if pre.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("device authorization preflight: %d, want 405 (no CORS)", pre.StatusCode)
	}
	pre = e.preflight("/oauth2/introspect", "http://127.0.0.1:9", http.MethodPost)
	if pre.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("introspection preflight: %d, want 405", pre.StatusCode)
	}
	wantACAO(t, "introspection preflight", pre.Header, "")
	// GET on the token endpoint is still refused, now listing OPTIONS.
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.url+"/oauth2/token", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Errorf("GET /oauth2/token: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
