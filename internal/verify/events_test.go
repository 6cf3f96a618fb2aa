package verify

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

const eventsServiceToken = "operator-service-token-for-events"

// feed is the real store with a way to publish changes by hand: an empty
// Change (a node's resync) and bursts for the overflow test.
type feed struct {
	gatehouse.Store
	mu  sync.Mutex
	fns map[*func(gatehouse.Change)]bool
}

func (f *feed) Subscribe(fn func(gatehouse.Change)) func() {
	un := f.Store.Subscribe(fn)
	f.mu.Lock()
	if f.fns == nil {
		f.fns = map[*func(gatehouse.Change)]bool{}
	}
	p := &fn
	f.fns[p] = true
	f.mu.Unlock()
	return func() {
		un()
		f.mu.Lock()
		delete(f.fns, p)
		f.mu.Unlock()
	}
}

func (f *feed) Publish(c gatehouse.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fn := range f.fns {
		(*fn)(c)
	}
}

type eventsEnv struct {
	*verifytest.Env
	feed *feed
	h    *eventsHandler
	srv  *httptest.Server
}

func newEventsEnv(t *testing.T, opts HandlerOptions) *eventsEnv {
	e := verifytest.New(t)
	v := New(e.DB, e.Tree, Options{CacheTTL: time.Hour})
	t.Cleanup(func() { v.Close() })
	f := &feed{Store: e.DB}
	opts.ServiceToken = eventsServiceToken
	h := EventsHandler(v, f, opts).(*eventsHandler)
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/verify/events", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &eventsEnv{Env: e, feed: f, h: h, srv: srv}
}

// sse is a client reading one stream: every event or comment, in order.
type sse struct {
	resp   *http.Response
	cancel context.CancelFunc
	events chan string // "name data" for events, ": text" for comments; closed at EOF
}

func (ee *eventsEnv) connect(t *testing.T, token string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ee.srv.URL+"/api/v1/verify/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sse{resp: resp, cancel: cancel, events: make(chan string, 1024)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return s
	}
	go func() {
		defer close(s.events)
		br := bufio.NewReader(resp.Body)
		var name, data string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if name != "" {
					s.events <- name + " " + data
				}
				name, data = "", ""
			case strings.HasPrefix(line, ":"):
				s.events <- line
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

// next returns the next event, failing after within.
func (s *sse) next(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			return "EOF"
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
		return ""
	}
}

func invalidateEvent(tok string) string {
	h := secret.Hash(tok)
	return `invalidate {"hash":"` + hex.EncodeToString(h[:]) + `"}`
}

func TestEventsAuth(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{})
	noVerify, _ := ee.Credential(verifytest.Cred{Tenant: ee.Acme, User: ee.Alice})
	revoked, _ := ee.Credential(verifytest.Cred{Tenant: ee.Acme, User: ee.Alice, Scopes: []string{"verify"}, Revoked: true})
	for _, tt := range []struct {
		name, method, auth string
		want               int
	}{
		{"no token", "GET", "", http.StatusUnauthorized},
		{"other scheme", "GET", "Basic Zm9vOmJhcg==", http.StatusUnauthorized},
		{"unknown token", "GET", "Bearer " + secret.NewToken(gatehouse.KindPAT), http.StatusUnauthorized},
		{"revoked token", "GET", "Bearer " + revoked, http.StatusUnauthorized},
		{"token without verify", "GET", "Bearer " + noVerify, http.StatusForbidden},
		{"POST", "POST", "Bearer " + eventsServiceToken, http.StatusMethodNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ee.srv.URL+"/api/v1/verify/events", nil)
			if tt.method == "POST" {
				// The route is GET-only in the server; call the handler's
				// own check through a catch-all.
				rec := httptest.NewRecorder()
				ee.h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/verify/events", nil))
				if rec.Code != tt.want {
					t.Fatalf("status = %d, want %d", rec.Code, tt.want)
				}
				return
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a challenge")
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("error Content-Type = %q", ct)
			}
		})
	}
}

func TestEventsRevocationWithinASecond(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{})
	tok, c := ee.Credential(verifytest.Cred{Tenant: ee.Acme, User: ee.Alice})
	s := ee.connect(t, eventsServiceToken)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", s.resp.StatusCode)
	}
	if ct, cc := s.resp.Header.Get("Content-Type"), s.resp.Header.Get("Cache-Control"); ct != "text/event-stream" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	if ev := s.next(t, time.Second); ev != "ready {}" {
		t.Fatalf("first event = %q, want ready", ev)
	}
	start := time.Now()
	if err := ee.DB.RevokeCredential(context.Background(), ee.Acme.ID, c.ID, ee.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t, time.Second); ev != invalidateEvent(tok) {
		t.Fatalf("event = %q, want %q", ev, invalidateEvent(tok))
	}
	t.Logf("revocation reached the stream in %v", time.Since(start))
	// A tenant-wide change is a resync; so is an empty Change.
	ee.SetSettings(ee.Globex, gatehouse.Settings{RequireClientHeader: false})
	if ev := s.next(t, time.Second); ev != "resync {}" {
		t.Fatalf("settings change: %q, want resync", ev)
	}
	ee.feed.Publish(gatehouse.Change{})
	if ev := s.next(t, time.Second); ev != "resync {}" {
		t.Fatalf("empty change: %q, want resync", ev)
	}
}

