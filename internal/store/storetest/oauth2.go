package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// The OAuth 2.0 part of the suite (gatehouse.OAuth2Store).

// newClient stores an app of the tenant, changed by mod when not nil.
func newClient(t *testing.T, s gatehouse.Store, tenantID, id string, mod func(c *gatehouse.Client)) *gatehouse.Client {
	t.Helper()
	c := &gatehouse.Client{
		ID:           id,
		TenantID:     tenantID,
		Name:         "App " + id,
		RedirectURIs: []string{"https://app.example.com/callback"},
		Scopes:       []string{"catalog", "sales.orders"},
		Confidential: true,
		GrantTypes:   []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken},
		SecretHash:   randomHash(),
		SecretHint:   "sec_3fA",
	}
	if mod != nil {
		mod(c)
	}
	must(t, s.CreateClient(t.Context(), c), "create client "+id)
	return c
}

// oauthToken stores an OAuth 2.0 credential of the app for the user ("" for
// the app itself) in the grant.
func oauthToken(t *testing.T, s gatehouse.Store, tenantID, clientID, userID, grantID string, kind gatehouse.Kind) *gatehouse.Credential {
	t.Helper()
	return newCredential(t, s, tenantID, func(c *gatehouse.Credential) {
		c.Kind, c.ClientID, c.UserID, c.GrantID = kind, clientID, userID, grantID
		c.Name = ""
	})
}

// revokedAt returns the stored RevokedAt of each credential, by ID.
func revokedAt(t *testing.T, s gatehouse.Store, creds ...*gatehouse.Credential) map[string]*time.Time {
	t.Helper()
	m := make(map[string]*time.Time, len(creds))
	for _, c := range creds {
		got, err := s.FindCredential(t.Context(), c.TenantID, c.ID)
		must(t, err, "find credential")
		m[c.ID] = got.RevokedAt
	}
	return m
}

func testClients(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	expires := base.Add(24 * time.Hour)
	full := &gatehouse.Client{
		ID:                  "APIK-FULL",
		TenantID:            a.ID,
		Name:                "Warehouse sync ✓",
		RedirectURIs:        []string{"https://app.example.com/cb?x=1&y=%20", "http://127.0.0.1:8080/callback"},
		Scopes:              []string{"sales.orders", "catalog"},
		Confidential:        true,
		GrantTypes:          []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials},
		SecretHash:          randomHash(),
		SecretHint:          "sec_9Zq",
		PrevSecretHash:      randomHash(),
		PrevSecretExpiresAt: &expires,
		CreatedAt:           base,
	}
	must(t, s.CreateClient(ctx, full), "create client")
	got, err := s.FindClient(ctx, full.ID)
	must(t, err, "find client")
	if diff := cmp.Diff(full, got); diff != "" {
		t.Errorf("find client (-want +got):\n%s", diff)
	}

	// A public client: no secret, no times, nil lists stay nil.
	bare := &gatehouse.Client{TenantID: b.ID, Name: "CLI", GrantTypes: []string{gatehouse.GrantClientCredentials}}
	must(t, s.CreateClient(ctx, bare), "create bare client")
	if bare.ID == "" || bare.CreatedAt.IsZero() {
		t.Fatalf("create client did not assign ID and CreatedAt: %+v", bare)
	}
	if !strings.HasPrefix(bare.ID, gatehouse.ClientIDPrefix) {
		t.Errorf("assigned client id %q lacks %q", bare.ID, gatehouse.ClientIDPrefix)
	}
	got, err = s.FindClient(ctx, bare.ID)
	must(t, err, "find bare client")
	if diff := cmp.Diff(bare, got); diff != "" {
		t.Errorf("bare client (-want +got):\n%s", diff)
	}
	if got.SecretHash != nil || got.PrevSecretHash != nil || got.PrevSecretExpiresAt != nil || got.RedirectURIs != nil || got.Scopes != nil {
		t.Errorf("bare client has values it was not given: %+v", got)
	}

	// Client ids are unique across tenants.
	err = s.CreateClient(ctx, &gatehouse.Client{ID: full.ID, TenantID: b.ID, Name: "dup", GrantTypes: []string{"refresh_token"}})
	wantCode(t, err, gatehouse.ECONFLICT, "create client with a taken id")
	err = s.CreateClient(ctx, &gatehouse.Client{ID: "APIK-X", TenantID: "ten_missing", Name: "x", GrantTypes: []string{"refresh_token"}})
	wantCode(t, err, gatehouse.ENOTFOUND, "create client of a missing tenant")
	_, err = s.FindClient(ctx, "APIK-MISSING")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing client")

	// ListClients: the tenant's own, newest first.
	newer := newClient(t, s, a.ID, "APIK-NEWER", func(c *gatehouse.Client) { c.CreatedAt = base.Add(time.Minute) })
	list, err := s.ListClients(ctx, a.ID)
	must(t, err, "list clients")
	if diff := cmp.Diff([]*gatehouse.Client{newer, full}, list); diff != "" {
		t.Errorf("list clients (-want +got):\n%s", diff)
	}
	list, err = s.ListClients(ctx, "ten_missing")
	must(t, err, "list clients of a missing tenant")
	if len(list) != 0 {
		t.Errorf("list clients of a missing tenant = %v", list)
	}

	// UpdateClientSecret: a rotation with a grace period, then without.
	rot := *full
	rot.PrevSecretHash, rot.SecretHash, rot.SecretHint = full.SecretHash, randomHash(), "sec_new"
	grace := base.Add(time.Hour)
	rot.PrevSecretExpiresAt = &grace
	rot.Name = "ignored" // only the secret fields are saved
	must(t, s.UpdateClientSecret(ctx, &rot), "update client secret")
	got, err = s.FindClient(ctx, full.ID)
	must(t, err, "find rotated client")
	want := *full
	want.SecretHash, want.SecretHint, want.PrevSecretHash, want.PrevSecretExpiresAt = rot.SecretHash, "sec_new", full.SecretHash, &grace
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("rotated client (-want +got):\n%s", diff)
	}
	rot.PrevSecretHash, rot.PrevSecretExpiresAt = nil, nil
	must(t, s.UpdateClientSecret(ctx, &rot), "clear previous secret")
	got, err = s.FindClient(ctx, full.ID)
	must(t, err, "find client")
	if got.PrevSecretHash != nil || got.PrevSecretExpiresAt != nil {
		t.Errorf("previous secret not cleared: %x %v", got.PrevSecretHash, got.PrevSecretExpiresAt)
	}

	// Another tenant cannot update or delete the app.
	before, _ := s.FindClient(ctx, full.ID)
	other := *before
	other.TenantID, other.SecretHash = b.ID, randomHash()
	wantCode(t, s.UpdateClientSecret(ctx, &other), gatehouse.ENOTFOUND, "update another tenant's client secret")
	wantCode(t, s.DeleteClient(ctx, b.ID, full.ID, base), gatehouse.ENOTFOUND, "delete another tenant's client")
	got, err = s.FindClient(ctx, full.ID)
	must(t, err, "find client after another tenant's attempts")
	if diff := cmp.Diff(before, got); diff != "" {
		t.Errorf("another tenant changed the client (-before +after):\n%s", diff)
	}
	wantCode(t, s.UpdateClientSecret(ctx, &gatehouse.Client{ID: "APIK-MISSING", TenantID: a.ID}), gatehouse.ENOTFOUND, "update missing client")

	must(t, s.DeleteClient(ctx, a.ID, full.ID, base), "delete client")
	_, err = s.FindClient(ctx, full.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted client")
	wantCode(t, s.DeleteClient(ctx, a.ID, full.ID, base), gatehouse.ENOTFOUND, "delete client twice")
}

