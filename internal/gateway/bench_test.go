package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// stubUpstream answers in-process, so the benchmark measures the gateway
// (routing, verification, header rewriting, proxying) and not the network.
type stubUpstream struct{}

func (stubUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"ok":true}`)), ContentLength: 11, Request: r,
	}, nil
}

func BenchmarkGatewayCachedPAT(b *testing.B) {
	e := verifytest.New(b)
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		b.Fatal(err)
	}
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	u, _ := url.Parse("http://upstream.test")
	g, err := gateway.New(gateway.Config{Upstream: u, Routes: routes, Verifier: v, Transport: stubUpstream{}})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	req := httptest.NewRequest("POST", "/rest/V1/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
	}
}

// BenchmarkGatewayLoopback is BenchmarkGatewayCachedPAT through the
// gateway's own upstream transport (per-tenant pools, answer check) to a
// net/http upstream on loopback.
func BenchmarkGatewayLoopback(b *testing.B) {
	e := verifytest.New(b)
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		b.Fatal(err)
	}
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	g, err := gateway.New(gateway.Config{Upstream: u, Routes: routes, Verifier: v})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	req := httptest.NewRequest("POST", "/rest/V1/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
	}
}
