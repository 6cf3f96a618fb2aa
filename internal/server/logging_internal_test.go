package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

// requestLog adds the request id to lines logged in a request's context
// and does not call an abandoned request's error an ERROR.
func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(requestLog{slog.NewTextHandler(&buf, nil)})
	m := metrics.New()
	var reqCtx context.Context
	m.Instrument(withAccess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqCtx = r.Context()
	}))).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	id := metrics.AccessFrom(reqCtx).RequestID()
	if id == "" {
		t.Fatal("withAccess put no Access in the context")
	}
	log.ErrorContext(reqCtx, "request failed", "err", "database is down")
	if out := buf.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "request_id="+id) {
		t.Errorf("logged %q, want an ERROR with request_id=%s", out, id)
	}
	buf.Reset()

	gone, cancel := context.WithCancel(reqCtx)
	cancel()
	log.ErrorContext(gone, "request failed", "err", context.Canceled)
	if out := buf.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "client_gone=true") {
		t.Errorf("an abandoned request logged %q, want INFO with client_gone", out)
	}
	buf.Reset()
	quiet := slog.New(requestLog{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})})
	quiet.ErrorContext(gone, "request failed")
	quiet.With("a", 1).WarnContext(context.Background(), "plain")
	if out := buf.String(); strings.Contains(out, "request failed") || !strings.Contains(out, "a=1") {
		t.Errorf("at warn: %q", out)
	}
}