func testDeleteClientRevokes(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	ana, bob := newUser(t, s, "ana@example.com"), newUser(t, s, "bob@example.com")
	app := newClient(t, s, a.ID, "APIK-APP", nil)
	other := newClient(t, s, a.ID, "APIK-OTHER", nil)
	must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: app.ID, Scopes: []string{"catalog"}}), "save consent")
	must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: other.ID, Scopes: []string{"catalog"}}), "save other consent")

	earlier := base.Add(-time.Hour)
	anaAT := oauthToken(t, s, a.ID, app.ID, ana.ID, "g1", gatehouse.KindOAuth2Access)
	anaRT := oauthToken(t, s, a.ID, app.ID, ana.ID, "g1", gatehouse.KindOAuth2Refresh)
	bobAT := oauthToken(t, s, a.ID, app.ID, bob.ID, "g2", gatehouse.KindOAuth2Access)
	appAT := oauthToken(t, s, a.ID, app.ID, "", "", gatehouse.KindOAuth2Access) // client_credentials
	old := newCredential(t, s, a.ID, func(c *gatehouse.Credential) {
		c.Kind, c.ClientID, c.RevokedAt = gatehouse.KindOAuth2Access, app.ID, &earlier
	})
	otherAT := oauthToken(t, s, a.ID, other.ID, ana.ID, "g3", gatehouse.KindOAuth2Access)
	pat := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = ana.ID })
	// Another tenant's credential naming the same client id (cannot be
	// issued, but must not be touched either).
	foreign := oauthToken(t, s, b.ID, app.ID, "", "", gatehouse.KindOAuth2Access)

	var rec recorder
	defer s.Subscribe(rec.record)()
	must(t, s.DeleteClient(ctx, a.ID, app.ID, base), "delete client")

	want := map[string]*time.Time{
		anaAT.ID: &base, anaRT.ID: &base, bobAT.ID: &base, appAT.ID: &base,
		old.ID:     &earlier, // keeps its first revocation
		otherAT.ID: nil, pat.ID: nil, foreign.ID: nil,
	}
	if diff := cmp.Diff(want, revokedAt(t, s, anaAT, anaRT, bobAT, appAT, old, otherAT, pat, foreign)); diff != "" {
		t.Errorf("RevokedAt after delete client (-want +got):\n%s", diff)
	}
	// Every newly revoked credential is published with its hash.
	var wantChanges []gatehouse.Change
	for _, c := range []*gatehouse.Credential{anaAT, anaRT, bobAT, appAT} {
		wantChanges = append(wantChanges, gatehouse.Change{TenantID: a.ID, CredentialID: c.ID, Hash: c.Hash})
	}
	byID := func(x, y gatehouse.Change) int { return strings.Compare(x.CredentialID, y.CredentialID) }
	slices.SortFunc(wantChanges, byID)
	got := rec.take()
	slices.SortFunc(got, byID)
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Errorf("changes after delete client (-want +got):\n%s", diff)
	}

	// The app's consents went with it; the other app's stayed.
	_, err := s.FindConsent(ctx, a.ID, ana.ID, app.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "consent of a deleted client")
	list, err := s.ListConsents(ctx, a.ID, ana.ID)
	must(t, err, "list consents")
	if len(list) != 1 || list[0].ClientID != other.ID {
		t.Errorf("consents after delete client = %+v, want only %s", list, other.ID)
	}

	// A failed delete publishes nothing.
	wantCode(t, s.DeleteClient(ctx, a.ID, app.ID, base), gatehouse.ENOTFOUND, "delete client twice")
	if got := rec.take(); len(got) != 0 {
		t.Errorf("failed delete published %+v", got)
	}
}

