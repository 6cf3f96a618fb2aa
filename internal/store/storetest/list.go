package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Lists page by keyset (gatehouse.PageQuery, SPEC §9): newest first on
// (created, id), a page strictly older than its cursor, filters applied
// before the limit, and never another tenant's rows.

// walk reads every page of a list of limit rows through read and returns
// the IDs in the order seen; between pages it calls between (may be nil).
func walk[T any](t *testing.T, limit int, read func(gatehouse.PageQuery) ([]T, error), at func(T, gatehouse.Sort) gatehouse.Cursor, between func(page int)) []string {
	t.Helper()
	return walkIn(t, "", limit, read, at, between)
}

// walkIn is walk in the order sort; each cursor it is handed is of sort.
func walkIn[T any](t *testing.T, sort gatehouse.Sort, limit int, read func(gatehouse.PageQuery) ([]T, error), at func(T, gatehouse.Sort) gatehouse.Cursor, between func(page int)) []string {
	t.Helper()
	var seen []string
	q := gatehouse.PageQuery{Limit: limit, Sort: sort}
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("walk does not end")
		}
		items, err := read(q.Plus1())
		must(t, err, "read a page")
		p := gatehouse.PageOf(items, q, at)
		if len(p.Items) > limit {
			t.Fatalf("page %d has %d items, limit %d", page, len(p.Items), limit)
		}
		for _, it := range p.Items {
			seen = append(seen, at(it, sort).ID)
		}
		if p.Next == nil {
			return seen
		}
		if p.Next.Sort != sort.Or() {
			t.Fatalf("page %d: a cursor of sort %q in a walk by %q", page, p.Next.Sort, sort)
		}
		if between != nil {
			between(page)
		}
		q.After = p.Next
	}
}

// wantOnce checks that seen holds each of want exactly once and nothing
// outside allowed (want and what may appear or not).
func wantOnce(t *testing.T, what string, seen, want, allowed []string) {
	t.Helper()
	count := map[string]int{}
	for _, id := range seen {
		count[id]++
	}
	for id, n := range count {
		if n > 1 {
			t.Errorf("%s: %s seen %d times", what, id, n)
		}
		if !slices.Contains(want, id) && !slices.Contains(allowed, id) {
			t.Errorf("%s: %s seen, not expected", what, id)
		}
	}
	for _, id := range want {
		if count[id] == 0 {
			t.Errorf("%s: %s never seen", what, id)
		}
	}
}

func ids[T any](list []T, at func(T, gatehouse.Sort) gatehouse.Cursor) []string {
	var out []string
	for _, it := range list {
		out = append(out, at(it, "").ID)
	}
	return out
}

func testCredentialPages(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	at := (*gatehouse.Credential).At
	// 23 tokens of a, in threes sharing a creation time (the ID breaks
	// the tie), and a few of b at the same times.
	var want []string
	for i := range 23 {
		c := newCredential(t, s, a.ID, func(c *gatehouse.Credential) {
			c.Name = fmt.Sprintf("tok %02d", i)
			c.CreatedAt = base.Add(time.Duration(i/3) * time.Second)
		})
		want = append(want, c.ID)
		if i%5 == 0 {
			newCredential(t, s, b.ID, func(c *gatehouse.Credential) { c.CreatedAt = base.Add(time.Duration(i/3) * time.Second) })
		}
	}
	read := func(tenantID string) func(gatehouse.PageQuery) ([]*gatehouse.Credential, error) {
		return func(q gatehouse.PageQuery) ([]*gatehouse.Credential, error) {
			return s.ListCredentials(ctx, tenantID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT, Page: q})
		}
	}
	// The pages in order are the whole list in order.
	all, err := read(a.ID)(gatehouse.PageQuery{})
	must(t, err, "list all")
	for _, limit := range []int{1, 4, 7, 23, 50} {
		seen := walk(t, limit, read(a.ID), at, nil)
		if !slices.Equal(seen, ids(all, at)) {
			t.Errorf("limit %d: walk %v, want %v", limit, seen, ids(all, at))
		}
	}
	for i := 1; i < len(all); i++ {
		p, c := all[i-1], all[i]
		if p.CreatedAt.Before(c.CreatedAt) || p.CreatedAt.Equal(c.CreatedAt) && p.ID < c.ID {
			t.Fatalf("not newest first: %s (%v) before %s (%v)", p.ID, p.CreatedAt, c.ID, c.CreatedAt)
		}
	}

	// Created and revoked meanwhile: the rows that lived through the
	// walk are seen once; new ones are newer than any cursor.
	var created []string
	var revokedIDs []string
	seen := walk(t, 5, read(a.ID), at, func(page int) {
		c := newCredential(t, s, a.ID, func(c *gatehouse.Credential) { c.CreatedAt = base.Add(time.Hour + time.Duration(page)) })
		created = append(created, c.ID)
		id := want[len(want)-1-page*2] // one of the newest, maybe seen already
		must(t, s.RevokeCredential(ctx, a.ID, id, base), "revoke")
		revokedIDs = append(revokedIDs, id)
	})
	var lived []string
	for _, id := range want {
		if !slices.Contains(revokedIDs, id) {
			lived = append(lived, id)
		}
	}
	wantOnce(t, "walk while changing", seen, lived, revokedIDs)
	for _, id := range created {
		if slices.Contains(seen, id) {
			t.Errorf("walk saw %s, created after it started", id)
		}
	}

	// Concurrent inserts while walking.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c := &gatehouse.Credential{TenantID: a.ID, Kind: gatehouse.KindPAT, Name: "racer", Hash: randomHash(), Hint: "gate_pat_x"}
			if err := s.CreateCredential(ctx, c); err != nil {
				t.Errorf("concurrent create: %v", err)
				return
			}
		}
	})
	seen = walk(t, 3, func(q gatehouse.PageQuery) ([]*gatehouse.Credential, error) {
		// Only the rows created before the walk: the racers are newer.
		return s.ListCredentials(ctx, a.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT, Query: "tok", Page: q})
	}, at, nil)
	close(stop)
	wg.Wait()
	wantOnce(t, "walk with concurrent inserts", seen, lived, nil)

	// Another tenant's cursor positions nothing of a's: b's list after it
	// is b's only.
	other := walk(t, 2, read(b.ID), at, nil)
	bAll, err := read(b.ID)(gatehouse.PageQuery{})
	must(t, err, "list b")
	if !slices.Equal(other, ids(bAll, at)) {
		t.Errorf("b walk %v, want %v", other, ids(bAll, at))
	}
	cur := all[3].At("")
	got, err := s.ListCredentials(ctx, b.ID, gatehouse.CredentialFilter{Page: gatehouse.PageQuery{Limit: 50, After: &cur}})
	must(t, err, "list b after a's cursor")
	for _, c := range got {
		if c.TenantID != b.ID {
			t.Errorf("b's list after a's cursor holds %s of %s", c.ID, c.TenantID)
		}
	}
}

