package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// prune runs batches of kind at cutoff until one deletes nothing, checks
// that none deleted more than limit, and returns the total.
func prune(t *testing.T, s gatehouse.Store, kind gatehouse.PruneKind, cutoff time.Time, limit int) int {
	t.Helper()
	total := 0
	for range 1000 {
		n, err := s.PruneBatch(t.Context(), kind, cutoff, limit)
		must(t, err, "prune "+string(kind))
		if n > limit {
			t.Fatalf("prune %s: a batch of limit %d deleted %d", kind, limit, n)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	t.Fatalf("prune %s: never done", kind)
	return 0
}

// wantPruned fails t unless draining kind at cutoff deletes want rows.
func wantPruned(t *testing.T, s gatehouse.Store, kind gatehouse.PruneKind, cutoff time.Time, want int) {
	t.Helper()
	if got := prune(t, s, kind, cutoff, 2); got != want {
		t.Fatalf("prune %s at %v: deleted %d rows, want %d", kind, cutoff, got, want)
	}
}

// testPrune checks that each PruneKind deletes its dead rows in bounded
// batches and nothing else: every case stores a dead row and a live one,
// prunes at a cutoff between them (the dead one goes), then at a cutoff
// past both (the live one was kept until then).
func testPrune(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newCodeFixture(t, s) // tenant acme
	tn := newTenant(t, s, "prune")
	later := base.Add(1000 * time.Hour)

	t.Run("batches are bounded", func(t *testing.T) {
		for range 5 {
			f.code(func(c *gatehouse.AuthCode) { c.ExpiresAt = base.Add(-time.Second) })
		}
		f.code(func(c *gatehouse.AuthCode) { c.ExpiresAt = base.Add(time.Minute) })
		for i, want := range []int{2, 2, 1, 0} {
			n, err := s.PruneBatch(ctx, gatehouse.PruneCodes, base, 2)
			must(t, err, "prune codes")
			if n != want {
				t.Fatalf("batch %d deleted %d codes, want %d", i, n, want)
			}
		}
		wantPruned(t, s, gatehouse.PruneCodes, base.Add(time.Minute+time.Microsecond), 1)
		_, err := s.PruneBatch(ctx, gatehouse.PruneCodes, base, 0)
		wantCode(t, err, gatehouse.EINVALID, "batch limit 0")
		_, err = s.PruneBatch(ctx, "nonsense", base, 1)
		wantCode(t, err, gatehouse.EINVALID, "unknown kind")
	})
	t.Run("used codes stay until they expire", func(t *testing.T) {
		c := f.code(func(c *gatehouse.AuthCode) { c.ExpiresAt = base.Add(time.Minute) })
		_, err := s.RedeemAuthCode(ctx, f.redemption(c, base))
		must(t, err, "redeem")
		wantPruned(t, s, gatehouse.PruneCodes, base.Add(time.Minute), 0)
		// RFC 6749 §4.1.2: a replay before the prune still revokes.
		_, err = s.RedeemAuthCode(ctx, f.redemption(c, base.Add(time.Second)))
		wantCode(t, err, gatehouse.ECONFLICT, "replay")
		wantPruned(t, s, gatehouse.PruneCodes, base.Add(time.Minute+time.Microsecond), 1)
	})
	t.Run("device authorizations", func(t *testing.T) {
		df := deviceFixture{f}
		dead := df.request(func(d *gatehouse.DeviceAuthorization) { d.ExpiresAt = base.Add(-time.Second) })
		live := df.request(func(d *gatehouse.DeviceAuthorization) { d.ExpiresAt = base.Add(time.Minute) })
		df.approve(live, base.Add(-2*time.Second))
		_, err := s.PollDeviceAuthorization(ctx, df.poll(live, base))
		must(t, err, "poll")
		wantPruned(t, s, gatehouse.PruneDeviceAuthorizations, base, 1)
		_, err = s.PollDeviceAuthorization(ctx, df.poll(dead, base))
		wantCode(t, err, gatehouse.ENOTFOUND, "poll a pruned request")
		// A used request stays until it expires: its replay is ECONFLICT.
		_, err = s.PollDeviceAuthorization(ctx, df.poll(live, base.Add(time.Second)))
		wantCode(t, err, gatehouse.ECONFLICT, "replay before the prune")
		wantPruned(t, s, gatehouse.PruneDeviceAuthorizations, base.Add(time.Minute+time.Microsecond), 1)
	})
	t.Run("marks", func(t *testing.T) {
		must(t, s.ConsumeOnce(ctx, "prune", "dead", base.Add(-2*time.Minute), base.Add(-time.Minute)), "consume dead")
		must(t, s.ConsumeOnce(ctx, "prune", "live", base, base.Add(time.Minute)), "consume live")
		wantPruned(t, s, gatehouse.PruneMarks, base, 1)
		// The live mark still refuses its key.
		wantCode(t, s.ConsumeOnce(ctx, "prune", "live", base, base.Add(time.Minute)), gatehouse.ECONFLICT, "live mark after prune")
		wantPruned(t, s, gatehouse.PruneMarks, base.Add(time.Minute+time.Microsecond), 1)
	})
	t.Run("request tokens", func(t *testing.T) {
		i := newIntegration(t, s, tn.ID, nil)
		dead := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(),
			ExpiresAt: base.Add(-time.Second), CreatedAt: base.Add(-time.Hour)}
		live := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(),
			ExpiresAt: base.Add(time.Hour), CreatedAt: base}
		must(t, s.CreateRequestToken(ctx, dead), "create dead request token")
		must(t, s.CreateRequestToken(ctx, live), "create live request token")
		wantPruned(t, s, gatehouse.PruneRequestTokens, base, 1)
		_, err := s.FindRequestToken(ctx, dead.Hash)
		wantCode(t, err, gatehouse.ENOTFOUND, "pruned request token")
		_, err = s.FindRequestToken(ctx, live.Hash)
		must(t, err, "live request token after prune")
	})
	t.Run("sessions", func(t *testing.T) {
		u := newUser(t, s, "sessions@example.com")
		session := func(expires, seen time.Time) *gatehouse.Session {
			ss := &gatehouse.Session{Hash: randomHash(), UserID: u.ID, CSRFKey: randomHash(),
				CreatedAt: base.Add(-3 * time.Hour), ExpiresAt: expires, LastSeenAt: seen}
			must(t, s.CreateSession(ctx, ss), "create session")
			return ss
		}
		expired := session(base.Add(-time.Second), base.Add(-time.Minute))
		idle := session(base.Add(10*time.Hour), base.Add(-2*time.Hour))
		live := session(base.Add(10*time.Hour), base)
		wantPruned(t, s, gatehouse.PruneSessions, base, 1)
		wantPruned(t, s, gatehouse.PruneIdleSessions, base.Add(-time.Hour), 1)
		for _, c := range []struct {
			ss   *gatehouse.Session
			gone bool
		}{{expired, true}, {idle, true}, {live, false}} {
			_, err := s.FindSessionByHash(ctx, c.ss.Hash)
			if c.gone {
				wantCode(t, err, gatehouse.ENOTFOUND, "pruned session")
			} else {
				must(t, err, "live session after prune")
			}
		}
	})
	t.Run("access tokens, not other kinds", func(t *testing.T) {
		past := base.Add(-time.Second)
		dead := oauthToken(t, s, tn.ID, "APIK-X", "", "", gatehouse.KindOAuth2Access)
		pat := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) { c.ExpiresAt = &past })
		// Stored with an expiry after creation: the suite's helper has none.
		exp := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) {
			c.Kind, c.ClientID, c.Name, c.ExpiresAt = gatehouse.KindOAuth2Access, "APIK-X", "", &past
		})
		wantPruned(t, s, gatehouse.PruneAccessTokens, base, 1)
		_, err := s.FindCredential(ctx, tn.ID, exp.ID)
		wantCode(t, err, gatehouse.ENOTFOUND, "pruned access token")
		for _, c := range []*gatehouse.Credential{dead, pat} {
			_, err := s.FindCredential(ctx, tn.ID, c.ID)
			must(t, err, "credential kept: "+string(c.Kind))
		}
	})
	t.Run("rotated refresh tokens live as long as their grant", func(t *testing.T) {
		a := newTenant(t, s, "bolt")
		u := newUser(t, s, "bo@example.com")
		newMember(t, s, a.ID, u.ID, gatehouse.RoleAdmin)
		app := newClient(t, s, a.ID, "APIK-PUB", func(c *gatehouse.Client) { c.Confidential = false })
		must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: a.ID, UserID: u.ID, ClientID: app.ID, Scopes: []string{"catalog"}}), "save consent")
		rts := map[string]*gatehouse.Credential{}
		for _, g := range []string{"g-live", "g-reused"} {
			rt := oauthToken(t, s, a.ID, app.ID, u.ID, g, gatehouse.KindOAuth2Refresh)
			rts[g] = rt
			must(t, s.RotateRefreshToken(ctx, rotation(rt, base)), "rotate "+g)
		}
		// Long after the grace, the rotated tokens are still kept: their
		// grants each have a live successor.
		wantPruned(t, s, gatehouse.PruneRefreshTokens, later, 0)
		// Security: so a reuse is still detected, and revokes the grant.
		wantCode(t, s.RotateRefreshToken(ctx, rotation(rts["g-reused"], base.Add(time.Hour))), gatehouse.ECONFLICT, "reuse")
		assertNoneLive(t, s, a.ID, func(c *gatehouse.Credential) bool { return c.GrantID == "g-reused" }, "reused grant")
		// The reused grant is over: its rotated token and its revoked
		// successor go; the live grant keeps both of its.
		wantPruned(t, s, gatehouse.PruneRefreshTokens, later, 2)
		if live := liveRefresh(t, s, a.ID, "g-live"); len(live) != 1 {
			t.Fatalf("live grant's refresh tokens after prune: %v", live)
		}
		_, err := s.FindCredential(ctx, a.ID, rts["g-live"].ID)
		must(t, err, "rotated token of the live grant")
		// The revoked grant's row goes once its access token has.
		wantPruned(t, s, gatehouse.PruneGrants, later, 0)
		wantPruned(t, s, gatehouse.PruneAccessTokens, later, 2) // one per rotation
		wantPruned(t, s, gatehouse.PruneGrants, later, 1)
		// The live grant still rotates.
		live := liveRefresh(t, s, a.ID, "g-live")
		must(t, s.RotateRefreshToken(ctx, rotation(live[0], later)), "rotate the live grant")
	})
	t.Run("deliveries, notifications and audit events by age", func(t *testing.T) {
		i := newIntegration(t, s, tn.ID, nil)
		for _, at := range []time.Time{base.Add(-40 * 24 * time.Hour), base} {
			must(t, s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: i.ID, Time: at, URL: "https://erp.example.com/cb"}), "add delivery")
			must(t, s.AddNotification(ctx, &gatehouse.Notification{TenantID: tn.ID, Message: "hello", CreatedAt: at}), "add notification")
			must(t, s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: tn.ID, Time: at, Actor: "op", Action: "prune.test"}), "append audit")
		}
		cutoff := base.Add(-30 * 24 * time.Hour)
		for _, k := range []gatehouse.PruneKind{gatehouse.PruneDeliveries, gatehouse.PruneNotifications, gatehouse.PruneAudit} {
			wantPruned(t, s, k, cutoff, 1)
		}
		ds, err := s.ListDeliveries(ctx, tn.ID, i.ID, gatehouse.PageQuery{Limit: 10})
		must(t, err, "list deliveries")
		ns, err := s.ListNotifications(ctx, tn.ID, false, 10)
		must(t, err, "list notifications")
		if len(ds) != 1 || !ds[0].Time.Equal(base) || len(ns) != 1 || !ns[0].CreatedAt.Equal(base) {
			t.Fatalf("after prune: deliveries %v, notifications %v; want the recent one of each", ds, ns)
		}
	})
}
