package console_test

import (
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/console"
)

// storedSession is the row behind the browser's session cookie.
func (b *browser) storedSession() *gatehouse.Session {
	b.e.t.Helper()
	u, _ := url.Parse(b.e.srv.URL)
	for _, ck := range b.client.Jar.Cookies(u) {
		if ck.Name == console.SessionCookie {
			h := sha256.Sum256([]byte(ck.Value))
			s, err := b.e.store.FindSessionByHash(b.e.ctx, h[:])
			if err != nil {
				b.e.t.Fatalf("stored session: %v", err)
			}
			return s
		}
	}
	b.e.t.Fatal("no session cookie")
	return nil
}

// TestSessionIdleTimeout holds hole 17's idle timeout: 29 minutes without
// a request keep the session, 31 minutes end it (default 30 minutes).
func TestSessionIdleTimeout(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")

	e.clock.Advance(29 * time.Minute)
	wantStatus(t, b.get("/console/tokens"), http.StatusOK)
	// Activity counts from the last request, not from the login.
	e.clock.Advance(29 * time.Minute)
	wantStatus(t, b.get("/console/settings"), http.StatusOK)

	e.clock.Advance(31 * time.Minute)
	wantRedirect(t, b.get("/console/tokens"), "/console/login?next=%2Fconsole%2Ftokens")
	// The session is gone for good: the row was deleted.
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range b.client.Jar.Cookies(u) {
		if ck.Name == console.SessionCookie {
			h := sha256.Sum256([]byte(ck.Value))
			if _, err := e.store.FindSessionByHash(e.ctx, h[:]); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
				t.Errorf("idle session still stored: %v", err)
			}
		}
	}
}

// TestSessionAbsoluteLifetimeHolds checks that activity does not extend a
// session beyond its 12 hours.
func TestSessionAbsoluteLifetimeHolds(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	for elapsed := time.Duration(0); elapsed+20*time.Minute < console.SessionLifetime; elapsed += 20 * time.Minute {
		e.clock.Advance(20 * time.Minute)
		wantStatus(t, b.get("/console/tokens"), http.StatusOK)
	}
	e.clock.Advance(20 * time.Minute)
	wantStatus(t, b.get("/console/tokens"), http.StatusSeeOther)
}

// TestSessionLastSeenWrittenOncePerMinute checks that page views do not
// each cost a write: last_seen_at moves at most once a minute.
func TestSessionLastSeenWrittenOncePerMinute(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	start := b.storedSession().LastSeenAt
	if !start.Equal(e.clock.Now().Truncate(time.Microsecond)) {
		t.Fatalf("last seen at login = %v, want %v", start, e.clock.Now())
	}
	for range 5 {
		e.clock.Advance(10 * time.Second)
		wantStatus(t, b.get("/console/tokens"), http.StatusOK)
	}
	if got := b.storedSession().LastSeenAt; !got.Equal(start) {
		t.Fatalf("last seen moved within a minute: %v -> %v", start, got)
	}
	e.clock.Advance(15 * time.Second) // 65 s after login
	wantStatus(t, b.get("/console/tokens"), http.StatusOK)
	if got, want := b.storedSession().LastSeenAt, start.Add(65*time.Second); !got.Equal(want) {
		t.Fatalf("last seen after a minute = %v, want %v", got, want)
	}
}

// TestSessionIdleAcrossNodes checks that the idle timeout is stored: a
// request on one node keeps the session alive on another, and an idle
// session is over on every node.
func TestSessionIdleAcrossNodes(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	other, err := console.New(console.Config{Admin: e.admin, Store: e.store, Keys: e.keys, PublicURL: "http://gatehouse.test",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b2 := e.node(other).browser()
	u, _ := url.Parse(e.srv.URL)
	u2, _ := url.Parse(b2.e.srv.URL)
	b2.client.Jar.SetCookies(u2, b.client.Jar.Cookies(u))
	e.clock.Advance(20 * time.Minute)
	wantStatus(t, b.get("/console/tokens"), http.StatusOK)  // node 1
	e.clock.Advance(20 * time.Minute)                       // 40 min after login, 20 after the last request
	wantStatus(t, b2.get("/console/tokens"), http.StatusOK) // node 2 sees node 1's activity
	e.clock.Advance(31 * time.Minute)
	wantStatus(t, b2.get("/console/tokens"), http.StatusSeeOther)
}

// TestSessionIdleTimeoutConfigured checks Config.IdleTimeout.
func TestSessionIdleTimeoutConfigured(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	c, err := console.New(console.Config{Admin: e.admin, Store: e.store, Keys: e.keys, PublicURL: "http://gatehouse.test",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, IdleTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b := e.node(c).browser()
	b.login("owner@acme.test")
	e.clock.Advance(4 * time.Minute)
	wantStatus(t, b.get("/console/tokens"), http.StatusOK)
	e.clock.Advance(6 * time.Minute)
	wantStatus(t, b.get("/console/tokens"), http.StatusSeeOther)
}

// node is e with another console (a second node on the same database)
// behind its own server.
func (e *env) node(c *console.Console) *env {
	srv := httptest.NewServer(c)
	e.t.Cleanup(srv.Close)
	n := *e
	n.srv = srv
	return &n
}
