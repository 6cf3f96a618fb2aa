package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The pool cases (issue 12): each single-use or multi-row operation runs
// poolSize+8 distinct operations at once plus poolSize+8 racing on one
// object, with the store's connection pool set to poolSize (when the store
// has one to set), so a method that holds a connection while it waits for
// another, or for a lock only its own completion frees, shows as a hang.
// Exactly the right number succeed, and none may wait past poolDeadline.

const (
	poolSize     = 4
	poolDeadline = 10 * time.Second
)

// smallPool sets s's pool to poolSize and returns a context that ends
// after poolDeadline and the number of operations of each half of a case.
func smallPool(t *testing.T, s gatehouse.Store) (context.Context, int) {
	t.Helper()
	if p, ok := s.(interface{ SetPoolSize(n int) }); ok {
		p.SetPoolSize(poolSize)
	}
	ctx, cancel := context.WithTimeout(t.Context(), poolDeadline)
	t.Cleanup(cancel)
	return ctx, poolSize + 8
}

// overPool runs distinct(i) and racing(i) for i < n, all 2n at once, and
// fails t when any of them waited past ctx's deadline.
func overPool(t *testing.T, ctx context.Context, n int, distinct, racing func(i int) error) (d, r []error) {
	t.Helper()
	start := time.Now()
	errs := race(2*n, func(i int) error {
		if i < n {
			return distinct(i)
		}
		return racing(i - n)
	})
	if ctx.Err() != nil {
		t.Fatalf("operations still waiting after %s (deadline %s): %v", time.Since(start).Round(time.Millisecond), poolDeadline, ctx.Err())
	}
	return errs[:n], errs[n:]
}

// wantOK fails t unless exactly want of errs are nil and the others have
// code.
func wantOK(t *testing.T, errs []error, code string, want int, what string) {
	t.Helper()
	if ok := count(t, errs, code); ok != want {
		t.Errorf("%s: %d of %d succeeded, want %d", what, ok, len(errs), want)
	}
}

func testPoolRedeemAuthCode(t *testing.T, s gatehouse.Store) {
	f := newCodeFixture(t, s)
	ctx, n := smallPool(t, s)
	codes := make([]*gatehouse.AuthCode, n)
	for i := range codes {
		codes[i] = f.code(nil)
	}
	one := f.code(nil)
	d, r := overPool(t, ctx, n,
		func(i int) error { _, err := s.RedeemAuthCode(ctx, f.redemption(codes[i], base)); return err },
		func(i int) error { _, err := s.RedeemAuthCode(ctx, f.redemption(one, base)); return err })
	wantOK(t, d, "", n, "distinct redemptions")
	wantOK(t, r, gatehouse.ECONFLICT, 1, "redemptions of one code")
	if got := len(f.grantCreds(one.GrantID)); got != 1 {
		t.Errorf("%d tokens stored for the raced code, want 1", got)
	}
}

func testPoolRotateRefreshToken(t *testing.T, s gatehouse.Store) {
	tn, u, app := rotationFixture(t, s)
	ctx, n := smallPool(t, s)
	rts := make([]*gatehouse.Credential, n)
	for i := range rts {
		rts[i] = oauthToken(t, s, tn.ID, app.ID, u.ID, fmt.Sprint("distinct-", i), gatehouse.KindOAuth2Refresh)
	}
	one := oauthToken(t, s, tn.ID, app.ID, u.ID, "one", gatehouse.KindOAuth2Refresh)
	d, r := overPool(t, ctx, n,
		func(i int) error { return s.RotateRefreshToken(ctx, rotation(rts[i], base)) },
		// Within the grace each racer answers (a lost response, SPEC §9),
		// and the grant ends with one live refresh token.
		func(i int) error {
			return s.RotateRefreshToken(ctx, rotation(one, base.Add(time.Duration(i)*time.Millisecond)))
		})
	wantOK(t, d, "", n, "distinct rotations")
	wantOK(t, r, "", n, "rotations of one token")
	if live := liveRefresh(t, s, tn.ID, "one"); len(live) != 1 {
		t.Errorf("%d live refresh tokens after racing rotations, want 1", len(live))
	}
}

// testPoolConsumeOnce covers the OAuth 1.0a nonce and verifier marks.
func testPoolConsumeOnce(t *testing.T, s gatehouse.Store) {
	for _, ns := range []string{"oauth1-nonce:ck", "oauth1-verifier:ck"} {
		t.Run(ns, func(t *testing.T) {
			ctx, n := smallPool(t, s)
			d, r := overPool(t, ctx, n,
				func(i int) error {
					return s.ConsumeOnce(ctx, ns, fmt.Sprint("distinct-", i), base, base.Add(time.Minute))
				},
				func(int) error { return s.ConsumeOnce(ctx, ns, "one", base, base.Add(time.Minute)) })
			wantOK(t, d, "", n, "distinct marks")
			wantOK(t, r, gatehouse.ECONFLICT, 1, "marks of one key")
		})
	}
}

