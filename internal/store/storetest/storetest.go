// Package storetest is the conformance suite of gatehouse.Store: every
// backend runs it against a real database (SQLite in a temp file,
// PostgreSQL when one is configured), so the backends agree on semantics,
// not just on method signatures. It follows Dex's storage/conformance.
//
// Run covers the behaviour the Store interface documents; RunConcurrency the
// atomic invariants under racing callers (run it with -race); Bench the
// hot paths of verification and issuing.
package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// Run runs the conformance suite. newStore must return an empty, migrated
// store of its own for every call (each subtest calls it once, possibly in
// parallel) and arrange for it to be closed when t ends.
func Run(t *testing.T, newStore func(t *testing.T) gatehouse.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s gatehouse.Store)
	}{
		{"Tenants", testTenants},
		{"Settings", testSettings},
		{"Users", testUsers},
		{"Memberships", testMemberships},
		{"RemoveMembershipRevokes", testRemoveMembershipRevokes},
		{"Credentials", testCredentials},
		{"CredentialList", testCredentialList},
		{"CredentialPages", testCredentialPages},
		{"CredentialSorts", testCredentialSorts},
		{"OtherSorts", testOtherSorts},
		{"CredentialFilters", testCredentialFilters},
		{"MemberPages", testMemberPages},
		{"ClientAndIntegrationPages", testClientAndIntegrationPages},
		{"DeliveryPages", testDeliveryPages},
		{"RevokeIdempotent", testRevokeIdempotent},
		{"DeleteCredential", testDeleteCredential},
		{"RetireCredential", testRetireCredential},
		{"HashUnique", testHashUnique},
		{"OneLiveStaffToken", testOneLiveStaffToken},
		{"CredentialLimit", testCredentialLimit},
		{"LoginAttempts", testLoginAttempts},
		{"TouchCredentials", testTouchCredentials},
		{"TenantIsolation", testTenantIsolation},
		{"AllowList", testAllowList},
		{"Audit", testAudit},
		{"AuditFilter", testAuditFilter},
		{"AuditWalkConcurrent", testAuditWalkConcurrent},
		{"ConsumeOnce", testConsumeOnce},
		{"PruneMarks", testPruneConsumed},
		{"ConsumeOnceEdge", testConsumeOnceEdge},
		{"Sessions", testSessions},
		{"Subscribe", testSubscribe},
		{"Times", testTimes},
		{"Clients", testClients},
		{"ClientOrigins", testClientOrigins},
		{"UpdateClient", testUpdateClient},
		{"DeleteClientRevokes", testDeleteClientRevokes},
		{"Consents", testConsents},
		{"AuthCodes", testAuthCodes},
		{"RedeemAuthCodeRefusals", testRedeemAuthCodeRefusals},
		{"RedeemAuthCodeOtherClient", testRedeemAuthCodeOtherClient},
		{"PushedRequests", testPushedRequests},
		{"PushedRequestIsolation", testPushedRequestIsolation},
		{"PrunePushedRequests", testPrunePushedRequests},
		{"RevokeGrant", testRevokeGrant},
		{"DeviceAuthorizations", testDeviceAuthorizations},
		{"DeviceTenantIsolation", testDeviceTenantIsolation},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"RotatedAt", testRotatedAt},
		{"Integrations", testIntegrations},
		{"IntegrationIsolation", testIntegrationIsolation},
		{"UpdateIntegrationScopes", testUpdateIntegrationScopes},
		{"DeleteIntegration", testDeleteIntegration},
		{"RequestTokens", testRequestTokens},
		{"IssueIntegrationToken", testIssueIntegrationToken},
		{"DeactivateIntegration", testDeactivateIntegration},
		{"CredentialSecret", testCredentialSecret},
		{"Deliveries", testDeliveries},
		{"Notifications", testNotifications},
		{"IssueTokens", testIssueTokens},
		{"PatchSettings", testPatchSettings},
		{"AuditAtomic", testAuditAtomic},
		{"Prune", testPrune},
		{"SigningKeys", testSigningKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
	t.Run("Concurrency", func(t *testing.T) { RunConcurrency(t, newStore) })
}

// cmpOpts compares domain values: netip.Prefix by value (it has no Equal
// method and unexported fields); time.Time uses its Equal method.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// base is a fixed, microsecond-aligned instant the suite builds times on,
// so nothing depends on the wall clock.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// wantCode fails t unless err carries code.
func wantCode(t *testing.T, err error, code string, what string) {
	t.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		t.Fatalf("%s: error code = %q (%v), want %q", what, got, err, code)
	}
}

// must fails t on a non-nil err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// randomHash returns a fresh credential hash, as the secret package makes them.
func randomHash() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

func newTenant(t *testing.T, s gatehouse.Store, slug string) *gatehouse.Tenant {
	t.Helper()
	tn := &gatehouse.Tenant{Slug: slug, Name: "Tenant " + slug, Plan: gatehouse.PlanStandard}
	must(t, s.CreateTenant(t.Context(), tn), "create tenant "+slug)
	return tn
}

