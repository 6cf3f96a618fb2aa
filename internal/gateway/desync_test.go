package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// rawUpstream is an upstream that speaks HTTP/1.1 by hand on a raw TCP
// listener, so that it can break the framing in ways net/http's server
// never would. answer returns the bytes written in answer to one request;
// each element is one Write, 20 ms after the one before (a later element
// models bytes that arrive after the answer, not with it).
type rawUpstream struct {
	ln     net.Listener
	answer func(req *http.Request) [][]byte
	// linger is how long a connection waits for its next request before
	// the upstream closes it; it also ends a call whose answer never
	// finishes.
	linger time.Duration
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newRawUpstream(tb testing.TB, linger time.Duration, answer func(req *http.Request) [][]byte) *rawUpstream {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u := &rawUpstream{ln: ln, answer: answer, linger: linger, conns: map[net.Conn]bool{}}
	u.wg.Add(1)
	go u.accept()
	tb.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) URL() *url.URL { return &url.URL{Scheme: "http", Host: u.ln.Addr().String()} }

func (u *rawUpstream) accept() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		u.conns[c] = true
		u.mu.Unlock()
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer func() {
				c.Close()
				u.mu.Lock()
				delete(u.conns, c)
				u.mu.Unlock()
			}()
			br := bufio.NewReader(c)
			for {
				c.SetReadDeadline(time.Now().Add(u.linger))
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				for i, b := range u.answer(req) {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}
		}()
	}
}

// rawResponse is a well-formed HTTP/1.1 answer naming marker in an
// X-Marker header and, when the status allows one, as its body.
func rawResponse(status int, marker string) string {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return fmt.Sprintf("HTTP/1.1 %d %s\r\nX-Marker: %s\r\n\r\n", status, http.StatusText(status), marker)
	}
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nX-Marker: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), marker, len(marker), marker)
}

// hostileAnswer answers each request for its caller (the marker is the
// tenant the gateway named and the path), misbehaving as the path's last
// segment says: the bytes past the framing are a complete answer of their
// own, carrying this caller's marker, which a connection returned to the
// pool would hand to the next caller.
func hostileAnswer(req *http.Request) [][]byte {
	marker := req.Header.Get(gateway.HeaderTenant) + " " + req.URL.RequestURI()
	injected := rawResponse(http.StatusOK, "injected after "+marker)
	mode, _, _ := strings.Cut(req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:], "-")
	if m := req.Header.Get("X-Test-Mode"); m != "" {
		mode = m // a call whose path cannot say it (POST /rest/V1/orders)
	}
	switch mode {
	case "overrun": // more bytes than Content-Length said
		return [][]byte{[]byte(rawResponse(http.StatusOK, marker) + injected)}
	case "head": // a body on a HEAD answer (Content-Length is the GET's)
		return [][]byte{[]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Marker: %s\r\nContent-Length: %d\r\n\r\n%s", marker, len(injected), injected))}
	case "204":
		return [][]byte{[]byte(rawResponse(http.StatusNoContent, marker) + injected)}
	case "304":
		return [][]byte{[]byte(rawResponse(http.StatusNotModified, marker) + injected)}
	case "unsolicited": // a second answer nobody asked for, 20 ms later
		return [][]byte{[]byte(rawResponse(http.StatusOK, marker)), []byte(injected)}
	}
	return [][]byte{[]byte(rawResponse(http.StatusOK, marker))}
}

// newGatewayTo starts the gateway in front of upstream over real HTTP.
func newGatewayTo(tb testing.TB, e *verifytest.Env, upstream *url.URL, cfg gateway.Config) *httptest.Server {
	tb.Helper()
	routes, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		tb.Fatal(err)
	}
	v := verify.New(e.DB, e.Tree, verify.Options{Now: e.Clock.Now, CacheTTL: time.Hour})
	tb.Cleanup(func() { v.Close() })
	cfg.Upstream, cfg.Routes, cfg.Verifier = upstream, routes, v
	g, err := gateway.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(g)
	tb.Cleanup(srv.Close)
	return srv
}

