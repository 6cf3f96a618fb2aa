package storetest

import (
	"context"
	"crypto/rand"
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
	list, err := s.ListClients(ctx, a.ID, gatehouse.ListFilter{})
	must(t, err, "list clients")
	if diff := cmp.Diff([]*gatehouse.Client{newer, full}, list); diff != "" {
		t.Errorf("list clients (-want +got):\n%s", diff)
	}
	list, err = s.ListClients(ctx, "ten_missing", gatehouse.ListFilter{})
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

// testUpdateClient: UpdateClient saves the edited registration and nothing
// else — the client id, the type, the secrets and CreatedAt stay — with
// its audit event in the same transaction; another tenant's app, a missing
// one and a deleted one are ENOTFOUND and nothing changes.
func testUpdateClient(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	expires := base.Add(time.Hour)
	app := newClient(t, s, a.ID, "APIK-EDIT", func(c *gatehouse.Client) {
		c.PrevSecretHash, c.PrevSecretExpiresAt, c.CreatedAt = randomHash(), &expires, base
	})
	before, err := s.FindClient(ctx, app.ID)
	must(t, err, "find client")

	edit := *before
	edit.Name = "Fax sender ✓"
	edit.RedirectURIs = []string{"https://fax.example/cb", "http://127.0.0.1:9/cb?x=1"}
	edit.Scopes = []string{"sales.orders"}
	edit.GrantTypes = []string{gatehouse.GrantClientCredentials}
	edit.RequirePAR = true
	// What UpdateClient must not write, whatever the caller passes.
	edit.Confidential, edit.SecretHash, edit.SecretHint, edit.PrevSecretHash, edit.PrevSecretExpiresAt = false, randomHash(), "nope", nil, nil
	edit.CreatedAt = base.Add(time.Hour)
	event := func() *gatehouse.AuditEvent {
		return &gatehouse.AuditEvent{TenantID: a.ID, Time: base, Actor: "ana", Action: "oauth_client.update", Target: app.ID,
			Changes: []gatehouse.AuditChange{{Field: "name", Old: before.Name, New: edit.Name}}}
	}
	must(t, s.UpdateClient(gatehouse.WithAudit(ctx, event), &edit), "update client")
	got, err := s.FindClient(ctx, app.ID)
	must(t, err, "find updated client")
	want := *before
	want.Name, want.RedirectURIs, want.Scopes, want.GrantTypes = edit.Name, edit.RedirectURIs, edit.Scopes, edit.GrantTypes
	want.RequirePAR = true
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("updated client (-want +got):\n%s", diff)
	}
	events, err := s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{})
	must(t, err, "list audit")
	if len(events.Events) != 1 || events.Events[0].Action != "oauth_client.update" || len(events.Events[0].Changes) != 1 {
		t.Errorf("audit after update = %+v", events.Events)
	}

	// No redirect URIs (a client_credentials app) reads back as none.
	edit = *got
	edit.RedirectURIs = nil
	must(t, s.UpdateClient(ctx, &edit), "update client without redirect URIs")
	if got, _ = s.FindClient(ctx, app.ID); got.RedirectURIs != nil {
		t.Errorf("redirect URIs after clearing = %q", got.RedirectURIs)
	}
	want = *got

	// Another tenant cannot edit the app; neither it nor a missing one is told apart.
	other := *got
	other.TenantID, other.Name = b.ID, "stolen"
	wantCode(t, s.UpdateClient(ctx, &other), gatehouse.ENOTFOUND, "update another tenant's client")
	wantCode(t, s.UpdateClient(ctx, &gatehouse.Client{ID: "APIK-MISSING", TenantID: a.ID, Name: "x", GrantTypes: []string{"refresh_token"}}),
		gatehouse.ENOTFOUND, "update a missing client")
	if got, _ = s.FindClient(ctx, app.ID); !cmp.Equal(&want, got) {
		t.Errorf("another tenant changed the client (-want +got):\n%s", cmp.Diff(&want, got))
	}
	// A bad word is refused before the database sees it.
	bad := *got
	bad.GrantTypes = []string{"two words"}
	wantCode(t, s.UpdateClient(ctx, &bad), gatehouse.EINVALID, "update with a grant type that is not a word")

	// After a delete, an edit (a form opened before it) finds nothing and
	// brings nothing back.
	must(t, s.DeleteClient(ctx, a.ID, app.ID, base), "delete client")
	wantCode(t, s.UpdateClient(ctx, &want), gatehouse.ENOTFOUND, "update a deleted client")
	_, err = s.FindClient(ctx, app.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find the deleted client after an update")
}

