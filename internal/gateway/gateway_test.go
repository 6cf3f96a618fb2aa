package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

const testRoutes = `
tenant_hosts:
  shop.example.test: open-shop
routes:
  - method: GET
    path: /rest/V1/products/{sku}
    resource: catalog.products
  - method: GET
    path: /rest/V1/products/special   # shadowed by the route above: first match wins
    resource: sales
  - method: POST
    path: /rest/V1/orders
    resource: sales.orders
  - path: /rest/V1/customers
    resource: customers
  - method: GET
    path: /rest/{tenant}/V1/store/info
    guest: true
  - method: "*"
    path: /public/{rest...}
    guest: true
`

// upstream records what reached it.
type upstream struct {
	srv   *httptest.Server
	calls atomic.Int64
	last  atomic.Pointer[http.Request]
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		u.last.Store(r.Clone(r.Context()))
		w.Header().Set("Content-Type", "text/plain")
		if f := r.URL.Query().Get("frame"); f != "" {
			w.Header().Set("X-Frame-Options", f)
		}
		if r.URL.Query().Has("setcookie") {
			w.Header().Add("Set-Cookie", "gatehouse_session=fixed; Path=/; HttpOnly")
			w.Header().Add("Set-Cookie", "cart=42; Path=/")
			w.Header().Add("Set-Cookie", " gatehouse_session =padded")
		}
		io.WriteString(w, "upstream "+r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(u.srv.Close)
	return u
}

type gw struct {
	*verifytest.Env
	up  *upstream
	g   *gateway.Gateway
	srv *httptest.Server
}

func newGateway(t *testing.T, trusted ...string) *gw {
	t.Helper()
	e := verifytest.New(t)
	up := newUpstream(t)
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(e.Spy, e.Tree, verify.Options{Now: e.Clock.Now, CacheTTL: time.Hour})
	t.Cleanup(func() { v.Close() })
	u, _ := url.Parse(up.srv.URL)
	var tp []netip.Prefix
	for _, p := range trusted {
		tp = append(tp, netip.MustParsePrefix(p))
	}
	g, err := gateway.New(gateway.Config{
		Upstream: u, Routes: routes, Verifier: v, TrustedProxies: tp,
		StripCookies: []string{"gatehouse_session"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return &gw{Env: e, up: up, g: g, srv: srv}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) code() string {
	var b struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal([]byte(r.body), &b)
	return b.Error.Code
}

func (g *gw) do(t *testing.T, method, path string, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestGatewayCodes(t *testing.T) {
	g := newGateway(t)
	umbrella := g.Tenant("umbrella")
	g.Disable(umbrella)
	catalog, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Scopes: []string{"catalog"}})
	sales, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Scopes: []string{"sales"}})
	staff, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, Kind: gatehouse.KindStaff, User: g.Alice, Allow: []string{"203.0.113.0/24"}})
	at, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, Kind: gatehouse.KindOAuth2Access, ClientID: "APIK-1"})
	revoked, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Revoked: true})
	expired, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, Kind: gatehouse.KindAPIKey, Expired: true})
	disabled, _ := g.Credential(verifytest.Cred{Tenant: umbrella})
	typo := catalog[:len(catalog)-1] + "x"
	if typo == catalog {
		typo = catalog[:len(catalog)-1] + "y" // a typo must change the token
	}

	tests := []struct {
		name      string
		method    string
		path      string
		hdr       map[string]string
		status    int
		code      gatehouse.Code
		challenge string
	}{
		{"valid", "GET", "/rest/V1/products/24-MB01", bearer(catalog), 200, gatehouse.CodeValid, ""},
		{"valid api key header", "GET", "/rest/V1/products/24-MB01", map[string]string{"X-Api-Key": catalog}, 200, gatehouse.CodeValid, ""},
		{"HEAD matches GET", "HEAD", "/rest/V1/products/24-MB01", bearer(catalog), 200, gatehouse.CodeValid, ""},
		{"any method route", "DELETE", "/rest/V1/customers", bearer(staff), 403, gatehouse.CodeIPNotAllowed, `error="insufficient_scope"`},
		{"missing", "GET", "/rest/V1/products/24-MB01", nil, 401, gatehouse.CodeMissing, `Bearer realm="gatehouse"`},
		{"malformed typo", "GET", "/rest/V1/products/24-MB01", bearer(typo), 401, gatehouse.CodeMalformed, `error="invalid_token"`},
		{"malformed empty bearer", "GET", "/rest/V1/products/24-MB01", map[string]string{"Authorization": "Bearer"}, 401, gatehouse.CodeMalformed, `error="invalid_token"`},
		{"oauth1 without a provider", "GET", "/rest/V1/products/24-MB01", map[string]string{"Authorization": `OAuth oauth_consumer_key="x"`}, 401, gatehouse.CodeMalformed, `error="invalid_token"`},
		{"two credentials", "GET", "/rest/V1/products/24-MB01", map[string]string{"Authorization": "Bearer " + catalog, "X-Api-Key": catalog}, 401, gatehouse.CodeMalformed, ""},
		{"unknown", "GET", "/rest/V1/products/24-MB01", bearer(secret.NewToken(gatehouse.KindPAT)), 401, gatehouse.CodeUnknown, `error="invalid_token"`},
		{"expired", "GET", "/rest/V1/products/24-MB01", bearer(expired), 401, gatehouse.CodeExpired, `error_description="the credential has expired; get a new one"`},
		{"revoked", "GET", "/rest/V1/products/24-MB01", bearer(revoked), 401, gatehouse.CodeRevoked, `error="invalid_token"`},
		{"insufficient scope", "GET", "/rest/V1/products/24-MB01", bearer(sales), 403, gatehouse.CodeInsufficientScope, `scope="catalog.products"`},
		{"first match wins", "GET", "/rest/V1/products/special", bearer(sales), 403, gatehouse.CodeInsufficientScope, ""},
		{"ip not allowed", "POST", "/rest/V1/orders", bearer(staff), 403, gatehouse.CodeIPNotAllowed, ""},
		{"client mismatch", "GET", "/rest/V1/products/x", map[string]string{"Authorization": "Bearer " + at, "X-Gatehouse-Client": "APIK-2"}, 403, gatehouse.CodeClientMismatch, ""},
		{"client ok", "GET", "/rest/V1/products/x", map[string]string{"Authorization": "Bearer " + at, "X-Gatehouse-Client": "APIK-1"}, 200, gatehouse.CodeValid, ""},
		{"tenant disabled", "GET", "/rest/V1/products/x", bearer(disabled), 403, gatehouse.CodeTenantDisabled, ""},
		{"no route", "GET", "/admin", bearer(catalog), 404, gatehouse.CodeRouteNotFound, ""},
		{"no route for method", "POST", "/rest/V1/products/24-MB01", bearer(catalog), 404, gatehouse.CodeRouteNotFound, ""},
		{"dot segments", "GET", "/rest/V1/products/../orders", bearer(catalog), 404, gatehouse.CodeRouteNotFound, ""},
		{"encoded slash", "GET", "/public/..%2Frest%2FV1%2Forders", nil, 404, gatehouse.CodeRouteNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := g.up.calls.Load()
			r := g.do(t, tt.method, tt.path, tt.hdr)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			forwarded := g.up.calls.Load() - before
			if tt.code == gatehouse.CodeValid {
				if forwarded != 1 {
					t.Fatalf("forwarded %d times, want once", forwarded)
				}
				return
			}
			if forwarded != 0 {
				t.Fatal("a refused call reached the upstream")
			}
			if r.code() != string(tt.code) {
				t.Errorf("error code = %q, want %s (%s)", r.code(), tt.code, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.challenge != "" && !strings.Contains(r.header.Get("WWW-Authenticate"), tt.challenge) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %q", r.header.Get("WWW-Authenticate"), tt.challenge)
			}
			if tt.code == gatehouse.CodeMissing && r.header.Get("WWW-Authenticate") != `Bearer realm="gatehouse"` {
				t.Errorf("MISSING challenge = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestGatewayForwardedHeaders(t *testing.T) {
	g := newGateway(t)
	tok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Scopes: []string{"catalog", "sales"}})
	r := g.do(t, "GET", "/rest/V1/products/24-MB01?fields=sku", map[string]string{
		"Authorization":         "Bearer " + tok,
		"X-Gatehouse-Tenant":    "globex", // spoofing attempts
		"X-Gatehouse-Subject":   "root",
		"X-GATEHOUSE-SCOPES":    "all",
		"X-Gatehouse-Kind":      "staff",
		"X-Gatehouse-Something": "x",
		"X-Gatehouse-Client":    "APIK-1",
		"X-Forwarded-For":       "10.9.9.9",
		"Cookie":                "gatehouse_session=secret; cart=42",
		"Connection":            "X-Gatehouse-Tenant",
	})
	if r.status != 200 || r.body != "upstream GET /rest/V1/products/24-MB01?fields=sku" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	in := g.up.last.Load()
	want := map[string]string{
		"Authorization":         "",
		"X-Api-Key":             "",
		"X-Gatehouse-Client":    "",
		"X-Gatehouse-Something": "",
		"X-Gatehouse-Tenant":    "acme",
		"X-Gatehouse-Subject":   g.Alice.ID,
		"X-Gatehouse-Kind":      "pat",
		"X-Gatehouse-Scopes":    "catalog sales",
		"X-Forwarded-For":       "127.0.0.1", // the client's own claim is dropped
		"Cookie":                "cart=42",
	}
	for k, v := range want {
		if got := in.Header.Get(k); got != v {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
	if n := len(in.Header.Values("X-Gatehouse-Tenant")); n != 1 {
		t.Errorf("%d X-Gatehouse-Tenant values", n)
	}
}

// TestGatewayUntrustedHeaders: what an upstream might believe but only
// Gatehouse may say is not forwarded — client address and method or path
// overrides, credentials in the query — and an upstream cannot set
// Gatehouse's own cookies through the gateway.
func TestGatewayUntrustedHeaders(t *testing.T) {
	g := newGateway(t)
	tok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Scopes: []string{"catalog"}})
	r := g.do(t, "GET", "/rest/V1/products/24-MB01?fields=sku&access_token=a&API_KEY=b&%61ccess_token=c&setcookie&x=1&y=2;api_key=d", map[string]string{
		"Authorization":          "Bearer " + tok,
		"X-Real-IP":              "203.0.113.9",
		"X-HTTP-Method-Override": "DELETE",
		"X-HTTP-Method":          "DELETE",
		"X-Method-Override":      "DELETE",
		"X-Original-URL":         "/admin",
		"X-Rewrite-URL":          "/admin",
		"Forwarded":              "for=203.0.113.9;proto=https",
	})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	in := g.up.last.Load()
	for _, k := range []string{"X-Real-Ip", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Original-Url", "X-Rewrite-Url", "Forwarded"} {
		if v := in.Header.Values(k); v != nil {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	if got, want := in.URL.RawQuery, "fields=sku&setcookie=&x=1"; got != want {
		t.Errorf("upstream query %q, want %q", got, want)
	}
	if got := r.header.Values("Set-Cookie"); !slices.Equal(got, []string{"cart=42; Path=/"}) {
		t.Errorf("client got Set-Cookie %q, want the upstream's own cookie only", got)
	}
}

// TestGatewaySecurityHeaders: Gatehouse's security headers (set on every
// answer by httpx.SecurityHeaders, as the server mounts the gateway) stay
// on the gateway's own refusals but not on a forwarded answer, which is
// the upstream's: its X-Frame-Options arrives alone, not beside DENY.
func TestGatewaySecurityHeaders(t *testing.T) {
	g := newGateway(t)
	g.srv = httptest.NewServer(httpx.SecurityHeaders(g.g))
	t.Cleanup(g.srv.Close)
	tok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Scopes: []string{"catalog"}})

	r := g.do(t, "GET", "/rest/V1/products/24-MB01?frame=SAMEORIGIN", bearer(tok))
	if r.status != 200 || !slices.Equal(r.header.Values("X-Frame-Options"), []string{"SAMEORIGIN"}) {
		t.Errorf("forwarded: %d, X-Frame-Options %q, want the upstream's SAMEORIGIN alone", r.status, r.header.Values("X-Frame-Options"))
	}
	r = g.do(t, "GET", "/rest/V1/products/24-MB01", bearer(tok))
	for _, k := range []string{"X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
		if r.status != 200 || r.header[k] != nil {
			t.Errorf("forwarded: %d, %s = %q, want the upstream's headers only", r.status, k, r.header[k])
		}
	}
	for _, hdr := range []map[string]string{nil, bearer("gate_pat_typo")} {
		r = g.do(t, "GET", "/rest/V1/products/24-MB01?frame=SAMEORIGIN", hdr)
		if r.status != http.StatusUnauthorized || r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("refusal %d: %v, want Gatehouse's security headers", r.status, r.header)
		}
	}
	g.up.srv.Close()
	r = g.do(t, "GET", "/rest/V1/products/24-MB01", bearer(tok))
	if r.status != http.StatusBadGateway || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("upstream down: %d %v, want a 502 with Gatehouse's security headers", r.status, r.header)
	}
}

