package oauth2_test

import (
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
)

// TestRefresh covers the refresh_token grant: non-rotating confidential
// tokens, narrowing and widening, rotation with reuse detection and its
// grace, and the enhanced-security window.
func TestRefresh(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog", "sales"})
		pub, _ := e.app(e.owner, false, []string{"catalog", "sales"})
		verifier, challenge := pkce("r5")
		grant := func(c *gatehouse.Client, sec, scope string) (at, rt string) {
			t.Helper()
			return wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, scope, challenge), verifier))
		}

		t.Run("confidential tokens do not rotate", func(t *testing.T) {
			_, rt := grant(c, sec, "catalog sales")
			for range 3 {
				a := e.refresh(c, sec, rt, "")
				at, next := wantTokens(t, a)
				if next != "" {
					t.Fatalf("refresh_token in a confidential refresh: %s", a.Raw)
				}
				if a.str("scope") != "catalog sales" {
					t.Fatalf("scope %q", a.str("scope"))
				}
				e.wantCode(at, c.ID, gatehouse.CodeValid)
			}
		})
		t.Run("scope narrows, never widens", func(t *testing.T) {
			_, rt := grant(c, sec, "catalog")
			a := e.refresh(c, sec, rt, "catalog.products")
			at, _ := wantTokens(t, a)
			if a.str("scope") != "catalog.products" {
				t.Fatalf("scope %q", a.str("scope"))
			}
			if res, _ := e.v.Verify(e.ctx, verifyReq(at, c.ID, "catalog.categories")); res.Code != gatehouse.CodeInsufficientScope {
				t.Fatalf("narrowed token: %s", res.Code)
			}
			wantError(t, e.refresh(c, sec, rt, "catalog sales"), 400, "invalid_scope")
			wantError(t, e.refresh(c, sec, rt, "all"), 400, "invalid_scope")
			wantError(t, e.refresh(c, sec, rt, "nosuch"), 400, "invalid_scope")
			// The refusal changed nothing: the full scope still works.
			a = e.refresh(c, sec, rt, "")
			wantTokens(t, a)
			if a.str("scope") != "catalog" {
				t.Fatalf("scope %q", a.str("scope"))
			}
		})
		t.Run("refresh token of another client", func(t *testing.T) {
			other, osec := e.app(e.owner, true, []string{"catalog"})
			_, rt := grant(c, sec, "catalog")
			wantError(t, e.refresh(other, osec, rt, ""), 400, "invalid_grant")
			wantError(t, e.refresh(other, osec, "gate_rt_nonsense", ""), 400, "invalid_grant")
		})
		t.Run("access token as refresh token", func(t *testing.T) {
			at, _ := grant(c, sec, "catalog")
			wantError(t, e.refresh(c, sec, at, ""), 400, "invalid_grant")
		})
		t.Run("public tokens rotate", func(t *testing.T) {
			_, rt1 := grant(pub, "", "catalog")
			at2, rt2 := wantTokens(t, e.refresh(pub, "", rt1, ""))
			if rt2 == "" || rt2 == rt1 {
				t.Fatal("no rotation")
			}
			at3, rt3 := wantTokens(t, e.refresh(pub, "", rt2, ""))
			e.wantCode(at2, pub.ID, gatehouse.CodeValid)
			e.wantCode(at3, pub.ID, gatehouse.CodeValid)
			if rt3 == rt2 {
				t.Fatal("no rotation")
			}
		})
		t.Run("reused rotated refresh token revokes the grant", func(t *testing.T) {
			at1, rt1 := grant(pub, "", "catalog")
			at2, rt2 := wantTokens(t, e.refresh(pub, "", rt1, ""))
			e.clock.Advance(provider.RotationGrace + time.Second)
			wantError(t, e.refresh(pub, "", rt1, ""), 400, "invalid_grant")
			for _, at := range []string{at1, at2} {
				e.wantCode(at, pub.ID, gatehouse.CodeRevoked)
			}
			wantError(t, e.refresh(pub, "", rt2, ""), 400, "invalid_grant")
		})
		t.Run("grace reuse works once", func(t *testing.T) {
			_, rt1 := grant(pub, "", "catalog")
			at2, rt2 := wantTokens(t, e.refresh(pub, "", rt1, ""))
			e.clock.Advance(10 * time.Second)
			// The response was lost: the client retries with rt1.
			at3, rt3 := wantTokens(t, e.refresh(pub, "", rt1, ""))
			if rt3 == rt2 || at3 == at2 {
				t.Fatal("grace reuse returned the earlier pair")
			}
			e.wantCode(at2, pub.ID, gatehouse.CodeValid)
			e.wantCode(at3, pub.ID, gatehouse.CodeValid)
			// The new successor replaced the lost one: one live refresh
			// token in the grant.
			for tok, active := range map[string]bool{rt2: false, rt3: true} {
				if in := e.post("/oauth2/introspect", url.Values{"token": {tok}}, c.ID, sec); in.Body["active"] != active {
					t.Fatalf("introspect successor: %s, want active %v", in.Raw, active)
				}
			}
			at4, _ := wantTokens(t, e.refresh(pub, "", rt3, ""))
			// A second reuse, still within the grace: the grant goes.
			wantError(t, e.refresh(pub, "", rt1, ""), 400, "invalid_grant")
			for _, at := range []string{at2, at3, at4} {
				e.wantCode(at, pub.ID, gatehouse.CodeRevoked)
			}
			wantError(t, e.refresh(pub, "", rt2, ""), 400, "invalid_grant")
		})
		t.Run("revoked refresh token", func(t *testing.T) {
			_, rt := grant(c, sec, "catalog")
			if a := e.post("/oauth2/revoke", url.Values{"token": {rt}}, c.ID, sec); a.Status != 200 {
				t.Fatalf("revoke: %d %s", a.Status, a.Raw)
			}
			wantError(t, e.refresh(c, sec, rt, ""), 400, "invalid_grant")
		})
	})
}

