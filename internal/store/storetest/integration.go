package storetest

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// oauth1Value returns a fresh Magento-compatible value (32 of [a-z0-9]).
func oauth1Value() string {
	return strings.ToLower(rand.Text() + rand.Text())[:gatehouse.OAuth1ValueLen]
}

// sealed stands in for an AES-GCM sealed secret: opaque bytes, including
// ones a text column would mangle.
func sealed() []byte {
	b := make([]byte, 60)
	rand.Read(b)
	b[0], b[1] = 0, 0xff
	return b
}

// newIntegration stores an inactive integration of the tenant with custom
// resources, changed by mod when not nil.
func newIntegration(t *testing.T, s gatehouse.Store, tenantID string, mod func(i *gatehouse.Integration)) *gatehouse.Integration {
	t.Helper()
	i := &gatehouse.Integration{
		TenantID:       tenantID,
		Name:           "ERP sync",
		Email:          "erp@example.com",
		Resources:      []string{"catalog", "sales.orders"},
		Status:         gatehouse.IntegrationInactive,
		ConsumerKey:    oauth1Value(),
		ConsumerSecret: sealed(),
	}
	if mod != nil {
		mod(i)
	}
	must(t, s.CreateIntegration(t.Context(), i), "create integration")
	return i
}

// integrationToken issues an access token to the integration at at.
func integrationToken(t *testing.T, s gatehouse.Store, i *gatehouse.Integration, at time.Time) *gatehouse.Credential {
	t.Helper()
	c := &gatehouse.Credential{TenantID: i.TenantID, Kind: gatehouse.KindIntegration, Name: i.Name,
		Hash: randomHash(), Hint: "abcd…", ClientID: i.ID, Scopes: i.Scopes(), Secret: sealed()}
	must(t, s.IssueIntegrationToken(t.Context(), i.TenantID, i.ID, c, at), "issue integration token")
	return c
}

// findIntegration returns the stored integration.
func findIntegration(t *testing.T, s gatehouse.Store, i *gatehouse.Integration) *gatehouse.Integration {
	t.Helper()
	got, err := s.FindIntegration(t.Context(), i.TenantID, i.ID)
	must(t, err, "find integration")
	return got
}

func sortChanges(c []gatehouse.Change) []gatehouse.Change {
	slices.SortFunc(c, func(x, y gatehouse.Change) int { return strings.Compare(x.CredentialID, y.CredentialID) })
	return c
}

func changesOf(creds ...*gatehouse.Credential) []gatehouse.Change {
	var list []gatehouse.Change
	for _, c := range creds {
		list = append(list, gatehouse.Change{TenantID: c.TenantID, CredentialID: c.ID, Hash: c.Hash})
	}
	return sortChanges(list)
}