func newUser(t *testing.T, s gatehouse.Store, email string) *gatehouse.User {
	t.Helper()
	u := &gatehouse.User{Email: email, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", Locale: "en"}
	must(t, s.CreateUser(t.Context(), u), "create user "+email)
	return u
}

func newMember(t *testing.T, s gatehouse.Store, tenantID, userID string, role gatehouse.Role) {
	t.Helper()
	must(t, s.AddMembership(t.Context(), &gatehouse.Membership{TenantID: tenantID, UserID: userID, Role: role}), "add membership")
}

// newCredential stores a PAT of the tenant, changed by mod when not nil.
func newCredential(t *testing.T, s gatehouse.Store, tenantID string, mod func(c *gatehouse.Credential)) *gatehouse.Credential {
	t.Helper()
	c := &gatehouse.Credential{
		TenantID: tenantID,
		Kind:     gatehouse.KindPAT,
		Name:     "ci",
		Hash:     randomHash(),
		Hint:     "gate_pat_3fA",
		Scopes:   []string{"catalog", "sales.orders"},
	}
	if mod != nil {
		mod(c)
	}
	must(t, s.CreateCredential(t.Context(), c), "create credential")
	return c
}

func testTenants(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanEnterprise}
	must(t, s.CreateTenant(ctx, a), "create tenant")
	if a.ID == "" || a.CreatedAt.IsZero() {
		t.Fatalf("create tenant did not assign ID and CreatedAt: %+v", a)
	}
	b := &gatehouse.Tenant{ID: "ten_given", Slug: "bolt", Name: "Bolt", Plan: gatehouse.PlanStandard, CreatedAt: base}
	must(t, s.CreateTenant(ctx, b), "create tenant with id")
	if b.ID != "ten_given" || !b.CreatedAt.Equal(base) {
		t.Fatalf("create tenant overwrote given ID or CreatedAt: %+v", b)
	}

	got, err := s.FindTenantByID(ctx, a.ID)
	must(t, err, "find tenant by id")
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("find tenant by id (-want +got):\n%s", diff)
	}
	got, err = s.FindTenantBySlug(ctx, "bolt")
	must(t, err, "find tenant by slug")
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("find tenant by slug (-want +got):\n%s", diff)
	}
	_, err = s.FindTenantByID(ctx, "ten_missing")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing tenant")
	_, err = s.FindTenantBySlug(ctx, "missing")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing slug")

	err = s.CreateTenant(ctx, &gatehouse.Tenant{Slug: "acme", Name: "Other", Plan: gatehouse.PlanStandard})
	wantCode(t, err, gatehouse.ECONFLICT, "duplicate slug")
	err = s.CreateTenant(ctx, &gatehouse.Tenant{ID: a.ID, Slug: "fresh", Name: "Other", Plan: gatehouse.PlanStandard})
	wantCode(t, err, gatehouse.ECONFLICT, "duplicate id")

	list, err := s.ListTenants(ctx)
	must(t, err, "list tenants")
	if len(list) != 2 {
		t.Fatalf("list tenants: got %d, want 2", len(list))
	}

	a.Name, a.Plan, a.Disabled = "Acme Inc.", gatehouse.PlanStandard, true
	a.Slug = "ignored" // UpdateTenant saves Name, Plan and Disabled only
	must(t, s.UpdateTenant(ctx, a), "update tenant")
	got, err = s.FindTenantByID(ctx, a.ID)
	must(t, err, "find updated tenant")
	if got.Name != "Acme Inc." || got.Plan != gatehouse.PlanStandard || !got.Disabled || got.Slug != "acme" {
		t.Errorf("updated tenant = %+v", got)
	}
	err = s.UpdateTenant(ctx, &gatehouse.Tenant{ID: "ten_missing", Name: "x", Plan: gatehouse.PlanStandard})
	wantCode(t, err, gatehouse.ENOTFOUND, "update missing tenant")
}

func testSettings(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	got, err := s.Settings(ctx, tn.ID)
	must(t, err, "settings of new tenant")
	if got != gatehouse.DefaultSettings() {
		t.Errorf("settings of new tenant = %+v, want DefaultSettings %+v", got, gatehouse.DefaultSettings())
	}
	for _, want := range []gatehouse.Settings{
		{AllowAnonymousGuestAccess: true, EnhancedSecurity: true, OAuth1TokensAsBearer: true, RequireClientHeader: false},
		{EnhancedSecurity: true},
		{}, // all off must not read back as "never saved"
	} {
		must(t, s.SaveSettings(ctx, tn.ID, want), "save settings")
		got, err := s.Settings(ctx, tn.ID)
		must(t, err, "settings")
		if got != want {
			t.Errorf("settings = %+v, want %+v", got, want)
		}
	}
	_, err = s.Settings(ctx, "ten_missing")
	wantCode(t, err, gatehouse.ENOTFOUND, "settings of missing tenant")
	err = s.SaveSettings(ctx, "ten_missing", gatehouse.Settings{})
	wantCode(t, err, gatehouse.ENOTFOUND, "save settings of missing tenant")
}

func testUsers(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	u := newUser(t, s, "ana@example.com")
	if u.ID == "" || u.CreatedAt.IsZero() {
		t.Fatalf("create user did not assign ID and CreatedAt: %+v", u)
	}
	got, err := s.FindUserByID(ctx, u.ID)
	must(t, err, "find user by id")
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("find user by id (-want +got):\n%s", diff)
	}
	got, err = s.FindUserByEmail(ctx, "ana@example.com")
	must(t, err, "find user by email")
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("find user by email (-want +got):\n%s", diff)
	}
	err = s.CreateUser(ctx, &gatehouse.User{Email: "ana@example.com"})
	wantCode(t, err, gatehouse.ECONFLICT, "duplicate email")
	_, err = s.FindUserByEmail(ctx, "bob@example.com")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing email")
	_, err = s.FindUserByID(ctx, "usr_missing")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing user")

	u.PasswordHash, u.Locale, u.TimeZone = "", "de", "Asia/Taipei"
	u.Email = "ignored@example.com" // UpdateUser saves PasswordHash, Locale and TimeZone only
	must(t, s.UpdateUser(ctx, u), "update user")
	got, err = s.FindUserByID(ctx, u.ID)
	must(t, err, "find updated user")
	if got.PasswordHash != "" || got.Locale != "de" || got.TimeZone != "Asia/Taipei" || got.Email != "ana@example.com" {
		t.Errorf("updated user = %+v", got)
	}
	err = s.UpdateUser(ctx, &gatehouse.User{ID: "usr_missing"})
	wantCode(t, err, gatehouse.ENOTFOUND, "update missing user")
}