func testCredentialFilters(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a := newTenant(t, s, "acme")
	now := base.Add(time.Hour)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	mk := func(name, hint string, exp, rev *time.Time) *gatehouse.Credential {
		return newCredential(t, s, a.ID, func(c *gatehouse.Credential) {
			c.Name, c.Hint, c.ExpiresAt, c.RevokedAt = name, hint, exp, rev
		})
	}
	active := mk("Deploy CI", "gate_pat_AbC", &future, nil)
	forever := mk("Ночной экспорт", "gate_pat_XyZ", nil, nil)
	expired := mk("old_deploy", "gate_pat_QqQ", &past, nil)
	expiredRevoked := mk("100% done", "gate_pat_RrR", &past, &past)
	revoked := mk("deploy", "gate_pat_SsS", nil, &past)
	at := (*gatehouse.Credential).At
	for _, tc := range []struct {
		name string
		f    gatehouse.CredentialFilter
		want []*gatehouse.Credential
	}{
		{"default: not revoked", gatehouse.CredentialFilter{}, []*gatehouse.Credential{expired, forever, active}},
		{"active", gatehouse.CredentialFilter{Status: gatehouse.StatusActive, At: now}, []*gatehouse.Credential{forever, active}},
		{"active at the expiry", gatehouse.CredentialFilter{Status: gatehouse.StatusActive, At: future}, []*gatehouse.Credential{forever}},
		{"expired", gatehouse.CredentialFilter{Status: gatehouse.StatusExpired, At: now}, []*gatehouse.Credential{expired}},
		{"revoked", gatehouse.CredentialFilter{Status: gatehouse.StatusRevoked, At: now}, []*gatehouse.Credential{revoked, expiredRevoked}},
		{"name, any case", gatehouse.CredentialFilter{Query: "DEPLOY"}, []*gatehouse.Credential{expired, active}},
		{"hint", gatehouse.CredentialFilter{Query: "xyz"}, []*gatehouse.Credential{forever}},
		{"non-ASCII as typed", gatehouse.CredentialFilter{Query: "Ночной"}, []*gatehouse.Credential{forever}},
		{"underscore is literal", gatehouse.CredentialFilter{Query: "y_c"}, nil},
		{"underscore matches itself", gatehouse.CredentialFilter{Query: "old_"}, []*gatehouse.Credential{expired}},
		{"percent is literal", gatehouse.CredentialFilter{Query: "0%", IncludeRevoked: true}, []*gatehouse.Credential{expiredRevoked}},
		{"query and status", gatehouse.CredentialFilter{Query: "deploy", Status: gatehouse.StatusRevoked, At: now}, []*gatehouse.Credential{revoked}},
		{"filter before limit", gatehouse.CredentialFilter{Status: gatehouse.StatusActive, At: now, Page: gatehouse.PageQuery{Limit: 1}}, []*gatehouse.Credential{forever}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListCredentials(ctx, a.ID, tc.f)
			must(t, err, "list credentials")
			if !slices.Equal(ids(got, at), ids(tc.want, at)) {
				t.Errorf("got %v, want %v", ids(got, at), ids(tc.want, at))
			}
		})
	}
}

