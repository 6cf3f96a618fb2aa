package server_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// answer is one request's status, headers and body.
type answer struct {
	status int
	header http.Header
	body   string
}

// send makes one request to the server without following redirects.
func send(t *testing.T, e *testenv.Env, method, path, token, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(e.Ctx, method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Transport: e.HTTP.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// seedDemo seeds the demo tenant: its owner's console login and a token
// with catalog, sales, manage and verify.
func seedDemo(t *testing.T, e *testenv.Env) *server.DemoCredentials {
	t.Helper()
	creds, err := e.Server.SeedDemo(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

const form = "application/x-www-form-urlencoded"

// TestRouteFamilies: every family of routes server.New wires — probes,
// metrics, verification and its change stream, the management API, the
// console, OAuth 2.0 (its endpoints and RFC 8414 metadata), OAuth 1.0a
// and the gateway — answers its own answer, not the catch-all 404 of a
// path nothing serves.
func TestRouteFamilies(t *testing.T) {
	const serviceToken = "wiring-service-token-0123456789abcdef0123"
	e := testenv.New(t, testenv.Options{Demo: true, NoTenant: true, Config: func(c *config.Config) { c.ServiceToken = serviceToken }})
	creds := seedDemo(t, e)
	manage := creds.Token

	nowhere := send(t, e, "GET", "/no/such/path", "", "", "")
	if nowhere.status != http.StatusNotFound {
		t.Fatalf("catch-all: %d %s, want 404", nowhere.status, nowhere.body)
	}
	for _, tc := range []struct {
		family, method, path, token, contentType, body string
		status                                         int
		contains                                       string // in the body
	}{
		{"health", "GET", "/healthz", "", "", "", 200, `"status":"ok"`},
		{"readiness", "GET", "/readyz", "", "", "", 200, `"database":"ok"`},
		{"metrics", "GET", "/metrics", "", "", "", 200, "# TYPE"},
		{"root", "GET", "/", "", "", "", 302, ""},
		{"verify", "POST", "/api/v1/verify", serviceToken, "application/json", `{"credential":"` + manage + `"}`, 200, `"valid":true`},
		{"verify, other methods", "GET", "/api/v1/verify", "", "", "", 405, ""},
		{"verify events", "GET", "/api/v1/verify/events", "", "", "", 401, ""},
		{"management API", "GET", "/api/v1/tokens", manage, "", "", 200, `"items"`},
		{"management API, refused", "GET", "/api/v1/tokens", "", "", "", 401, `"code"`},
		{"console", "GET", "/console/login", "", "", "", 200, `name="csrf_token"`},
		{"console, no session", "GET", "/console/", "", "", "", 303, ""},
		{"OAuth 2.0 authorize", "GET", "/oauth2/authorize", "", "", "", 400, ""},
		{"OAuth 2.0 token", "POST", "/oauth2/token", "", form, "grant_type=client_credentials", 401, `"invalid_client"`},
		{"OAuth 2.0 revoke", "POST", "/oauth2/revoke", "", form, "token=x", 401, `"invalid_client"`},
		{"OAuth 2.0 introspect", "POST", "/oauth2/introspect", "", form, "token=x", 401, `"invalid_client"`},
		{"OAuth 2.0 metadata", "GET", "/.well-known/oauth-authorization-server", "", "", "", 200, `"issuer":"` + e.URL + `"`},
		{"OAuth 1.0a request token", "POST", "/oauth/token/request", "", form, "", 400, "oauth_problem=parameter_absent"},
		{"OAuth 1.0a access token", "POST", "/oauth/token/access", "", form, "", 400, "oauth_problem=parameter_absent"},
		{"gateway", "GET", "/rest/V1/products", manage, "", "", 200, ""},
		{"gateway, refused", "GET", "/rest/V1/products", "", "", "", 401, "MISSING"},
	} {
		t.Run(tc.family, func(t *testing.T) {
			a := send(t, e, tc.method, tc.path, tc.token, tc.contentType, tc.body)
			if a.status != tc.status || !strings.Contains(a.body, tc.contains) {
				t.Fatalf("%s %s: %d %.300s; want %d with %q", tc.method, tc.path, a.status, a.body, tc.status, tc.contains)
			}
			if a.body == nowhere.body && a.header.Get("Content-Type") == nowhere.header.Get("Content-Type") {
				t.Fatalf("%s %s: the catch-all's answer", tc.method, tc.path)
			}
		})
	}
}

// TestSecurityHeaders checks each mux's security defaults against what
// httpx sets everywhere (nosniff, no-referrer, no framing): the console's
// pages add a script-free CSP that forbids framing and are never cached;
// the management API, the OAuth 2.0 endpoints, verification and the
// probes answer JSON that no cache keeps and set no cookies.
func TestSecurityHeaders(t *testing.T) {
	const serviceToken = "wiring-service-token-0123456789abcdef0123"
	e := testenv.New(t, testenv.Options{Demo: true, NoTenant: true, Config: func(c *config.Config) { c.ServiceToken = serviceToken }})
	creds := seedDemo(t, e)
	manage := creds.Token
	browser := e.Console(creds.Email, creds.Password)
	base := http.Header{}
	httpx.SetSecurityHeaders(base)
	if len(base) == 0 {
		t.Fatal("httpx sets no security headers")
	}

	page := map[string]string{
		"Cache-Control":              "no-store",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
		"Content-Type":               "text/html; charset=utf-8",
	}
	api := map[string]string{
		"Cache-Control": "no-store",
		"Content-Type":  "application/json; charset=utf-8",
		"Set-Cookie":    "",
	}
	oauth := map[string]string{
		"Cache-Control": "no-store",
		"Pragma":        "no-cache",
		"Content-Type":  "application/json; charset=utf-8",
		"Set-Cookie":    "",
	}
	loggedIn := func(path string) func() answer {
		return func() answer {
			resp, body := browser.Get(path)
			return answer{resp.StatusCode, resp.Header, body}
		}
	}
	req := func(method, path, token, contentType, body string) func() answer {
		return func() answer { return send(t, e, method, path, token, contentType, body) }
	}
	for _, tc := range []struct {
		name   string
		do     func() answer
		status int
		want   map[string]string // "" wants the header absent
		csp    bool              // the console's Content-Security-Policy
	}{
		{"console login page", req("GET", "/console/login", "", "", ""), 200, page, true},
		{"console page", loggedIn("/console/tokens"), 200, page, true},
		{"console CSRF refusal", req("POST", "/console/login", "", form, "email=a&password=b"), 403, page, true},
		{"authorization endpoint", req("GET", "/oauth2/authorize", "", "", ""), 400, page, true},
		{"management API", req("GET", "/api/v1/tokens", manage, "", ""), 200, api, false},
		{"management API refusal", req("GET", "/api/v1/tokens", "", "", ""), 401, api, false},
		{"management API 404", req("GET", "/api/v1/no-such-resource", manage, "", ""), 404, api, false},
		{"verify", req("POST", "/api/v1/verify", serviceToken, "application/json", `{"credential":"`+manage+`"}`), 200, api, false},
		{"verify refusal", req("POST", "/api/v1/verify", "", "application/json", `{"credential":"x"}`), 401, api, false},
		{"health", req("GET", "/healthz", "", "", ""), 200, api, false},
		{"token endpoint", req("POST", "/oauth2/token", "", form, "grant_type=client_credentials"), 401, oauth, false},
		{"metadata", req("GET", "/.well-known/oauth-authorization-server", "", "", ""), 200, map[string]string{"Content-Type": "application/json; charset=utf-8", "Set-Cookie": ""}, false},
		{"gateway refusal", req("GET", "/rest/V1/products", "", "", ""), 401, map[string]string{"Content-Type": "application/json; charset=utf-8", "Set-Cookie": ""}, false},
		{"metrics", req("GET", "/metrics", "", "", ""), 200, map[string]string{"Set-Cookie": ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.do()
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", a.status, tc.status, a.body)
			}
			for k, vs := range base {
				if got := a.header.Values(k); len(got) != 1 || got[0] != vs[0] {
					t.Errorf("%s: %q, want %q as httpx sets it", k, got, vs[0])
				}
			}
			for k, want := range tc.want {
				if got := a.header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			csp := a.header.Get("Content-Security-Policy")
			if tc.csp {
				for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
					if !strings.Contains(csp, d) {
						t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
					}
				}
			} else if csp != "" {
				t.Errorf("Content-Security-Policy %q on a non-browser answer", csp)
			}
		})
	}
}

// TestGracefulShutdown: cancelling Run's context (a signal) stops new
// connections at once, lets a request in flight finish with its answer,
// and then Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/rest/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, "answered")
	}))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	e := testenv.New(t, testenv.Options{Run: true, NoTenant: true, Server: server.Options{Upstream: upURL, Routes: []byte(testRoutes)}})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // first, should the test fail with the request in flight
	tok := seedDemo(t, e).Token
	if a := send(t, e, "GET", "/healthz", "", "", ""); a.status != 200 {
		t.Fatalf("healthz before the shutdown: %d", a.status)
	}

	inflight := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.URL+"/rest/slow", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- answer{resp.StatusCode, resp.Header, string(b)}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the upstream")
	}

	ran := make(chan error, 1)
	go func() { ran <- e.Shutdown() }()
	addr := strings.TrimPrefix(e.URL, "http://")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		// Accepted by the kernel before the listener closed (and then
		// reset), or not closed yet: try again.
		if err == nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 5 s after the shutdown began")
		}
	}
	select {
	case err := <-ran:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}

	releaseOnce()
	if a := <-inflight; a.status != http.StatusOK || a.body != "answered" {
		t.Fatalf("the request in flight: %d %q, want 200 answered", a.status, a.body)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the last request ended")
	}
}