func testConsents(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	ana, bob := newUser(t, s, "ana@example.com"), newUser(t, s, "bob@example.com")
	app := newClient(t, s, a.ID, "APIK-APP", nil)
	app2 := newClient(t, s, a.ID, "APIK-APP2", nil)
	foreignApp := newClient(t, s, b.ID, "APIK-B", nil)

	c := &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: app.ID, Scopes: []string{"sales.orders", "catalog"}, CreatedAt: base, UpdatedAt: base}
	must(t, s.SaveConsent(ctx, c), "save consent")
	got, err := s.FindConsent(ctx, a.ID, ana.ID, app.ID)
	must(t, err, "find consent")
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("find consent (-want +got):\n%s", diff)
	}

	// Saving again replaces the scopes and UpdatedAt and keeps CreatedAt.
	later := base.Add(time.Hour)
	c2 := &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: app.ID, Scopes: []string{"all"}, CreatedAt: later, UpdatedAt: later}
	must(t, s.SaveConsent(ctx, c2), "replace consent")
	if !c2.CreatedAt.Equal(base) {
		t.Errorf("replaced consent's written-back CreatedAt = %v, want %v", c2.CreatedAt, base)
	}
	got, err = s.FindConsent(ctx, a.ID, ana.ID, app.ID)
	must(t, err, "find replaced consent")
	want := &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: app.ID, Scopes: []string{"all"}, CreatedAt: base, UpdatedAt: later}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replaced consent (-want +got):\n%s", diff)
	}

	// Times are assigned when zero.
	c3 := &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: app2.ID}
	must(t, s.SaveConsent(ctx, c3), "save consent without times")
	if c3.CreatedAt.IsZero() || c3.UpdatedAt.IsZero() {
		t.Errorf("save consent did not assign times: %+v", c3)
	}
	must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: a.ID, UserID: bob.ID, ClientID: app.ID, CreatedAt: base, UpdatedAt: base}), "save bob's consent")

	list, err := s.ListConsents(ctx, a.ID, ana.ID)
	must(t, err, "list consents")
	got3, _ := s.FindConsent(ctx, a.ID, ana.ID, app2.ID)
	if diff := cmp.Diff([]*gatehouse.Consent{got3, want}, list); diff != "" {
		t.Errorf("list consents, newest first (-want +got):\n%s", diff)
	}
	list, err = s.ListConsents(ctx, b.ID, ana.ID)
	must(t, err, "list consents in another tenant")
	if len(list) != 0 {
		t.Errorf("consents leak across tenants: %+v", list)
	}

	// The app must be the tenant's own, and the user must exist.
	err = s.SaveConsent(ctx, &gatehouse.Consent{TenantID: a.ID, UserID: ana.ID, ClientID: foreignApp.ID})
	wantCode(t, err, gatehouse.ENOTFOUND, "consent to another tenant's app")
	err = s.SaveConsent(ctx, &gatehouse.Consent{TenantID: a.ID, UserID: "usr_missing", ClientID: app.ID})
	wantCode(t, err, gatehouse.ENOTFOUND, "consent of a missing user")
	_, err = s.FindConsent(ctx, b.ID, ana.ID, app.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find consent in another tenant")

	// DeleteConsent revokes the app's tokens for that user only.
	anaAT := oauthToken(t, s, a.ID, app.ID, ana.ID, "g1", gatehouse.KindOAuth2Access)
	anaRT := oauthToken(t, s, a.ID, app.ID, ana.ID, "g1", gatehouse.KindOAuth2Refresh)
	anaApp2 := oauthToken(t, s, a.ID, app2.ID, ana.ID, "g2", gatehouse.KindOAuth2Access)
	bobAT := oauthToken(t, s, a.ID, app.ID, bob.ID, "g3", gatehouse.KindOAuth2Access)
	appAT := oauthToken(t, s, a.ID, app.ID, "", "", gatehouse.KindOAuth2Access)
	pat := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = ana.ID })

	var rec recorder
	defer s.Subscribe(rec.record)()
	wantCode(t, s.DeleteConsent(ctx, b.ID, ana.ID, app.ID, base), gatehouse.ENOTFOUND, "delete consent in another tenant")
	must(t, s.DeleteConsent(ctx, a.ID, ana.ID, app.ID, base), "delete consent")
	wantRev := map[string]*time.Time{anaAT.ID: &base, anaRT.ID: &base, anaApp2.ID: nil, bobAT.ID: nil, appAT.ID: nil, pat.ID: nil}
	if diff := cmp.Diff(wantRev, revokedAt(t, s, anaAT, anaRT, anaApp2, bobAT, appAT, pat)); diff != "" {
		t.Errorf("RevokedAt after delete consent (-want +got):\n%s", diff)
	}
	byID := func(x, y gatehouse.Change) int { return strings.Compare(x.CredentialID, y.CredentialID) }
	wantChanges := []gatehouse.Change{
		{TenantID: a.ID, CredentialID: anaAT.ID, Hash: anaAT.Hash},
		{TenantID: a.ID, CredentialID: anaRT.ID, Hash: anaRT.Hash},
	}
	slices.SortFunc(wantChanges, byID)
	gotChanges := rec.take()
	slices.SortFunc(gotChanges, byID)
	if diff := cmp.Diff(wantChanges, gotChanges); diff != "" {
		t.Errorf("changes after delete consent (-want +got):\n%s", diff)
	}
	_, err = s.FindConsent(ctx, a.ID, ana.ID, app.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted consent")
	if _, err := s.FindConsent(ctx, a.ID, bob.ID, app.ID); err != nil {
		t.Errorf("bob's consent went too: %v", err)
	}

	// No consent: ENOTFOUND, and nothing is revoked.
	again := oauthToken(t, s, a.ID, app.ID, ana.ID, "g4", gatehouse.KindOAuth2Access)
	wantCode(t, s.DeleteConsent(ctx, a.ID, ana.ID, app.ID, base), gatehouse.ENOTFOUND, "delete consent twice")
	if r := revokedAt(t, s, again)[again.ID]; r != nil {
		t.Errorf("a failed DeleteConsent revoked %s", again.ID)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("failed delete consent published %+v", got)
	}
}