func testPoolConsumeRequestToken(t *testing.T, s gatehouse.Store) {
	tn := newTenant(t, s, "acme")
	in := newIntegration(t, s, tn.ID, nil)
	ctx, n := smallPool(t, s)
	newTok := func() *gatehouse.OAuth1Token {
		tok := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: in.ID, Secret: sealed(),
			ExpiresAt: base.Add(time.Hour)}
		must(t, s.CreateRequestToken(t.Context(), tok), "create request token")
		return tok
	}
	toks := make([]*gatehouse.OAuth1Token, n)
	for i := range toks {
		toks[i] = newTok()
	}
	one := newTok()
	d, r := overPool(t, ctx, n,
		func(i int) error { _, err := s.ConsumeRequestToken(ctx, toks[i].Hash, base); return err },
		func(int) error { _, err := s.ConsumeRequestToken(ctx, one.Hash, base); return err })
	wantOK(t, d, "", n, "distinct request tokens")
	wantOK(t, r, gatehouse.ECONFLICT, 1, "exchanges of one request token")
}

// testPoolIssueIntegrationToken: activations of distinct integrations all
// succeed; racing activations of one all succeed (each replaces the last)
// and leave exactly one live token.
func testPoolIssueIntegrationToken(t *testing.T, s gatehouse.Store) {
	tn := newTenant(t, s, "acme")
	ctx, n := smallPool(t, s)
	ins := make([]*gatehouse.Integration, n)
	for i := range ins {
		ins[i] = newIntegration(t, s, tn.ID, func(in *gatehouse.Integration) { in.Name = fmt.Sprint("distinct ", i) })
	}
	one := newIntegration(t, s, tn.ID, func(in *gatehouse.Integration) { in.Name = "one" })
	issue := func(in *gatehouse.Integration) error {
		return s.IssueIntegrationToken(ctx, tn.ID, in.ID, &gatehouse.Credential{Hash: randomHash(), Secret: sealed()}, base)
	}
	d, r := overPool(t, ctx, n, func(i int) error { return issue(ins[i]) }, func(int) error { return issue(one) })
	wantOK(t, d, "", n, "distinct activations")
	wantOK(t, r, "", n, "activations of one integration")
	assertLive(t, s, tn.ID, func(c *gatehouse.Credential) bool { return c.ClientID == one.ID }, 1, "tokens of the raced integration")
}

// testPoolCreateAudited: credentials created with their audit events. The
// distinct ones are all stored, each with its event; of the racers, which
// share one hash, exactly one is stored, and only its event.
func testPoolCreateAudited(t *testing.T, s gatehouse.Store) {
	tn := newTenant(t, s, "acme")
	ctx, n := smallPool(t, s)
	hash := randomHash()
	create := func(action string, h []byte) error {
		c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: h}
		return s.CreateCredential(gatehouse.WithAudit(ctx, func() *gatehouse.AuditEvent {
			return &gatehouse.AuditEvent{TenantID: tn.ID, Time: base, Action: action, Target: c.ID}
		}), c)
	}
	d, r := overPool(t, ctx, n,
		func(i int) error { return create("pat.distinct", randomHash()) },
		func(i int) error { return create("pat.racing", hash) })
	wantOK(t, d, "", n, "distinct creations")
	wantOK(t, r, gatehouse.ECONFLICT, 1, "creations of one hash")
	events := auditByAction(t, s, tn.ID)
	if got := len(events["pat.distinct"]); got != n {
		t.Errorf("%d audit events of %d distinct creations", got, n)
	}
	if got := len(events["pat.racing"]); got != 1 {
		t.Errorf("%d audit events of the racing creations, want 1 (the one stored)", got)
	}
	for _, list := range events {
		for _, e := range list {
			if _, err := s.FindCredential(t.Context(), tn.ID, e.Target); err != nil {
				t.Errorf("audit event %s names credential %q: %v", e.Action, e.Target, err)
			}
		}
	}
}

// testPoolIssueTokens: token pairs issued at once are stored whole; of
// racing issues whose refresh tokens share a hash exactly one is stored,
// and no loser's access token is left behind.
func testPoolIssueTokens(t *testing.T, s gatehouse.Store) {
	f := newCodeFixture(t, s)
	ctx, n := smallPool(t, s)
	hash := randomHash()
	issue := func(grant string, refreshHash []byte) error {
		return s.IssueTokens(ctx, f.issue(grant, refreshHash))
	}
	d, r := overPool(t, ctx, n,
		func(i int) error { return issue(fmt.Sprint("distinct-", i), randomHash()) },
		func(i int) error { return issue("one", hash) })
	wantOK(t, d, "", n, "distinct issues")
	wantOK(t, r, gatehouse.ECONFLICT, 1, "issues of one refresh token")
	for i := range n {
		if got := len(f.grantCreds(fmt.Sprint("distinct-", i))); got != 2 {
			t.Errorf("issue %d stored %d tokens, want the pair", i, got)
		}
	}
	if got := len(f.grantCreds("one")); got != 2 {
		t.Errorf("the racing issues stored %d tokens, want one pair", got)
	}
}