func TestGatewayClientIP(t *testing.T) {
	staffTok := func(g *gw) string {
		tok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, Kind: gatehouse.KindStaff, User: g.Alice, Allow: []string{"203.0.113.0/24"}})
		return tok
	}
	t.Run("untrusted peer's X-Forwarded-For is ignored", func(t *testing.T) {
		g := newGateway(t)
		r := g.do(t, "POST", "/rest/V1/orders", map[string]string{"Authorization": "Bearer " + staffTok(g), "X-Forwarded-For": "203.0.113.5"})
		if r.status != 403 || r.code() != "IP_NOT_ALLOWED" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("trusted proxy's X-Forwarded-For is read from the right", func(t *testing.T) {
		g := newGateway(t, "127.0.0.0/8")
		tok := staffTok(g)
		r := g.do(t, "POST", "/rest/V1/orders", map[string]string{"Authorization": "Bearer " + tok, "X-Forwarded-For": "198.51.100.1, 203.0.113.5"})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if got := g.up.last.Load().Header.Get("X-Forwarded-For"); got != "198.51.100.1, 203.0.113.5, 127.0.0.1" {
			t.Errorf("upstream X-Forwarded-For = %q", got)
		}
		// The client prepending an allowlisted address does not help.
		r = g.do(t, "POST", "/rest/V1/orders", map[string]string{"Authorization": "Bearer " + tok, "X-Forwarded-For": "203.0.113.5, 198.51.100.1"})
		if r.status != 403 || r.code() != "IP_NOT_ALLOWED" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestGatewayGuest(t *testing.T) {
	g := newGateway(t)
	open := g.Tenant("open-shop")
	g.SetSettings(open, gatehouse.Settings{AllowAnonymousGuestAccess: true, RequireClientHeader: true})
	shut := g.Tenant("shut-shop")
	g.SetSettings(shut, gatehouse.Settings{AllowAnonymousGuestAccess: true})
	g.Disable(shut)
	acmeTok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Scopes: []string{"sales"}})
	revoked, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice, Revoked: true})

	tests := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		tenant string // forwarded X-Gatehouse-Tenant
		kind   string
	}{
		{"setting on", "/rest/open-shop/V1/store/info", nil, 200, "open-shop", "guest"},
		{"setting off", "/rest/acme/V1/store/info", nil, 401, "", ""},
		{"unknown tenant", "/rest/nobody/V1/store/info", nil, 401, "", ""},
		{"tenant disabled", "/rest/shut-shop/V1/store/info", nil, 403, "", ""},
		{"tenant from host", "/public/logo.png", map[string]string{"Host": "shop.example.test"}, 200, "open-shop", "guest"},
		{"tenant from host with port", "/public/logo.png", map[string]string{"Host": "SHOP.example.test:8443"}, 200, "open-shop", "guest"},
		{"no tenant at all", "/public/logo.png", nil, 401, "", ""},
		{"credential's tenant wins", "/rest/open-shop/V1/store/info", bearer(acmeTok), 200, "acme", "pat"},
		{"credential checked without resource", "/rest/acme/V1/store/info", bearer(acmeTok), 200, "acme", "pat"},
		{"bad credential refused", "/rest/open-shop/V1/store/info", bearer(revoked), 401, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := g.up.calls.Load()
			r := g.do(t, "GET", tt.path, tt.hdr)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status != 200 {
				if g.up.calls.Load() != before {
					t.Fatal("a refused guest call reached the upstream")
				}
				return
			}
			h := g.up.last.Load().Header
			if h.Get("X-Gatehouse-Tenant") != tt.tenant || h.Get("X-Gatehouse-Kind") != tt.kind {
				t.Errorf("forwarded tenant %q kind %q, want %q %q", h.Get("X-Gatehouse-Tenant"), h.Get("X-Gatehouse-Kind"), tt.tenant, tt.kind)
			}
		})
	}
}