// testConcurrentUpdateDeleteClient races edits of an app against its
// deletion: each edit either lands before the delete or is ENOTFOUND, and
// the app stays deleted.
func testConcurrentUpdateDeleteClient(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	for round := range 4 {
		app := newClient(t, s, tn.ID, fmt.Sprint("APIK-UPD", round), nil)
		errs := race(11, func(i int) error {
			if i == 10 {
				return s.DeleteClient(ctx, tn.ID, app.ID, base)
			}
			edit := *app
			edit.Name = fmt.Sprint("edit ", i)
			return s.UpdateClient(ctx, &edit)
		})
		must(t, errs[10], "delete")
		for _, err := range errs[:10] {
			if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
				t.Errorf("an edit racing the delete: %v", err)
			}
		}
		if _, err := s.FindClient(ctx, app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			t.Fatalf("round %d: the app is back after racing edits: %v", round, err)
		}
	}
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

// codeFixture is a tenant with a member, an app the member consented to
// and a way to issue and redeem its codes.
type codeFixture struct {
	t    *testing.T
	s    gatehouse.Store
	tn   *gatehouse.Tenant
	user *gatehouse.User
	app  *gatehouse.Client
}

func newCodeFixture(t *testing.T, s gatehouse.Store) *codeFixture {
	return newCodeFixtureIn(t, s, "acme")
}

// newCodeFixtureIn is newCodeFixture in a new tenant of the given slug.
func newCodeFixtureIn(t *testing.T, s gatehouse.Store, slug string) *codeFixture {
	tn := newTenant(t, s, slug)
	email := "ana@example.com"
	if slug != "acme" {
		email = "ana@" + slug + ".example.com"
	}
	u := newUser(t, s, email)
	newMember(t, s, tn.ID, u.ID, gatehouse.RoleAdmin)
	app := newClient(t, s, tn.ID, "APIK-APP", nil)
	must(t, s.SaveConsent(t.Context(), &gatehouse.Consent{TenantID: tn.ID, UserID: u.ID, ClientID: app.ID, Scopes: []string{"catalog"}}), "save consent")
	return &codeFixture{t: t, s: s, tn: tn, user: u, app: app}
}

const testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

// code stores a fresh code of the fixture's app and user, changed by mod.
func (f *codeFixture) code(mod func(c *gatehouse.AuthCode)) *gatehouse.AuthCode {
	f.t.Helper()
	c := &gatehouse.AuthCode{
		Hash:          randomHash(),
		TenantID:      f.tn.ID,
		ClientID:      f.app.ID,
		UserID:        f.user.ID,
		RedirectURI:   "https://app.example.com/callback?x=1",
		Scopes:        []string{"sales.orders", "catalog"},
		CodeChallenge: testChallenge,
		GrantID:       "grant-" + rand.Text()[:8],
		ExpiresAt:     base.Add(time.Minute),
		CreatedAt:     base,
	}
	if mod != nil {
		mod(c)
	}
	must(f.t, f.s.CreateAuthCode(f.t.Context(), c), "create code")
	return c
}

// redemption is the right claim on c at now, issuing an access token.
func (f *codeFixture) redemption(c *gatehouse.AuthCode, now time.Time) *gatehouse.CodeRedemption {
	return &gatehouse.CodeRedemption{
		Hash: c.Hash, TenantID: c.TenantID, ClientID: c.ClientID, RedirectURI: c.RedirectURI,
		Challenge: c.CodeChallenge, Now: now,
		Issue: []*gatehouse.Credential{{TenantID: c.TenantID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), ClientID: c.ClientID}},
	}
}

// grantCreds returns the stored credentials of the grant.
func (f *codeFixture) grantCreds(grantID string) []*gatehouse.Credential {
	f.t.Helper()
	list, err := f.s.ListCredentials(f.t.Context(), f.tn.ID, gatehouse.CredentialFilter{IncludeRevoked: true})
	must(f.t, err, "list credentials")
	var out []*gatehouse.Credential
	for _, c := range list {
		if c.GrantID == grantID {
			out = append(out, c)
		}
	}
	return out
}

