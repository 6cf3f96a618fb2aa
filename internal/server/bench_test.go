package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server"
)

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkServerVerifyCached is POST /api/v1/verify for a cached token
// through the whole handler server.New builds (metrics, listener bounds,
// hotRoute), without the network: the request deadline and the in-flight
// limit must cost it nothing.
func BenchmarkServerVerifyCached(b *testing.B) { benchVerifyCached(b, server.Options{}) }

// BenchmarkServerVerifyCachedAccessLog is BenchmarkServerVerifyCached
// with the access log on (JSON, at info, into io.Discard): what the line
// costs the hot path.
func BenchmarkServerVerifyCachedAccessLog(b *testing.B) {
	benchVerifyCached(b, server.Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
}

// benchVerifyCached serves one cached verification after another through
// the handler of a server started with opts.
func benchVerifyCached(b *testing.B, opts server.Options) {
	g := start(b, nil, opts)
	body := []byte(`{"credential":"` + g.token + `","resource":"catalog"}`)
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "http://gatehouse/api/v1/verify", io.NopCloser(rd))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.RemoteAddr = "127.0.0.1:4000"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		clear(w.h)
		g.Handler.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatal(w.status)
		}
	}
}