func testMemberships(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	ana, bob := newUser(t, s, "ana@example.com"), newUser(t, s, "bob@example.com")

	m := &gatehouse.Membership{TenantID: a.ID, UserID: ana.ID, Role: gatehouse.RoleOwner}
	must(t, s.AddMembership(ctx, m), "add membership")
	if m.CreatedAt.IsZero() {
		t.Error("add membership did not assign CreatedAt")
	}
	newMember(t, s, a.ID, bob.ID, gatehouse.RoleStaff)
	newMember(t, s, b.ID, ana.ID, gatehouse.RoleAdmin)

	err := s.AddMembership(ctx, &gatehouse.Membership{TenantID: a.ID, UserID: ana.ID, Role: gatehouse.RoleStaff})
	wantCode(t, err, gatehouse.ECONFLICT, "duplicate membership")
	err = s.AddMembership(ctx, &gatehouse.Membership{TenantID: a.ID, UserID: "usr_missing", Role: gatehouse.RoleStaff})
	wantCode(t, err, gatehouse.ENOTFOUND, "membership of a missing user")
	err = s.AddMembership(ctx, &gatehouse.Membership{TenantID: "ten_missing", UserID: ana.ID, Role: gatehouse.RoleStaff})
	wantCode(t, err, gatehouse.ENOTFOUND, "membership of a missing tenant")

	got, err := s.FindMembership(ctx, a.ID, ana.ID)
	must(t, err, "find membership")
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("find membership (-want +got):\n%s", diff)
	}
	_, err = s.FindMembership(ctx, b.ID, bob.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing membership")

	members, err := s.ListMembers(ctx, a.ID, gatehouse.MemberFilter{})
	must(t, err, "list members")
	var emails []string
	for _, m := range members {
		if m.TenantID != a.ID {
			t.Errorf("list members of %s returned a member of %s", a.ID, m.TenantID)
		}
		emails = append(emails, fmt.Sprintf("%s:%s", m.Email, m.Role))
	}
	slices.Sort(emails)
	if diff := cmp.Diff([]string{"ana@example.com:owner", "bob@example.com:staff"}, emails); diff != "" {
		t.Errorf("list members (-want +got):\n%s", diff)
	}

	tms, err := s.ListUserTenants(ctx, ana.ID)
	must(t, err, "list user tenants")
	var slugs []string
	for _, tm := range tms {
		if tm.UserID != ana.ID || tm.TenantID != tm.Tenant.ID {
			t.Errorf("list user tenants: inconsistent %+v", tm)
		}
		slugs = append(slugs, fmt.Sprintf("%s:%s:%s", tm.Tenant.Slug, tm.Tenant.Name, tm.Role))
	}
	slices.Sort(slugs)
	if diff := cmp.Diff([]string{"acme:Tenant acme:owner", "bolt:Tenant bolt:admin"}, slugs); diff != "" {
		t.Errorf("list user tenants (-want +got):\n%s", diff)
	}

	must(t, s.SetMembershipRole(ctx, a.ID, bob.ID, gatehouse.RoleAdmin), "set membership role")
	got, err = s.FindMembership(ctx, a.ID, bob.ID)
	must(t, err, "find membership after role change")
	if got.Role != gatehouse.RoleAdmin {
		t.Errorf("role = %q, want admin", got.Role)
	}
	wantCode(t, s.SetMembershipRole(ctx, b.ID, bob.ID, gatehouse.RoleAdmin), gatehouse.ENOTFOUND, "set role of a non-member")

	must(t, s.RemoveMembership(ctx, a.ID, bob.ID, base), "remove membership")
	_, err = s.FindMembership(ctx, a.ID, bob.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find removed membership")
	wantCode(t, s.RemoveMembership(ctx, a.ID, bob.ID, base), gatehouse.ENOTFOUND, "remove membership twice")
	if _, err := s.FindUserByID(ctx, bob.ID); err != nil {
		t.Errorf("removing a membership removed the user: %v", err)
	}
}

func testRemoveMembershipRevokes(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	ana, bob := newUser(t, s, "ana@example.com"), newUser(t, s, "bob@example.com")
	newMember(t, s, a.ID, ana.ID, gatehouse.RoleStaff)
	newMember(t, s, b.ID, ana.ID, gatehouse.RoleStaff)
	newMember(t, s, a.ID, bob.ID, gatehouse.RoleStaff)

	earlier := base.Add(-time.Hour)
	anaA1 := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = ana.ID; c.Kind = gatehouse.KindStaff })
	anaA2 := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = ana.ID })
	anaOld := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = ana.ID; c.RevokedAt = &earlier })
	anaB := newCredential(t, s, b.ID, func(c *gatehouse.Credential) { c.UserID = ana.ID })
	bobA := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = bob.ID })
	app := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.Kind = gatehouse.KindAPIKey })

	must(t, s.RemoveMembership(ctx, a.ID, ana.ID, base), "remove membership")
	for _, tc := range []struct {
		c    *gatehouse.Credential
		want *time.Time
	}{
		{anaA1, &base}, {anaA2, &base},
		{anaOld, &earlier}, // keeps its first revocation
		{anaB, nil},        // another tenant
		{bobA, nil},        // another user
		{app, nil},         // no user
	} {
		got, err := s.FindCredential(ctx, tc.c.TenantID, tc.c.ID)
		must(t, err, "find credential")
		if diff := cmp.Diff(tc.want, got.RevokedAt); diff != "" {
			t.Errorf("credential %s (user %q, tenant %s) RevokedAt (-want +got):\n%s", got.ID, got.UserID, got.TenantID, diff)
		}
	}
}

func testCredentials(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	u := newUser(t, s, "ana@example.com")
	expires := base.Add(24 * time.Hour)
	c := &gatehouse.Credential{
		TenantID: tn.ID,
		Kind:     gatehouse.KindStaff,
		Name:     "warehouse sync",
		Hash:     randomHash(),
		Hint:     "gate_stf_9Zq",
		UserID:   u.ID,
		ClientID: "APIK-123",
		GrantID:  "grant-1",
		// Order matters to callers that echo scopes back (OAuth 2.0).
		Scopes:    []string{"sales.orders", "catalog", "all"},
		ExpiresAt: &expires,
		CreatedAt: base,
		AllowList: []gatehouse.AllowEntry{
			{Name: "office", Prefix: netip.MustParsePrefix("203.0.113.0/24")},
			{Name: "vpn", Prefix: netip.MustParsePrefix("2001:db8::/32")},
			{Name: "home", Prefix: netip.MustParsePrefix("198.51.100.7/32")},
		},
	}
	must(t, s.CreateCredential(ctx, c), "create credential")
	if c.ID == "" {
		t.Fatal("create credential did not assign ID")
	}
	for i, e := range c.AllowList {
		if e.ID == "" || e.CreatedAt.IsZero() {
			t.Fatalf("create credential did not assign allowlist entry %d's ID and CreatedAt: %+v", i, e)
		}
	}

	got, err := s.FindCredentialByHash(ctx, c.Hash)
	must(t, err, "find credential by hash")
	if diff := cmp.Diff(c, got, cmpOpts); diff != "" {
		t.Errorf("find credential by hash (-want +got):\n%s", diff)
	}
	got, err = s.FindCredential(ctx, tn.ID, c.ID)
	must(t, err, "find credential")
	if diff := cmp.Diff(c, got, cmpOpts); diff != "" {
		t.Errorf("find credential (-want +got):\n%s", diff)
	}

	// The least a credential can be: no user, scopes, times or allowlist.
	bare := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindAPIKey, Hash: randomHash()}
	must(t, s.CreateCredential(ctx, bare), "create bare credential")
	if bare.CreatedAt.IsZero() {
		t.Error("create credential did not assign CreatedAt")
	}
	got, err = s.FindCredentialByHash(ctx, bare.Hash)
	must(t, err, "find bare credential")
	if diff := cmp.Diff(bare, got, cmpOpts); diff != "" {
		t.Errorf("bare credential (-want +got):\n%s", diff)
	}
	if got.Scopes != nil || got.AllowList != nil || got.ExpiresAt != nil || got.RevokedAt != nil || got.LastUsedAt != nil {
		t.Errorf("bare credential has values it was not given: %+v", got)
	}

	_, err = s.FindCredentialByHash(ctx, randomHash())
	wantCode(t, err, gatehouse.ENOTFOUND, "find unknown hash")
	_, err = s.FindCredential(ctx, tn.ID, "cred_missing")
	wantCode(t, err, gatehouse.ENOTFOUND, "find missing credential")

	err = s.CreateCredential(ctx, &gatehouse.Credential{TenantID: "ten_missing", Kind: gatehouse.KindPAT, Hash: randomHash()})
	wantCode(t, err, gatehouse.ENOTFOUND, "credential of a missing tenant")
	tooMany := make([]gatehouse.AllowEntry, gatehouse.MaxAllowEntries+1)
	for i := range tooMany {
		tooMany[i] = gatehouse.AllowEntry{Name: fmt.Sprint("e", i), Prefix: netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i))}
	}
	hash := randomHash()
	err = s.CreateCredential(ctx, &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindStaff, Hash: hash, AllowList: tooMany})
	wantCode(t, err, gatehouse.EINVALID, "credential with 21 allowlist entries")
	_, err = s.FindCredentialByHash(ctx, hash)
	wantCode(t, err, gatehouse.ENOTFOUND, "credential refused for its allowlist was stored")
}