func testAuthCodes(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newCodeFixture(t, s)
	code := f.code(nil)
	wantCode(t, s.CreateAuthCode(ctx, &gatehouse.AuthCode{Hash: code.Hash, TenantID: f.tn.ID, ClientID: f.app.ID, ExpiresAt: base}),
		gatehouse.ECONFLICT, "create code with a taken hash")
	wantCode(t, s.CreateAuthCode(ctx, &gatehouse.AuthCode{Hash: randomHash(), TenantID: "ten_missing", ClientID: f.app.ID, ExpiresAt: base}),
		gatehouse.ENOTFOUND, "create code of a missing tenant")

	used := base.Add(10 * time.Second)
	r := f.redemption(code, used)
	r.Issue[0].Scopes = []string{"ignored"} // the code's scopes win
	got, err := s.RedeemAuthCode(ctx, r)
	must(t, err, "redeem code")
	want := *code
	want.UsedAt = &used
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("redeemed code (-want +got):\n%s", diff)
	}
	// The token is stored, bound to the code.
	tok, err := s.FindCredentialByHash(ctx, r.Issue[0].Hash)
	must(t, err, "find issued token")
	if tok.UserID != f.user.ID || tok.GrantID != code.GrantID || strings.Join(tok.Scopes, " ") != "catalog sales.orders" && strings.Join(tok.Scopes, " ") != "sales.orders catalog" {
		t.Errorf("issued token = %+v, want the code's user, grant and scopes", tok)
	}
	// A replay is ECONFLICT, returns the code (with its first use) and
	// revokes the grant in the same call.
	got, err = s.RedeemAuthCode(ctx, f.redemption(code, used.Add(time.Second)))
	wantCode(t, err, gatehouse.ECONFLICT, "redeem code twice")
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("replayed code (-want +got):\n%s", diff)
	}
	if r := revokedAt(t, s, tok)[tok.ID]; r == nil || !r.Equal(used.Add(time.Second)) {
		t.Errorf("a replay left the first redemption's token live (RevokedAt %v)", r)
	}
	got, err = s.RedeemAuthCode(ctx, f.redemption(&gatehouse.AuthCode{Hash: randomHash(), TenantID: f.tn.ID, ClientID: f.app.ID}, used))
	wantCode(t, err, gatehouse.ENOTFOUND, "redeem unknown code")
	if got != nil {
		t.Errorf("unknown code returned %+v", got)
	}

	// Manage never reaches a token (SPEC §9), even from a code carrying it.
	mc := f.code(func(c *gatehouse.AuthCode) { c.Scopes = []string{"catalog", gatehouse.ScopeManage} })
	r = f.redemption(mc, used)
	must(t, firstErr(s.RedeemAuthCode(ctx, r)), "redeem a code with manage")
	if tok, _ := s.FindCredentialByHash(ctx, r.Issue[0].Hash); tok == nil || slices.Contains(tok.Scopes, gatehouse.ScopeManage) {
		t.Errorf("token of a code with manage = %+v", tok)
	}

	// Pruning deletes expired codes, used or not, and keeps the others
	// (a used code is kept until it expires, so a replay is recognised).
	unused := f.code(nil)
	later := f.code(func(c *gatehouse.AuthCode) { c.ExpiresAt = base.Add(time.Hour) })
	prune(t, s, gatehouse.PruneCodes, base.Add(time.Minute), 100) // prune at expiry
	_, err = s.RedeemAuthCode(ctx, f.redemption(code, used))
	wantCode(t, err, gatehouse.ECONFLICT, "used code kept until it expires")
	prune(t, s, gatehouse.PruneCodes, base.Add(time.Minute+time.Microsecond), 100) // prune after expiry
	for _, c := range []*gatehouse.AuthCode{code, unused} {
		_, err = s.RedeemAuthCode(ctx, f.redemption(c, used))
		wantCode(t, err, gatehouse.ENOTFOUND, "redeem pruned code")
	}
	must(t, firstErr(s.RedeemAuthCode(ctx, f.redemption(later, used))), "code not yet expired survives pruning")
}

func firstErr(_ *gatehouse.AuthCode, err error) error { return err }

