package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// fakeGatehouse speaks the contract of /api/v1/verify and
// /api/v1/verify/events from a table of answers.
type fakeGatehouse struct {
	caller string

	mu       sync.Mutex
	answers  map[string]verifyResponse // by credential
	asked    []verifyRequest
	down     bool
	streams  []chan string // open event streams: raw event text to write
	verifies atomic.Int64
	connects atomic.Int64
}

func newFake(t testing.TB) (*fakeGatehouse, *httptest.Server) {
	f := &fakeGatehouse{caller: "caller-token", answers: map[string]verifyResponse{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/verify", f.verify)
	mux.HandleFunc("GET /api/v1/verify/events", f.events)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		f.disconnect()
		srv.CloseClientConnections()
		srv.Close()
	})
	return f, srv
}

func (f *fakeGatehouse) set(cred string, r verifyResponse) {
	f.mu.Lock()
	f.answers[cred] = r
	f.mu.Unlock()
}

func (f *fakeGatehouse) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeGatehouse) verify(w http.ResponseWriter, r *http.Request) {
	f.verifies.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+f.caller {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var in verifyRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, in)
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	out, ok := f.answers[in.Credential]
	if !ok {
		out = verifyResponse{Code: gatehouse.CodeUnknown, Scopes: []string{}}
	}
	if out.Valid && in.Resource != "" && !strings.Contains(" "+strings.Join(out.Scopes, " ")+" ", " "+in.Resource+" ") {
		out.Valid, out.Code = false, gatehouse.CodeInsufficientScope
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (f *fakeGatehouse) events(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.caller || r.Header.Get("Accept") != "text/event-stream" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ch := make(chan string, 16)
	f.mu.Lock()
	f.streams = append(f.streams, ch)
	f.mu.Unlock()
	f.connects.Add(1)
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, "event: ready\ndata: {}\n\n")
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	}
}

// send writes raw event text to every open stream.
func (f *fakeGatehouse) send(ev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.streams {
		ch <- ev
	}
}

func (f *fakeGatehouse) invalidate(cred string) {
	h := sha256.Sum256([]byte(cred))
	f.send(fmt.Sprintf("event: invalidate\ndata: {\"hash\":%q}\n\n", hex.EncodeToString(h[:])))
}

// disconnect ends every open stream.
func (f *fakeGatehouse) disconnect() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.streams {
		close(ch)
	}
	f.streams = nil
}

// newClock is the tests' clock, stopped at a fixed time.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