func testCredentialList(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	ana, bob := newUser(t, s, "ana@example.com"), newUser(t, s, "bob@example.com")
	revoked := base.Add(time.Minute)
	var ids []string // in creation order
	add := func(tenantID string, kind gatehouse.Kind, userID string, rev *time.Time) *gatehouse.Credential {
		c := newCredential(t, s, tenantID, func(c *gatehouse.Credential) {
			c.Kind, c.UserID, c.RevokedAt = kind, userID, rev
			c.CreatedAt = base.Add(time.Duration(len(ids)) * time.Second)
			c.AllowList = []gatehouse.AllowEntry{{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}}
		})
		ids = append(ids, c.ID)
		return c
	}
	p1 := add(a.ID, gatehouse.KindPAT, ana.ID, nil)
	s1 := add(a.ID, gatehouse.KindStaff, bob.ID, nil)
	p2 := add(a.ID, gatehouse.KindPAT, bob.ID, nil)
	r1 := add(a.ID, gatehouse.KindPAT, ana.ID, &revoked)
	k1 := add(a.ID, gatehouse.KindAPIKey, "", nil)
	add(b.ID, gatehouse.KindPAT, ana.ID, nil)

	for _, tc := range []struct {
		name string
		f    gatehouse.CredentialFilter
		want []*gatehouse.Credential // newest first
	}{
		{"all", gatehouse.CredentialFilter{}, []*gatehouse.Credential{k1, p2, s1, p1}},
		{"with revoked", gatehouse.CredentialFilter{IncludeRevoked: true}, []*gatehouse.Credential{k1, r1, p2, s1, p1}},
		{"kind", gatehouse.CredentialFilter{Kind: gatehouse.KindPAT}, []*gatehouse.Credential{p2, p1}},
		{"user", gatehouse.CredentialFilter{UserID: ana.ID}, []*gatehouse.Credential{p1}},
		{"kind user revoked", gatehouse.CredentialFilter{Kind: gatehouse.KindPAT, UserID: ana.ID, IncludeRevoked: true}, []*gatehouse.Credential{r1, p1}},
		{"none", gatehouse.CredentialFilter{Kind: gatehouse.KindIntegration}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListCredentials(ctx, a.ID, tc.f)
			must(t, err, "list credentials")
			if diff := cmp.Diff(tc.want, got, cmpOpts); diff != "" {
				t.Errorf("list credentials (-want +got):\n%s", diff)
			}
		})
	}
}

func testRevokeIdempotent(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	c := newCredential(t, s, tn.ID, nil)
	must(t, s.RevokeCredential(ctx, tn.ID, c.ID, base), "revoke")
	must(t, s.RevokeCredential(ctx, tn.ID, c.ID, base.Add(time.Hour)), "revoke again")
	got, err := s.FindCredentialByHash(ctx, c.Hash)
	must(t, err, "find revoked credential")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(base) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, base)
	}
	if !got.Revoked() {
		t.Error("Revoked() = false")
	}
	wantCode(t, s.RevokeCredential(ctx, tn.ID, "cred_missing", base), gatehouse.ENOTFOUND, "revoke missing credential")
}

func testDeleteCredential(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	c := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) {
		c.AllowList = []gatehouse.AllowEntry{{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}}
	})
	other := newCredential(t, s, tn.ID, nil)
	must(t, s.DeleteCredential(ctx, tn.ID, c.ID), "delete credential")
	_, err := s.FindCredentialByHash(ctx, c.Hash)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted credential by hash")
	_, err = s.FindCredential(ctx, tn.ID, c.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted credential")
	wantCode(t, s.DeleteCredential(ctx, tn.ID, c.ID), gatehouse.ENOTFOUND, "delete twice")
	// Its allowlist went with it.
	wantCode(t, s.DeleteAllowEntry(ctx, tn.ID, c.ID, c.AllowList[0].ID), gatehouse.ENOTFOUND, "delete entry of deleted credential")
	// Its hash is free again, and nothing else went.
	newCredential(t, s, tn.ID, func(n *gatehouse.Credential) { n.Hash = c.Hash })
	if _, err := s.FindCredential(ctx, tn.ID, other.ID); err != nil {
		t.Errorf("deleting one credential removed another: %v", err)
	}
}

