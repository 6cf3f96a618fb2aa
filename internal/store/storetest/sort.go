package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Every order of a list (gatehouse.CredentialSorts, …) pages by keyset on
// (key, id): a walk at any page size is the whole list in that order, each
// item once, ties on the key broken by the ID and missing times last.

// inOrder checks that list is in the order cmpKey gives (ties allowed),
// ties broken by the ID in the order's direction (desc), and that the
// walks at several page sizes are the list itself.
func inOrder[T any](t *testing.T, what string, sort gatehouse.Sort, read func(gatehouse.PageQuery) ([]T, error),
	at func(T, gatehouse.Sort) gatehouse.Cursor, cmpKey func(a, b T) int, desc bool, want []string) {
	t.Helper()
	all, err := read(gatehouse.PageQuery{Sort: sort})
	must(t, err, what+": list all")
	wantOnce(t, what+" by "+string(sort), ids(all, at), want, nil)
	for i := 1; i < len(all); i++ {
		p, c := all[i-1], all[i]
		k := cmpKey(p, c)
		tie := strings.Compare(at(p, sort).ID, at(c, sort).ID)
		if desc {
			tie = -tie
		}
		if k > 0 || k == 0 && tie >= 0 {
			t.Errorf("%s by %s: %s before %s", what, sort, at(p, sort).ID, at(c, sort).ID)
		}
	}
	for _, limit := range []int{1, 2, 3, 5, 50} {
		if seen := walkIn(t, sort, limit, read, at, nil); !slices.Equal(seen, ids(all, at)) {
			t.Errorf("%s by %s, limit %d: walk %v, want %v", what, sort, limit, seen, ids(all, at))
		}
	}
}

// cmpTime orders optional times, a missing one after every present one;
// desc reverses the present ones only.
func cmpTime(a, b *time.Time, desc bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	if desc {
		return b.Compare(*a)
	}
	return a.Compare(*b)
}

func testCredentialSorts(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	t1, t2 := base.Add(time.Hour), base.Add(2*time.Hour)
	times := []*time.Time{nil, &t1, &t2, &t1, nil}
	names := []string{"beta", "Alpha", "alpha", "beta", "Ärger", "zeta", "Beta"}
	var want []string
	for i := range 17 {
		c := newCredential(t, s, a.ID, func(c *gatehouse.Credential) {
			c.Name = names[i%len(names)]
			c.CreatedAt = base.Add(time.Duration(i/4) * time.Second)
			c.ExpiresAt = times[i%len(times)]
			c.LastUsedAt = times[(i+2)%len(times)]
		})
		want = append(want, c.ID)
	}
	// Not listed: revoked, another kind, another tenant's.
	newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.Name = "Alpha"; c.RevokedAt = &base })
	newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.Kind = gatehouse.KindAPIKey; c.Name = "Alpha" })
	newCredential(t, s, b.ID, func(c *gatehouse.Credential) { c.Name = "Alpha" })
	read := func(q gatehouse.PageQuery) ([]*gatehouse.Credential, error) {
		return s.ListCredentials(ctx, a.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT, Page: q})
	}
	at := (*gatehouse.Credential).At
	type C = *gatehouse.Credential
	for _, tc := range []struct {
		sort gatehouse.Sort
		cmp  func(a, b C) int
		desc bool
	}{
		{gatehouse.SortNewest, func(a, b C) int { return b.CreatedAt.Compare(a.CreatedAt) }, true},
		{"", func(a, b C) int { return b.CreatedAt.Compare(a.CreatedAt) }, true},
		{gatehouse.SortOldest, func(a, b C) int { return a.CreatedAt.Compare(b.CreatedAt) }, false},
		{gatehouse.SortName, func(a, b C) int { return strings.Compare(a.Name, b.Name) }, false},
		{gatehouse.SortExpires, func(a, b C) int { return cmpTime(a.ExpiresAt, b.ExpiresAt, false) }, false},
		{gatehouse.SortLastUsed, func(a, b C) int { return cmpTime(a.LastUsedAt, b.LastUsedAt, true) }, true},
	} {
		inOrder(t, "credentials", tc.sort, read, at, tc.cmp, tc.desc, want)
	}
	if len(gatehouse.CredentialSorts) != 5 {
		t.Errorf("credential sorts %v: this test covers 5", gatehouse.CredentialSorts)
	}

	// A filter and a search keep the order and the paging.
	nameAlpha := func(q gatehouse.PageQuery) ([]*gatehouse.Credential, error) {
		return s.ListCredentials(ctx, a.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT, Query: "ALPHA", Status: gatehouse.StatusActive, At: base, Page: q})
	}
	var alphas []string
	for i, id := range want {
		if strings.EqualFold(names[i%len(names)], "alpha") {
			alphas = append(alphas, id)
		}
	}
	inOrder(t, "active alphas", gatehouse.SortExpires, nameAlpha, at, func(a, b C) int { return cmpTime(a.ExpiresAt, b.ExpiresAt, false) }, false, alphas)

	// A cursor of one order is refused in another, and an unknown order.
	first, err := read(gatehouse.PageQuery{Sort: gatehouse.SortName, Limit: 1})
	must(t, err, "first by name")
	cur := first[0].At(gatehouse.SortName)
	_, err = read(gatehouse.PageQuery{Sort: gatehouse.SortExpires, Limit: 2, After: &cur})
	wantCode(t, err, gatehouse.EINVALID, "a cursor by name in a list by expiry")
	_, err = read(gatehouse.PageQuery{Sort: gatehouse.SortEmail})
	wantCode(t, err, gatehouse.EINVALID, "credentials by email")
}