func testAuthCodes(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	u := newUser(t, s, "ana@example.com")
	app := newClient(t, s, tn.ID, "APIK-APP", nil)
	code := &gatehouse.AuthCode{
		Hash:          randomHash(),
		TenantID:      tn.ID,
		ClientID:      app.ID,
		UserID:        u.ID,
		RedirectURI:   "https://app.example.com/callback?x=1",
		Scopes:        []string{"sales.orders", "catalog"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		GrantID:       "grant-1",
		ExpiresAt:     base.Add(time.Minute),
		CreatedAt:     base,
	}
	must(t, s.CreateAuthCode(ctx, code), "create code")
	wantCode(t, s.CreateAuthCode(ctx, &gatehouse.AuthCode{Hash: code.Hash, TenantID: tn.ID, ClientID: app.ID, ExpiresAt: base}),
		gatehouse.ECONFLICT, "create code with a taken hash")
	wantCode(t, s.CreateAuthCode(ctx, &gatehouse.AuthCode{Hash: randomHash(), TenantID: "ten_missing", ClientID: app.ID, ExpiresAt: base}),
		gatehouse.ENOTFOUND, "create code of a missing tenant")

	used := base.Add(10 * time.Second)
	got, err := s.ConsumeAuthCode(ctx, code.Hash, used, nil)
	must(t, err, "consume code")
	want := *code
	want.UsedAt = &used
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("consumed code (-want +got):\n%s", diff)
	}
	// A replay is ECONFLICT and still returns the code (with its grant and
	// first use), so the caller can revoke what the first use issued.
	got, err = s.ConsumeAuthCode(ctx, code.Hash, used.Add(time.Second), nil)
	wantCode(t, err, gatehouse.ECONFLICT, "consume code twice")
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("replayed code (-want +got):\n%s", diff)
	}
	got, err = s.ConsumeAuthCode(ctx, randomHash(), used, nil)
	wantCode(t, err, gatehouse.ENOTFOUND, "consume unknown code")
	if got != nil {
		t.Errorf("unknown code returned %+v", got)
	}

	// The least a code can be.
	bare := &gatehouse.AuthCode{Hash: randomHash(), TenantID: tn.ID, ClientID: app.ID, ExpiresAt: base.Add(time.Hour)}
	must(t, s.CreateAuthCode(ctx, bare), "create bare code")
	if bare.CreatedAt.IsZero() {
		t.Error("create code did not assign CreatedAt")
	}
	got, err = s.ConsumeAuthCode(ctx, bare.Hash, used, nil)
	must(t, err, "consume bare code")
	if got.Scopes != nil || got.UserID != "" || got.CodeChallenge != "" || got.UsedAt == nil || !got.UsedAt.Equal(used) {
		t.Errorf("bare code: %+v", got)
	}

	// Pruning deletes expired codes, used or not, and keeps the others
	// (a used code is kept until it expires, so a replay is recognised).
	unused := &gatehouse.AuthCode{Hash: randomHash(), TenantID: tn.ID, ClientID: app.ID, ExpiresAt: base.Add(time.Minute)}
	must(t, s.CreateAuthCode(ctx, unused), "create unused code")
	must(t, s.PruneAuthCodes(ctx, base.Add(time.Minute)), "prune at expiry")
	_, err = s.ConsumeAuthCode(ctx, code.Hash, used, nil)
	wantCode(t, err, gatehouse.ECONFLICT, "used code kept until it expires")
	must(t, s.PruneAuthCodes(ctx, base.Add(time.Minute+time.Microsecond)), "prune after expiry")
	for _, c := range []*gatehouse.AuthCode{code, unused} {
		_, err = s.ConsumeAuthCode(ctx, c.Hash, used, nil)
		wantCode(t, err, gatehouse.ENOTFOUND, "consume pruned code")
	}
	_, err = s.ConsumeAuthCode(ctx, bare.Hash, used, nil)
	wantCode(t, err, gatehouse.ECONFLICT, "code not yet expired survives pruning")
}

