package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testCredentialLimit: CreateCredentialWithin counts the live credentials
// of one kind for one user in one tenant (or of the whole tenant without a
// user); revoked and expired ones do not count.
func testCredentialLimit(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "limit-a"), newTenant(t, s, "limit-b")
	u, v := newUser(t, s, "u@limit.test"), newUser(t, s, "v@limit.test")
	for _, tn := range []*gatehouse.Tenant{a, b} {
		newMember(t, s, tn.ID, u.ID, gatehouse.RoleAdmin)
	}
	newMember(t, s, a.ID, v.ID, gatehouse.RoleAdmin)
	now := time.Now().UTC()
	pat := func(tenantID, userID string) *gatehouse.Credential {
		return &gatehouse.Credential{TenantID: tenantID, UserID: userID, Kind: gatehouse.KindPAT, Name: "p",
			Hash: randomHash(), Scopes: []string{"sales"}, CreatedAt: now}
	}
	first := pat(a.ID, u.ID)
	must(t, s.CreateCredentialWithin(ctx, first, 2), "first of 2")
	must(t, s.CreateCredentialWithin(ctx, pat(a.ID, u.ID), 2), "second of 2")
	wantCode(t, s.CreateCredentialWithin(ctx, pat(a.ID, u.ID), 2), gatehouse.ECONFLICT, "third of 2")
	must(t, s.CreateCredentialWithin(ctx, pat(b.ID, u.ID), 2), "another tenant")
	must(t, s.CreateCredentialWithin(ctx, pat(a.ID, v.ID), 2), "another user")
	key := pat(a.ID, "")
	key.Kind = gatehouse.KindAPIKey
	must(t, s.CreateCredentialWithin(ctx, key, 1), "another kind")
	key2 := pat(a.ID, "")
	key2.Kind = gatehouse.KindAPIKey
	wantCode(t, s.CreateCredentialWithin(ctx, key2, 1), gatehouse.ECONFLICT, "second tenant key of 1")

	must(t, s.RevokeCredential(ctx, a.ID, first.ID, now), "revoke first")
	must(t, s.CreateCredentialWithin(ctx, pat(a.ID, u.ID), 2), "after a revocation")
	wantCode(t, s.CreateCredentialWithin(ctx, pat(a.ID, u.ID), 2), gatehouse.ECONFLICT, "full again")
	// An expired credential does not count.
	exp := now.Add(time.Minute)
	short := pat(a.ID, v.ID)
	short.ExpiresAt = &exp
	must(t, s.CreateCredentialWithin(ctx, short, 2), "short-lived")
	later := pat(a.ID, v.ID)
	later.CreatedAt = now.Add(2 * time.Minute)
	must(t, s.CreateCredentialWithin(ctx, later, 2), "after the short one expired")
	wantCode(t, s.CreateCredentialWithin(ctx, pat(a.ID, u.ID), 0), gatehouse.EINVALID, "limit 0")
}

// testConcurrentCredentialLimit: 20 racing creations against a limit of 5
// store exactly 5.
func testConcurrentCredentialLimit(t *testing.T, s gatehouse.Store) {
	tn := newTenant(t, s, "limit")
	u := newUser(t, s, "u@limit.test")
	newMember(t, s, tn.ID, u.ID, gatehouse.RoleAdmin)
	errs := race(20, func(int) error {
		return s.CreateCredentialWithin(t.Context(), &gatehouse.Credential{TenantID: tn.ID, UserID: u.ID, Kind: gatehouse.KindPAT,
			Name: "p", Hash: randomHash(), Scopes: []string{"sales"}}, 5)
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !gatehouse.IsCode(err, gatehouse.ECONFLICT):
			t.Errorf("create: %v", err)
		}
	}
	list, err := s.ListCredentials(t.Context(), tn.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT, UserID: u.ID})
	must(t, err, "list")
	if ok != 5 || len(list) != 5 {
		t.Fatalf("%d creations succeeded, %d stored; want 5", ok, len(list))
	}
}