func testIntegrations(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a := newTenant(t, s, "acme")
	handshake := base.Add(-time.Minute)
	full := &gatehouse.Integration{
		TenantID:        a.ID,
		Name:            "Warehouse",
		Email:           "ops@example.com",
		CallbackURL:     "https://wh.example.com/callback",
		IdentityLinkURL: "http://wh.example.com/login",
		Resources:       []string{"sales.orders", "catalog"}, // order kept
		Status:          gatehouse.IntegrationPending,
		ConsumerKey:     oauth1Value(),
		ConsumerSecret:  sealed(),
		VerifierHash:    randomHash(),
		HandshakeAt:     &handshake,
		CreatedAt:       base,
		UpdatedAt:       base.Add(time.Second),
	}
	must(t, s.CreateIntegration(ctx, full), "create integration")
	if !strings.HasPrefix(full.ID, "int_") {
		t.Errorf("integration ID = %q, want int_…", full.ID)
	}
	got := findIntegration(t, s, full)
	if diff := cmp.Diff(full, got); diff != "" {
		t.Errorf("find integration (-want +got):\n%s", diff)
	}
	got, err := s.FindIntegrationByConsumerKey(ctx, full.ConsumerKey)
	must(t, err, "find integration by consumer key")
	if diff := cmp.Diff(full, got); diff != "" {
		t.Errorf("find integration by consumer key (-want +got):\n%s", diff)
	}

	// The least an integration can be: defaults assigned, nil stays nil.
	bare := &gatehouse.Integration{TenantID: a.ID, Name: "Bare", AllResources: true,
		ConsumerKey: oauth1Value(), ConsumerSecret: sealed()}
	must(t, s.CreateIntegration(ctx, bare), "create bare integration")
	if bare.ID == "" || bare.CreatedAt.IsZero() || !bare.UpdatedAt.Equal(bare.CreatedAt) || bare.Status != gatehouse.IntegrationInactive {
		t.Errorf("create integration did not assign ID, times and status: %+v", bare)
	}
	got = findIntegration(t, s, bare)
	if diff := cmp.Diff(bare, got); diff != "" {
		t.Errorf("bare integration (-want +got):\n%s", diff)
	}
	if got.Resources != nil || got.VerifierHash != nil || got.HandshakeAt != nil {
		t.Errorf("bare integration has values it was not given: %+v", got)
	}
	if !slices.Equal(got.Scopes(), []string{gatehouse.ScopeAll}) {
		t.Errorf("Scopes of an All integration = %v", got.Scopes())
	}

	list, err := s.ListIntegrations(ctx, a.ID, gatehouse.ListFilter{})
	must(t, err, "list integrations")
	if len(list) != 2 || list[0].ID != bare.ID || list[1].ID != full.ID {
		t.Errorf("list integrations = %+v, want bare then full (newest first)", list)
	}

	// Update saves every mutable field, clears optional ones, and keeps
	// ID, TenantID and CreatedAt.
	upd := *full
	upd.Name, upd.Email = "Warehouse 2", ""
	upd.CallbackURL, upd.IdentityLinkURL = "", ""
	upd.AllResources, upd.Resources = true, nil
	upd.Status = gatehouse.IntegrationActive
	upd.ConsumerKey, upd.ConsumerSecret = oauth1Value(), sealed()
	upd.VerifierHash, upd.HandshakeAt = nil, nil
	before := time.Now().Add(-time.Second)
	must(t, s.UpdateIntegration(ctx, &upd), "update integration")
	if upd.UpdatedAt.Before(before) || !upd.CreatedAt.Equal(base) {
		t.Errorf("update integration: CreatedAt %v, UpdatedAt %v; want base and now", upd.CreatedAt, upd.UpdatedAt)
	}
	got = findIntegration(t, s, full)
	if diff := cmp.Diff(&upd, got); diff != "" {
		t.Errorf("updated integration (-want +got):\n%s", diff)
	}
	_, err = s.FindIntegrationByConsumerKey(ctx, full.ConsumerKey)
	wantCode(t, err, gatehouse.ENOTFOUND, "find by the replaced consumer key")
	// And back to set values.
	upd.Resources, upd.AllResources = []string{"catalog"}, false
	upd.VerifierHash, upd.HandshakeAt = randomHash(), &handshake
	must(t, s.UpdateIntegration(ctx, &upd), "update integration again")
	got = findIntegration(t, s, full)
	if diff := cmp.Diff(&upd, got); diff != "" {
		t.Errorf("updated integration (-want +got):\n%s", diff)
	}

	// Consumer keys are unique across tenants.
	b := newTenant(t, s, "bolt")
	err = s.CreateIntegration(ctx, &gatehouse.Integration{TenantID: b.ID, Name: "Copy", AllResources: true,
		ConsumerKey: upd.ConsumerKey, ConsumerSecret: sealed()})
	wantCode(t, err, gatehouse.ECONFLICT, "duplicate consumer key in another tenant")
	clash := *bare
	clash.ConsumerKey = upd.ConsumerKey
	wantCode(t, s.UpdateIntegration(ctx, &clash), gatehouse.ECONFLICT, "update to a taken consumer key")
	if got := findIntegration(t, s, bare); got.ConsumerKey != bare.ConsumerKey {
		t.Errorf("refused update changed the consumer key to %q", got.ConsumerKey)
	}

	_, err = s.FindIntegrationByConsumerKey(ctx, oauth1Value())
	wantCode(t, err, gatehouse.ENOTFOUND, "find unknown consumer key")
	_, err = s.FindIntegration(ctx, a.ID, "int_missing")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing integration")
	wantCode(t, s.UpdateIntegration(ctx, &gatehouse.Integration{ID: "int_missing", TenantID: a.ID, Name: "x",
		ConsumerKey: oauth1Value(), ConsumerSecret: sealed()}), gatehouse.ENOTFOUND, "update missing integration")
	err = s.CreateIntegration(ctx, &gatehouse.Integration{TenantID: "ten_missing", Name: "x", AllResources: true,
		ConsumerKey: oauth1Value(), ConsumerSecret: sealed()})
	wantCode(t, err, gatehouse.ENOTFOUND, "integration of a missing tenant")
	for name, mod := range map[string]func(i *gatehouse.Integration){
		"no consumer key":    func(i *gatehouse.Integration) { i.ConsumerKey = "" },
		"no consumer secret": func(i *gatehouse.Integration) { i.ConsumerSecret = nil },
		"unknown status":     func(i *gatehouse.Integration) { i.Status = "enabled" },
		"resource with space": func(i *gatehouse.Integration) {
			i.Resources = []string{"catalog sales"}
		},
	} {
		i := &gatehouse.Integration{TenantID: a.ID, Name: "x", ConsumerKey: oauth1Value(), ConsumerSecret: sealed(),
			Resources: []string{"catalog"}}
		mod(i)
		wantCode(t, s.CreateIntegration(ctx, i), gatehouse.EINVALID, "create integration with "+name)
		u := *bare
		mod(&u)
		wantCode(t, s.UpdateIntegration(ctx, &u), gatehouse.EINVALID, "update integration with "+name)
	}
	list, err = s.ListIntegrations(ctx, a.ID, gatehouse.ListFilter{})
	must(t, err, "list integrations")
	if len(list) != 2 {
		t.Errorf("refused creates stored integrations: %d listed", len(list))
	}
}