func testRevokeGrant(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	u := newUser(t, s, "ana@example.com")
	app := newClient(t, s, a.ID, "APIK-APP", nil)
	earlier := base.Add(-time.Hour)
	at := oauthToken(t, s, a.ID, app.ID, u.ID, "g1", gatehouse.KindOAuth2Access)
	rt := oauthToken(t, s, a.ID, app.ID, u.ID, "g1", gatehouse.KindOAuth2Refresh)
	old := newCredential(t, s, a.ID, func(c *gatehouse.Credential) {
		c.Kind, c.ClientID, c.GrantID, c.RevokedAt = gatehouse.KindOAuth2Access, app.ID, "g1", &earlier
	})
	otherGrant := oauthToken(t, s, a.ID, app.ID, u.ID, "g2", gatehouse.KindOAuth2Access)
	noGrant := newCredential(t, s, a.ID, nil)
	foreign := oauthToken(t, s, b.ID, "APIK-B", "", "gb", gatehouse.KindOAuth2Access)

	var rec recorder
	defer s.Subscribe(rec.record)()
	must(t, s.RevokeGrant(ctx, a.ID, "g1", base), "revoke grant")
	want := map[string]*time.Time{at.ID: &base, rt.ID: &base, old.ID: &earlier, otherGrant.ID: nil, noGrant.ID: nil, foreign.ID: nil}
	if diff := cmp.Diff(want, revokedAt(t, s, at, rt, old, otherGrant, noGrant, foreign)); diff != "" {
		t.Errorf("RevokedAt after revoke grant (-want +got):\n%s", diff)
	}
	byID := func(x, y gatehouse.Change) int { return strings.Compare(x.CredentialID, y.CredentialID) }
	wantChanges := []gatehouse.Change{
		{TenantID: a.ID, CredentialID: at.ID, Hash: at.Hash},
		{TenantID: a.ID, CredentialID: rt.ID, Hash: rt.Hash},
	}
	slices.SortFunc(wantChanges, byID)
	got := rec.take()
	slices.SortFunc(got, byID)
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Errorf("changes after revoke grant (-want +got):\n%s", diff)
	}

	// Idempotent; another tenant's grant is left alone.
	must(t, s.RevokeGrant(ctx, a.ID, "g1", base.Add(time.Hour)), "revoke grant twice")
	must(t, s.RevokeGrant(ctx, a.ID, "gb", base), "revoke another tenant's grant")
	if diff := cmp.Diff(want, revokedAt(t, s, at, rt, old, otherGrant, noGrant, foreign)); diff != "" {
		t.Errorf("RevokedAt after repeated revocations (-want +got):\n%s", diff)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("revocations that revoked nothing published %+v", got)
	}
	wantCode(t, s.RevokeGrant(ctx, a.ID, "", base), gatehouse.EINVALID, "revoke the empty grant id")
	if r := revokedAt(t, s, noGrant)[noGrant.ID]; r != nil {
		t.Error("revoking the empty grant id revoked a credential without a grant")
	}

	// A revoked grant takes no more credentials, even one revoked before
	// it had any (a code replayed before its first redemption issued).
	err := s.CreateCredential(ctx, &gatehouse.Credential{TenantID: a.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), ClientID: app.ID, GrantID: "g1"})
	wantCode(t, err, gatehouse.ECONFLICT, "credential of a revoked grant")
	must(t, s.RevokeGrant(ctx, a.ID, "g-early", base), "revoke a grant without credentials")
	err = s.CreateCredential(ctx, &gatehouse.Credential{TenantID: a.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), ClientID: app.ID, GrantID: "g-early"})
	wantCode(t, err, gatehouse.ECONFLICT, "credential of a grant revoked early")
	// The other tenant's grant still takes credentials.
	oauthToken(t, s, b.ID, "APIK-B", "", "gb", gatehouse.KindOAuth2Access)
}