// testRedeemAuthCodeOtherClient: RFC 6749 §4.1.3 — a code presented by
// another client (or tenant) is refused and changes nothing: an unused code
// is not burnt, a used one's grant is not revoked.
func testRedeemAuthCodeOtherClient(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newCodeFixture(t, s)
	other := newClient(t, s, f.tn.ID, "APIK-OTHER", nil)
	b := newTenant(t, s, "bolt")
	foreign := newClient(t, s, b.ID, "APIK-FOREIGN", nil)
	claims := func(c *gatehouse.AuthCode) []*gatehouse.CodeRedemption {
		r1 := f.redemption(c, base)
		r1.ClientID, r1.Issue[0].ClientID = other.ID, other.ID
		r2 := f.redemption(c, base)
		r2.TenantID, r2.ClientID, r2.Issue[0].TenantID, r2.Issue[0].ClientID = b.ID, foreign.ID, b.ID, foreign.ID
		r3 := f.redemption(c, base)
		r3.TenantID, r3.Issue[0].TenantID = b.ID, b.ID // the right client id, in another tenant
		return []*gatehouse.CodeRedemption{r1, r2, r3}
	}

	unused := f.code(nil)
	for i, r := range claims(unused) {
		got, err := s.RedeemAuthCode(ctx, r)
		wantCode(t, err, gatehouse.EFORBIDDEN, fmt.Sprint("claim ", i, " on an unused code"))
		if got != nil {
			t.Errorf("claim %d on another client's code returned it: %+v", i, got)
		}
		if _, err := s.FindCredentialByHash(ctx, r.Issue[0].Hash); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			t.Errorf("claim %d stored a token: %v", i, err)
		}
	}
	must(t, firstErr(s.RedeemAuthCode(ctx, f.redemption(unused, base))), "its own client redeems the code")

	used := f.code(nil)
	r := f.redemption(used, base)
	must(t, firstErr(s.RedeemAuthCode(ctx, r)), "redeem")
	for i, claim := range claims(used) {
		_, err := s.RedeemAuthCode(ctx, claim)
		wantCode(t, err, gatehouse.EFORBIDDEN, fmt.Sprint("claim ", i, " on a used code"))
	}
	if got := revokedAt(t, s, r.Issue[0])[r.Issue[0].ID]; got != nil {
		t.Errorf("another client's replay revoked the code's tokens at %v", got)
	}
}

// testRedeemAuthCodeRefusals: a code whose checks fail is spent and issues
// nothing; a failed insert commits nothing.
func testRedeemAuthCodeRefusals(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newCodeFixture(t, s)
	for _, tt := range []struct {
		name   string
		code   func(c *gatehouse.AuthCode)
		claim  func(r *gatehouse.CodeRedemption)
		before func(c *gatehouse.AuthCode)
	}{
		{name: "expired", claim: func(r *gatehouse.CodeRedemption) { r.Now = base.Add(time.Minute) }},
		{name: "other redirect URI", claim: func(r *gatehouse.CodeRedemption) { r.RedirectURI = "https://app.example.com/callback" }},
		{name: "wrong challenge", claim: func(r *gatehouse.CodeRedemption) { r.Challenge = strings.Repeat("A", 43) }},
		{name: "no verifier", claim: func(r *gatehouse.CodeRedemption) { r.Challenge = "" }},
		{name: "verifier without challenge", code: func(c *gatehouse.AuthCode) { c.CodeChallenge = "" },
			claim: func(r *gatehouse.CodeRedemption) { r.Challenge = testChallenge }},
		{name: "revoked grant", before: func(c *gatehouse.AuthCode) { must(t, s.RevokeGrant(ctx, c.TenantID, c.GrantID, base), "revoke grant") }},
		{name: "consent withdrawn", before: func(c *gatehouse.AuthCode) {
			must(t, s.DeleteConsent(ctx, c.TenantID, c.UserID, c.ClientID, base), "delete consent")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := f.code(tt.code)
			if tt.before != nil {
				tt.before(c)
			}
			r := f.redemption(c, base)
			if tt.claim != nil {
				tt.claim(r)
			}
			got, err := s.RedeemAuthCode(ctx, r)
			wantCode(t, err, gatehouse.EINVALID, "refused redemption")
			if got == nil || got.GrantID != c.GrantID || got.UsedAt == nil {
				t.Fatalf("refused redemption returned %+v, want the code, used", got)
			}
			if n := len(f.grantCreds(c.GrantID)); n != 0 {
				t.Errorf("a refused redemption stored %d tokens", n)
			}
			// Spent: the right claim is now a replay.
			_, err = s.RedeemAuthCode(ctx, f.redemption(c, base))
			wantCode(t, err, gatehouse.ECONFLICT, "a refused code is spent")
			if tt.name == "consent withdrawn" {
				must(t, s.SaveConsent(ctx, &gatehouse.Consent{TenantID: f.tn.ID, UserID: f.user.ID, ClientID: f.app.ID}), "consent again")
			}
		})
	}
	t.Run("member removed", func(t *testing.T) {
		c := f.code(nil)
		must(t, s.RemoveMembership(ctx, f.tn.ID, f.user.ID, base), "remove membership")
		_, err := s.RedeemAuthCode(ctx, f.redemption(c, base))
		wantCode(t, err, gatehouse.EINVALID, "redeem a removed member's code")
		newMember(t, s, f.tn.ID, f.user.ID, gatehouse.RoleAdmin)
	})
	t.Run("app deleted", func(t *testing.T) {
		app := newClient(t, s, f.tn.ID, "APIK-GONE", nil)
		c := f.code(func(c *gatehouse.AuthCode) { c.ClientID = app.ID })
		must(t, s.DeleteClient(ctx, f.tn.ID, app.ID, base), "delete client")
		_, err := s.RedeemAuthCode(ctx, f.redemption(c, base))
		wantCode(t, err, gatehouse.EINVALID, "redeem a deleted app's code")
	})
	t.Run("failed insert", func(t *testing.T) {
		// A duplicate hash makes the insert fail: nothing is committed.
		dup := newCredential(t, s, f.tn.ID, nil)
		c := f.code(nil)
		r := f.redemption(c, base)
		r.Issue[0].Hash = dup.Hash
		_, err := s.RedeemAuthCode(ctx, r)
		wantCode(t, err, gatehouse.ECONFLICT, "insert of a duplicate hash")
		must(t, firstErr(s.RedeemAuthCode(ctx, f.redemption(c, base))), "a failed insert leaves the code unspent")
	})
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

// grace is the rotation grace the suite passes (SPEC §9's 30 s).
const grace = 30 * time.Second

// rotation is a rotation of rt (a refresh token of app) at now into a
// fresh access and refresh token.
func rotation(rt *gatehouse.Credential, now time.Time) *gatehouse.RefreshRotation {
	exp := now.Add(time.Hour)
	return &gatehouse.RefreshRotation{
		TenantID: rt.TenantID, ClientID: rt.ClientID, ID: rt.ID, Now: now, Grace: grace,
		Next: []*gatehouse.Credential{
			{TenantID: rt.TenantID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), ClientID: rt.ClientID, Scopes: []string{"catalog"}, ExpiresAt: &exp},
			{TenantID: rt.TenantID, Kind: gatehouse.KindOAuth2Refresh, Hash: randomHash(), ClientID: rt.ClientID, Scopes: []string{"catalog"}},
		},
	}
}