// testIntegrationIsolation: every method refuses another tenant's
// integration with ENOTFOUND and changes nothing.
func testIntegrationIsolation(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	i := newIntegration(t, s, a.ID, nil)
	tok := integrationToken(t, s, i, base)
	stored := findIntegration(t, s, i)
	must(t, s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: a.ID, IntegrationID: i.ID, URL: "https://x.example.com"}), "add delivery")
	must(t, s.AddNotification(ctx, &gatehouse.Notification{TenantID: a.ID, Message: "authorized"}), "add notification")

	var rec recorder
	defer s.Subscribe(rec.record)()

	_, err := s.FindIntegration(ctx, b.ID, i.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find another tenant's integration")
	list, err := s.ListIntegrations(ctx, b.ID, gatehouse.ListFilter{})
	must(t, err, "list integrations of b")
	if len(list) != 0 {
		t.Errorf("tenant b lists %d integrations of a", len(list))
	}
	moved := *stored
	moved.TenantID, moved.Name, moved.AllResources = b.ID, "hijacked", true
	wantCode(t, s.UpdateIntegration(ctx, &moved), gatehouse.ENOTFOUND, "update another tenant's integration")
	wantCode(t, s.DeleteIntegration(ctx, b.ID, i.ID, base), gatehouse.ENOTFOUND, "delete another tenant's integration")
	wantCode(t, s.DeactivateIntegration(ctx, b.ID, i.ID, base), gatehouse.ENOTFOUND, "deactivate another tenant's integration")
	foreign := &gatehouse.Credential{TenantID: b.ID, Kind: gatehouse.KindIntegration, Hash: randomHash(), Secret: sealed()}
	wantCode(t, s.IssueIntegrationToken(ctx, b.ID, i.ID, foreign, base), gatehouse.ENOTFOUND, "issue for another tenant's integration")
	_, err = s.FindCredentialByHash(ctx, foreign.Hash)
	wantCode(t, err, gatehouse.ENOTFOUND, "refused issue stored a token")
	// A token of tenant a cannot name tenant b either.
	cross := &gatehouse.Credential{TenantID: b.ID, Kind: gatehouse.KindIntegration, Hash: randomHash()}
	wantCode(t, s.IssueIntegrationToken(ctx, a.ID, i.ID, cross, base), gatehouse.EINVALID, "issue a token of another tenant")
	err = s.CreateRequestToken(ctx, &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: b.ID, IntegrationID: i.ID,
		Secret: sealed(), ExpiresAt: base.Add(time.Hour)})
	wantCode(t, err, gatehouse.ENOTFOUND, "request token for another tenant's integration")
	err = s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: b.ID, IntegrationID: i.ID, URL: "https://x.example.com"})
	wantCode(t, err, gatehouse.ENOTFOUND, "delivery for another tenant's integration")
	_, err = s.ListDeliveries(ctx, b.ID, i.ID, gatehouse.PageQuery{Limit: 10})
	wantCode(t, err, gatehouse.ENOTFOUND, "list another tenant's deliveries")
	ns, err := s.ListNotifications(ctx, b.ID, false, 0)
	must(t, err, "list notifications of b")
	if len(ns) != 0 {
		t.Errorf("tenant b lists %d notifications of a", len(ns))
	}
	must(t, s.MarkNotificationsRead(ctx, b.ID, base), "mark b's notifications read")

	// Nothing of a changed, and nothing was published.
	if diff := cmp.Diff(stored, findIntegration(t, s, i)); diff != "" {
		t.Errorf("integration changed by another tenant (-want +got):\n%s", diff)
	}
	got, err := s.FindCredential(ctx, a.ID, tok.ID)
	must(t, err, "find token")
	if got.RevokedAt != nil || !slices.Equal(got.Scopes, tok.Scopes) {
		t.Errorf("token changed by another tenant: %+v", got)
	}
	ds, err := s.ListDeliveries(ctx, a.ID, i.ID, gatehouse.PageQuery{Limit: 0})
	must(t, err, "list deliveries")
	if len(ds) != 1 {
		t.Errorf("a's deliveries = %d, want 1", len(ds))
	}
	ns, err = s.ListNotifications(ctx, a.ID, true, 0)
	must(t, err, "list notifications")
	if len(ns) != 1 {
		t.Errorf("a's unread notifications = %d, want 1", len(ns))
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("refused writes published %+v", got)
	}
}