// TestGatewayUpstreamDesync: an upstream that writes past the end its
// framing declared must not shift answers onto the next caller. Two
// tenants' callers alternate; each answer must carry its own caller's
// marker, never the previous caller's or the injected one.
func TestGatewayUpstreamDesync(t *testing.T) {
	e := verifytest.New(t)
	up := newRawUpstream(t, 5*time.Second, hostileAnswer)
	srv := newGatewayTo(t, e, up.URL(), gateway.Config{Logger: slog.New(slog.DiscardHandler)})
	acme, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog"}})
	globex, _ := e.Credential(verifytest.Cred{Tenant: e.Globex, User: e.Bob, Scopes: []string{"catalog"}})
	callers := []struct{ slug, token string }{{"acme", acme}, {"globex", globex}}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	for _, tc := range []struct {
		mode   string
		method string
		status int
	}{
		{"well", "GET", 200},
		{"overrun", "GET", 200},
		{"head", "HEAD", 200},
		{"204", "GET", 204},
		{"304", "GET", 304},
		{"unsolicited", "GET", 200},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			for i := range 6 {
				// The callers follow each other, not at once: http.Transport
				// finds bytes on a connection when its read loop next looks
				// at it, which it does at once unless the host is starved;
				// a request that takes the connection before that could
				// still get them (a known limit of net/http, see
				// docs/decisions.md). An unsolicited answer is given time
				// to arrive before the next request is written: one that
				// arrives after it cannot be told from the answer to it by
				// any HTTP/1.1 client.
				pause := 10 * time.Millisecond
				if tc.mode == "unsolicited" {
					pause = 100 * time.Millisecond
				}
				time.Sleep(pause)
				c := callers[i%2]
				path := fmt.Sprintf("/rest/V1/products/%s-%d", tc.mode, i)
				req, _ := http.NewRequest(tc.method, srv.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("call %d (%s): %v", i, c.slug, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := c.slug + " " + path
				if got := resp.Header.Get("X-Marker"); resp.StatusCode != tc.status || got != want {
					t.Fatalf("call %d (%s): %d with marker %q body %q, want %d with marker %q", i, c.slug, resp.StatusCode, got, b, tc.status, want)
				}
				if tc.method == "GET" && tc.status == 200 && string(b) != want {
					t.Fatalf("call %d (%s): body %q, want %q", i, c.slug, b, want)
				}
			}
		})
	}
}

// TestGatewayUpstreamDesyncBackToBack: the same misbehaving upstream, with
// no pause between calls — two tenants alternating one after the other,
// then four callers per tenant at once. Upstream connections are kept per
// tenant, so whatever a misbehaving upstream does, no caller ever receives
// an answer given to another tenant. Within one tenant, http.Transport's
// window remains (docs/decisions.md "Upstream desync, what remains"): a
// request that takes a connection before its read loop has looked at the
// bytes past the previous answer gets them. It is counted and logged; in
// the alternating case, where each tenant's calls follow its own previous
// answer by a whole call of the other tenant, it must not occur except for
// an unsolicited answer that arrives after the next request was written,
// which no HTTP/1.1 client can tell from the answer to it.
func TestGatewayUpstreamDesyncBackToBack(t *testing.T) {
	e := verifytest.New(t)
	up := newRawUpstream(t, 5*time.Second, hostileAnswer)
	srv := newGatewayTo(t, e, up.URL(), gateway.Config{Logger: slog.New(slog.DiscardHandler)})
	acme, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog"}})
	globex, _ := e.Credential(verifytest.Cred{Tenant: e.Globex, User: e.Bob, Scopes: []string{"catalog"}})
	callers := []struct{ slug, token string }{{"acme", acme}, {"globex", globex}}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	// call makes one call and reports whose answer came back: "" for its
	// own, "same" for another call of its tenant, and fails the test for
	// another tenant's.
	call := func(t *testing.T, c int, method, path string) (mixed bool, failed bool) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+callers[c].token)
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", callers[c].slug, path, err)
			return false, true
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			return false, true // the upstream's misbehaviour noticed: fine
		}
		got := resp.Header.Get("X-Marker")
		if method == "GET" && resp.StatusCode == 200 && string(b) != got {
			t.Errorf("%s %s: body %q under marker %q", callers[c].slug, path, b, got)
		}
		owner, _, _ := strings.Cut(strings.TrimPrefix(got, "injected after "), " ")
		if owner != callers[c].slug {
			t.Errorf("cross-tenant desync: %s %s got %d with marker %q body %q", callers[c].slug, path, resp.StatusCode, got, b)
			return true, false
		}
		return got != callers[c].slug+" "+path, false
	}
	modes := []struct {
		mode, method string
	}{{"well", "GET"}, {"overrun", "GET"}, {"head", "HEAD"}, {"204", "GET"}, {"304", "GET"}, {"unsolicited", "GET"}}
	for _, tc := range modes {
		t.Run(tc.mode+"/alternating", func(t *testing.T) {
			n := 60
			if tc.mode == "unsolicited" {
				n = 20
			}
			mixed, failed := 0, 0
			for i := range n {
				m, f := call(t, i%2, tc.method, fmt.Sprintf("/rest/V1/products/%s-a%d", tc.mode, i))
				if m {
					mixed++
				}
				if f {
					failed++
				}
			}
			t.Logf("%d calls: %d same-tenant mix-ups, %d 502s", n, mixed, failed)
			if mixed > 0 && tc.mode != "unsolicited" {
				t.Errorf("%d same-tenant mix-ups in strictly alternating calls", mixed)
			}
		})
		t.Run(tc.mode+"/concurrent", func(t *testing.T) {
			per := 40
			if tc.mode == "unsolicited" {
				per = 10
			}
			var mixed, failed atomic.Int64
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range per {
						m, f := call(t, g%2, tc.method, fmt.Sprintf("/rest/V1/products/%s-c%d.%d", tc.mode, g, i))
						if m {
							mixed.Add(1)
						}
						if f {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			// Same-tenant mix-ups are http.Transport's residual window and
			// tolerated here; they are logged so a change shows.
			t.Logf("%d calls: %d same-tenant mix-ups, %d 502s", 8*per, mixed.Load(), failed.Load())
		})
	}
}

// TestGatewayUpstreamDesyncWaiting opens http.Transport's window on
// purpose: one upstream connection, four callers of one tenant, so a call
// is always waiting when an answer ends and takes the connection before
// its read loop has looked past the answer. An answer read entirely from
// bytes that arrived before the call was sent is refused (502, the
// connection closed); no caller may get an answer that is not its own.
func TestGatewayUpstreamDesyncWaiting(t *testing.T) {
	e := verifytest.New(t)
	up := newRawUpstream(t, 5*time.Second, hostileAnswer)
	tr := gateway.NewTransport()
	tr.MaxConnsPerHost = 1
	srv := newGatewayTo(t, e, up.URL(), gateway.Config{Logger: slog.New(slog.DiscardHandler), Transport: tr})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog", "sales"}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	// GETs and HEADs refused this way are sent once more on another
	// connection. A POST with a body is not: it may be a 502 (mostly
	// http.Transport's own, when it closes the connection under the
	// request on finding the stray bytes), never another call's answer.
	for _, tc := range []struct{ mode, method string }{{"well", "GET"}, {"overrun", "GET"}, {"head", "HEAD"}, {"204", "GET"}, {"304", "GET"}, {"well", "POST"}, {"overrun", "POST"}} {
		t.Run(tc.mode+"/"+tc.method, func(t *testing.T) {
			var mixed, refused atomic.Int64
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 30 {
						path := fmt.Sprintf("/rest/V1/products/%s-w%d.%d", tc.mode, g, i)
						var body io.Reader
						if tc.method == "POST" {
							path, body = fmt.Sprintf("/rest/V1/orders?n=%d.%d", g, i), strings.NewReader("an order")
						}
						req, _ := http.NewRequest(tc.method, srv.URL+path, body)
						req.Header.Set("Authorization", "Bearer "+tok)
						req.Header.Set("X-Test-Mode", tc.mode)
						resp, err := client.Do(req)
						if err != nil {
							t.Errorf("%s: %v", path, err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						switch got := resp.Header.Get("X-Marker"); {
						case resp.StatusCode == http.StatusBadGateway:
							refused.Add(1)
						case got != "acme "+path:
							mixed.Add(1)
							t.Logf("%s got %d with marker %q", path, resp.StatusCode, got)
						}
					}
				})
			}
			wg.Wait()
			t.Logf("120 calls: %d answers not their own, %d refused (502)", mixed.Load(), refused.Load())
			// Within one tenant, stray bytes that reach the socket in a
			// later read than the answer they follow can still be taken by
			// the waiting call (http.Transport's window, docs/decisions.md
			// "Known gaps"): seen once in 120 calls under -race in CI. Across
			// tenants it cannot happen (TestGatewayUpstreamDesyncBackToBack).
			if n := mixed.Load(); n > 3 {
				t.Errorf("%d of 120 calls got an answer not their own: more than the known same-tenant window explains", n)
			}
			if tc.mode == "well" && refused.Load() > 0 { // never a false alarm
				t.Errorf("a well-framed upstream got %d calls refused", refused.Load())
			}
		})
	}
}

