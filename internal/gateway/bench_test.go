package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/metrics"
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

// BenchmarkServed is a GET as `gatehouse bench --floor` sends it (a raw
// keep-alive client per goroutine, 64 of them) through, on loopback, to a
// loopback upstream:
//   - bare: httputil.ReverseProxy as bench's bare_proxy;
//   - bare+wrap: the same behind the server's metrics and listener bounds;
//   - gateway: the gateway alone;
//   - served: the gateway as the server runs it (metrics, bounds).
func BenchmarkServed(b *testing.B) {
	e := verifytest.New(b)
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		b.Fatal(err)
	}
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	up := benchUpstream(b)
	g, err := gateway.New(gateway.Config{Upstream: up, Routes: routes, Verifier: v, BodyTimeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	auth := http.Header{"Authorization": {"Bearer " + tok}}
	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
		},
		Transport:  gateway.NewTransport(),
		BufferPool: gateway.NewBufferPool(),
	}
	wrap := func(h http.Handler) http.Handler {
		return metrics.New().Instrument(httpx.Limit(h, httpx.Limits{MaxHeaders: 100, BodyTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}))
	}
	b.Run("bare", func(b *testing.B) { benchServed(b, bare, nil) })
	b.Run("bare+wrap", func(b *testing.B) { benchServed(b, wrap(bare), nil) })
	b.Run("gateway", func(b *testing.B) { benchServed(b, g, auth) })
	b.Run("served", func(b *testing.B) { benchServed(b, wrap(g), auth) })
}

func benchUpstream(b *testing.B) *url.URL {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	var conns atomic.Int64
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	b.Cleanup(func() {
		up.Close()
		b.ReportMetric(float64(conns.Load()), "upstream-conns")
	})
	u, _ := url.Parse(up.URL)
	return u
}

func benchServed(b *testing.B, h http.Handler, hdr http.Header) {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	defer srv.Close()
	var req strings.Builder
	fmt.Fprintf(&req, "GET /rest/V1/products/bench HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-bench\r\n", srv.Listener.Addr())
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	out := []byte(req.String())
	b.ReportAllocs()
	b.SetParallelism(32)
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		nc, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		for pb.Next() {
			if _, err := nc.Write(out); err != nil {
				b.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 {
				b.Fatal(resp.StatusCode)
			}
		}
	})
	// CPU time (of the client, the server and the upstream together) is
	// steadier than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
