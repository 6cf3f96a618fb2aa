package verify_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// discardWriter is a ResponseWriter that keeps its header map between
// requests (cleared), so the benchmark measures the handler, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkVerifyEndpoint is POST /api/v1/verify as server.New mounts it
// (metrics, security headers, mux, caller authentication, decoding,
// verification, encoding) without the network: what gatehouse bench (b)
// spends in Gatehouse per request.
func BenchmarkVerifyEndpoint(b *testing.B) {
	e := verifytest.New(b)
	m := metrics.New()
	v := verify.New(e.DB, e.Tree, verify.Options{Metrics: m})
	defer v.Close()
	caller, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"verify"}})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"sales"}})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/verify", verify.Handler(v, verify.HandlerOptions{}))
	h := m.Instrument(httpx.SecurityHeaders(mux))
	body := []byte(`{"credential":"` + tok + `","resource":"sales.orders"}`)
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "http://gatehouse/api/v1/verify", io.NopCloser(rd))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+caller)
	req.RemoteAddr = "127.0.0.1:4000"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		clear(w.h)
		w.n = 0
		h.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatal(w.status)
		}
	}
	if w.n == 0 || !strings.Contains(w.h.Get("Content-Type"), "json") {
		b.Fatal("no answer")
	}
}