// testUpdateIntegrationScopes: changed resources reach the live token in
// the same write, and caches hear of it; revoked tokens keep theirs.
func testUpdateIntegrationScopes(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	other := newIntegration(t, s, tn.ID, nil)
	old := integrationToken(t, s, i, base.Add(-time.Hour))
	live := integrationToken(t, s, i, base) // revokes old
	otherTok := integrationToken(t, s, other, base)
	pat := newCredential(t, s, tn.ID, nil)

	var rec recorder
	defer s.Subscribe(rec.record)()
	scopesOf := func(c *gatehouse.Credential) []string {
		t.Helper()
		got, err := s.FindCredential(ctx, tn.ID, c.ID)
		must(t, err, "find credential")
		return got.Scopes
	}

	// No change of resources, no change published (a status change, say).
	i.Status = gatehouse.IntegrationPending
	must(t, s.UpdateIntegration(ctx, i), "update status")
	if got := rec.take(); len(got) != 0 {
		t.Errorf("update without new resources published %+v", got)
	}

	i.Resources = []string{"catalog", "customers"}
	must(t, s.UpdateIntegration(ctx, i), "update resources")
	if diff := cmp.Diff(changesOf(live), sortChanges(rec.take())); diff != "" {
		t.Errorf("changes after update resources (-want +got):\n%s", diff)
	}
	if got := scopesOf(live); !slices.Equal(got, i.Resources) {
		t.Errorf("live token scopes = %v, want %v", got, i.Resources)
	}
	if got := scopesOf(old); !slices.Equal(got, []string{"catalog", "sales.orders"}) {
		t.Errorf("revoked token scopes changed to %v", got)
	}
	if got := scopesOf(otherTok); !slices.Equal(got, []string{"catalog", "sales.orders"}) {
		t.Errorf("other integration's token scopes changed to %v", got)
	}
	if got := scopesOf(pat); !slices.Equal(got, pat.Scopes) {
		t.Errorf("PAT scopes changed to %v", got)
	}

	i.AllResources = true
	must(t, s.UpdateIntegration(ctx, i), "update to all resources")
	if got := scopesOf(live); !slices.Equal(got, []string{gatehouse.ScopeAll}) {
		t.Errorf("live token scopes = %v, want [all]", got)
	}
	if diff := cmp.Diff(changesOf(live), sortChanges(rec.take())); diff != "" {
		t.Errorf("changes after update to all (-want +got):\n%s", diff)
	}
}

func testDeleteIntegration(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	keep := newIntegration(t, s, tn.ID, nil)
	earlier := base.Add(-time.Hour)
	old := integrationToken(t, s, i, earlier)
	live := integrationToken(t, s, i, earlier.Add(time.Minute)) // revokes old at its time
	keepTok := integrationToken(t, s, keep, earlier)
	rt := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(), ExpiresAt: base}
	must(t, s.CreateRequestToken(ctx, rt), "create request token")
	must(t, s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: i.ID, URL: "https://x.example.com"}), "add delivery")
	must(t, s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: keep.ID, URL: "https://x.example.com"}), "add delivery")

	var rec recorder
	defer s.Subscribe(rec.record)()
	must(t, s.DeleteIntegration(ctx, tn.ID, i.ID, base), "delete integration")

	oldRevoked := earlier.Add(time.Minute)
	want := map[string]*time.Time{old.ID: &oldRevoked, live.ID: &base, keepTok.ID: nil}
	if diff := cmp.Diff(want, revokedAt(t, s, old, live, keepTok)); diff != "" {
		t.Errorf("RevokedAt after delete integration (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(changesOf(live), sortChanges(rec.take())); diff != "" {
		t.Errorf("changes after delete integration (-want +got):\n%s", diff)
	}
	_, err := s.FindIntegration(ctx, tn.ID, i.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted integration")
	_, err = s.FindIntegrationByConsumerKey(ctx, i.ConsumerKey)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted integration by consumer key")
	_, err = s.FindRequestToken(ctx, rt.Hash)
	wantCode(t, err, gatehouse.ENOTFOUND, "request token of a deleted integration")
	_, err = s.ListDeliveries(ctx, tn.ID, i.ID, gatehouse.PageQuery{Limit: 0})
	wantCode(t, err, gatehouse.ENOTFOUND, "deliveries of a deleted integration")
	ds, err := s.ListDeliveries(ctx, tn.ID, keep.ID, gatehouse.PageQuery{Limit: 0})
	must(t, err, "list kept deliveries")
	if len(ds) != 1 {
		t.Errorf("other integration's deliveries = %d, want 1", len(ds))
	}
	if _, err := s.FindIntegration(ctx, tn.ID, keep.ID); err != nil {
		t.Errorf("other integration: %v", err)
	}

	wantCode(t, s.DeleteIntegration(ctx, tn.ID, i.ID, base), gatehouse.ENOTFOUND, "delete integration twice")
	if got := rec.take(); len(got) != 0 {
		t.Errorf("failed delete published %+v", got)
	}
	// A consumer key is free again once its integration is gone.
	newIntegration(t, s, tn.ID, func(n *gatehouse.Integration) { n.ConsumerKey = i.ConsumerKey })
}

func testRequestTokens(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	tok := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(),
		ExpiresAt: base.Add(5 * time.Minute), CreatedAt: base}
	must(t, s.CreateRequestToken(ctx, tok), "create request token")
	got, err := s.FindRequestToken(ctx, tok.Hash)
	must(t, err, "find request token")
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("find request token (-want +got):\n%s", diff)
	}
	bare := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(), ExpiresAt: base}
	must(t, s.CreateRequestToken(ctx, bare), "create bare request token")
	if bare.CreatedAt.IsZero() {
		t.Error("create request token did not assign CreatedAt")
	}

	used := base.Add(time.Minute)
	got, err = s.ConsumeRequestToken(ctx, tok.Hash, used)
	must(t, err, "consume request token")
	want := *tok
	want.UsedAt = &used
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("consumed request token (-want +got):\n%s", diff)
	}
	// Single use: the second consumption is ECONFLICT and returns the token
	// with its first use.
	got, err = s.ConsumeRequestToken(ctx, tok.Hash, used.Add(time.Minute))
	wantCode(t, err, gatehouse.ECONFLICT, "consume request token twice")
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("request token returned with the conflict (-want +got):\n%s", diff)
	}
	// Still found, used, so a signature can be checked and the replay named.
	got, err = s.FindRequestToken(ctx, tok.Hash)
	must(t, err, "find used request token")
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("find used request token (-want +got):\n%s", diff)
	}

	_, err = s.FindRequestToken(ctx, randomHash())
	wantCode(t, err, gatehouse.ENOTFOUND, "find unknown request token")
	got, err = s.ConsumeRequestToken(ctx, randomHash(), used)
	wantCode(t, err, gatehouse.ENOTFOUND, "consume unknown request token")
	if got != nil {
		t.Errorf("consume unknown request token returned %+v", got)
	}
	dup := *bare
	wantCode(t, s.CreateRequestToken(ctx, &dup), gatehouse.ECONFLICT, "duplicate request token hash")
	err = s.CreateRequestToken(ctx, &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: "int_missing",
		Secret: sealed(), ExpiresAt: base})
	wantCode(t, err, gatehouse.ENOTFOUND, "request token of a missing integration")
	err = s.CreateRequestToken(ctx, &gatehouse.OAuth1Token{TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(), ExpiresAt: base})
	wantCode(t, err, gatehouse.EINVALID, "request token without a hash")
}