// testRetireCredential: retiring revokes the credential and removes its
// whole allowlist in one transaction; the row stays (its secret answers
// REVOKED), the first revocation time is kept, other credentials and
// other tenants are untouched, and an audit event the database refuses
// undoes both halves.
func testRetireCredential(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	office := func(c *gatehouse.Credential) {
		c.AllowList = []gatehouse.AllowEntry{
			{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")},
			{Name: "vpn", Prefix: netip.MustParsePrefix("2001:db8::/48")},
		}
	}
	c := newCredential(t, s, tn.ID, office)
	kept := newCredential(t, s, tn.ID, office)
	theirs := newCredential(t, s, other.ID, office)

	wantCode(t, s.RetireCredential(ctx, tn.ID, theirs.ID, base), gatehouse.ENOTFOUND, "retire another tenant's credential")
	wantCode(t, s.RetireCredential(ctx, tn.ID, "cred_missing", base), gatehouse.ENOTFOUND, "retire a missing credential")

	// Refused with its audit event, nothing happened.
	taken := &gatehouse.AuditEvent{TenantID: tn.ID, Time: base, Action: "first"}
	must(t, s.AppendAudit(ctx, taken), "append audit")
	refused := gatehouse.WithAudit(ctx, func() *gatehouse.AuditEvent {
		return &gatehouse.AuditEvent{ID: taken.ID, TenantID: tn.ID, Time: base, Actor: "ana", Action: "staff_token.delete", Target: c.ID}
	})
	wantCode(t, s.RetireCredential(refused, tn.ID, c.ID, base), gatehouse.ECONFLICT, "retire with a refused audit event")
	if got, err := s.FindCredential(ctx, tn.ID, c.ID); err != nil || got.Revoked() || len(got.AllowList) != 2 {
		t.Fatalf("after a refused retirement: %+v, %v; want it live with its 2 entries", got, err)
	}

	must(t, s.RetireCredential(ctx, tn.ID, c.ID, base), "retire")
	got, err := s.FindCredentialByHash(ctx, c.Hash)
	if err != nil || !got.Revoked() || !got.RevokedAt.Equal(base) || len(got.AllowList) != 0 {
		t.Fatalf("retired credential by hash: %+v, %v; want revoked at %v with no allowlist", got, err, base)
	}
	// Again: idempotent, the first revocation time stays.
	must(t, s.RetireCredential(ctx, tn.ID, c.ID, base.Add(time.Hour)), "retire twice")
	if got, err := s.FindCredential(ctx, tn.ID, c.ID); err != nil || !got.RevokedAt.Equal(base) {
		t.Errorf("retired twice: %+v, %v; want the first revocation time", got, err)
	}
	for _, k := range []*gatehouse.Credential{kept, theirs} {
		got, err := s.FindCredential(ctx, k.TenantID, k.ID)
		if err != nil || got.Revoked() || len(got.AllowList) != 2 {
			t.Errorf("retiring one credential changed %s: %+v, %v", k.ID, got, err)
		}
	}
}

func testHashUnique(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	c := newCredential(t, s, a.ID, nil)
	for _, tenantID := range []string{a.ID, b.ID} {
		err := s.CreateCredential(ctx, &gatehouse.Credential{TenantID: tenantID, Kind: gatehouse.KindPAT, Hash: c.Hash})
		wantCode(t, err, gatehouse.ECONFLICT, "duplicate hash")
	}
	err := s.CreateCredential(ctx, &gatehouse.Credential{ID: c.ID, TenantID: a.ID, Kind: gatehouse.KindPAT, Hash: randomHash()})
	wantCode(t, err, gatehouse.ECONFLICT, "duplicate id")
}

// testOneLiveStaffToken: a user holds at most one live staff token per
// tenant; a revoked or deleted one makes room, other users and tenants and
// other kinds are unaffected.
func testOneLiveStaffToken(t *testing.T, s gatehouse.Store) {
	a, b := newTenant(t, s, "staff-a"), newTenant(t, s, "staff-b")
	u, v := newUser(t, s, "vendor@staff.test"), newUser(t, s, "other@staff.test")
	for _, tn := range []*gatehouse.Tenant{a, b} {
		newMember(t, s, tn.ID, u.ID, gatehouse.RoleStaff)
	}
	newMember(t, s, a.ID, v.ID, gatehouse.RoleStaff)
	staff := func(tenantID, userID string) func(c *gatehouse.Credential) {
		return func(c *gatehouse.Credential) { c.TenantID, c.UserID, c.Kind = tenantID, userID, gatehouse.KindStaff }
	}
	first := newCredential(t, s, a.ID, staff(a.ID, u.ID))
	second := &gatehouse.Credential{TenantID: a.ID, UserID: u.ID, Kind: gatehouse.KindStaff, Hash: randomHash(), Scopes: []string{"sales"}}
	wantCode(t, s.CreateCredential(t.Context(), second), gatehouse.ECONFLICT, "second live staff token")
	newCredential(t, s, b.ID, staff(b.ID, u.ID))                                 // another tenant
	newCredential(t, s, a.ID, staff(a.ID, v.ID))                                 // another user
	newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = u.ID }) // another kind
	must(t, s.RevokeCredential(t.Context(), a.ID, first.ID, time.Now()), "revoke first")
	must(t, s.CreateCredential(t.Context(), second), "staff token after revocation")
	must(t, s.DeleteCredential(t.Context(), a.ID, second.ID), "delete second")
	newCredential(t, s, a.ID, staff(a.ID, u.ID))
}

func testTouchCredentials(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	c1, c2, c3 := newCredential(t, s, tn.ID, nil), newCredential(t, s, tn.ID, nil), newCredential(t, s, tn.ID, nil)
	t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
	must(t, s.TouchCredentials(ctx, nil), "touch nothing")
	must(t, s.TouchCredentials(ctx, map[string]time.Time{c1.ID: t2, c2.ID: t1, "cred_deleted": t1}), "touch")
	// A batch from a slower node arrives late: earlier times lose.
	must(t, s.TouchCredentials(ctx, map[string]time.Time{c1.ID: t1, c2.ID: t2}), "touch again")
	for _, tc := range []struct {
		c    *gatehouse.Credential
		want *time.Time
	}{{c1, &t2}, {c2, &t2}, {c3, nil}} {
		got, err := s.FindCredential(ctx, tn.ID, tc.c.ID)
		must(t, err, "find touched credential")
		if diff := cmp.Diff(tc.want, got.LastUsedAt); diff != "" {
			t.Errorf("LastUsedAt (-want +got):\n%s", diff)
		}
	}

	// A batch as large as a busy node's flush (written in several
	// statements) reaches every credential in it.
	big := map[string]time.Time{c3.ID: t1, c1.ID: base.Add(3 * time.Minute)}
	for i := range 1200 {
		big[fmt.Sprintf("cred_gone_%04d", i)] = t2
	}
	must(t, s.TouchCredentials(ctx, big), "touch a large batch")
	for _, tc := range []struct {
		c    *gatehouse.Credential
		want time.Time
	}{{c1, base.Add(3 * time.Minute)}, {c2, t2}, {c3, t1}} {
		got, err := s.FindCredential(ctx, tn.ID, tc.c.ID)
		must(t, err, "find touched credential")
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(tc.want) {
			t.Errorf("after a large batch: LastUsedAt = %v, want %v", got.LastUsedAt, tc.want)
		}
	}
}