func testRotateRefreshToken(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	u := newUser(t, s, "ana@example.com")
	app := newClient(t, s, a.ID, "APIK-APP", nil)
	rt := oauthToken(t, s, a.ID, app.ID, u.ID, "g1", gatehouse.KindOAuth2Refresh)

	next := func() []*gatehouse.Credential {
		exp := base.Add(2 * time.Hour)
		return []*gatehouse.Credential{
			{TenantID: a.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), UserID: u.ID, ClientID: app.ID, GrantID: "g1", Scopes: []string{"catalog"}, ExpiresAt: &exp},
			{TenantID: a.ID, Kind: gatehouse.KindOAuth2Refresh, Hash: randomHash(), UserID: u.ID, ClientID: app.ID, GrantID: "g1", Scopes: []string{"catalog"}},
		}
	}
	var rec recorder
	defer s.Subscribe(rec.record)()

	n1 := next()
	at := base.Add(time.Minute)
	must(t, s.RotateRefreshToken(ctx, a.ID, rt.ID, at, n1), "rotate")
	for _, c := range n1 {
		if c.ID == "" || c.CreatedAt.IsZero() {
			t.Fatalf("rotate did not assign ID and CreatedAt: %+v", c)
		}
		got, err := s.FindCredentialByHash(ctx, c.Hash)
		must(t, err, "find rotated-in credential")
		if diff := cmp.Diff(c, got, cmpOpts); diff != "" {
			t.Errorf("rotated-in credential (-want +got):\n%s", diff)
		}
	}
	got, err := s.FindCredential(ctx, a.ID, rt.ID)
	must(t, err, "find rotated token")
	want := *rt
	want.RotatedAt = &at
	if diff := cmp.Diff(&want, got, cmpOpts); diff != "" {
		t.Errorf("rotated token (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]gatehouse.Change{{TenantID: a.ID, CredentialID: rt.ID, Hash: rt.Hash}}, rec.take()); diff != "" {
		t.Errorf("changes after rotate (-want +got):\n%s", diff)
	}

	// The same token again: ECONFLICT, nothing stored, nothing published.
	stored := func() int {
		list, err := s.ListCredentials(ctx, a.ID, gatehouse.CredentialFilter{IncludeRevoked: true})
		must(t, err, "list credentials")
		return len(list)
	}
	count0 := stored()
	n2 := next()
	wantCode(t, s.RotateRefreshToken(ctx, a.ID, rt.ID, at.Add(time.Minute), n2), gatehouse.ECONFLICT, "rotate a rotated token")
	if n := stored(); n != count0 {
		t.Errorf("a refused rotation stored %d credentials", n-count0)
	}
	got, _ = s.FindCredential(ctx, a.ID, rt.ID)
	if !got.RotatedAt.Equal(at) {
		t.Errorf("a refused rotation moved RotatedAt to %v", got.RotatedAt)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("a refused rotation published %+v", got)
	}

	// A revoked token cannot rotate.
	rt2 := oauthToken(t, s, a.ID, app.ID, u.ID, "g2", gatehouse.KindOAuth2Refresh)
	must(t, s.RevokeCredential(ctx, a.ID, rt2.ID, base), "revoke")
	count0 = stored()
	wantCode(t, s.RotateRefreshToken(ctx, a.ID, rt2.ID, at, next()), gatehouse.ECONFLICT, "rotate a revoked token")
	if n := stored(); n != count0 {
		t.Errorf("rotating a revoked token stored %d credentials", n-count0)
	}
	// Nor one of a revoked grant, nor another tenant's or a missing one.
	rt3 := oauthToken(t, s, a.ID, app.ID, u.ID, "g3", gatehouse.KindOAuth2Refresh)
	must(t, s.RevokeGrant(ctx, a.ID, "g3", base), "revoke grant")
	wantCode(t, s.RotateRefreshToken(ctx, a.ID, rt3.ID, at, next()), gatehouse.ECONFLICT, "rotate a token of a revoked grant")
	wantCode(t, s.RotateRefreshToken(ctx, b.ID, n1[1].ID, at, next()), gatehouse.ENOTFOUND, "rotate another tenant's token")
	wantCode(t, s.RotateRefreshToken(ctx, a.ID, "cred_missing", at, next()), gatehouse.ENOTFOUND, "rotate a missing token")
	if n := stored(); n != count0+1 {
		t.Errorf("refused rotations stored %d credentials", n-count0-1)
	}

	// A next credential that cannot be stored undoes the whole rotation.
	bad := next()
	bad[1].Hash = n1[0].Hash // taken
	wantCode(t, s.RotateRefreshToken(ctx, a.ID, n1[1].ID, at, bad), gatehouse.ECONFLICT, "rotate into a taken hash")
	got, _ = s.FindCredential(ctx, a.ID, n1[1].ID)
	if got.RotatedAt != nil {
		t.Error("a failed rotation left the token marked rotated")
	}
	if _, err := s.FindCredentialByHash(ctx, bad[0].Hash); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("a failed rotation stored its first credential: %v", err)
	}
	// ... and the token can then rotate.
	must(t, s.RotateRefreshToken(ctx, a.ID, n1[1].ID, at, next()), "rotate the new refresh token")
}

