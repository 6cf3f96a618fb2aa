package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/gateway"
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