func testIssueIntegrationToken(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	handshake := base.Add(-time.Minute)
	i := newIntegration(t, s, tn.ID, func(i *gatehouse.Integration) {
		i.Status, i.VerifierHash, i.HandshakeAt = gatehouse.IntegrationPending, randomHash(), &handshake
	})

	var rec recorder
	defer s.Subscribe(rec.record)()

	first := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindIntegration, Name: i.Name, Hash: randomHash(),
		Hint: "abcd…", ClientID: i.ID, Secret: sealed(),
		Scopes: []string{"stale"}} // the store writes the integration's own
	must(t, s.IssueIntegrationToken(ctx, tn.ID, i.ID, first, base), "issue first token")
	if first.ID == "" || !first.CreatedAt.Equal(base) || !slices.Equal(first.Scopes, i.Scopes()) {
		t.Errorf("issued token: ID %q, CreatedAt %v, Scopes %v", first.ID, first.CreatedAt, first.Scopes)
	}
	got, err := s.FindCredentialByHash(ctx, first.Hash)
	must(t, err, "find first token")
	if diff := cmp.Diff(first, got, cmpOpts); diff != "" {
		t.Errorf("issued token (-want +got):\n%s", diff)
	}
	want := *i
	want.Status, want.VerifierHash, want.UpdatedAt = gatehouse.IntegrationActive, nil, base
	if diff := cmp.Diff(&want, findIntegration(t, s, i)); diff != "" {
		t.Errorf("integration after issue (-want +got):\n%s", diff)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("first issue published %+v, nothing was revoked", got)
	}

	// The next token revokes the previous one at once.
	next := base.Add(time.Hour)
	second := integrationToken(t, s, i, next)
	if diff := cmp.Diff(map[string]*time.Time{first.ID: &next, second.ID: nil}, revokedAt(t, s, first, second)); diff != "" {
		t.Errorf("RevokedAt after the second issue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(changesOf(first), sortChanges(rec.take())); diff != "" {
		t.Errorf("changes after the second issue (-want +got):\n%s", diff)
	}

	// A refused issue changes nothing: duplicate hash, wrong kind, missing
	// integration.
	dup := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindIntegration, Hash: second.Hash, ClientID: i.ID}
	wantCode(t, s.IssueIntegrationToken(ctx, tn.ID, i.ID, dup, next.Add(time.Hour)), gatehouse.ECONFLICT, "issue a duplicate hash")
	wrongKind := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash(), ClientID: i.ID}
	wantCode(t, s.IssueIntegrationToken(ctx, tn.ID, i.ID, wrongKind, next), gatehouse.EINVALID, "issue a PAT")
	otherID := &gatehouse.Credential{Kind: gatehouse.KindIntegration, Hash: randomHash(), ClientID: "int_other"}
	wantCode(t, s.IssueIntegrationToken(ctx, tn.ID, i.ID, otherID, next), gatehouse.EINVALID, "issue for another client id")
	missing := &gatehouse.Credential{Hash: randomHash()}
	wantCode(t, s.IssueIntegrationToken(ctx, tn.ID, "int_missing", missing, next), gatehouse.ENOTFOUND, "issue for a missing integration")
	if diff := cmp.Diff(map[string]*time.Time{first.ID: &next, second.ID: nil}, revokedAt(t, s, first, second)); diff != "" {
		t.Errorf("refused issues changed tokens (-want +got):\n%s", diff)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("refused issues published %+v", got)
	}

	// Defaults: tenant, client id and kind come from the call.
	third := &gatehouse.Credential{Hash: randomHash()}
	must(t, s.IssueIntegrationToken(ctx, tn.ID, i.ID, third, next), "issue with defaults")
	got, err = s.FindCredentialByHash(ctx, third.Hash)
	must(t, err, "find third token")
	if got.TenantID != tn.ID || got.ClientID != i.ID || got.Kind != gatehouse.KindIntegration || got.Secret != nil {
		t.Errorf("token issued with defaults = %+v", got)
	}
}