func TestGatewayFailsClosed(t *testing.T) {
	g := newGateway(t)
	open := g.Tenant("open-shop")
	g.SetSettings(open, gatehouse.Settings{AllowAnonymousGuestAccess: true})
	tok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice})
	g.Spy.SetErr(verifytest.ErrUnavailable)
	for _, c := range []struct {
		name string
		path string
		hdr  map[string]string
	}{
		{"credential", "/rest/V1/customers", bearer(tok)},
		{"guest", "/rest/open-shop/V1/store/info", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := g.do(t, "GET", c.path, c.hdr)
			if r.status != 503 || r.code() != gatehouse.EUNAVAILABLE {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if g.up.calls.Load() != 0 {
				t.Fatal("forwarded during a database outage")
			}
		})
	}
}

func TestGatewayUpstreamDown(t *testing.T) {
	g := newGateway(t)
	tok, _ := g.Credential(verifytest.Cred{Tenant: g.Acme, User: g.Alice})
	g.up.srv.Close()
	r := g.do(t, "GET", "/rest/V1/customers", bearer(tok))
	if r.status != http.StatusBadGateway || r.code() != "bad_gateway" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestNewValidatesResources(t *testing.T) {
	e := verifytest.New(t)
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	u, _ := url.Parse("http://127.0.0.1:1")
	routes, err := gateway.ParseRoutes([]byte("routes:\n  - path: /x\n    resource: sales.nonexistent\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.New(gateway.Config{Upstream: u, Routes: routes, Verifier: v}); err == nil || !strings.Contains(err.Error(), "sales.nonexistent") {
		t.Errorf("New = %v, want an unknown-resource error", err)
	}
	if _, err := gateway.New(gateway.Config{Upstream: &url.URL{Path: "/relative"}, Routes: routes, Verifier: v}); err == nil {
		t.Error("New accepted a relative upstream")
	}
}
