package storetest

import (
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// testIssueTokens: a token pair is stored whole or not at all, and only
// while the tenant is enabled, the app exists and the user is still a
// member who has not withdrawn the consent.
func testIssueTokens(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newCodeFixture(t, s)
	must(t, s.IssueTokens(ctx, f.issue("g1", randomHash())), "issue a pair")
	if got := len(f.grantCreds("g1")); got != 2 {
		t.Errorf("%d tokens stored, want 2", got)
	}

	// All or none: a refresh token whose hash is taken leaves no access
	// token behind.
	taken := f.grantCreds("g1")[0].Hash
	wantCode(t, s.IssueTokens(ctx, f.issue("g2", taken)), gatehouse.ECONFLICT, "issue with a taken hash")
	if got := len(f.grantCreds("g2")); got != 0 {
		t.Errorf("a refused pair left %d tokens", got)
	}

	// The app's own token (client_credentials): no user.
	app := &gatehouse.TokenIssue{TenantID: f.tn.ID, ClientID: f.app.ID, Tokens: []*gatehouse.Credential{
		{TenantID: f.tn.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), ClientID: f.app.ID}}}
	must(t, s.IssueTokens(ctx, app), "issue an app token")

	mismatch := f.issue("g3", randomHash())
	mismatch.Tokens[1].ClientID = "APIK-OTHER"
	wantCode(t, s.IssueTokens(ctx, mismatch), gatehouse.EINVALID, "issue a token of another app")

	must(t, s.RevokeGrant(ctx, f.tn.ID, "revoked", base), "revoke grant")
	wantCode(t, s.IssueTokens(ctx, f.issue("revoked", randomHash())), gatehouse.ECONFLICT, "issue into a revoked grant")

	// Each parent gone in turn refuses the issue, storing nothing.
	other := newUser(t, s, "bo@example.com")
	newMember(t, s, f.tn.ID, other.ID, gatehouse.RoleStaff)
	for _, tc := range []struct {
		what  string
		setup func()
		issue func() *gatehouse.TokenIssue
	}{
		{"consent withdrawn", func() {
			must(t, s.DeleteConsent(ctx, f.tn.ID, f.user.ID, f.app.ID, base), "delete consent")
		}, func() *gatehouse.TokenIssue { return f.issue("g4", randomHash()) }},
		{"member removed", func() {
			must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: f.tn.ID, UserID: other.ID, ClientID: f.app.ID, Scopes: []string{"catalog"}}), "consent")
			must(t, s.RemoveMembership(ctx, f.tn.ID, other.ID, base), "remove membership")
		}, func() *gatehouse.TokenIssue {
			r := f.issue("g5", randomHash())
			r.UserID = other.ID
			for _, c := range r.Tokens {
				c.UserID = other.ID
			}
			return r
		}},
		{"tenant disabled", func() {
			tn := *f.tn
			tn.Disabled = true
			must(t, s.UpdateTenant(ctx, &tn), "disable tenant")
		}, func() *gatehouse.TokenIssue { return app }},
		{"app deleted", func() {
			tn := *f.tn
			must(t, s.UpdateTenant(ctx, &tn), "enable tenant")
			must(t, s.DeleteClient(ctx, f.tn.ID, f.app.ID, base), "delete app")
		}, func() *gatehouse.TokenIssue { return app }},
	} {
		tc.setup()
		r := tc.issue()
		for _, c := range r.Tokens {
			c.ID, c.Hash = "", randomHash()
		}
		wantCode(t, s.IssueTokens(ctx, r), gatehouse.EINVALID, "issue with "+tc.what)
		for _, c := range r.Tokens {
			if _, err := s.FindCredentialByHash(ctx, c.Hash); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
				t.Errorf("%s: a refused token was stored (%v)", tc.what, err)
			}
		}
	}
}

// testPatchSettings: a patch sets only the switches it names.
func testPatchSettings(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	on := true
	got, err := s.PatchSettings(ctx, tn.ID, gatehouse.SettingsPatch{EnhancedSecurity: &on})
	must(t, err, "patch a new tenant's settings")
	want := gatehouse.DefaultSettings()
	want.EnhancedSecurity = true
	if got != want {
		t.Errorf("patched defaults = %+v, want %+v", got, want)
	}
	must(t, s.SaveSettings(ctx, tn.ID, gatehouse.Settings{OAuth1TokensAsBearer: true}), "save settings")
	got, err = s.PatchSettings(ctx, tn.ID, gatehouse.SettingsPatch{AllowAnonymousGuestAccess: &on})
	must(t, err, "patch saved settings")
	if want := (gatehouse.Settings{OAuth1TokensAsBearer: true, AllowAnonymousGuestAccess: true}); got != want {
		t.Errorf("patched = %+v, want %+v", got, want)
	}
	if stored, err := s.Settings(ctx, tn.ID); err != nil || stored != got {
		t.Errorf("stored = %+v, %v; want %+v", stored, err, got)
	}
	_, err = s.PatchSettings(ctx, "ten_missing", gatehouse.SettingsPatch{EnhancedSecurity: &on})
	wantCode(t, err, gatehouse.ENOTFOUND, "patch a missing tenant")
}