func testDeactivateIntegration(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	other := newIntegration(t, s, tn.ID, nil)
	tok := integrationToken(t, s, i, base.Add(-time.Hour))
	otherTok := integrationToken(t, s, other, base.Add(-time.Hour))
	stored := findIntegration(t, s, i)

	var rec recorder
	defer s.Subscribe(rec.record)()
	must(t, s.DeactivateIntegration(ctx, tn.ID, i.ID, base), "deactivate integration")
	if diff := cmp.Diff(map[string]*time.Time{tok.ID: &base, otherTok.ID: nil}, revokedAt(t, s, tok, otherTok)); diff != "" {
		t.Errorf("RevokedAt after revoke (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(changesOf(tok), sortChanges(rec.take())); diff != "" {
		t.Errorf("changes after revoke (-want +got):\n%s", diff)
	}
	// Inactive, without a verifier, until a new handshake.
	stored.Status, stored.VerifierHash, stored.UpdatedAt = gatehouse.IntegrationInactive, nil, base
	if diff := cmp.Diff(stored, findIntegration(t, s, i)); diff != "" {
		t.Errorf("deactivated integration (-want +got):\n%s", diff)
	}
	// Idempotent: the first revocation time stays, nothing is published.
	must(t, s.DeactivateIntegration(ctx, tn.ID, i.ID, base.Add(time.Hour)), "deactivate again")
	if diff := cmp.Diff(map[string]*time.Time{tok.ID: &base}, revokedAt(t, s, tok)); diff != "" {
		t.Errorf("RevokedAt after the second revoke (-want +got):\n%s", diff)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("second revoke published %+v", got)
	}
	wantCode(t, s.DeactivateIntegration(ctx, tn.ID, "int_missing", base), gatehouse.ENOTFOUND, "deactivate a missing integration")
}

// testCredentialSecret: the sealed token secret of an OAuth 1.0a access
// token round-trips through every credential read; other kinds have none.
func testCredentialSecret(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	sec := sealed()
	c := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) {
		c.Kind, c.ClientID, c.Secret = gatehouse.KindIntegration, "int_x", sec
	})
	pat := newCredential(t, s, tn.ID, nil)
	got, err := s.FindCredentialByHash(ctx, c.Hash)
	must(t, err, "find by hash")
	if !slices.Equal(got.Secret, sec) {
		t.Errorf("FindCredentialByHash Secret = %x, want %x", got.Secret, sec)
	}
	got, err = s.FindCredential(ctx, tn.ID, c.ID)
	must(t, err, "find")
	if !slices.Equal(got.Secret, sec) {
		t.Errorf("FindCredential Secret = %x, want %x", got.Secret, sec)
	}
	list, err := s.ListCredentials(ctx, tn.ID, gatehouse.CredentialFilter{})
	must(t, err, "list")
	for _, l := range list {
		switch l.ID {
		case c.ID:
			if !slices.Equal(l.Secret, sec) {
				t.Errorf("ListCredentials Secret = %x, want %x", l.Secret, sec)
			}
		case pat.ID:
			if l.Secret != nil {
				t.Errorf("PAT has a Secret %x", l.Secret)
			}
		}
	}
}