func testTenantIsolation(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	cb := newCredential(t, s, b.ID, func(c *gatehouse.Credential) {
		c.AllowList = []gatehouse.AllowEntry{{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}}
	})
	newCredential(t, s, a.ID, nil)
	must(t, s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: b.ID, Actor: "operator", Action: "pat.create"}), "append audit")

	_, err := s.FindCredential(ctx, a.ID, cb.ID)
	wantCode(t, err, gatehouse.ENOTFOUND, "find another tenant's credential")
	wantCode(t, s.RevokeCredential(ctx, a.ID, cb.ID, base), gatehouse.ENOTFOUND, "revoke another tenant's credential")
	wantCode(t, s.DeleteCredential(ctx, a.ID, cb.ID), gatehouse.ENOTFOUND, "delete another tenant's credential")
	err = s.AddAllowEntry(ctx, a.ID, cb.ID, &gatehouse.AllowEntry{Name: "x", Prefix: netip.MustParsePrefix("192.0.2.0/24")})
	wantCode(t, err, gatehouse.ENOTFOUND, "add to another tenant's allowlist")
	wantCode(t, s.DeleteAllowEntry(ctx, a.ID, cb.ID, cb.AllowList[0].ID), gatehouse.ENOTFOUND, "delete from another tenant's allowlist")

	list, err := s.ListCredentials(ctx, a.ID, gatehouse.CredentialFilter{IncludeRevoked: true})
	must(t, err, "list credentials")
	for _, c := range list {
		if c.TenantID != a.ID {
			t.Errorf("list of %s shows credential %s of %s", a.ID, c.ID, c.TenantID)
		}
	}
	events, err := s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{})
	must(t, err, "list audit")
	if len(events.Events) != 0 {
		t.Errorf("audit of %s shows %d events of another tenant", a.ID, len(events.Events))
	}

	// Nothing of B changed.
	got, err := s.FindCredential(ctx, b.ID, cb.ID)
	must(t, err, "find B's credential")
	if diff := cmp.Diff(cb, got, cmpOpts); diff != "" {
		t.Errorf("B's credential changed (-want +got):\n%s", diff)
	}
}

func testAllowList(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	c := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) { c.Kind = gatehouse.KindStaff })

	var want []gatehouse.AllowEntry
	for i := range gatehouse.MaxAllowEntries {
		p := netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i))
		if i%2 == 1 {
			p = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i))
		}
		e := gatehouse.AllowEntry{Name: fmt.Sprintf("entry %02d", i), Prefix: p}
		must(t, s.AddAllowEntry(ctx, tn.ID, c.ID, &e), "add allowlist entry")
		if e.ID == "" || e.CreatedAt.IsZero() {
			t.Fatalf("add allowlist entry did not assign ID and CreatedAt: %+v", e)
		}
		want = append(want, e)
	}
	err := s.AddAllowEntry(ctx, tn.ID, c.ID, &gatehouse.AllowEntry{Name: "one too many", Prefix: netip.MustParsePrefix("192.0.2.1/32")})
	wantCode(t, err, gatehouse.EINVALID, "entry 21")

	got, err := s.FindCredential(ctx, tn.ID, c.ID)
	must(t, err, "find credential")
	if diff := cmp.Diff(want, got.AllowList, cmpOpts); diff != "" {
		t.Errorf("allowlist, in the order added (-want +got):\n%s", diff)
	}

	must(t, s.DeleteAllowEntry(ctx, tn.ID, c.ID, want[3].ID), "delete allowlist entry")
	want = slices.Delete(want, 3, 4)
	wantCode(t, s.DeleteAllowEntry(ctx, tn.ID, c.ID, got.AllowList[3].ID), gatehouse.ENOTFOUND, "delete entry twice")
	wantCode(t, s.DeleteAllowEntry(ctx, tn.ID, "cred_missing", want[0].ID), gatehouse.ENOTFOUND, "delete entry of missing credential")
	// An entry id is only found under its own credential.
	other := newCredential(t, s, tn.ID, nil)
	wantCode(t, s.DeleteAllowEntry(ctx, tn.ID, other.ID, want[0].ID), gatehouse.ENOTFOUND, "delete entry via another credential")
	// Freed room can be used again.
	e := gatehouse.AllowEntry{Name: "again", Prefix: netip.MustParsePrefix("192.0.2.1/32")}
	must(t, s.AddAllowEntry(ctx, tn.ID, c.ID, &e), "add after delete")
	want = append(want, e)
	got, err = s.FindCredentialByHash(ctx, c.Hash)
	must(t, err, "find credential by hash")
	if diff := cmp.Diff(want, got.AllowList, cmpOpts); diff != "" {
		t.Errorf("allowlist after delete and add (-want +got):\n%s", diff)
	}

	err = s.AddAllowEntry(ctx, tn.ID, "cred_missing", &gatehouse.AllowEntry{Name: "x", Prefix: netip.MustParsePrefix("192.0.2.1/32")})
	wantCode(t, err, gatehouse.ENOTFOUND, "add to missing credential")
	for _, bad := range []gatehouse.AllowEntry{
		{Name: "", Prefix: netip.MustParsePrefix("192.0.2.1/32")},
		{Name: strings.Repeat("é", gatehouse.MaxAllowEntryName+1), Prefix: netip.MustParsePrefix("192.0.2.1/32")},
		{Name: "no prefix"},
	} {
		err := s.AddAllowEntry(ctx, tn.ID, other.ID, &bad)
		wantCode(t, err, gatehouse.EINVALID, fmt.Sprintf("invalid entry %+v", bad))
	}
	// Names are limited in runes, not bytes.
	e = gatehouse.AllowEntry{Name: strings.Repeat("é", gatehouse.MaxAllowEntryName), Prefix: netip.MustParsePrefix("192.0.2.1/32")}
	must(t, s.AddAllowEntry(ctx, tn.ID, other.ID, &e), "add entry with a 20-rune name")
}