// liveRefresh returns the grant's refresh tokens that are neither rotated
// nor revoked.
func liveRefresh(t *testing.T, s gatehouse.Store, tenantID, grantID string) []*gatehouse.Credential {
	t.Helper()
	list, err := s.ListCredentials(t.Context(), tenantID, gatehouse.CredentialFilter{Kind: gatehouse.KindOAuth2Refresh})
	must(t, err, "list refresh tokens")
	var out []*gatehouse.Credential
	for _, c := range list {
		if c.GrantID == grantID && c.RotatedAt == nil && c.RevokedAt == nil {
			out = append(out, c)
		}
	}
	return out
}

// rotationFixture is a tenant with a member who allowed an app.
func rotationFixture(t *testing.T, s gatehouse.Store) (*gatehouse.Tenant, *gatehouse.User, *gatehouse.Client) {
	tn := newTenant(t, s, "acme")
	u := newUser(t, s, "ana@example.com")
	newMember(t, s, tn.ID, u.ID, gatehouse.RoleAdmin)
	app := newClient(t, s, tn.ID, "APIK-APP", func(c *gatehouse.Client) { c.Confidential = false })
	must(t, s.SaveConsent(t.Context(), &gatehouse.Consent{TenantID: tn.ID, UserID: u.ID, ClientID: app.ID, Scopes: []string{"catalog"}}), "save consent")
	return tn, u, app
}