// testRotatedAt checks that RotatedAt, like every credential time, is
// stored as given and read back in UTC.
func testRotatedAt(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	zone := time.FixedZone("IST", 5*3600+30*60)
	rotated := time.Date(2025, 7, 1, 23, 45, 12, 123456789, zone)
	c := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) {
		c.Kind, c.RotatedAt = gatehouse.KindOAuth2Refresh, &rotated
	})
	for _, find := range []func() (*gatehouse.Credential, error){
		func() (*gatehouse.Credential, error) { return s.FindCredential(ctx, tn.ID, c.ID) },
		func() (*gatehouse.Credential, error) { return s.FindCredentialByHash(ctx, c.Hash) },
		func() (*gatehouse.Credential, error) {
			list, err := s.ListCredentials(ctx, tn.ID, gatehouse.CredentialFilter{})
			if err != nil || len(list) != 1 {
				return nil, fmt.Errorf("list: %v %v", list, err)
			}
			return list[0], nil
		},
	} {
		got, err := find()
		must(t, err, "read credential")
		want := rotated.UTC().Truncate(time.Microsecond)
		if got.RotatedAt == nil || *got.RotatedAt != want {
			t.Errorf("RotatedAt = %v, want exactly %v", got.RotatedAt, want)
		}
	}
	// A credential never rotated reads back nil.
	d := newCredential(t, s, tn.ID, nil)
	got, err := s.FindCredential(ctx, tn.ID, d.ID)
	must(t, err, "find credential")
	if got.RotatedAt != nil {
		t.Errorf("RotatedAt of a fresh credential = %v", got.RotatedAt)
	}
}

// testConcurrentConsumeAuthCode: 20 redemptions of one code yield exactly
// one success and exactly one stored token; the 19 others are ECONFLICT
// and get the code back.
func testConcurrentConsumeAuthCode(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	app := newClient(t, s, tn.ID, "APIK-APP", nil)
	for round := range 3 {
		code := &gatehouse.AuthCode{Hash: randomHash(), TenantID: tn.ID, ClientID: app.ID,
			GrantID: fmt.Sprint("grant-", round), ExpiresAt: time.Now().Add(time.Minute)}
		must(t, s.CreateAuthCode(ctx, code), "create code")
		got := make([]*gatehouse.AuthCode, 20)
		errs := race(20, func(i int) error {
			var err error
			got[i], err = s.ConsumeAuthCode(ctx, code.Hash, base.Add(time.Duration(i)*time.Millisecond),
				func(ac *gatehouse.AuthCode) ([]*gatehouse.Credential, error) {
					return []*gatehouse.Credential{{TenantID: ac.TenantID, Kind: gatehouse.KindOAuth2Access,
						Hash: randomHash(), ClientID: ac.ClientID, GrantID: ac.GrantID}}, nil
				})
			return err
		})
		if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
			t.Errorf("round %d: %d of 20 racing redemptions succeeded, want exactly 1", round, ok)
		}
		var first *time.Time
		for i, c := range got {
			if c == nil || c.GrantID != code.GrantID || c.UsedAt == nil {
				t.Fatalf("round %d: redemption %d returned %+v (%v), want the code with UsedAt", round, i, c, errs[i])
			}
			if errs[i] == nil {
				first = c.UsedAt
			}
		}
		for i, c := range got {
			if first != nil && !c.UsedAt.Equal(*first) {
				t.Errorf("round %d: redemption %d sees UsedAt %v, the winner set %v", round, i, c.UsedAt, first)
			}
		}
		creds, err := s.ListCredentials(ctx, tn.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindOAuth2Access})
		must(t, err, "list tokens")
		n := 0
		for _, c := range creds {
			if c.GrantID == code.GrantID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("round %d: %d tokens stored for the code, want exactly 1", round, n)
		}
	}
}

// testConsumeAuthCodeRefusal: when issue refuses, the code is spent anyway
// and nothing is stored; when the insert fails, nothing is committed.
func testConsumeAuthCodeRefusal(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	app := newClient(t, s, tn.ID, "APIK-APP", nil)
	code := &gatehouse.AuthCode{Hash: randomHash(), TenantID: tn.ID, ClientID: app.ID, GrantID: "g-refused", ExpiresAt: base.Add(time.Minute)}
	must(t, s.CreateAuthCode(ctx, code), "create code")
	refusal := gatehouse.Errorf(gatehouse.EINVALID, "wrong verifier")
	got, err := s.ConsumeAuthCode(ctx, code.Hash, base, func(*gatehouse.AuthCode) ([]*gatehouse.Credential, error) {
		return nil, refusal
	})
	if err != refusal || got == nil || got.GrantID != "g-refused" {
		t.Fatalf("refused redemption = %+v, %v; want the code and the refusal", got, err)
	}
	_, err = s.ConsumeAuthCode(ctx, code.Hash, base, nil)
	wantCode(t, err, gatehouse.ECONFLICT, "a refused code is spent")

	// A duplicate hash makes the insert fail: the consumption rolls back.
	dup := newCredential(t, s, tn.ID, nil)
	second := &gatehouse.AuthCode{Hash: randomHash(), TenantID: tn.ID, ClientID: app.ID, GrantID: "g-dup", ExpiresAt: base.Add(time.Minute)}
	must(t, s.CreateAuthCode(ctx, second), "create second code")
	_, err = s.ConsumeAuthCode(ctx, second.Hash, base, func(ac *gatehouse.AuthCode) ([]*gatehouse.Credential, error) {
		return []*gatehouse.Credential{{TenantID: ac.TenantID, Kind: gatehouse.KindOAuth2Access, Hash: dup.Hash, ClientID: ac.ClientID, GrantID: ac.GrantID}}, nil
	})
	wantCode(t, err, gatehouse.ECONFLICT, "insert of a duplicate hash")
	_, err = s.ConsumeAuthCode(ctx, second.Hash, base, nil)
	must(t, err, "a failed insert leaves the code unspent")
}