// testAuditAtomic: a write given an audit event (gatehouse.WithAudit)
// stores it in the same transaction; an event the database refuses (here
// an ID already taken) fails the write and nothing of it is stored.
func testAuditAtomic(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	taken := &gatehouse.AuditEvent{TenantID: tn.ID, Time: base, Action: "first"}
	must(t, s.AppendAudit(ctx, taken), "append audit")
	event := func(action, id string) func() *gatehouse.AuditEvent {
		return func() *gatehouse.AuditEvent {
			return &gatehouse.AuditEvent{ID: id, TenantID: tn.ID, Time: base, Actor: "ana", Action: action, Target: "t"}
		}
	}

	// A credential (the group-commit path on SQLite) and its event.
	good := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash()}
	must(t, s.CreateCredential(gatehouse.WithAudit(ctx, event("pat.create", "")), good), "create with audit")
	bad := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash()}
	wantCode(t, s.CreateCredential(gatehouse.WithAudit(ctx, event("pat.create", taken.ID)), bad), gatehouse.ECONFLICT,
		"create with a refused audit event")
	if _, err := s.FindCredentialByHash(ctx, bad.Hash); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("the credential whose audit event failed is stored (%v)", err)
	}
	limited := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash()}
	wantCode(t, s.CreateCredentialWithin(gatehouse.WithAudit(ctx, event("pat.create", taken.ID)), limited, 10), gatehouse.ECONFLICT,
		"create within a limit with a refused audit event")
	if _, err := s.FindCredentialByHash(ctx, limited.Hash); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("the limited credential whose audit event failed is stored (%v)", err)
	}

	// A revocation: refused with its event, it has not happened.
	wantCode(t, s.RevokeCredential(gatehouse.WithAudit(ctx, event("pat.revoke", taken.ID)), tn.ID, good.ID, base), gatehouse.ECONFLICT,
		"revoke with a refused audit event")
	if c, err := s.FindCredential(ctx, tn.ID, good.ID); err != nil || c.RevokedAt != nil {
		t.Errorf("after a refused audited revocation: %+v, %v; want it live", c, err)
	}
	must(t, s.RevokeCredential(gatehouse.WithAudit(ctx, event("pat.revoke", "")), tn.ID, good.ID, base), "revoke with audit")

	// A single-statement write (settings) becomes a transaction with it.
	on := true
	_, err := s.PatchSettings(gatehouse.WithAudit(ctx, event("settings.update", taken.ID)), tn.ID, gatehouse.SettingsPatch{EnhancedSecurity: &on})
	wantCode(t, err, gatehouse.ECONFLICT, "patch with a refused audit event")
	if got, err := s.Settings(ctx, tn.ID); err != nil || got.EnhancedSecurity {
		t.Errorf("after a refused audited patch: %+v, %v", got, err)
	}
	app := &gatehouse.Client{ID: "APIK-AUDIT", TenantID: tn.ID, Name: "App", RedirectURIs: []string{"https://app.example.com/cb"},
		Confidential: true, SecretHash: randomHash(), GrantTypes: []string{gatehouse.GrantAuthorizationCode}}
	wantCode(t, s.CreateClient(gatehouse.WithAudit(ctx, event("oauth_client.create", taken.ID)), app), gatehouse.ECONFLICT,
		"create an app with a refused audit event")
	if _, err := s.FindClient(ctx, app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("the app whose audit event failed is stored (%v)", err)
	}

	// Exactly the events of the writes that happened, in order.
	list, err := s.ListAudit(ctx, tn.ID, gatehouse.AuditQuery{})
	must(t, err, "list audit")
	var actions []string
	for _, e := range list.Events {
		actions = append(actions, e.Action)
	}
	if diff := cmp.Diff([]string{"pat.revoke", "pat.create", "first"}, actions); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
}

// testConcurrentAuditSomeBad races audited creations, one of whose audit
// event the database refuses: that creation fails alone, with nothing of
// it stored, and every other is stored with its event. (A store that
// commits concurrent writes together must roll the refused event's
// credential back without losing the others'.)
func testConcurrentAuditSomeBad(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	taken := &gatehouse.AuditEvent{TenantID: tn.ID, Time: base, Action: "first"}
	must(t, s.AppendAudit(ctx, taken), "append audit")
	const n, bad = 30, 11
	creds := make([]*gatehouse.Credential, n)
	errs := race(n, func(i int) error {
		c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash()}
		creds[i] = c
		return s.CreateCredential(gatehouse.WithAudit(ctx, func() *gatehouse.AuditEvent {
			e := &gatehouse.AuditEvent{TenantID: tn.ID, Time: base, Action: "pat.create", Target: c.ID}
			if i == bad {
				e.ID = taken.ID
			}
			return e
		}), c)
	})
	targets := map[string]bool{}
	for _, e := range auditByAction(t, s, tn.ID)["pat.create"] {
		targets[e.Target] = true
	}
	for i, err := range errs {
		_, ferr := s.FindCredentialByHash(ctx, creds[i].Hash)
		switch {
		case i == bad:
			wantCode(t, err, gatehouse.ECONFLICT, "the creation whose audit event is refused")
			if !gatehouse.IsCode(ferr, gatehouse.ENOTFOUND) || targets[creds[i].ID] {
				t.Errorf("the creation whose audit event was refused is stored (%v)", ferr)
			}
		case err != nil:
			t.Errorf("creation %d: %v", i, err)
		case ferr != nil || !targets[creds[i].ID]:
			t.Errorf("creation %d answered success: stored %v, audited %t", i, ferr, targets[creds[i].ID])
		}
	}
}