func testConsumeOnce(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	now, later := base, base.Add(10*time.Minute)
	must(t, s.ConsumeOnce(ctx, "oauth2_code", "k1", now, later), "consume")
	wantCode(t, s.ConsumeOnce(ctx, "oauth2_code", "k1", now, later), gatehouse.ECONFLICT, "consume twice")
	must(t, s.ConsumeOnce(ctx, "oauth1_nonce", "k1", now, later), "same key in another namespace")
	must(t, s.ConsumeOnce(ctx, "oauth2_code", "k2", now, later), "another key")

	// An expired mark may be forgotten, and then the key can be used again
	// (once): what expires is the mark, not the key's single use within it.
	past := now.Add(-time.Minute)
	must(t, s.ConsumeOnce(ctx, "nonce", "old", past.Add(-time.Minute), past), "consume with an expiry now past")
	must(t, s.ConsumeOnce(ctx, "nonce", "old", now, later), "consume over an expired mark")
	wantCode(t, s.ConsumeOnce(ctx, "nonce", "old", now, later), gatehouse.ECONFLICT, "consume the replaced mark")
}

func testPruneConsumed(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	now := base
	must(t, s.ConsumeOnce(ctx, "nonce", "a", now, now.Add(time.Hour)), "consume a")
	must(t, s.ConsumeOnce(ctx, "nonce", "b", now, now.Add(3*time.Hour)), "consume b")
	prune(t, s, gatehouse.PruneMarks, now, 100) // prune nothing
	wantCode(t, s.ConsumeOnce(ctx, "nonce", "a", now, now.Add(time.Hour)), gatehouse.ECONFLICT, "a after pruning nothing")
	// Prune as if two hours had passed: a is forgotten, b is not (the
	// caller's now stays: only pruning forgets a here).
	prune(t, s, gatehouse.PruneMarks, now.Add(2*time.Hour), 100) // prune
	must(t, s.ConsumeOnce(ctx, "nonce", "a", now, now.Add(time.Hour)), "a after pruning")
	wantCode(t, s.ConsumeOnce(ctx, "nonce", "b", now, now.Add(time.Hour)), gatehouse.ECONFLICT, "b after pruning")
}

func testSessions(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	u := newUser(t, s, "ana@example.com")
	ses := &gatehouse.Session{
		Hash:      randomHash(),
		UserID:    u.ID,
		TenantID:  a.ID,
		CSRFKey:   randomHash(),
		ExpiresAt: base.Add(12 * time.Hour),
	}
	must(t, s.CreateSession(ctx, ses), "create session")
	if ses.ID == "" || ses.CreatedAt.IsZero() || !ses.LastSeenAt.Equal(ses.CreatedAt) {
		t.Fatalf("create session did not assign ID, CreatedAt and LastSeenAt: %+v", ses)
	}
	got, err := s.FindSessionByHash(ctx, ses.Hash)
	must(t, err, "find session")
	if diff := cmp.Diff(ses, got); diff != "" {
		t.Errorf("find session (-want +got):\n%s", diff)
	}
	wantCode(t, s.CreateSession(ctx, &gatehouse.Session{Hash: ses.Hash, UserID: u.ID, CSRFKey: randomHash(), ExpiresAt: base}),
		gatehouse.ECONFLICT, "duplicate session hash")
	_, err = s.FindSessionByHash(ctx, randomHash())
	wantCode(t, err, gatehouse.ENOTFOUND, "find unknown session")

	must(t, s.SetSessionTenant(ctx, ses.ID, b.ID), "set session tenant")
	got, err = s.FindSessionByHash(ctx, ses.Hash)
	must(t, err, "find session")
	if got.TenantID != b.ID {
		t.Errorf("session tenant = %q, want %q", got.TenantID, b.ID)
	}
	must(t, s.SetSessionTenant(ctx, ses.ID, ""), "clear session tenant")
	got, err = s.FindSessionByHash(ctx, ses.Hash)
	must(t, err, "find session")
	if got.TenantID != "" {
		t.Errorf("session tenant = %q, want none", got.TenantID)
	}
	wantCode(t, s.SetSessionTenant(ctx, ses.ID, "ten_missing"), gatehouse.ENOTFOUND, "switch to missing tenant")

	// Activity moves last_seen_at forward, never back (two nodes may write
	// in any order), and touching a session that is gone is no error.
	seen := func(want time.Time, what string) {
		t.Helper()
		got, err := s.FindSessionByHash(ctx, ses.Hash)
		must(t, err, "find session")
		if !got.LastSeenAt.Equal(want) {
			t.Errorf("%s: last seen %v, want %v", what, got.LastSeenAt, want)
		}
	}
	later := ses.CreatedAt.Add(5 * time.Minute)
	must(t, s.TouchSession(ctx, ses.ID, later), "touch session")
	seen(later, "touched")
	must(t, s.TouchSession(ctx, ses.ID, later.Add(-time.Minute)), "touch session with an older time")
	seen(later, "touched with an older time")
	must(t, s.TouchSession(ctx, "ses_missing", later), "touch missing session")
	wantCode(t, s.SetSessionTenant(ctx, "ses_missing", a.ID), gatehouse.ENOTFOUND, "switch missing session")

	// No tenant yet (a user with no membership), and already expired.
	old := &gatehouse.Session{Hash: randomHash(), UserID: u.ID, CSRFKey: randomHash(), CreatedAt: base.Add(-2 * time.Hour), ExpiresAt: base.Add(-time.Hour)}
	must(t, s.CreateSession(ctx, old), "create expired session")
	must(t, s.DeleteExpiredSessions(ctx, base), "delete expired sessions")
	_, err = s.FindSessionByHash(ctx, old.Hash)
	wantCode(t, err, gatehouse.ENOTFOUND, "find expired session")
	if _, err := s.FindSessionByHash(ctx, ses.Hash); err != nil {
		t.Errorf("deleting expired sessions deleted a live one: %v", err)
	}

	must(t, s.DeleteSession(ctx, ses.ID), "delete session")
	_, err = s.FindSessionByHash(ctx, ses.Hash)
	wantCode(t, err, gatehouse.ENOTFOUND, "find deleted session")
	wantCode(t, s.DeleteSession(ctx, ses.ID), gatehouse.ENOTFOUND, "delete session twice")
}

// recorder collects the Changes a store publishes.
type recorder struct {
	mu      sync.Mutex
	changes []gatehouse.Change
}

