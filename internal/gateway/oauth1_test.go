package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"
	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/oauth1"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// fakeSigner stands in for *oauth1.Provider.
type fakeSigner func(r *http.Request) (string, gatehouse.Code, error)

func (f fakeSigner) Authenticate(r *http.Request) (string, gatehouse.Code, error) { return f(r) }

func TestGatewayOAuth1(t *testing.T) {
	e := verifytest.New(t)
	up := newUpstream(t)
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(e.Spy, e.Tree, verify.Options{Now: e.Clock.Now, CacheTTL: time.Hour})
	t.Cleanup(func() { v.Close() })
	tok := secret.RandomString(32, "abcdefghijklmnopqrstuvwxyz0123456789")
	if err := e.DB.CreateCredential(context.Background(), &gatehouse.Credential{
		TenantID: e.Acme.ID, Kind: gatehouse.KindIntegration, Name: "Sync", Hash: secret.HashBytes(tok),
		ClientID: "int_1", Scopes: []string{"catalog"}, Secret: []byte("sealed"),
	}); err != nil {
		t.Fatal(err)
	}
	answer := func(*http.Request) (string, gatehouse.Code, error) { return tok, "", nil }
	signer := fakeSigner(func(r *http.Request) (string, gatehouse.Code, error) { return answer(r) })
	u, _ := url.Parse(up.srv.URL)
	g, err := gateway.New(gateway.Config{
		Upstream: u, Routes: routes, Verifier: v,
		Extractors: append(gateway.DefaultExtractors(), gateway.OAuth1Extractor(signer)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	gw := &gw{Env: e, up: up, srv: srv}
	oauth := map[string]string{"Authorization": `OAuth oauth_consumer_key="k", oauth_token="` + tok + `"`}

	r := gw.do(t, "GET", "/rest/V1/products/24-MB01", oauth)
	if r.status != 200 {
		t.Fatalf("signed call: %d %s", r.status, r.body)
	}
	last := up.last.Load()
	if last.Header.Get("Authorization") != "" || last.Header.Get(gateway.HeaderKind) != "integration" ||
		last.Header.Get(gateway.HeaderSubject) != "int_1" || last.Header.Get(gateway.HeaderTenant) != "acme" {
		t.Fatalf("forwarded headers: %v", last.Header)
	}
	if r := gw.do(t, "POST", "/rest/V1/orders", oauth); r.status != 403 || r.code() != "INSUFFICIENT_SCOPE" {
		t.Fatalf("outside the integration's resources: %d %s", r.status, r.body)
	}
	// The same token unsigned: refused while oauth1_tokens_as_bearer is off.
	r = gw.do(t, "GET", "/rest/V1/products/24-MB01", map[string]string{"Authorization": "Bearer " + tok})
	if r.status != 401 || r.code() != "UNKNOWN" || !strings.Contains(r.body, "oauth1_tokens_as_bearer") {
		t.Fatalf("bearer: %d %s", r.status, r.body)
	}
	// Two transports at once: refused before the signature is checked, so
	// the nonce is not spent and the store is not read.
	signed := 0
	answer = func(*http.Request) (string, gatehouse.Code, error) { signed++; return tok, "", nil }
	two := map[string]string{"Authorization": oauth["Authorization"], "X-Api-Key": "gate_key_x"}
	if r := gw.do(t, "GET", "/rest/V1/products/24-MB01", two); r.status != 401 || r.code() != "MALFORMED" {
		t.Fatalf("oauth and api key: %d %s", r.status, r.body)
	}
	if signed != 0 {
		t.Fatalf("the OAuth 1.0a signature was checked %d times for a request refused anyway", signed)
	}

	answer = func(*http.Request) (string, gatehouse.Code, error) {
		return "", gatehouse.CodeUnknown, errors.New("signature_invalid: the signature does not match")
	}
	r = gw.do(t, "GET", "/rest/V1/products/24-MB01", oauth)
	if r.status != 401 || r.code() != "UNKNOWN" || !strings.Contains(r.body, "signature_invalid") ||
		!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "OAuth ") {
		t.Fatalf("bad signature: %d %v %s", r.status, r.header, r.body)
	}
	answer = func(*http.Request) (string, gatehouse.Code, error) {
		return "", "", gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unreachable")
	}
	if r := gw.do(t, "GET", "/rest/V1/products/24-MB01", oauth); r.status != 503 || strings.Contains(r.body, "database") {
		t.Fatalf("outage: %d %s", r.status, r.body)
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("%d calls reached the upstream, want 1", n)
	}
}

// bodyUpstream records the query and the body of what reached it.
type bodyUpstream struct {
	srv         *httptest.Server
	calls       atomic.Int64
	query, body atomic.Pointer[string]
}

func newBodyUpstream(t *testing.T) *bodyUpstream {
	u := &bodyUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		q, s := r.URL.RawQuery, string(b)
		u.query.Store(&q)
		u.body.Store(&s)
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusTeapot) // the credential reached the upstream
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// moveTo is a RoundTripper under dghubble/oauth1's: it takes the request
// that client signed in the Authorization header and moves the protocol
// parameters into the query or the form body — the same parameters, so the
// same signature base string (RFC 5849 §3.4.1.3.1) — optionally adding a
// parameter after signing.
type moveTo struct {
	where string // "header", "query" or "body"
	extra string // appended to the query after signing
}

func (m moveTo) RoundTrip(r *http.Request) (*http.Response, error) {
	auth := r.Header.Get("Authorization")
	if m.where != "header" {
		r.Header.Del("Authorization")
		var pairs []string
		for _, kv := range strings.Split(strings.TrimPrefix(auth, "OAuth "), ", ") {
			k, v, _ := strings.Cut(kv, "=")
			pairs = append(pairs, k+"="+strings.Trim(v, `"`)) // RFC 5849 §3.6 encoding is form-safe
		}
		enc := strings.Join(pairs, "&")
		switch m.where {
		case "query":
			if r.URL.RawQuery != "" {
				enc = r.URL.RawQuery + "&" + enc
			}
			r.URL.RawQuery = enc
		case "body":
			var b []byte
			if r.Body != nil {
				b, _ = io.ReadAll(r.Body)
			}
			if len(b) > 0 {
				enc = string(b) + "&" + enc
			}
			r.Body = io.NopCloser(strings.NewReader(enc))
			r.ContentLength = int64(len(enc))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if m.extra != "" {
		if r.URL.RawQuery != "" {
			r.URL.RawQuery += "&"
		}
		r.URL.RawQuery += m.extra
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestGatewayOAuth1Transports signs calls with a real OAuth 1.0a client
// (dghubble/oauth1, header) and sends the same signed parameters in the
// header, the query or the form body (SPEC §5, RFC 5849 §3.5): the real
// provider accepts each, the upstream gets the call without the protocol
// parameters and with the rest of the body intact, and two transports at
// once are MALFORMED.
func TestGatewayOAuth1Transports(t *testing.T) {
	e := verifytest.New(t)
	up := newBodyUpstream(t)
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeyring(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(e.DB, e.Tree, admin.Options{Keys: keys, PublicURL: "https://gatehouse.test"})
	op := admin.Actor{TenantID: e.Acme.ID, Name: admin.OperatorName, Operator: true}
	i, err := svc.CreateIntegration(t.Context(), op, admin.IntegrationInput{Name: "Sync", Resources: []string{"catalog", "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	act, err := svc.ActivateIntegration(t.Context(), op, i.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The provider's clock is the real one: the client stamps with it.
	provider := oauth1.New(oauth1.Config{Store: e.DB, Keys: keys, Admin: svc})
	v := verify.New(e.Spy, e.Tree, verify.Options{Now: e.Clock.Now, CacheTTL: time.Hour})
	t.Cleanup(func() { v.Close() })
	u, _ := url.Parse(up.srv.URL)
	g, err := gateway.New(gateway.Config{
		Upstream: u, Routes: routes, Verifier: v,
		Extractors: append(gateway.DefaultExtractors(), gateway.OAuth1Extractor(provider)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	client := func(m moveTo) *http.Client {
		cfg := dghubble.NewConfig(act.ConsumerKey, act.ConsumerSecret)
		ctx := context.WithValue(t.Context(), dghubble.HTTPClient, &http.Client{Transport: m})
		return cfg.Client(ctx, dghubble.NewToken(act.AccessToken, act.AccessTokenSecret))
	}
	type answer struct {
		status int
		code   string
		body   string
	}
	send := func(c *http.Client, method, path, form string) answer {
		t.Helper()
		var body io.Reader
		if form != "" {
			body = strings.NewReader(form)
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, reply{body: string(b)}.code(), string(b)}
	}
	forwarded := func(wantQuery, wantBody string) {
		t.Helper()
		if q, b := *up.query.Load(), *up.body.Load(); q != wantQuery || b != wantBody {
			t.Fatalf("upstream got query %q body %q, want %q %q", q, b, wantQuery, wantBody)
		}
	}

	for _, where := range []string{"header", "query", "body"} {
		t.Run(where, func(t *testing.T) {
			c := client(moveTo{where: where})
			if a := send(c, "GET", "/rest/V1/products/24-MB01?page=2&a%20b=c", ""); a.status != 200 {
				t.Fatalf("GET signed in the %s: %d %s", where, a.status, a.body)
			}
			if where != "body" {
				forwarded("page=2&a%20b=c", "")
			}
			if a := send(c, "POST", "/rest/V1/orders?x=1", "sku=24-MB01&qty=1&note=a+b%26c"); a.status != 200 {
				t.Fatalf("POST signed in the %s: %d %s", where, a.status, a.body)
			}
			forwarded("x=1", "sku=24-MB01&qty=1&note=a+b%26c")
		})
	}

	// Magento's shape: signed in the header, with protocol parameters
	// repeated, unsigned, in the query and the body. Same values: the
	// echoes are dropped, verified and forwarded without them; another
	// value is MALFORMED and reaches nobody.
	echo := func(query, body string, header ...string) *http.Client {
		cfg := dghubble.NewConfig(act.ConsumerKey, act.ConsumerSecret)
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			for _, h := range header {
				r.Header.Set("Authorization", r.Header.Get("Authorization")+", "+h)
			}
			r.URL.RawQuery += "&" + query
			b, _ := io.ReadAll(r.Body)
			nb := string(b) + "&" + body
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(nb)), int64(len(nb))
			return http.DefaultTransport.RoundTrip(r)
		})
		return cfg.Client(context.WithValue(t.Context(), dghubble.HTTPClient, &http.Client{Transport: rt}), dghubble.NewToken(act.AccessToken, act.AccessTokenSecret))
	}
	if a := send(echo("oauth_token="+act.AccessToken, "oauth_consumer_key="+act.ConsumerKey), "POST", "/rest/V1/orders?x=1", "sku=24-MB01&qty=1"); a.status != 200 {
		t.Fatalf("header-signed call with echoes: %d %s", a.status, a.body)
	}
	forwarded("x=1", "sku=24-MB01&qty=1")
	// The PHPoAuthLib-based client also copies the form into the header.
	if a := send(echo("oauth_token="+act.AccessToken, "oauth_consumer_key="+act.ConsumerKey, `sku="24-MB01"`, `qty="1"`), "POST", "/rest/V1/orders?x=1", "sku=24-MB01&qty=1"); a.status != 200 {
		t.Fatalf("header-signed call with its form in the header: %d %s", a.status, a.body)
	}
	forwarded("x=1", "sku=24-MB01&qty=1")
	calls := up.calls.Load()
	if a := send(echo("oauth_token="+strings.Repeat("0", 32), "a=1"), "POST", "/rest/V1/orders?x=1", "sku=24-MB01"); a.status != 401 || a.code != "MALFORMED" || !strings.Contains(a.body, "differs") {
		t.Fatalf("header-signed call with a different echo: %d %s", a.status, a.body)
	}
	if n := up.calls.Load() - calls; n != 0 {
		t.Fatalf("a refused echo reached the upstream")
	}

	// A replay of a call signed in the query is refused by its nonce.
	var captured *http.Request
	capture := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		captured = r.Clone(r.Context())
		return moveTo{where: "query"}.RoundTrip(r)
	})}
	cfg := dghubble.NewConfig(act.ConsumerKey, act.ConsumerSecret)
	signed := cfg.Client(context.WithValue(t.Context(), dghubble.HTTPClient, capture), dghubble.NewToken(act.AccessToken, act.AccessTokenSecret))
	if a := send(signed, "GET", "/rest/V1/products/24-MB01", ""); a.status != 200 {
		t.Fatalf("signed: %d %s", a.status, a.body)
	}
	resp, err := http.DefaultClient.Do(captured)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "nonce_used") {
		t.Fatalf("replay in the query: %d %s", resp.StatusCode, b)
	}

	// Two transports: header and query, or header and body.
	before := up.calls.Load()
	for _, c := range []struct {
		name string
		m    moveTo
		form string
	}{
		{"header and query", moveTo{where: "header", extra: "oauth_callback=oob"}, ""},
		{"body and query", moveTo{where: "body", extra: "oauth_callback=oob"}, "sku=1"},
	} {
		if a := send(client(c.m), "POST", "/rest/V1/orders", c.form); a.status != 401 || a.code != "MALFORMED" ||
			!strings.Contains(a.body, "exactly one place") {
			t.Fatalf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	// A Bearer token beside OAuth parameters in the query.
	pat, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog"}})
	req, _ := http.NewRequest("GET", srv.URL+"/rest/V1/products/x?oauth_token="+act.AccessToken, nil)
	req.Header.Set("Authorization", "Bearer "+pat)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || (reply{body: string(b)}).code() != "MALFORMED" {
			t.Fatalf("bearer and oauth query: %d %s", resp.StatusCode, b)
		}
	}
	// A form body past 1 MiB that starts with protocol parameters cannot be
	// signed: MALFORMED, saying why.
	big := "oauth_consumer_key=" + act.ConsumerKey + "&pad=" + strings.Repeat("x", oauth1.MaxFormBody)
	req, _ = http.NewRequest("POST", srv.URL+"/rest/V1/orders", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "MALFORMED") || !strings.Contains(string(b), "1 MiB") {
		t.Fatalf("huge signed body: %d %s", resp.StatusCode, b)
	}
	if n := up.calls.Load() - before; n != 0 {
		t.Fatalf("%d refused calls reached the upstream", n)
	}
	// A long form body of a Bearer call is forwarded whole, unread.
	big = "pad=" + strings.Repeat("y", oauth1.MaxFormBody+10) + "&oauth_token=z"
	req, _ = http.NewRequest("POST", srv.URL+"/rest/V1/orders", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sales, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"sales"}})
	req.Header.Set("Authorization", "Bearer "+sales)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bearer with a long body: %v %v", resp, err)
	}
	if got := *up.body.Load(); got != big {
		t.Fatalf("long body forwarded with %d bytes, want %d", len(got), len(big))
	}
	// So is one without any credential on a guest route: read up to the
	// limit for protocol parameters, then forwarded whole.
	open := e.Tenant("open-shop")
	e.SetSettings(open, gatehouse.Settings{AllowAnonymousGuestAccess: true})
	req, _ = http.NewRequest("POST", srv.URL+"/public/form", strings.NewReader(big))
	req.Host = "shop.example.test"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("guest with a long body: %v %v", resp, err)
	}
	if got := *up.body.Load(); got != big {
		t.Fatalf("guest long body forwarded with %d bytes, want %d", len(got), len(big))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