func newVerifier(t *testing.T, srv *httptest.Server, c *testclock.Clock, cfg Config) *Verifier {
	t.Helper()
	cfg.Endpoint, cfg.Token = srv.URL, "caller-token"
	if c != nil {
		cfg.Now = c.Now
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func valid(scopes ...string) verifyResponse {
	return verifyResponse{Valid: true, Code: gatehouse.CodeValid, Tenant: "acme", Subject: "usr_1", Kind: "pat", Scopes: scopes}
}

// serve runs h (protected) for a request with the given headers and
// returns status, body and WWW-Authenticate.
func serve(h http.Handler, remote string, hdr map[string]string) (int, string, string) {
	r := httptest.NewRequest("GET", "/rest/V1/products/1", nil)
	if remote != "" {
		r.RemoteAddr = remote
	}
	for k, v := range hdr {
		r.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String()), w.Header().Get("WWW-Authenticate")
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, found := PrincipalFrom(r.Context())
	if !found {
		http.Error(w, "no principal", 500)
		return
	}
	fmt.Fprintf(w, "%s %s %s %v", p.Tenant, p.Subject, p.Kind, p.Scopes)
})

func TestRequire(t *testing.T) {
	f, srv := newFake(t)
	f.set("good", valid("catalog.products", "sales"))
	f.set("revoked", verifyResponse{Code: gatehouse.CodeRevoked, Tenant: "acme", Subject: "usr_1", Kind: "pat", Scopes: []string{}})
	f.set("elsewhere", verifyResponse{Code: gatehouse.CodeIPNotAllowed, Tenant: "acme", Subject: "usr_1", Kind: "staff", Scopes: []string{}})
	v := newVerifier(t, srv, nil, Config{})
	h := v.Require("catalog.products")(ok)

	tests := []struct {
		name      string
		hdr       map[string]string
		status    int
		body      string // substring
		challenge string // substring; "" = none expected
	}{
		{"valid bearer", map[string]string{"Authorization": "Bearer good"}, 200, "acme usr_1 pat [catalog.products sales]", ""},
		{"valid api key", map[string]string{"X-Api-Key": "good"}, 200, "acme usr_1 pat", ""},
		{"bearer scheme is case-insensitive", map[string]string{"Authorization": "bearer good"}, 200, "acme", ""},
		{"missing", nil, 401, `"code":"MISSING"`, `Bearer realm="gatehouse"`},
		{"unknown", map[string]string{"Authorization": "Bearer nope"}, 401, `"code":"UNKNOWN"`, `error="invalid_token"`},
		{"revoked", map[string]string{"Authorization": "Bearer revoked"}, 401, `"code":"REVOKED"`, `error="invalid_token"`},
		{"ip", map[string]string{"Authorization": "Bearer elsewhere"}, 403, `"code":"IP_NOT_ALLOWED"`, `error="insufficient_scope"`},
		{"basic scheme", map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}, 401, `"code":"MALFORMED"`, `invalid_token`},
		{"oauth 1.0a", map[string]string{"Authorization": `OAuth oauth_token="x"`}, 401, `"code":"MALFORMED"`, `invalid_token`},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, 401, `"code":"MALFORMED"`, `invalid_token`},
		{"two transports", map[string]string{"Authorization": "Bearer good", "X-Api-Key": "good"}, 401, `"code":"MALFORMED"`, `invalid_token`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, ch := serve(h, "", tc.hdr)
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("got %d %s, want %d with %s", status, body, tc.status, tc.body)
			}
			if (tc.challenge == "") != (ch == "") || !strings.Contains(ch, tc.challenge) {
				t.Fatalf("WWW-Authenticate = %q, want %q", ch, tc.challenge)
			}
		})
	}

	t.Run("scope", func(t *testing.T) {
		status, body, ch := serve(v.Require("customers")(ok), "", map[string]string{"Authorization": "Bearer good"})
		if status != 403 || !strings.Contains(body, "INSUFFICIENT_SCOPE") || !strings.Contains(ch, `scope="customers"`) {
			t.Fatalf("got %d %s %q", status, body, ch)
		}
	})

	t.Run("question sent", func(t *testing.T) {
		f.mu.Lock()
		f.asked = nil
		f.mu.Unlock()
		serve(v.Require("sales")(ok), "[::ffff:203.0.113.9]:4000",
			map[string]string{"Authorization": "Bearer good", "X-Gatehouse-Client": "APIK-1"})
		f.mu.Lock()
		defer f.mu.Unlock()
		want := []verifyRequest{{Credential: "good", Resource: "sales", IP: "203.0.113.9", ClientID: "APIK-1"}}
		if d := cmp.Diff(want, f.asked); d != "" {
			t.Fatalf("asked (-want +got):\n%s", d)
		}
	})
}