func (r *recorder) record(c gatehouse.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

// take returns and forgets the changes recorded so far.
func (r *recorder) take() []gatehouse.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

func testSubscribe(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	u := newUser(t, s, "ana@example.com")
	newMember(t, s, a.ID, u.ID, gatehouse.RoleStaff)
	c := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = u.ID })
	d := newCredential(t, s, a.ID, nil)
	cb := newCredential(t, s, b.ID, nil)

	var rec, rec2 recorder
	unsubscribe := s.Subscribe(rec.record)
	unsubscribe2 := s.Subscribe(rec2.record)
	defer unsubscribe2()
	cred := func(tn string, c *gatehouse.Credential) []gatehouse.Change {
		return []gatehouse.Change{{TenantID: tn, CredentialID: c.ID, Hash: c.Hash}}
	}
	check := func(what string, want []gatehouse.Change) {
		t.Helper()
		if diff := cmp.Diff(want, rec.take()); diff != "" {
			t.Errorf("changes after %s (-want +got):\n%s", what, diff)
		}
	}

	// Writes that do not change a verification answer publish nothing.
	newCredential(t, s, a.ID, nil)
	must(t, s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: a.ID, Action: "pat.create"}), "append audit")
	must(t, s.TouchCredentials(ctx, map[string]time.Time{c.ID: base}), "touch")
	check("create, audit and touch", nil)

	must(t, s.RevokeCredential(ctx, a.ID, c.ID, base), "revoke")
	check("revoke", cred(a.ID, c))
	// A failed write publishes nothing.
	wantCode(t, s.RevokeCredential(ctx, a.ID, cb.ID, base), gatehouse.ENOTFOUND, "revoke another tenant's credential")
	check("failed revoke", nil)

	e := &gatehouse.AllowEntry{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}
	must(t, s.AddAllowEntry(ctx, a.ID, d.ID, e), "add allowlist entry")
	check("add allowlist entry", cred(a.ID, d))
	must(t, s.DeleteAllowEntry(ctx, a.ID, d.ID, e.ID), "delete allowlist entry")
	check("delete allowlist entry", cred(a.ID, d))

	a.Disabled = true
	must(t, s.UpdateTenant(ctx, a), "update tenant")
	check("update tenant", []gatehouse.Change{{TenantID: a.ID}})
	must(t, s.SaveSettings(ctx, a.ID, gatehouse.Settings{EnhancedSecurity: true}), "save settings")
	check("save settings", []gatehouse.Change{{TenantID: a.ID}})

	c2 := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.UserID = u.ID })
	must(t, s.SetMembershipRole(ctx, a.ID, u.ID, gatehouse.RoleAdmin), "set role")
	check("set role", cred(a.ID, c2)) // c is already revoked
	must(t, s.RemoveMembership(ctx, a.ID, u.ID, base), "remove membership")
	check("remove membership", cred(a.ID, c2))

	must(t, s.DeleteCredential(ctx, a.ID, d.ID), "delete")
	check("delete", cred(a.ID, d))

	unsubscribe()
	unsubscribe() // idempotent
	must(t, s.RevokeCredential(ctx, b.ID, cb.ID, base), "revoke after unsubscribe")
	check("unsubscribe", nil)
	// The other subscriber still hears it, and heard everything before.
	if got := rec2.take(); len(got) != 9 || got[8].CredentialID != cb.ID {
		t.Errorf("second subscriber got %d changes, want 9 ending with %s: %+v", len(got), cb.ID, got)
	}
}

func testTimes(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	// A zone far from UTC, with a half hour, and nanoseconds the
	// databases cannot keep.
	zone := time.FixedZone("IST", 5*3600+30*60)
	local := time.Date(2025, 7, 1, 23, 45, 12, 123456789, zone)
	want := local.UTC().Truncate(time.Microsecond)

	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard, CreatedAt: local}
	must(t, s.CreateTenant(ctx, tn), "create tenant")
	expires, revoked := local.Add(time.Hour), local.Add(time.Minute)
	c := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) {
		c.CreatedAt, c.ExpiresAt, c.RevokedAt = local, &expires, &revoked
		c.AllowList = []gatehouse.AllowEntry{{Name: "x", Prefix: netip.MustParsePrefix("192.0.2.0/24"), CreatedAt: local}}
	})
	must(t, s.TouchCredentials(ctx, map[string]time.Time{c.ID: local.Add(time.Second)}), "touch")
	ev := &gatehouse.AuditEvent{TenantID: tn.ID, Action: "x", Time: local}
	must(t, s.AppendAudit(ctx, ev), "append audit")

	exact := func(what string, got time.Time, want time.Time) {
		t.Helper()
		if got.Location() != time.UTC {
			t.Errorf("%s: location %v, want UTC", what, got.Location())
		}
		if got != want { // == also compares the location and the monotonic reading
			t.Errorf("%s = %v, want exactly %v", what, got, want)
		}
	}
	gotT, err := s.FindTenantByID(ctx, tn.ID)
	must(t, err, "find tenant")
	exact("tenant CreatedAt", gotT.CreatedAt, want)
	gotC, err := s.FindCredential(ctx, tn.ID, c.ID)
	must(t, err, "find credential")
	exact("credential CreatedAt", gotC.CreatedAt, want)
	exact("credential ExpiresAt", *gotC.ExpiresAt, want.Add(time.Hour))
	exact("credential RevokedAt", *gotC.RevokedAt, want.Add(time.Minute))
	exact("credential LastUsedAt", *gotC.LastUsedAt, want.Add(time.Second))
	exact("allowlist entry CreatedAt", gotC.AllowList[0].CreatedAt, want)
	events, err := s.ListAudit(ctx, tn.ID, gatehouse.AuditQuery{})
	must(t, err, "list audit")
	exact("audit Time", events.Events[0].Time, want)

	// What Create methods write back is what a read returns.
	if !tn.CreatedAt.Equal(want) || !c.CreatedAt.Equal(want) || !ev.Time.Equal(want) {
		t.Errorf("written-back times %v %v %v, want %v", tn.CreatedAt, c.CreatedAt, ev.Time, want)
	}

	// Sub-microsecond differences do not survive, so an expiry compares
	// the same before and after a round trip.
	if !gotC.Expired(want.Add(time.Hour)) || gotC.Expired(want.Add(time.Hour-time.Microsecond)) {
		t.Error("Expired disagrees with the stored ExpiresAt")
	}
}