// testConcurrentRotate: 20 rotations of one refresh token yield exactly one
// success, and only the winner's credentials are stored.
func testConcurrentRotate(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	u := newUser(t, s, "ana@example.com")
	app := newClient(t, s, tn.ID, "APIK-APP", nil)
	rt := oauthToken(t, s, tn.ID, app.ID, u.ID, "g1", gatehouse.KindOAuth2Refresh)
	errs := race(20, func(i int) error {
		return s.RotateRefreshToken(ctx, tn.ID, rt.ID, base, []*gatehouse.Credential{
			{TenantID: tn.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), UserID: u.ID, ClientID: app.ID, GrantID: "g1"},
			{TenantID: tn.ID, Kind: gatehouse.KindOAuth2Refresh, Hash: randomHash(), UserID: u.ID, ClientID: app.ID, GrantID: "g1"},
		})
	})
	if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
		t.Errorf("%d of 20 racing rotations succeeded, want exactly 1", ok)
	}
	list, err := s.ListCredentials(ctx, tn.ID, gatehouse.CredentialFilter{IncludeRevoked: true})
	must(t, err, "list credentials")
	if len(list) != 3 {
		t.Errorf("%d credentials stored after racing rotations, want 3 (the old token and one pair)", len(list))
	}
}

// testConcurrentRevokeGrant races a grant's revocation against rotations of
// its refresh tokens and new credentials in it (a replayed code revoking
// while the first redemption issues): afterwards no credential of the grant
// may be live.
func testConcurrentRevokeGrant(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	u := newUser(t, s, "ana@example.com")
	app := newClient(t, s, tn.ID, "APIK-APP", nil)
	for round := range 3 {
		grant := fmt.Sprint("g", round)
		var rts []*gatehouse.Credential
		for range 10 {
			rts = append(rts, oauthToken(t, s, tn.ID, app.ID, u.ID, grant, gatehouse.KindOAuth2Refresh))
		}
		errs := race(21, func(i int) error {
			mk := func() *gatehouse.Credential {
				return &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindOAuth2Refresh, Hash: randomHash(),
					UserID: u.ID, ClientID: app.ID, GrantID: grant}
			}
			switch {
			case i == 10:
				return s.RevokeGrant(ctx, tn.ID, grant, base)
			case i < 10:
				return s.RotateRefreshToken(ctx, tn.ID, rts[i].ID, base, []*gatehouse.Credential{mk()})
			default:
				return s.CreateCredential(ctx, mk())
			}
		})
		count(t, errs, gatehouse.ECONFLICT)
		must(t, errs[10], "revoke grant")
		assertNoneLive(t, s, tn.ID, func(c *gatehouse.Credential) bool { return c.GrantID == grant }, "grant "+grant)
	}
}

// testConcurrentDeleteClient races an app's deletion, and a consent's,
// against rotations of the refresh tokens they revoke.
func testConcurrentDeleteClient(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	u := newUser(t, s, "ana@example.com")
	for round, byConsent := range []bool{false, true, false, true} {
		app := newClient(t, s, tn.ID, fmt.Sprint("APIK-", round), nil)
		must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: tn.ID, UserID: u.ID, ClientID: app.ID}), "save consent")
		var rts []*gatehouse.Credential
		for i := range 10 {
			rts = append(rts, oauthToken(t, s, tn.ID, app.ID, u.ID, fmt.Sprint(app.ID, "-g", i), gatehouse.KindOAuth2Refresh))
		}
		errs := race(11, func(i int) error {
			if i == 10 {
				if byConsent {
					return s.DeleteConsent(ctx, tn.ID, u.ID, app.ID, base)
				}
				return s.DeleteClient(ctx, tn.ID, app.ID, base)
			}
			return s.RotateRefreshToken(ctx, tn.ID, rts[i].ID, base, []*gatehouse.Credential{{
				TenantID: tn.ID, Kind: gatehouse.KindOAuth2Refresh, Hash: randomHash(),
				UserID: u.ID, ClientID: app.ID, GrantID: rts[i].GrantID,
			}})
		})
		count(t, errs, gatehouse.ECONFLICT)
		must(t, errs[10], "delete")
		assertNoneLive(t, s, tn.ID, func(c *gatehouse.Credential) bool { return c.ClientID == app.ID }, "app "+app.ID)
	}
}

// assertNoneLive fails t when a credential of the tenant that sel selects
// is not revoked.
func assertNoneLive(t *testing.T, s gatehouse.Store, tenantID string, sel func(*gatehouse.Credential) bool, what string) {
	t.Helper()
	list, err := s.ListCredentials(t.Context(), tenantID, gatehouse.CredentialFilter{})
	must(t, err, "list live credentials")
	for _, c := range list {
		if sel(c) {
			t.Errorf("%s: credential %s survived the revocation (rotated %v)", what, c.ID, c.RotatedAt)
		}
	}
}