func TestEventsTenantIsolation(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{})
	caller, _ := ee.Credential(verifytest.Cred{Tenant: ee.Acme, User: ee.Alice, Scopes: []string{"verify"}})
	acmeTok, acme := ee.Credential(verifytest.Cred{Tenant: ee.Acme, User: ee.Alice})
	globexTok, globex := ee.Credential(verifytest.Cred{Tenant: ee.Globex, User: ee.Bob})
	s := ee.connect(t, caller)
	all := ee.connect(t, eventsServiceToken)
	for _, st := range []*sse{s, all} {
		if ev := st.next(t, time.Second); ev != "ready {}" {
			t.Fatalf("first event = %q", ev)
		}
	}
	ctx := context.Background()
	if err := ee.DB.RevokeCredential(ctx, ee.Globex.ID, globex.ID, ee.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	ee.SetSettings(ee.Globex, gatehouse.Settings{}) // globex-wide: not acme's business
	ee.feed.Publish(gatehouse.Change{Hash: secret.HashBytes(globexTok)})
	if err := ee.DB.RevokeCredential(ctx, ee.Acme.ID, acme.ID, ee.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	// The acme caller sees nothing of globex: its next events are the
	// resync for a credential of unknown tenant, then acme's revocation.
	if ev := s.next(t, time.Second); ev != "resync {}" {
		t.Fatalf("tenant-scoped caller, hash of unknown tenant: %q, want resync", ev)
	}
	if ev := s.next(t, time.Second); ev != invalidateEvent(acmeTok) {
		t.Fatalf("tenant-scoped caller got %q, want acme's invalidation", ev)
	}
	// The service token sees everything, in order.
	for _, want := range []string{invalidateEvent(globexTok), "resync {}", invalidateEvent(globexTok), invalidateEvent(acmeTok)} {
		if ev := all.next(t, time.Second); ev != want {
			t.Fatalf("service stream: %q, want %q", ev, want)
		}
	}
	// An empty Change reaches tenant-scoped callers too.
	ee.feed.Publish(gatehouse.Change{})
	if ev := s.next(t, time.Second); ev != "resync {}" {
		t.Fatalf("empty change: %q, want resync", ev)
	}
}

func TestEventsCallerRevokedEndsStream(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{})
	caller, c := ee.Credential(verifytest.Cred{Tenant: ee.Acme, User: ee.Alice, Scopes: []string{"verify"}})
	s := ee.connect(t, caller)
	if ev := s.next(t, time.Second); ev != "ready {}" {
		t.Fatalf("first event = %q", ev)
	}
	if err := ee.DB.RevokeCredential(context.Background(), ee.Acme.ID, c.ID, ee.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t, time.Second); ev != invalidateEvent(caller) {
		t.Fatalf("event = %q", ev)
	}
	if ev := s.next(t, time.Second); ev != "EOF" {
		t.Fatalf("after the caller's own revocation: %q, want the stream to end", ev)
	}
}

func TestEventsOverflowSendsResync(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{EventBuffer: 4})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ee.h.hookEvent = func() {
		once.Do(func() {
			close(entered)
			<-release // the writer is stuck: the buffer fills
		})
	}
	s := ee.connect(t, eventsServiceToken)
	if ev := s.next(t, time.Second); ev != "ready {}" {
		t.Fatalf("first event = %q", ev)
	}
	first := secret.NewToken(gatehouse.KindPAT)
	ee.feed.Publish(gatehouse.Change{TenantID: ee.Acme.ID, Hash: secret.HashBytes(first)})
	<-entered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			ee.feed.Publish(gatehouse.Change{TenantID: ee.Acme.ID, Hash: secret.HashBytes(secret.NewToken(gatehouse.KindPAT))})
		}
	}()
	select {
	case <-done: // the publisher never waited for the stuck client
	case <-time.After(time.Second):
		t.Fatal("Publish blocked on a slow stream")
	}
	close(release)
	if ev := s.next(t, time.Second); ev != invalidateEvent(first) {
		t.Fatalf("event = %q", ev)
	}
	if ev := s.next(t, time.Second); ev != "resync {}" {
		t.Fatalf("after the overflow: %q, want resync", ev)
	}
	// Nothing of the dropped events follows, and the stream goes on.
	last := secret.NewToken(gatehouse.KindPAT)
	ee.feed.Publish(gatehouse.Change{TenantID: ee.Acme.ID, Hash: secret.HashBytes(last)})
	if ev := s.next(t, time.Second); ev != invalidateEvent(last) {
		t.Fatalf("after the resync: %q", ev)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{Heartbeat: 20 * time.Millisecond})
	s := ee.connect(t, eventsServiceToken)
	if ev := s.next(t, time.Second); ev != "ready {}" {
		t.Fatalf("first event = %q", ev)
	}
	if ev := s.next(t, time.Second); ev != ": ping" {
		t.Fatalf("idle stream sent %q, want a ping comment", ev)
	}
}

func TestEventsEndOnShutdownAndDisconnect(t *testing.T) {
	ee := newEventsEnv(t, HandlerOptions{})
	gone := ee.connect(t, eventsServiceToken)
	if ev := gone.next(t, time.Second); ev != "ready {}" {
		t.Fatalf("first event = %q", ev)
	}
	gone.cancel() // the client goes away: the server unsubscribes
	deadline := time.Now().Add(time.Second)
	for {
		ee.h.mu.Lock()
		n := len(ee.h.streams)
		ee.h.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream still registered after its client left")
		}
		time.Sleep(5 * time.Millisecond)
	}

	s := ee.connect(t, eventsServiceToken)
	if ev := s.next(t, time.Second); ev != "ready {}" {
		t.Fatalf("first event = %q", ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := ee.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (an open stream must not hold it up)", err)
	}
	if ev := s.next(t, time.Second); ev != "EOF" {
		t.Fatalf("after shutdown: %q, want the stream to end", ev)
	}
	t.Logf("shutdown with an open stream took %v", time.Since(start))
}