func TestCacheTTLAndExpiry(t *testing.T) {
	f, srv := newFake(t)
	c := newClock()
	v := newVerifier(t, srv, c, Config{CacheTTL: 5 * time.Second})
	h := v.Require("catalog.products")(ok)
	bearer := map[string]string{"Authorization": "Bearer good"}

	f.set("good", valid("catalog.products"))
	for range 3 {
		if status, body, _ := serve(h, "", bearer); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	if n := f.verifies.Load(); n != 1 {
		t.Fatalf("3 calls asked Gatehouse %d times, want 1 (cached)", n)
	}
	// Another address is another question.
	serve(h, "198.51.100.1:1", bearer)
	if n := f.verifies.Load(); n != 2 {
		t.Fatalf("verifies = %d, want 2", n)
	}
	// Without the stream, the TTL is the limit.
	c.Advance(5 * time.Second)
	serve(h, "", bearer)
	if n := f.verifies.Load(); n != 3 {
		t.Fatalf("after the TTL: verifies = %d, want 3", n)
	}

	// A VALID answer is never used past the credential's expiry, even
	// within the TTL.
	exp := valid("catalog.products")
	at := c.Now().Add(2 * time.Second)
	exp.ExpiresAt = &at
	f.set("expiring", exp)
	bearerExp := map[string]string{"Authorization": "Bearer expiring"}
	serve(h, "", bearerExp)
	n := f.verifies.Load()
	c.Advance(1 * time.Second)
	serve(h, "", bearerExp)
	if f.verifies.Load() != n {
		t.Fatal("not cached before expiry")
	}
	f.set("expiring", verifyResponse{Code: gatehouse.CodeExpired, Tenant: "acme", Subject: "usr_1", Kind: "pat"})
	c.Advance(1 * time.Second)
	if status, body, _ := serve(h, "", bearerExp); status != 401 || !strings.Contains(body, "EXPIRED") {
		t.Fatalf("at expiry: %d %s, want 401 EXPIRED", status, body)
	}

	// UNKNOWN is remembered for a second only: a token created a moment
	// ago is not refused for the whole TTL.
	bearerNew := map[string]string{"Authorization": "Bearer new"}
	if status, _, _ := serve(h, "", bearerNew); status != 401 {
		t.Fatalf("unknown: %d", status)
	}
	f.set("new", valid("catalog.products"))
	c.Advance(NegativeTTL)
	if status, body, _ := serve(h, "", bearerNew); status != 200 {
		t.Fatalf("a second later: %d %s", status, body)
	}
}

func TestFailClosed(t *testing.T) {
	f, srv := newFake(t)
	c := newClock()
	v := newVerifier(t, srv, c, Config{})
	h := v.Require("catalog.products")(ok)
	f.set("good", valid("catalog.products"))
	f.set("other", valid("catalog.products"))
	serve(h, "", map[string]string{"Authorization": "Bearer good"})

	f.setDown(true)
	if status, body, _ := serve(h, "", map[string]string{"Authorization": "Bearer other"}); status != 503 || !strings.Contains(body, `"code":"unavailable"`) {
		t.Fatalf("Gatehouse down, not cached: %d %s, want 503", status, body)
	}
	if status, _, _ := serve(h, "", map[string]string{"Authorization": "Bearer good"}); status != 200 {
		t.Fatalf("Gatehouse down, cached: %d, want 200", status)
	}
	c.Advance(DefaultCacheTTL)
	if status, _, _ := serve(h, "", map[string]string{"Authorization": "Bearer good"}); status != 503 {
		t.Fatalf("Gatehouse down, cache entry past its TTL: %d, want 503", status)
	}

	srv.Close() // unreachable altogether
	if status, _, _ := serve(h, "", map[string]string{"Authorization": "Bearer good"}); status != 503 {
		t.Fatalf("Gatehouse unreachable: %d, want 503", status)
	}

	// A Verifier whose own token is refused says nothing is valid.
	f2, srv2 := newFake(t)
	f2.set("good", valid("catalog.products"))
	bad, err := New(Config{Endpoint: srv2.URL, Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := serve(bad.Require("")(ok), "", map[string]string{"Authorization": "Bearer good"}); status != 503 {
		t.Fatalf("caller token refused: %d, want 503", status)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInvalidationStream(t *testing.T) {
	f, srv := newFake(t)
	c := newClock()
	v := newVerifier(t, srv, c, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
	waitFor(t, "the stream", v.Connected)

	h := v.Require("catalog.products")(ok)
	good := map[string]string{"Authorization": "Bearer good"}
	other := map[string]string{"Authorization": "Bearer other"}
	f.set("good", valid("catalog.products"))
	f.set("other", valid("catalog.products"))
	serve(h, "", good)
	serve(h, "", other)
	base := f.verifies.Load()

	// Connected: answers outlive the TTL, until an event drops them.
	c.Advance(time.Hour)
	serve(h, "", good)
	serve(h, "", other)
	if n := f.verifies.Load() - base; n != 0 {
		t.Fatalf("stream up: %d calls after the TTL, want 0", n)
	}

	// invalidate drops that credential only.
	f.set("good", verifyResponse{Code: gatehouse.CodeRevoked, Tenant: "acme", Subject: "usr_1", Kind: "pat"})
	f.invalidate("good")
	waitFor(t, "the revocation", func() bool {
		status, _, _ := serve(h, "", good)
		return status == 401
	})
	calls := f.verifies.Load()
	serve(h, "", other)
	if f.verifies.Load() != calls {
		t.Fatal("invalidating one credential dropped another")
	}

	// resync drops everything.
	f.set("other", verifyResponse{Code: gatehouse.CodeTenantDisabled, Tenant: "acme", Subject: "usr_2", Kind: "pat"})
	f.send("event: resync\ndata: {}\n\n")
	waitFor(t, "the resync", func() bool {
		status, _, _ := serve(h, "", other)
		return status == 403
	})

	// A lost stream: answers fall back to the TTL; the reconnection drops
	// everything.
	f.set("other", valid("catalog.products"))
	f.set("third", valid("catalog.products"))
	third := map[string]string{"Authorization": "Bearer third"}
	serve(h, "", third)
	connects := f.connects.Load()
	f.disconnect()
	waitFor(t, "the reconnection", func() bool { return f.connects.Load() > connects && v.Connected() })
	calls = f.verifies.Load()
	serve(h, "", third)
	if f.verifies.Load() != calls+1 {
		t.Fatal("the reconnection did not drop the cache")
	}

	// A garbled event is treated as a lost stream.
	f.send("event: invalidate\ndata: {\"hash\":\"zz\"}\n\n")
	waitFor(t, "the reconnection after a bad event", func() bool { return f.connects.Load() > connects+1 && v.Connected() })
}

func TestInvalidateLongHash(t *testing.T) {
	// A hash longer than a SHA-256 must not overrun the decoding buffer:
	// the event is refused (the stream is then treated as lost, and the
	// reconnection drops everything) and nothing is dropped here.
	v, err := New(Config{Endpoint: "https://gatehouse.internal", Token: "x"})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("good"))
	v.cache.put(&h, &cached{qkey: qkey{resource: "r"}}, func() bool { return true })
	gen := v.gen.Load()
	ready := true
	long := hex.EncodeToString(h[:]) + "ab" // 66 hex characters
	if err := v.dispatch("invalidate", `{"hash":"`+long+`"}`, &ready); err == nil {
		t.Fatal("a 66-character hash was accepted")
	}
	if v.gen.Load() != gen || v.cache.get(&h, qkey{resource: "r"}) == nil {
		t.Fatal("a refused event dropped answers")
	}
	if err := v.dispatch("invalidate", `{"hash":"`+hex.EncodeToString(h[:])+`"}`, &ready); err != nil {
		t.Fatal(err)
	}
	if v.cache.get(&h, qkey{resource: "r"}) != nil {
		t.Fatal("a good invalidate event did not drop the answer")
	}
}

func TestStreamDownTTL(t *testing.T) {
	// While the stream is down (here: never up), the TTL applies to every
	// answer, including ones fetched while an earlier connection was up.
	f, srv := newFake(t)
	c := newClock()
	v := newVerifier(t, srv, c, Config{CacheTTL: 2 * time.Second})
	f.set("good", valid())
	h := v.Require("")(ok)
	serve(h, "", map[string]string{"Authorization": "Bearer good"})
	c.Advance(time.Second)
	serve(h, "", map[string]string{"Authorization": "Bearer good"})
	if f.verifies.Load() != 1 {
		t.Fatal("not cached within the TTL")
	}
	c.Advance(time.Second)
	serve(h, "", map[string]string{"Authorization": "Bearer good"})
	if f.verifies.Load() != 2 {
		t.Fatal("served past the TTL without a stream")
	}
}

func TestCacheBounds(t *testing.T) {
	c := newCache(numShards * 2)
	ok := func() bool { return true }
	for i := range 1000 {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		c.put(&h, &cached{qkey: qkey{resource: "r"}}, ok)
	}
	if n := c.len(); n > numShards*2 {
		t.Fatalf("cache holds %d credentials, bound %d", n, numShards*2)
	}
	h := sha256.Sum256([]byte("many"))
	for i := range 100 {
		c.put(&h, &cached{qkey: qkey{ip: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}}, ok)
	}
	s := c.shard(&h)
	if n := len(s.m[h]); n != maxAnswersPerCredential {
		t.Fatalf("%d answers for one credential, want %d", n, maxAnswersPerCredential)
	}
	if c.get(&h, qkey{ip: netip.AddrFrom4([4]byte{10, 0, 0, 99})}) == nil || c.get(&h, qkey{ip: netip.AddrFrom4([4]byte{10, 0, 0, 0})}) != nil {
		t.Fatal("the newest answers should be kept")
	}
	// A put that lost a race with an event stores nothing.
	h2 := sha256.Sum256([]byte("raced"))
	c.put(&h2, &cached{}, func() bool { return false })
	if c.get(&h2, qkey{}) != nil {
		t.Fatal("stored despite an event")
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{
		{Endpoint: "", Token: "x"},
		{Endpoint: "gatehouse.internal", Token: "x"},
		{Endpoint: "ftp://gatehouse.internal", Token: "x"},
		{Endpoint: "https://gatehouse.internal"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	v, err := New(Config{Endpoint: "https://gatehouse.internal/", Token: "x", CacheTTL: -1})
	if err != nil || v.cache != nil || v.verifyURL != "https://gatehouse.internal/api/v1/verify" {
		t.Fatalf("New = %+v, %v", v, err)
	}
}

func BenchmarkVerifyHit(b *testing.B) {
	f, srv := newFake(b)
	f.set("gate_pat_0123456789abcdefghijklmnopqrstuv012345", valid("catalog.products"))
	v, _ := New(Config{Endpoint: srv.URL, Token: "caller-token"})
	q := Question{Credential: "gate_pat_0123456789abcdefghijklmnopqrstuv012345", Resource: "catalog.products",
		IP: netip.MustParseAddr("203.0.113.7")}
	if a, err := v.Verify(context.Background(), q); err != nil || !a.Valid() {
		b.Fatal(a, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		v.Verify(context.Background(), q)
	}
}