// TestGatewayConnectionsPerTenant: seen from the upstream, every
// connection carries the calls of one tenant only — a credential's tenant,
// or a guest call's resolved tenant, which shares its tenant's
// connections.
func TestGatewayConnectionsPerTenant(t *testing.T) {
	e := verifytest.New(t)
	e.SetSettings(e.Acme, gatehouse.Settings{AllowAnonymousGuestAccess: true})
	var mu sync.Mutex
	seen := map[string]map[string]bool{} // upstream connection → tenants
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if seen[r.RemoteAddr] == nil {
			seen[r.RemoteAddr] = map[string]bool{}
		}
		seen[r.RemoteAddr][r.Header.Get(gateway.HeaderTenant)] = true
		mu.Unlock()
		io.WriteString(w, r.RemoteAddr)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	srv := newGatewayTo(t, e, u, gateway.Config{Logger: slog.New(slog.DiscardHandler)})
	acme, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog"}})
	globex, _ := e.Credential(verifytest.Cred{Tenant: e.Globex, User: e.Bob, Scopes: []string{"catalog"}})
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path, token string) string {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for range 20 {
				switch g % 3 {
				case 0:
					get("/rest/V1/products/p", acme)
				case 1:
					get("/rest/V1/products/p", globex)
				case 2:
					get("/rest/acme/V1/store/info", "")
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	for conn, tenants := range seen {
		if len(tenants) != 1 {
			t.Errorf("upstream connection %s carried calls of %v", conn, tenants)
		}
	}
	mu.Unlock()
	// One after the other, an acme guest call reuses the connection of the
	// acme PAT call before it (its partition is its resolved tenant), and
	// a globex call does not.
	a := get("/rest/V1/products/p", acme)
	if g := get("/rest/acme/V1/store/info", ""); g != a {
		t.Errorf("acme's guest call used %s, not acme's idle connection %s", g, a)
	}
	if b := get("/rest/V1/products/p", globex); b == a {
		t.Errorf("globex's call used acme's connection %s", a)
	}
}
