package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is a test server that counts the connections it accepted.
type countingUpstream struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingUpstream(t *testing.T, h http.HandlerFunc) *countingUpstream {
	t.Helper()
	u := &countingUpstream{}
	u.Server = httptest.NewUnstartedServer(h)
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func get(t *testing.T, tr http.RoundTripper, ctx context.Context, method, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestTransportReuse: the fast path keeps one connection for sequential
// calls whatever the framing of the answers, and answers HEAD and 204
// without a body.
func TestTransportReuse(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, "hello "+r.Method)
		}
	})
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	for range 3 {
		if resp, body := get(t, tr, ctx, "GET", up.URL+"/a", nil); resp.StatusCode != 200 || body != "hello GET" {
			t.Fatalf("GET = %d %q", resp.StatusCode, body)
		}
		if resp, body := get(t, tr, ctx, "GET", up.URL+"/chunked", nil); body != "part1,part2" || len(resp.TransferEncoding) == 0 {
			t.Fatalf("chunked = %q %v", body, resp.TransferEncoding)
		}
		if resp, body := get(t, tr, ctx, "HEAD", up.URL+"/a", nil); resp.StatusCode != 200 || body != "" {
			t.Fatalf("HEAD = %d %q", resp.StatusCode, body)
		}
		if resp, body := get(t, tr, ctx, "OPTIONS", up.URL+"/empty", nil); resp.StatusCode != 204 || body != "" {
			t.Fatalf("204 = %d %q", resp.StatusCode, body)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 12 sequential calls, want 1", n)
	}
}

// TestTransportStaleConnection: a kept connection the upstream closed while
// idle is replaced without failing the call; a connection idle past
// IdleTimeout is not used again.
func TestTransportStaleConnection(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	get(t, tr, ctx, "GET", up.URL, nil)
	up.CloseClientConnections()
	time.Sleep(20 * time.Millisecond)
	if resp, body := get(t, tr, ctx, "GET", up.URL, nil); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("after the upstream closed the idle connection: %d %q", resp.StatusCode, body)
	}
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	tr.IdleTimeout = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	get(t, tr, ctx, "GET", up.URL, nil)
	if n := up.conns.Load(); n != 3 {
		t.Fatalf("%d connections, want a third after the idle timeout", n)
	}
}

// TestTransportNotReused: an answer that closes the connection, or a body
// closed before its end, leaves nothing in the pool.
func TestTransportNotReused(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("x", 100<<10))
	})
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	get(t, tr, ctx, "GET", up.URL+"/close", nil)
	get(t, tr, ctx, "GET", up.URL+"/close", nil)
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (Connection: close)", n)
	}
	req, _ := http.NewRequest("GET", up.URL+"/long", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close() // early: the rest of the body is still on the wire
	get(t, tr, ctx, "GET", up.URL+"/long", nil)
	if n := up.conns.Load(); n != 4 {
		t.Fatalf("%d connections, want 4 (a body closed early)", n)
	}
}

// TestTransportCancel: a call whose client goes away stops waiting for a
// slow upstream at once.
func TestTransportCancel(t *testing.T) {
	release := make(chan struct{})
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
	start := time.Now()
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a cancelled call answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancellation took %v", d)
	}

	tr.ResponseHeaderTimeout = 50 * time.Millisecond
	req, _ = http.NewRequest("GET", up.URL, nil)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("no answer within ResponseHeaderTimeout, and no error")
	}
}

// TestTransportFallback: bodies, other methods and upgrades go through
// http.Transport and arrive whole.
func TestTransportFallback(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(b))
	})
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	if _, body := get(t, tr, ctx, "POST", up.URL, strings.NewReader("payload")); body != "POST payload" {
		t.Fatalf("POST = %q", body)
	}
	if _, body := get(t, tr, ctx, "DELETE", up.URL, nil); body != "DELETE " {
		t.Fatalf("DELETE = %q", body)
	}
	for _, tc := range []struct {
		method string
		body   io.Reader
		hdr    string
		want   bool
	}{
		{"GET", nil, "", true},
		{"HEAD", nil, "", true},
		{"GET", strings.NewReader("x"), "", false},
		{"POST", nil, "", false},
		{"DELETE", nil, "", false},
		{"GET", nil, "Upgrade", false},
		{"GET", nil, "Expect", false},
	} {
		req, _ := http.NewRequest(tc.method, up.URL, tc.body)
		if tc.hdr != "" {
			req.Header.Set(tc.hdr, "x")
		}
		if got := fast(req); got != tc.want {
			t.Errorf("fast(%s body=%v %s) = %v", tc.method, tc.body != nil, tc.hdr, got)
		}
	}
	req, _ := http.NewRequest("GET", "https://example.test/", nil)
	if fast(req) {
		t.Error("https took the fast path")
	}
}

// TestTransportConcurrent: concurrent calls each get their own connection
// and the right answer; the pool keeps at most MaxIdle.
func TestTransportConcurrent(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("n"))
	})
	tr := NewTransport()
	tr.MaxIdle = 4
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := strings.Repeat("a", w) + string(rune('0'+i%10))
				req, _ := http.NewRequest("GET", up.URL+"/?n="+n, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != n {
					t.Errorf("answer %q to question %q", b, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	tr.mu.Lock()
	idle := 0
	for _, cs := range tr.idle {
		idle += len(cs)
	}
	tr.mu.Unlock()
	if idle > 4 {
		t.Fatalf("%d idle connections kept, MaxIdle is 4", idle)
	}
}
