package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server"
)

// syncBuffer is a bytes.Buffer for a logger written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLogWired: a wired server logs one access line per request,
// naming the tenant, kind and id of the credential the gateway or the
// management API verified, and never the credential itself.
func TestAccessLogWired(t *testing.T) {
	var buf syncBuffer
	g := start(t, nil, server.Options{Log: slog.New(slog.NewJSONHandler(&buf, nil))})
	buf.mu.Lock()
	buf.b.Reset() // start-up lines
	buf.mu.Unlock()
	call := func(path, token string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+g.addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.HasPrefix(path, "/rest/") {
			// The gateway passes the id on to the upstream.
			if up := resp.Header.Get("X-Upstream-Saw-Request-Id"); up != resp.Header.Get("X-Request-Id") {
				t.Errorf("the upstream saw request id %q, the client got %q", up, resp.Header.Get("X-Request-Id"))
			}
		}
		return resp.Header.Get("X-Request-Id")
	}
	ids := []string{
		call("/rest/V1/products", g.token),
		call("/rest/V1/products", ""),
		call("/api/v1/tokens", g.token),
		call("/healthz", ""),
	}
	lines := buf.lines(t, "request")
	if len(lines) != 4 {
		t.Fatalf("%d access lines, want 4: %v", len(lines), lines)
	}
	want := []map[string]any{
		{"route": "gateway GET /rest/{rest...}", "status": float64(200), "tenant": "demo", "kind": "pat"},
		{"route": "gateway GET /rest/{rest...}", "status": float64(401), "refusal": "MISSING"},
		{"status": float64(200), "tenant": "demo", "kind": "pat"},
		{"route": "GET /healthz", "status": float64(200), "client_ip": "127.0.0.1"},
	}
	for i, l := range lines {
		for k, v := range want[i] {
			if l[k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i, k, l[k], v, l)
			}
		}
		if l["request_id"] != ids[i] || ids[i] == "" {
			t.Errorf("line %d: request_id %v, answered %q", i, l["request_id"], ids[i])
		}
	}
	if c, _ := lines[0]["credential"].(string); c == "" || lines[2]["credential"] != c {
		t.Errorf("credential ids %v and %v, want the demo token's", lines[0]["credential"], lines[2]["credential"])
	}
	buf.mu.Lock()
	defer buf.mu.Unlock()
	if strings.Contains(buf.b.String(), g.token) || strings.Contains(buf.b.String(), g.token[len(g.token)-12:]) {
		t.Error("the access log shows the token")
	}
}