// issue is a token pair of the fixture's app and user in grant.
func (f *codeFixture) issue(grant string, refreshHash []byte) *gatehouse.TokenIssue {
	exp := base.Add(time.Hour)
	tok := func(kind gatehouse.Kind, h []byte, exp *time.Time) *gatehouse.Credential {
		return &gatehouse.Credential{TenantID: f.tn.ID, Kind: kind, Hash: h, UserID: f.user.ID, ClientID: f.app.ID,
			GrantID: grant, Scopes: []string{"catalog"}, ExpiresAt: exp, CreatedAt: base}
	}
	return &gatehouse.TokenIssue{TenantID: f.tn.ID, ClientID: f.app.ID, UserID: f.user.ID, Tokens: []*gatehouse.Credential{
		tok(gatehouse.KindOAuth2Access, randomHash(), &exp), tok(gatehouse.KindOAuth2Refresh, refreshHash, nil)}}
}

// testPoolIssueTokensRacingDeletion: token requests racing the deletion
// of their app, or the removal of the user's membership, leave no live
// token: each issue is refused, or stored before the deletion and revoked
// by it.
func testPoolIssueTokensRacingDeletion(t *testing.T, s gatehouse.Store) {
	for _, what := range []string{"app", "membership"} {
		t.Run(what, func(t *testing.T) {
			f := newCodeFixtureIn(t, s, "acme-"+what)
			ctx, n := smallPool(t, s)
			errs := race(n+1, func(i int) error {
				if i == n/2 {
					if what == "app" {
						return s.DeleteClient(ctx, f.tn.ID, f.app.ID, base)
					}
					return s.RemoveMembership(ctx, f.tn.ID, f.user.ID, base)
				}
				return s.IssueTokens(ctx, f.issue(fmt.Sprint(what, "-", i), randomHash()))
			})
			if ctx.Err() != nil {
				t.Fatalf("operations still waiting after the %s deadline", poolDeadline)
			}
			must(t, errs[n/2], "delete "+what)
			errs = append(errs[:n/2], errs[n/2+1:]...)
			count(t, errs, gatehouse.EINVALID)
			assertLive(t, s, f.tn.ID, func(*gatehouse.Credential) bool { return true }, 0, "tokens after the "+what+" was deleted")
			wantCode(t, s.IssueTokens(ctx, f.issue(what+"-after", randomHash())), gatehouse.EINVALID, "issue after the "+what+" was deleted")
		})
	}
}

// testPoolPatchSettings: concurrent patches, each of one switch, all stick.
func testPoolPatchSettings(t *testing.T, s gatehouse.Store) {
	tn := newTenant(t, s, "acme")
	ctx, n := smallPool(t, s)
	on, off := true, false
	patches := []gatehouse.SettingsPatch{
		{AllowAnonymousGuestAccess: &on}, {EnhancedSecurity: &on}, {OAuth1TokensAsBearer: &on}, {RequireClientHeader: &off},
	}
	errs := race(2*n, func(i int) error {
		_, err := s.PatchSettings(ctx, tn.ID, patches[i%len(patches)])
		return err
	})
	if ctx.Err() != nil {
		t.Fatalf("patches still waiting after the %s deadline", poolDeadline)
	}
	wantOK(t, errs, "", 2*n, "patches")
	got, err := s.Settings(t.Context(), tn.ID)
	must(t, err, "settings")
	want := gatehouse.Settings{AllowAnonymousGuestAccess: true, EnhancedSecurity: true, OAuth1TokensAsBearer: true, RequireClientHeader: false}
	if got != want {
		t.Errorf("settings after concurrent patches = %+v, want every patch applied: %+v", got, want)
	}
}

// assertLive fails t unless want of the tenant's live credentials match sel.
func assertLive(t *testing.T, s gatehouse.Store, tenantID string, sel func(*gatehouse.Credential) bool, want int, what string) {
	t.Helper()
	list, err := s.ListCredentials(t.Context(), tenantID, gatehouse.CredentialFilter{})
	must(t, err, "list live credentials")
	got := 0
	for _, c := range list {
		if sel(c) {
			got++
		}
	}
	if got != want {
		t.Errorf("%s: %d live, want %d", what, got, want)
	}
}

// auditByAction returns the tenant's audit events by action.
func auditByAction(t *testing.T, s gatehouse.Store, tenantID string) map[string][]*gatehouse.AuditEvent {
	t.Helper()
	list, err := s.ListAudit(t.Context(), tenantID, gatehouse.AuditQuery{Limit: gatehouse.MaxAuditLimit})
	must(t, err, "list audit")
	m := make(map[string][]*gatehouse.AuditEvent)
	for _, e := range list.Events {
		m[e.Action] = append(m[e.Action], e)
	}
	return m
}