// TestRefreshEnhancedSecurity checks the 30-day window of enhanced
// security, also for tokens issued before the switch, and that rotation
// does not extend it.
func TestRefreshEnhancedSecurity(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog"})
		pub, _ := e.app(e.owner, false, []string{"catalog"})
		verifier, challenge := pkce("es")
		_, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))
		_, prt := wantTokens(t, e.exchange(pub, "", e.code(pub, e.owner.UserID, "catalog", challenge), verifier))

		e.clock.Advance(29 * 24 * time.Hour)
		wantTokens(t, e.refresh(c, sec, rt, "")) // no limit while the switch is off
		_, prt = wantTokens(t, e.refresh(pub, "", prt, ""))

		s, err := e.admin.Settings(e.ctx, e.owner)
		if err != nil {
			t.Fatal(err)
		}
		s.EnhancedSecurity = true
		if err := e.admin.UpdateSettings(e.ctx, e.owner, s); err != nil {
			t.Fatal(err)
		}
		wantTokens(t, e.refresh(c, sec, rt, "")) // day 29: still inside
		_, prt = wantTokens(t, e.refresh(pub, "", prt, ""))

		e.clock.Advance(24*time.Hour + time.Second)
		wantError(t, e.refresh(c, sec, rt, ""), 400, "invalid_grant")
		// The public client rotated on day 29, yet its window runs from
		// the authorization.
		wantError(t, e.refresh(pub, "", prt, ""), 400, "invalid_grant")

		s.EnhancedSecurity = false
		if err := e.admin.UpdateSettings(e.ctx, e.owner, s); err != nil {
			t.Fatal(err)
		}
		wantTokens(t, e.refresh(c, sec, rt, "")) // off again: no expiry
	})
}

// TestParallelRefresh sends n refreshes of one public client's refresh
// token at once (issue 11 hole 9), through a PostgreSQL pool smaller than
// n: every one answers, and afterwards exactly one refresh token of the
// grant is live — the successor some answer carried — and it works.
func TestParallelRefresh(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.store.SetPoolSize(poolSize)
		pub, _ := e.app(e.owner, false, []string{"catalog"})
		prober, psec := e.app(e.owner, true, []string{"catalog"}) // introspects for the tenant
		verifier, challenge := pkce("pr")
		for _, n := range []int{2, 3, 8, 12} {
			_, rt := wantTokens(t, e.exchange(pub, "", e.code(pub, e.owner.UserID, "catalog", challenge), verifier))
			answers := make([]answer, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					answers[i] = e.refresh(pub, "", rt, "")
				})
			}
			close(start)
			wg.Wait()
			var live []string
			for i, a := range answers {
				if a.Status != 200 {
					t.Errorf("n=%d: refresh %d: %d %s", n, i, a.Status, a.Raw)
					continue
				}
				// A refresh token is live when it can be refreshed; probe
				// by introspection, which does not use it up.
				next := a.str("refresh_token")
				in := e.post("/oauth2/introspect", url.Values{"token": {next}}, prober.ID, psec)
				if in.Body["active"] == true {
					live = append(live, next)
				}
			}
			if len(live) != 1 {
				t.Fatalf("n=%d: %d live successors, want exactly 1", n, len(live))
			}
			at, _ := wantTokens(t, e.refresh(pub, "", live[0], ""))
			e.wantCode(at, pub.ID, gatehouse.CodeValid)
		}
	})
}