func testDeliveries(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	other := newIntegration(t, s, tn.ID, nil)

	none, err := s.ListDeliveries(ctx, tn.ID, i.ID, gatehouse.PageQuery{Limit: 10})
	must(t, err, "list no deliveries")
	if len(none) != 0 {
		t.Errorf("new integration has %d deliveries", len(none))
	}

	mk := func(at time.Time, status int, errText string) *gatehouse.Delivery {
		d := &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: i.ID, Time: at, URL: "https://erp.example.com/cb",
			Status: status, Error: errText, Duration: 1234567 * time.Microsecond}
		must(t, s.AddDelivery(ctx, d), "add delivery")
		return d
	}
	d1 := mk(base, 0, "dial tcp: connection refused")
	d3 := mk(base.Add(2*time.Minute), 200, "")
	d2 := mk(base.Add(time.Minute), 500, "the callback answered 500")
	d4 := mk(base.Add(2*time.Minute), 204, "") // same time as d3, added later
	must(t, s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: other.ID, URL: "https://o.example.com"}), "add other delivery")
	if d1.ID == "" {
		t.Error("add delivery did not assign ID")
	}

	all, err := s.ListDeliveries(ctx, tn.ID, i.ID, gatehouse.PageQuery{Limit: 0})
	must(t, err, "list deliveries")
	if diff := cmp.Diff([]*gatehouse.Delivery{d4, d3, d2, d1}, all); diff != "" {
		t.Errorf("deliveries, newest first (-want +got):\n%s", diff)
	}
	two, err := s.ListDeliveries(ctx, tn.ID, i.ID, gatehouse.PageQuery{Limit: 2})
	must(t, err, "list 2 deliveries")
	if diff := cmp.Diff([]*gatehouse.Delivery{d4, d3}, two); diff != "" {
		t.Errorf("latest 2 deliveries (-want +got):\n%s", diff)
	}

	// Time defaults to now; Duration is kept to the microsecond.
	before := time.Now().Add(-time.Second)
	d := &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: other.ID, URL: "https://o.example.com", Duration: 1500 * time.Nanosecond}
	must(t, s.AddDelivery(ctx, d), "add delivery without time")
	if d.Time.Before(before) || d.Duration != time.Microsecond {
		t.Errorf("delivery Time %v, Duration %v", d.Time, d.Duration)
	}
	wantCode(t, s.AddDelivery(ctx, &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: "int_missing", URL: "x"}),
		gatehouse.ENOTFOUND, "delivery of a missing integration")
	_, err = s.ListDeliveries(ctx, tn.ID, "int_missing", gatehouse.PageQuery{Limit: 10})
	wantCode(t, err, gatehouse.ENOTFOUND, "deliveries of a missing integration")
}

func testNotifications(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	mk := func(tenantID string, at time.Time, msg string) *gatehouse.Notification {
		n := &gatehouse.Notification{TenantID: tenantID, Message: msg, Link: "/console/integrations/int_x", CreatedAt: at}
		must(t, s.AddNotification(ctx, n), "add notification")
		return n
	}
	n1 := mk(a.ID, base, "one")
	n3 := mk(a.ID, base.Add(2*time.Minute), "three")
	n2 := mk(a.ID, base.Add(time.Minute), "two")
	n4 := mk(a.ID, base.Add(2*time.Minute), "four") // same time as n3, added later
	nb := mk(b.ID, base, "bolt's")
	if n1.ID == "" {
		t.Error("add notification did not assign ID")
	}

	list, err := s.ListNotifications(ctx, a.ID, false, 0)
	must(t, err, "list notifications")
	if diff := cmp.Diff([]*gatehouse.Notification{n4, n3, n2, n1}, list); diff != "" {
		t.Errorf("notifications, newest first (-want +got):\n%s", diff)
	}
	list, err = s.ListNotifications(ctx, a.ID, true, 3)
	must(t, err, "list 3 unread notifications")
	if diff := cmp.Diff([]*gatehouse.Notification{n4, n3, n2}, list); diff != "" {
		t.Errorf("latest 3 unread notifications (-want +got):\n%s", diff)
	}

	read := base.Add(time.Hour)
	must(t, s.MarkNotificationsRead(ctx, a.ID, read), "mark read")
	unread, err := s.ListNotifications(ctx, a.ID, true, 0)
	must(t, err, "list unread")
	if len(unread) != 0 {
		t.Errorf("unread after mark read = %+v", unread)
	}
	list, err = s.ListNotifications(ctx, a.ID, false, 0)
	must(t, err, "list all")
	for _, n := range list {
		if n.ReadAt == nil || !n.ReadAt.Equal(read) {
			t.Errorf("notification %s ReadAt = %v, want %v", n.ID, n.ReadAt, read)
		}
	}
	// A new one is unread; those read keep their time.
	n5 := mk(a.ID, base.Add(3*time.Minute), "five")
	must(t, s.MarkNotificationsRead(ctx, a.ID, read.Add(time.Hour)), "mark read again")
	list, err = s.ListNotifications(ctx, a.ID, false, 2)
	must(t, err, "list 2")
	if len(list) != 2 || list[0].ID != n5.ID || !list[0].ReadAt.Equal(read.Add(time.Hour)) || !list[1].ReadAt.Equal(read) {
		t.Errorf("after second mark read = %+v", list)
	}
	// Tenant b's stays unread.
	bl, err := s.ListNotifications(ctx, b.ID, true, 0)
	must(t, err, "list b")
	if diff := cmp.Diff([]*gatehouse.Notification{nb}, bl); diff != "" {
		t.Errorf("tenant b's notifications (-want +got):\n%s", diff)
	}

	before := time.Now().Add(-time.Second)
	n := &gatehouse.Notification{TenantID: b.ID, Message: "now"}
	must(t, s.AddNotification(ctx, n), "add notification without time")
	if n.CreatedAt.Before(before) {
		t.Errorf("notification CreatedAt = %v, want now", n.CreatedAt)
	}
	wantCode(t, s.AddNotification(ctx, &gatehouse.Notification{TenantID: "ten_missing", Message: "x"}),
		gatehouse.ENOTFOUND, "notification of a missing tenant")
	wantCode(t, s.AddNotification(ctx, &gatehouse.Notification{TenantID: a.ID}), gatehouse.EINVALID, "empty notification")
	wantCode(t, s.AddNotification(ctx, &gatehouse.Notification{TenantID: a.ID, MessageID: "x", Args: map[string]string{"": "v"}}),
		gatehouse.EINVALID, "notification argument without a name")

	// A message id and its arguments (the console renders them in the
	// reader's language); the English text may come along or not.
	c := newTenant(t, s, "cargo")
	byID := &gatehouse.Notification{TenantID: c.ID, MessageID: gatehouse.NoticeIntegrationAuthorized,
		Args: map[string]string{"Name": `Shop "ERP" <b>`, "Other": "é 中文"}, Message: "English text", Link: "/console/integrations/int_y", CreatedAt: base}
	must(t, s.AddNotification(ctx, byID), "add notification by id")
	idOnly := &gatehouse.Notification{TenantID: c.ID, MessageID: "notice.other", CreatedAt: base.Add(time.Minute)}
	must(t, s.AddNotification(ctx, idOnly), "add notification by id without text or arguments")
	textOnly := &gatehouse.Notification{TenantID: c.ID, Message: "stored as text", CreatedAt: base.Add(2 * time.Minute)}
	must(t, s.AddNotification(ctx, textOnly), "add notification as text")
	cl, err := s.ListNotifications(ctx, c.ID, false, 0)
	must(t, err, "list notifications by id")
	if diff := cmp.Diff([]*gatehouse.Notification{textOnly, idOnly, byID}, cl); diff != "" {
		t.Errorf("notifications with message ids (-want +got):\n%s", diff)
	}
}