func testOtherSorts(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a := newTenant(t, s, "acme")
	var members []string
	for i, email := range []string{"zoe@acme.test", "Bob@acme.test", "anna@acme.test", "bob2@acme.test", "carl@acme.test"} {
		u := newUser(t, s, email)
		must(t, s.AddMembership(ctx, &gatehouse.Membership{TenantID: a.ID, UserID: u.ID, Role: gatehouse.RoleStaff, CreatedAt: base.Add(time.Duration(i/2) * time.Second)}), "add member")
		members = append(members, u.ID)
	}
	readMembers := func(q gatehouse.PageQuery) ([]*gatehouse.Member, error) {
		return s.ListMembers(ctx, a.ID, gatehouse.MemberFilter{Page: q})
	}
	type M = *gatehouse.Member
	inOrder(t, "members", gatehouse.SortNewest, readMembers, (*gatehouse.Member).At, func(a, b M) int { return b.CreatedAt.Compare(a.CreatedAt) }, true, members)
	inOrder(t, "members", gatehouse.SortOldest, readMembers, (*gatehouse.Member).At, func(a, b M) int { return a.CreatedAt.Compare(b.CreatedAt) }, false, members)
	inOrder(t, "members", gatehouse.SortEmail, readMembers, (*gatehouse.Member).At, func(a, b M) int { return strings.Compare(a.Email, b.Email) }, false, members)

	var apps, ints []string
	for i := range 8 {
		name := []string{"Shop", "erp", "Shop", "ERP", "shop"}[i%5]
		c := newClient(t, s, a.ID, fmt.Sprintf("APIK-S%02d", i), func(c *gatehouse.Client) {
			c.Name, c.CreatedAt = name, base.Add(time.Duration(i/3)*time.Second)
		})
		apps = append(apps, c.ID)
		in := newIntegration(t, s, a.ID, func(in *gatehouse.Integration) {
			in.Name, in.CreatedAt = name, base.Add(time.Duration(i/3)*time.Second)
		})
		ints = append(ints, in.ID)
	}
	readApps := func(q gatehouse.PageQuery) ([]*gatehouse.Client, error) {
		return s.ListClients(ctx, a.ID, gatehouse.ListFilter{Page: q})
	}
	readInts := func(q gatehouse.PageQuery) ([]*gatehouse.Integration, error) {
		return s.ListIntegrations(ctx, a.ID, gatehouse.ListFilter{Page: q})
	}
	type A = *gatehouse.Client
	type I = *gatehouse.Integration
	inOrder(t, "apps", gatehouse.SortNewest, readApps, (*gatehouse.Client).At, func(a, b A) int { return b.CreatedAt.Compare(a.CreatedAt) }, true, apps)
	inOrder(t, "apps", gatehouse.SortOldest, readApps, (*gatehouse.Client).At, func(a, b A) int { return a.CreatedAt.Compare(b.CreatedAt) }, false, apps)
	inOrder(t, "apps", gatehouse.SortName, readApps, (*gatehouse.Client).At, func(a, b A) int { return strings.Compare(a.Name, b.Name) }, false, apps)
	inOrder(t, "integrations", gatehouse.SortNewest, readInts, (*gatehouse.Integration).At, func(a, b I) int { return b.CreatedAt.Compare(a.CreatedAt) }, true, ints)
	inOrder(t, "integrations", gatehouse.SortOldest, readInts, (*gatehouse.Integration).At, func(a, b I) int { return a.CreatedAt.Compare(b.CreatedAt) }, false, ints)
	inOrder(t, "integrations", gatehouse.SortName, readInts, (*gatehouse.Integration).At, func(a, b I) int { return strings.Compare(a.Name, b.Name) }, false, ints)

	_, err := readApps(gatehouse.PageQuery{Sort: gatehouse.SortExpires})
	wantCode(t, err, gatehouse.EINVALID, "apps by expiry")
	_, err = readMembers(gatehouse.PageQuery{Sort: gatehouse.SortName})
	wantCode(t, err, gatehouse.EINVALID, "members by name")
	cur := gatehouse.Cursor{Sort: gatehouse.SortNewest, Time: base, ID: apps[0]}
	_, err = readInts(gatehouse.PageQuery{Sort: gatehouse.SortName, After: &cur})
	wantCode(t, err, gatehouse.EINVALID, "a cursor by creation in a list by name")
}