func testRotateRefreshToken(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, u, app := rotationFixture(t, s)
	b := newTenant(t, s, "bolt")
	stored := func() int {
		list, err := s.ListCredentials(ctx, a.ID, gatehouse.CredentialFilter{IncludeRevoked: true})
		must(t, err, "list credentials")
		return len(list)
	}
	var rec recorder
	defer s.Subscribe(rec.record)()

	t.Run("rotate", func(t *testing.T) {
		rt := oauthToken(t, s, a.ID, app.ID, u.ID, "g1", gatehouse.KindOAuth2Refresh)
		at := base.Add(time.Minute)
		r := rotation(rt, at)
		must(t, s.RotateRefreshToken(ctx, r), "rotate")
		for _, c := range r.Next {
			if c.ID == "" || c.CreatedAt.IsZero() || c.UserID != u.ID || c.GrantID != "g1" {
				t.Fatalf("rotate did not assign ID and CreatedAt or bind the token: %+v", c)
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
		// After the grace, the same token again is a reuse: ECONFLICT,
		// nothing stored, and the grant revoked.
		count0 := stored()
		wantCode(t, s.RotateRefreshToken(ctx, rotation(rt, at.Add(grace))), gatehouse.ECONFLICT, "reuse after the grace")
		if n := stored(); n != count0 {
			t.Errorf("a reuse stored %d credentials", n-count0)
		}
		assertNoneLive(t, s, a.ID, func(c *gatehouse.Credential) bool { return c.GrantID == "g1" }, "reused grant")
		rec.take()
	})
	t.Run("grace replaces an unused successor", func(t *testing.T) {
		rt := oauthToken(t, s, a.ID, app.ID, u.ID, "g2", gatehouse.KindOAuth2Refresh)
		r1 := rotation(rt, base)
		must(t, s.RotateRefreshToken(ctx, r1), "rotate")
		// The response was lost: rt again, twice, within the grace.
		r2 := rotation(rt, base.Add(10*time.Second))
		must(t, s.RotateRefreshToken(ctx, r2), "grace reuse")
		r3 := rotation(rt, base.Add(20*time.Second))
		must(t, s.RotateRefreshToken(ctx, r3), "second grace reuse")
		live := liveRefresh(t, s, a.ID, "g2")
		if len(live) != 1 || live[0].ID != r3.Next[1].ID {
			t.Fatalf("live refresh tokens after grace reuses = %v, want only the last successor %s", live, r3.Next[1].ID)
		}
		// The access tokens issued meanwhile stay valid.
		if got := revokedAt(t, s, r1.Next[0], r2.Next[0])[r1.Next[0].ID]; got != nil {
			t.Errorf("a grace reuse revoked an earlier access token")
		}
		// The successor is used: from now on rt is a reuse, even within
		// its grace, and the grant goes.
		r4 := rotation(r3.Next[1], base.Add(21*time.Second))
		must(t, s.RotateRefreshToken(ctx, r4), "rotate the successor")
		wantCode(t, s.RotateRefreshToken(ctx, rotation(rt, base.Add(25*time.Second))), gatehouse.ECONFLICT, "reuse once the successor was used")
		assertNoneLive(t, s, a.ID, func(c *gatehouse.Credential) bool { return c.GrantID == "g2" }, "grant reused after its successor")
		rec.take()
	})
	t.Run("refusals store nothing", func(t *testing.T) {
		revoked := oauthToken(t, s, a.ID, app.ID, u.ID, "g3", gatehouse.KindOAuth2Refresh)
		must(t, s.RevokeCredential(ctx, a.ID, revoked.ID, base), "revoke")
		ofRevokedGrant := oauthToken(t, s, a.ID, app.ID, u.ID, "g4", gatehouse.KindOAuth2Refresh)
		must(t, s.RevokeGrant(ctx, a.ID, "g4", base), "revoke grant")
		live := oauthToken(t, s, a.ID, app.ID, u.ID, "g5", gatehouse.KindOAuth2Refresh)
		other := newClient(t, s, a.ID, "APIK-OTHER", nil)
		access := oauthToken(t, s, a.ID, app.ID, u.ID, "g5", gatehouse.KindOAuth2Access)
		count0 := stored()
		rec.take()
		wantCode(t, s.RotateRefreshToken(ctx, rotation(revoked, base)), gatehouse.EINVALID, "rotate a revoked token")
		wantCode(t, s.RotateRefreshToken(ctx, rotation(ofRevokedGrant, base)), gatehouse.EINVALID, "rotate a token of a revoked grant")
		r := rotation(live, base)
		r.ClientID = other.ID
		wantCode(t, s.RotateRefreshToken(ctx, r), gatehouse.EFORBIDDEN, "rotate another client's token")
		wantCode(t, s.RotateRefreshToken(ctx, rotation(access, base)), gatehouse.EFORBIDDEN, "rotate an access token")
		r = rotation(live, base)
		r.TenantID = b.ID
		wantCode(t, s.RotateRefreshToken(ctx, r), gatehouse.ENOTFOUND, "rotate another tenant's token")
		r = rotation(live, base)
		r.ID = "cred_missing"
		wantCode(t, s.RotateRefreshToken(ctx, r), gatehouse.ENOTFOUND, "rotate a missing token")
		// A next credential that cannot be stored undoes the whole rotation.
		bad := rotation(live, base)
		bad.Next[1].Hash = access.Hash // taken
		wantCode(t, s.RotateRefreshToken(ctx, bad), gatehouse.ECONFLICT, "rotate into a taken hash")
		if got, _ := s.FindCredential(ctx, a.ID, live.ID); got.RotatedAt != nil {
			t.Error("a failed rotation left the token marked rotated")
		}
		if n := stored(); n != count0 {
			t.Errorf("refused rotations stored %d credentials", n-count0)
		}
		if got := rec.take(); len(got) != 0 {
			t.Errorf("refused rotations published %+v", got)
		}
		// ... and the token can then rotate; not once its user has left.
		must(t, s.RotateRefreshToken(ctx, rotation(live, base)), "rotate after the failures")
		must(t, s.RemoveMembership(ctx, a.ID, u.ID, base), "remove membership")
		later := oauthToken(t, s, a.ID, app.ID, u.ID, "g6", gatehouse.KindOAuth2Refresh)
		wantCode(t, s.RotateRefreshToken(ctx, rotation(later, base)), gatehouse.EINVALID, "rotate a removed member's token")
	})
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

// testConcurrentRedeemAuthCode: 20 redemptions of one code yield exactly
// one success; the 19 others are replays (ECONFLICT, with the code), which
// revoke the grant, so the one token stored does not survive either.
func testConcurrentRedeemAuthCode(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newCodeFixture(t, s)
	for round := range 3 {
		code := f.code(nil)
		got := make([]*gatehouse.AuthCode, 20)
		errs := race(20, func(i int) error {
			var err error
			got[i], err = s.RedeemAuthCode(ctx, f.redemption(code, base.Add(time.Duration(i)*time.Millisecond)))
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
		creds := f.grantCreds(code.GrantID)
		if len(creds) != 1 {
			t.Errorf("round %d: %d tokens stored for the code, want exactly 1", round, len(creds))
		}
		assertNoneLive(t, s, f.tn.ID, func(c *gatehouse.Credential) bool { return c.GrantID == code.GrantID }, "replayed code")
	}
}

// testConcurrentRedeemManyCodes redeems 24 distinct codes at once: every
// one succeeds (no redemption waits for a connection it holds itself —
// issue 12's pool exhaustion).
func testConcurrentRedeemManyCodes(t *testing.T, s gatehouse.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	f := newCodeFixture(t, s)
	codes := make([]*gatehouse.AuthCode, 24)
	for i := range codes {
		codes[i] = f.code(nil)
	}
	errs := race(len(codes), func(i int) error {
		_, err := s.RedeemAuthCode(ctx, f.redemption(codes[i], base))
		return err
	})
	if ok := count(t, errs, ""); ok != len(codes) {
		t.Errorf("%d of %d distinct codes redeemed", ok, len(codes))
	}
}

// testConcurrentRotate: n rotations of one refresh token at once (a
// client's parallel refreshes) all answer — the later ones are grace
// reuses — and leave exactly one live successor, which rotates.
func testConcurrentRotate(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn, u, app := rotationFixture(t, s)
	for _, n := range []int{2, 3, 8, 12, 20} {
		grant := fmt.Sprint("g", n)
		rt := oauthToken(t, s, tn.ID, app.ID, u.ID, grant, gatehouse.KindOAuth2Refresh)
		rs := make([]*gatehouse.RefreshRotation, n)
		errs := race(n, func(i int) error {
			rs[i] = rotation(rt, base.Add(time.Duration(i)*time.Millisecond))
			return s.RotateRefreshToken(ctx, rs[i])
		})
		if ok := count(t, errs, gatehouse.ECONFLICT); ok != n {
			t.Errorf("n=%d: %d racing rotations answered, want all", n, ok)
		}
		live := liveRefresh(t, s, tn.ID, grant)
		if len(live) != 1 {
			t.Fatalf("n=%d: %d live refresh tokens after racing rotations, want exactly 1", n, len(live))
		}
		must(t, s.RotateRefreshToken(ctx, rotation(live[0], base.Add(time.Second))), fmt.Sprint("n=", n, ": rotate the survivor"))
		if live := liveRefresh(t, s, tn.ID, grant); len(live) != 1 {
			t.Errorf("n=%d: %d live refresh tokens after rotating the survivor", n, len(live))
		}
	}
}

// testConcurrentRevokeGrant races a grant's revocation against rotations of
// its refresh tokens and new credentials in it (a replayed code revoking
// while the first redemption issues): afterwards no credential of the grant
// may be live.
func testConcurrentRevokeGrant(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn, u, app := rotationFixture(t, s)
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
				return s.RotateRefreshToken(ctx, rotation(rts[i], base))
			default:
				return s.CreateCredential(ctx, mk())
			}
		})
		countRefused(t, errs)
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
	newMember(t, s, tn.ID, u.ID, gatehouse.RoleAdmin)
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
			return s.RotateRefreshToken(ctx, rotation(rts[i], base))
		})
		countRefused(t, errs)
		must(t, errs[10], "delete")
		assertNoneLive(t, s, tn.ID, func(c *gatehouse.Credential) bool { return c.ClientID == app.ID }, "app "+app.ID)
	}
}