func testMemberPages(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	var want, admins []string
	for i := range 11 {
		u := newUser(t, s, fmt.Sprintf("user%02d@Example.com", i))
		role := gatehouse.RoleStaff
		if i%4 == 0 {
			role = gatehouse.RoleAdmin
			admins = append(admins, u.ID)
		}
		must(t, s.AddMembership(ctx, &gatehouse.Membership{TenantID: a.ID, UserID: u.ID, Role: role, CreatedAt: base.Add(time.Duration(i/2) * time.Second)}), "add member")
		want = append(want, u.ID)
		if i == 3 {
			newMember(t, s, b.ID, u.ID, gatehouse.RoleOwner)
		}
	}
	at := (*gatehouse.Member).At
	read := func(f gatehouse.MemberFilter) func(gatehouse.PageQuery) ([]*gatehouse.Member, error) {
		return func(q gatehouse.PageQuery) ([]*gatehouse.Member, error) {
			f.Page = q
			return s.ListMembers(ctx, a.ID, f)
		}
	}
	wantOnce(t, "members", walk(t, 3, read(gatehouse.MemberFilter{}), at, nil), want, nil)
	wantOnce(t, "admins", walk(t, 2, read(gatehouse.MemberFilter{Role: gatehouse.RoleAdmin}), at, nil), admins, nil)
	wantOnce(t, "email", walk(t, 2, read(gatehouse.MemberFilter{Query: "USER07@example"}), at, nil), want[7:8], nil)
	all, err := s.ListMembers(ctx, a.ID, gatehouse.MemberFilter{})
	must(t, err, "list members")
	if len(all) == 0 || all[0].UserID != want[10] {
		t.Errorf("members not newest first: %v", ids(all, at))
	}
}

func testClientAndIntegrationPages(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	var apps, ints []string
	for i := range 9 {
		c := newClient(t, s, a.ID, fmt.Sprintf("APIK-%02d", i), func(c *gatehouse.Client) {
			c.Name = fmt.Sprintf("App %d", i)
			c.CreatedAt = base.Add(time.Duration(i/3) * time.Second)
		})
		apps = append(apps, c.ID)
		in := newIntegration(t, s, a.ID, func(in *gatehouse.Integration) {
			in.Name = fmt.Sprintf("Sync %d", i)
			in.CreatedAt = base.Add(time.Duration(i/3) * time.Second)
		})
		ints = append(ints, in.ID)
	}
	newClient(t, s, b.ID, "APIK-B", nil)
	newIntegration(t, s, b.ID, nil)
	clients := func(f gatehouse.ListFilter) func(gatehouse.PageQuery) ([]*gatehouse.Client, error) {
		return func(q gatehouse.PageQuery) ([]*gatehouse.Client, error) {
			f.Page = q
			return s.ListClients(ctx, a.ID, f)
		}
	}
	integrations := func(f gatehouse.ListFilter) func(gatehouse.PageQuery) ([]*gatehouse.Integration, error) {
		return func(q gatehouse.PageQuery) ([]*gatehouse.Integration, error) {
			f.Page = q
			return s.ListIntegrations(ctx, a.ID, f)
		}
	}
	wantOnce(t, "clients", walk(t, 2, clients(gatehouse.ListFilter{}), (*gatehouse.Client).At, nil), apps, nil)
	wantOnce(t, "client by name", walk(t, 2, clients(gatehouse.ListFilter{Query: "app 4"}), (*gatehouse.Client).At, nil), apps[4:5], nil)
	wantOnce(t, "client by id", walk(t, 2, clients(gatehouse.ListFilter{Query: "apik-07"}), (*gatehouse.Client).At, nil), apps[7:8], nil)
	wantOnce(t, "integrations", walk(t, 4, integrations(gatehouse.ListFilter{}), (*gatehouse.Integration).At, nil), ints, nil)
	wantOnce(t, "integration by name", walk(t, 4, integrations(gatehouse.ListFilter{Query: "SYNC 8"}), (*gatehouse.Integration).At, nil), ints[8:9], nil)
}

func testDeliveryPages(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	i := newIntegration(t, s, tn.ID, nil)
	var want []string
	for n := range 10 {
		d := &gatehouse.Delivery{TenantID: tn.ID, IntegrationID: i.ID, Time: base.Add(time.Duration(n/4) * time.Second), URL: "https://erp.example.com/cb"}
		must(t, s.AddDelivery(ctx, d), "add delivery")
		want = append(want, d.ID)
	}
	all, err := s.ListDeliveries(ctx, tn.ID, i.ID, gatehouse.PageQuery{})
	must(t, err, "list deliveries")
	at := (*gatehouse.Delivery).At
	for _, limit := range []int{1, 3, 4} {
		seen := walk(t, limit, func(q gatehouse.PageQuery) ([]*gatehouse.Delivery, error) {
			return s.ListDeliveries(ctx, tn.ID, i.ID, q)
		}, at, nil)
		if !slices.Equal(seen, ids(all, at)) {
			t.Errorf("limit %d: walk %v, want %v", limit, seen, ids(all, at))
		}
	}
	wantOnce(t, "deliveries", ids(all, at), want, nil)
}