// testConcurrentConsumeRequestToken: of 20 racing exchanges of one request
// token exactly one succeeds; the others see the winner's use.
func testConcurrentConsumeRequestToken(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	for round := range 3 {
		tok := &gatehouse.OAuth1Token{Hash: randomHash(), TenantID: tn.ID, IntegrationID: i.ID, Secret: sealed(),
			ExpiresAt: base.Add(time.Hour)}
		must(t, s.CreateRequestToken(ctx, tok), "create request token")
		got := make([]*gatehouse.OAuth1Token, 20)
		errs := race(20, func(n int) error {
			var err error
			got[n], err = s.ConsumeRequestToken(ctx, tok.Hash, base.Add(time.Duration(n)*time.Millisecond))
			return err
		})
		if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
			t.Errorf("round %d: %d of 20 racing consumptions succeeded, want exactly 1", round, ok)
		}
		var first *time.Time
		for n, g := range got {
			if g == nil || g.UsedAt == nil || g.IntegrationID != i.ID {
				t.Fatalf("round %d: consumption %d returned %+v (%v), want the token with UsedAt", round, n, g, errs[n])
			}
			if errs[n] == nil {
				first = g.UsedAt
			}
		}
		for n, g := range got {
			if first != nil && !g.UsedAt.Equal(*first) {
				t.Errorf("round %d: consumption %d sees UsedAt %v, the winner set %v", round, n, g.UsedAt, first)
			}
		}
	}
}

// testConcurrentIssueIntegrationToken: racing issues (and a delete) leave
// at most one live token per integration, and none once it is deleted.
func testConcurrentIssueIntegrationToken(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	for round, del := range []bool{false, true, false, true} {
		i := newIntegration(t, s, tn.ID, func(i *gatehouse.Integration) { i.Name = fmt.Sprint("round ", round) })
		errs := race(11, func(n int) error {
			switch {
			case n == 10 && del:
				return s.DeleteIntegration(ctx, tn.ID, i.ID, base)
			case n == 10:
				i2 := *i
				i2.Resources = []string{"customers"}
				return s.UpdateIntegration(ctx, &i2)
			}
			return s.IssueIntegrationToken(ctx, tn.ID, i.ID,
				&gatehouse.Credential{Hash: randomHash(), Secret: sealed()}, base)
		})
		issued := count(t, errs, gatehouse.ENOTFOUND)
		must(t, errs[10], "delete or update")
		list, err := s.ListCredentials(ctx, tn.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindIntegration})
		must(t, err, "list live tokens")
		var live []*gatehouse.Credential
		for _, c := range list {
			if c.ClientID == i.ID {
				live = append(live, c)
			}
		}
		switch {
		case del && len(live) != 0:
			t.Errorf("round %d: %d tokens survived the delete", round, len(live))
		case !del && (len(live) != 1 || issued != 11):
			t.Errorf("round %d: %d live tokens after %d issues, want exactly 1", round, len(live), issued-1)
		case !del && !slices.Equal(live[0].Scopes, []string{"customers"}):
			t.Errorf("round %d: live token scopes %v, want the updated [customers]", round, live[0].Scopes)
		}
	}
}
