package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/metrics"
)

func accessLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// TestAccessLog: one info line per request with the route pattern,
// status, duration, the principal a handler learnt, the refusal, the
// request id (echoed as X-Request-Id) and the client address; never the
// credential.
func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	m := metrics.New()
	m.LogAccess(slog.New(slog.NewJSONHandler(&buf, nil)), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	const secretToken = "gate_pat_averysecretvalue1234"
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(w, "gateway GET /rest/V1/orders")
		switch r.URL.Query().Get("case") {
		case "valid":
			metrics.AccessOf(&unwrapper{w}).SetPrincipal(&gatehouse.Principal{TenantSlug: "acme", Kind: gatehouse.KindPAT, CredentialID: "cred123"})
			w.Write([]byte("ok"))
		case "refused":
			metrics.SetRefusal(w, "INSUFFICIENT_SCOPE")
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	req := httptest.NewRequest("GET", "/rest/V1/orders?case=valid", nil)
	req.Header.Set("Authorization", "Bearer "+secretToken)
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Request-Id", "lb-4711")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); got != "lb-4711" {
		t.Errorf("X-Request-Id = %q, want the load balancer's", got)
	}
	if strings.Contains(buf.String(), secretToken) || strings.Contains(buf.String(), "averysecret") {
		t.Fatalf("the access log shows the credential: %s", buf.String())
	}
	lines := accessLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1", len(lines))
	}
	l := lines[0]
	for k, want := range map[string]any{
		"level": "INFO", "msg": "request", "method": "GET", "route": "gateway GET /rest/V1/orders",
		"status": float64(200), "tenant": "acme", "kind": "pat", "credential": "cred123",
		"request_id": "lb-4711", "client_ip": "203.0.113.9",
	} {
		if l[k] != want {
			t.Errorf("%s = %v, want %v", k, l[k], want)
		}
	}
	if _, ok := l["duration_us"].(float64); !ok {
		t.Errorf("no duration_us: %v", l)
	}

	// A refusal, and request ids that are not believed: too long, or
	// with characters a log line should not carry.
	for _, bad := range []string{strings.Repeat("x", 200), "a b\nc", ""} {
		req := httptest.NewRequest("GET", "/rest/V1/orders?case=refused", nil)
		if bad != "" {
			req.Header.Set("X-Request-Id", bad)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		l := accessLines(t, &buf)[0]
		id := rec.Header().Get("X-Request-Id")
		if id == "" || id == bad || l["request_id"] != id {
			t.Errorf("request id %q: answered %q, logged %v", bad, id, l["request_id"])
		}
		if l["status"] != float64(403) || l["refusal"] != "INSUFFICIENT_SCOPE" {
			t.Errorf("refusal logged as %v", l)
		}
	}
	a, b := httptest.NewRecorder(), httptest.NewRecorder()
	h.ServeHTTP(a, httptest.NewRequest("GET", "/", nil))
	h.ServeHTTP(b, httptest.NewRequest("GET", "/", nil))
	if a.Header().Get("X-Request-Id") == b.Header().Get("X-Request-Id") {
		t.Error("two requests got the same id")
	}
	accessLines(t, &buf)

	// Below info, nothing is logged, and the id is still answered.
	quiet := metrics.New()
	quiet.LogAccess(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	rec = httptest.NewRecorder()
	quiet.Instrument(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if buf.Len() != 0 || rec.Header().Get("X-Request-Id") == "" {
		t.Errorf("at warn: logged %q, id %q", buf.String(), rec.Header().Get("X-Request-Id"))
	}
}

// A client that went away before its answer is logged and counted as
// such (499, as nginx does), not as a 500.
func TestAccessLogClientGone(t *testing.T) {
	var buf bytes.Buffer
	m := metrics.New()
	m.LogAccess(slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the client hangs up while the store is read
		<-r.Context().Done()
		http.Error(w, "internal error", http.StatusInternalServerError)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil).WithContext(ctx))
	l := accessLines(t, &buf)[0]
	if l["status"] != float64(499) || l["client_gone"] != true || l["level"] != "INFO" {
		t.Errorf("client gone logged as %v", l)
	}
	if out := scrape(t, m); !strings.Contains(out, `gatehouse_http_requests_total{code="499",route="other"} 1`) ||
		strings.Contains(out, `code="500"`) {
		t.Errorf("client gone counted as:\n%s", out)
	}
}

// The request id reaches the handler through AccessOf; an answer that
// names its own id (a proxied upstream's) keeps it alone, and an answer
// with no body still gets one.
func TestRequestIDThroughProxy(t *testing.T) {
	m := metrics.New()
	var seen string
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = metrics.AccessOf(w).RequestID()
		if r.URL.Path == "/proxied" {
			w.Header().Add("X-Request-Id", "upstream-7")
			w.WriteHeader(http.StatusOK)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/proxied", nil))
	if got := rec.Header().Values("X-Request-Id"); len(got) != 1 || got[0] != "upstream-7" {
		t.Errorf("answer's X-Request-Id = %q, want the upstream's alone", got)
	}
	if len(seen) != 32 {
		t.Errorf("the handler saw request id %q, want the generated one", seen)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/empty", nil)
	req.Header.Set("X-Request-Id", "bad id")
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); got == "" || got != seen || got == "bad id" {
		t.Errorf("empty answer's X-Request-Id = %q, the handler saw %q", got, seen)
	}
}