// countRefused fails t for errors other than the refusals of a write that
// lost a race with a revocation (ECONFLICT, EINVALID).
func countRefused(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		switch gatehouse.ErrorCode(err) {
		case "", gatehouse.ECONFLICT, gatehouse.EINVALID:
		default:
			t.Errorf("unexpected error: %v", err)
		}
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

// testClientOrigins: AllowedOrigins round-trip and OriginAllowed finds an
// origin an app allows, explicitly or through its redirect URIs, in any
// tenant, and nothing else.
func testClientOrigins(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	spa := newClient(t, s, a.ID, "APIK-SPA", func(c *gatehouse.Client) {
		c.AllowedOrigins = []string{"https://spa.example.com", "http://localhost:5173"}
		c.RedirectURIs = []string{"https://redirect-only.example.com/cb"}
	})
	got, err := s.FindClient(ctx, spa.ID)
	must(t, err, "find client")
	if diff := cmp.Diff(spa, got); diff != "" {
		t.Errorf("client with origins (-want +got):\n%s", diff)
	}
	newClient(t, s, b.ID, "APIK-DEFAULT", func(c *gatehouse.Client) {
		c.RedirectURIs = []string{"https://Shop.Example.com:443/oauth/cb?x=1", "http://127.0.0.1:8080"}
	})
	newClient(t, s, b.ID, "APIK-LOOKALIKE", func(c *gatehouse.Client) {
		c.RedirectURIs = []string{"https://evil.example.com/https://victim.example.com/cb", "https://victim.example.com.evil.example/cb",
			"https://ported.example.com:8443/cb"}
	})
	for origin, want := range map[string]bool{
		"https://spa.example.com":           true,
		"http://localhost:5173":             true,
		"https://redirect-only.example.com": false, // explicit origins replace the default
		"https://shop.example.com":          true,
		"http://127.0.0.1:8080":             true,
		"https://victim.example.com":        false,
		"https://ported.example.com":        false,
		"https://ported.example.com:8443":   true,
		"https://SPA.example.com":           false, // not NormalizeOrigin's form
		"https://spa.example.com/":          false,
		"null":                              false,
		"https://%":                         false,
	} {
		ok, err := s.OriginAllowed(ctx, origin)
		must(t, err, "origin allowed")
		if ok != want {
			t.Errorf("OriginAllowed(%q) = %v, want %v", origin, ok, want)
		}
	}
	// An update replaces the origins; clearing them restores the default.
	spa.AllowedOrigins = []string{"https://new.example.com"}
	must(t, s.UpdateClient(ctx, spa), "update client origins")
	got, err = s.FindClient(ctx, spa.ID)
	must(t, err, "find updated client")
	if !slices.Equal(got.AllowedOrigins, spa.AllowedOrigins) {
		t.Errorf("updated origins = %q, want %q", got.AllowedOrigins, spa.AllowedOrigins)
	}
	spa.AllowedOrigins = nil
	must(t, s.UpdateClient(ctx, spa), "clear client origins")
	for origin, want := range map[string]bool{"https://spa.example.com": false, "https://new.example.com": false, "https://redirect-only.example.com": true} {
		ok, err := s.OriginAllowed(ctx, origin)
		must(t, err, "origin allowed")
		if ok != want {
			t.Errorf("after clearing, OriginAllowed(%q) = %v, want %v", origin, ok, want)
		}
	}
}
