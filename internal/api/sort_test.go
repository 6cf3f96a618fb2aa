package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestListSorts: ?sort= orders the collections, and a walk with limit and
// next in that order sees every item once, in the order of the whole
// list, names and expiries shared by several items and some never
// expiring.
func TestListSorts(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		ctx := t.Context()
		f := e.newTenant(t, "acme")
		owner, err := e.svc.ActorFor(ctx, f.tenant.ID, f.ownerID, "")
		if err != nil {
			t.Fatal(err)
		}
		soon, later := time.Now().Add(24*time.Hour).UTC(), time.Now().Add(48*time.Hour).UTC()
		exps := []*time.Time{nil, &later, &soon, &later}
		names := []string{"beta", "Alpha", "beta", "alpha", "Ω"}
		for i := range 9 {
			_, _, err := e.svc.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{
				Name: names[i%len(names)], Scopes: []string{"catalog"}, ExpiresAt: exps[i%len(exps)]})
			if err != nil {
				t.Fatal(err)
			}
			e.addMember(t, f.tenant.ID, fmt.Sprintf("%s%d@acme.test", []string{"zed", "Ann", "bob"}[i%3], i), gatehouse.RoleStaff)
			app := &gatehouse.Client{ID: fmt.Sprint("APIK-SORT", i), TenantID: f.tenant.ID, Name: names[i%len(names)], GrantTypes: []string{gatehouse.GrantClientCredentials}}
			if err := e.db.CreateClient(ctx, app); err != nil {
				t.Fatal(err)
			}
			in := &gatehouse.Integration{TenantID: f.tenant.ID, Name: names[i%len(names)], Email: "erp@acme.test", AllResources: true,
				Status: gatehouse.IntegrationInactive, ConsumerKey: fmt.Sprintf("%032d", i), ConsumerSecret: []byte("sealed")}
			if err := e.db.CreateIntegration(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		field := func(it map[string]any, k string) string { s, _ := it[k].(string); return s }
		byText := func(k string) func(a, b map[string]any) int {
			return func(a, b map[string]any) int { return strings.Compare(field(a, k), field(b, k)) }
		}
		byExpiry := func(a, b map[string]any) int {
			x, y := field(a, "expires_at"), field(b, "expires_at")
			switch {
			case x == "" && y == "":
				return 0
			case x == "":
				return 1
			case y == "":
				return -1
			}
			return parsed(t, x).Compare(parsed(t, y))
		}
		byCreated := func(desc bool) func(a, b map[string]any) int {
			return func(a, b map[string]any) int {
				c := parsed(t, field(a, "created_at")).Compare(parsed(t, field(b, "created_at")))
				if desc {
					c = -c
				}
				return c
			}
		}
		for _, tc := range []struct {
			path, id string
			cmp      func(a, b map[string]any) int
		}{
			{"/api/v1/tokens?sort=name", "id", byText("name")},
			{"/api/v1/tokens?sort=expires", "id", byExpiry},
			{"/api/v1/tokens?sort=oldest", "id", byCreated(false)},
			{"/api/v1/tokens?sort=newest", "id", byCreated(true)},
			{"/api/v1/users?sort=email", "id", byText("email")},
			{"/api/v1/users?sort=oldest", "id", byCreated(false)},
			{"/api/v1/oauth-clients?sort=name", "client_id", byText("name")},
			{"/api/v1/integrations?sort=name", "id", byText("name")},
			{"/api/v1/integrations?sort=oldest", "id", byCreated(false)},
		} {
			t.Run(strings.TrimPrefix(tc.path, "/api/v1/"), func(t *testing.T) {
				all := decode[page](t, e.get(t, tc.path+"&limit=200", f.token)).Items
				if len(all) < 9 {
					t.Fatalf("%d items", len(all))
				}
				if !slices.IsSortedFunc(all, tc.cmp) {
					var keys []string
					for _, it := range all {
						keys = append(keys, fmt.Sprint(it["name"], it["email"], it["expires_at"], it["created_at"]))
					}
					t.Errorf("not in order: %q", keys)
				}
				var want []string
				for _, it := range all {
					want = append(want, field(it, tc.id))
				}
				for _, limit := range []int{1, 2, 4} {
					if got := walkAPI(t, e, tc.path, f.token, limit, tc.id); !slices.Equal(got, want) {
						t.Errorf("limit %d: walk %v, want %v", limit, got, want)
					}
				}
			})
		}
		// Never expiring last: the last three of the nine and f's token
		// have no expiry, and come after every one that has.
		all := decode[page](t, e.get(t, "/api/v1/tokens?sort=expires&limit=200", f.token)).Items
		if field(all[0], "expires_at") == "" || field(all[len(all)-1], "expires_at") != "" {
			t.Errorf("by expiry: first %v, last %v", all[0]["expires_at"], all[len(all)-1]["expires_at"])
		}
		// Recently used first: the token this test calls with has been used.
		e.get(t, "/api/v1/tokens?sort=last_used", f.token)
	})
}

// TestSortRefusals: an unknown order, one the collection does not have
// and a cursor of another order are 400 with a message naming the
// allowed orders or the cursor's own; nothing is listed.
func TestSortRefusals(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant(t, "acme")
	for range 3 {
		e.newPAT(t, a.tenant.ID, a.ownerID, "catalog")
	}
	byName := decode[page](t, e.get(t, "/api/v1/tokens?sort=name&limit=1", a.token)).Next
	newest := decode[page](t, e.get(t, "/api/v1/tokens?limit=1", a.token)).Next
	if byName == nil || newest == nil {
		t.Fatal("no next")
	}
	for _, tc := range []struct {
		path, code, message string
	}{
		{"/api/v1/tokens?sort=size", gatehouse.EINVALID, "sort must be one of newest, oldest, name, expires, last_used"},
		{"/api/v1/tokens?sort=email", gatehouse.EINVALID, "newest, oldest, name, expires, last_used"},
		{"/api/v1/users?sort=name", gatehouse.EINVALID, "sort must be one of newest, oldest, email"},
		{"/api/v1/oauth-clients?sort=expires", gatehouse.EINVALID, "sort must be one of newest, oldest, name"},
		{"/api/v1/integrations?sort=last_used", gatehouse.EINVALID, "sort must be one of newest, oldest, name"},
		{"/api/v1/tokens?sort=name&sort=oldest", "bad_request", "more than once"},
		{"/api/v1/integrations/int_x/deliveries?sort=oldest", "bad_request", "sort does not apply"},
		{"/api/v1/tokens?sort=expires&next=" + *byName, "bad_request", "next was handed out for sort=name, not sort=expires"},
		{"/api/v1/tokens?next=" + *byName, "bad_request", "next was handed out for sort=name, not sort=newest"},
		{"/api/v1/tokens?sort=name&next=" + *newest, "bad_request", "next was handed out for sort=newest, not sort=name"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := e.do(t, req{method: http.MethodGet, path: tc.path, token: a.token})
			expect(t, res, http.StatusBadRequest, tc.code)
			if !strings.Contains(string(res.body), tc.message) {
				t.Errorf("body %s, want %q", res.body, tc.message)
			}
		})
	}
	// The cursor in its own order works, and sort=newest is the default's.
	e.get(t, "/api/v1/tokens?sort=name&limit=1&next="+*byName, a.token)
	e.get(t, "/api/v1/tokens?sort=newest&limit=1&next="+*newest, a.token)
}

// parsed is the RFC 3339 time s.
func parsed(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// TestOpenAPISorts: the document's sort enum of each collection is the
// orders the collection takes.
func TestOpenAPISorts(t *testing.T) {
	e := newEnv(t)
	res := e.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	type operation struct {
		Parameters []struct {
			Name   string
			Schema struct{ Enum []string }
		}
	}
	for path, sorts := range map[string][]gatehouse.Sort{
		"/api/v1/tokens":        gatehouse.CredentialSorts,
		"/api/v1/api-keys":      gatehouse.CredentialSorts,
		"/api/v1/users":         gatehouse.MemberSorts,
		"/api/v1/oauth-clients": gatehouse.ClientSorts,
		"/api/v1/integrations":  gatehouse.IntegrationSorts,
		"/api/v1/audit-events":  gatehouse.AuditSorts,
	} {
		var got []string
		var get operation
		if err := json.Unmarshal(doc.Paths[path]["get"], &get); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, p := range get.Parameters {
			if p.Name == "sort" {
				got = p.Schema.Enum
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(sorts) {
			t.Errorf("%s: sort enum %v, want %v", path, got, sorts)
		}
	}
}

// TestAuditSort: ?sort=oldest walks the audit log the other way round,
// each event once; a cursor of one order is 400 in the other.
func TestAuditSort(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant(t, "acme")
	for range 5 {
		e.newPAT(t, a.tenant.ID, a.ownerID, "catalog")
	}
	newest := walkAPI(t, e, "/api/v1/audit-events?action=pat.create", a.token, 2, "id")
	oldest := walkAPI(t, e, "/api/v1/audit-events?action=pat.create&sort=oldest", a.token, 2, "id")
	if len(newest) < 5 {
		t.Fatalf("%d events", len(newest))
	}
	slices.Reverse(oldest)
	if !slices.Equal(newest, oldest) {
		t.Errorf("oldest first, reversed: %v; newest first: %v", oldest, newest)
	}
	next := decode[page](t, e.get(t, "/api/v1/audit-events?sort=oldest&limit=1", a.token)).Next
	if next == nil {
		t.Fatal("no next")
	}
	res := e.do(t, req{method: http.MethodGet, path: "/api/v1/audit-events?next=" + *next, token: a.token})
	expect(t, res, http.StatusBadRequest, "bad_request")
	if !strings.Contains(string(res.body), "next was handed out for sort=oldest, not sort=newest") {
		t.Errorf("body %s", res.body)
	}
	res = e.do(t, req{method: http.MethodGet, path: "/api/v1/audit-events?sort=name", token: a.token})
	expect(t, res, http.StatusBadRequest, gatehouse.EINVALID)
	if !strings.Contains(string(res.body), "newest, oldest") {
		t.Errorf("body %s", res.body)
	}
}
