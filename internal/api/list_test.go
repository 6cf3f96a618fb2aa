package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// page is the envelope of a collection as a client reads it.
type page struct {
	Items []map[string]any `json:"items"`
	Next  *string          `json:"next"`
}

// walkAPI reads every page of path with limit and returns the items' ids
// (under idField) in order.
func walkAPI(t *testing.T, e *testEnv, path, token string, limit int, idField string) []string {
	t.Helper()
	var ids []string
	next := ""
	for n := 0; ; n++ {
		if n > 10000 {
			t.Fatalf("%s: walk does not end", path)
		}
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if next != "" {
			q.Set("next", next)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		p := decode[page](t, e.get(t, path+sep+q.Encode(), token))
		if len(p.Items) > limit {
			t.Fatalf("%s: %d items in a page of %d", path, len(p.Items), limit)
		}
		for _, it := range p.Items {
			ids = append(ids, it[idField].(string))
		}
		if p.Next == nil {
			return ids
		}
		if *p.Next == "" {
			t.Fatalf("%s: next is empty rather than absent", path)
		}
		next = *p.Next
	}
}

// exactlyOnce checks that got holds want's ids, each once, in any order.
func exactlyOnce(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Errorf("%s: %s seen %d times", what, id, seen[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d items, want %d", what, len(got), len(want))
	}
}

// TestListPaging: every collection pages by limit and next (SPEC §9),
// newest first, each item once, next absent on the last page.
func TestListPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		ctx := t.Context()
		f := e.newTenant(t, "acme")
		owner, err := e.svc.ActorFor(ctx, f.tenant.ID, f.ownerID, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens, keys := []string{f.tokenID}, []string(nil)
		users := []string{f.ownerID}
		var apps, ints []string
		var integ *gatehouse.Integration
		for i := range 7 {
			c, _, err := e.svc.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: fmt.Sprint("pat ", i), Scopes: []string{"catalog"}})
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, c.ID)
			k, _, err := e.svc.CreateCredential(ctx, owner, gatehouse.KindAPIKey, admin.CredentialInput{Name: fmt.Sprint("key ", i)})
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.ID)
			users = append(users, e.addMember(t, f.tenant.ID, fmt.Sprintf("u%d@acme.test", i), gatehouse.RoleStaff))
			app := &gatehouse.Client{ID: fmt.Sprint("APIK-LIST", i), TenantID: f.tenant.ID, Name: fmt.Sprint("App ", i), GrantTypes: []string{gatehouse.GrantClientCredentials}}
			if err := e.db.CreateClient(ctx, app); err != nil {
				t.Fatal(err)
			}
			apps = append(apps, app.ID)
			in := &gatehouse.Integration{TenantID: f.tenant.ID, Name: fmt.Sprint("Sync ", i), Email: "erp@acme.test", AllResources: true,
				Status: gatehouse.IntegrationInactive, ConsumerKey: fmt.Sprintf("%032d", i), ConsumerSecret: []byte("sealed")}
			if err := e.db.CreateIntegration(ctx, in); err != nil {
				t.Fatal(err)
			}
			ints, integ = append(ints, in.ID), in
		}
		var deliveries []string
		for i := range 7 {
			d := &gatehouse.Delivery{TenantID: f.tenant.ID, IntegrationID: integ.ID, Time: time.Now().Add(time.Duration(i/3) * time.Second), URL: "https://erp.acme.test/cb"}
			if err := e.db.AddDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
			deliveries = append(deliveries, d.ID)
		}
		for _, tc := range []struct {
			path, id string
			want     []string
		}{
			{"/api/v1/tokens", "id", tokens},
			{"/api/v1/api-keys", "id", keys},
			{"/api/v1/users", "id", users},
			{"/api/v1/oauth-clients", "client_id", apps},
			{"/api/v1/integrations", "id", ints},
			{"/api/v1/integrations/" + integ.ID + "/deliveries", "id", deliveries},
		} {
			t.Run(strings.TrimPrefix(tc.path, "/api/v1/"), func(t *testing.T) {
				for _, limit := range []int{1, 3, 200} {
					exactlyOnce(t, fmt.Sprint(tc.path, " limit ", limit), walkAPI(t, e, tc.path, f.token, limit, tc.id), tc.want)
				}
				// Without limit: one page of at most 50, no next.
				p := decode[page](t, e.get(t, tc.path, f.token))
				if p.Next != nil || len(p.Items) != len(tc.want) {
					t.Errorf("default page: %d items, next %v", len(p.Items), p.Next)
				}
				// Newest first: the last created comes first.
				if got := p.Items[0][tc.id]; got != tc.want[len(tc.want)-1] {
					t.Errorf("first item %v, want the newest %s", got, tc.want[len(tc.want)-1])
				}
			})
		}
	})
}

// TestListRefusals: the caller controls limit, next, status, q and
// user_id; a bad value is refused with a message, a cursor of another
// list or tenant included, and nothing is listed.
func TestListRefusals(t *testing.T) {
	e := newEnv(t)
	a, b := e.newTenant(t, "acme"), e.newTenant(t, "bolt")
	for range 3 {
		e.newPAT(t, a.tenant.ID, a.ownerID, "catalog")
		e.newPAT(t, b.tenant.ID, b.ownerID, "catalog")
	}
	firstNext := func(path, token string) string {
		t.Helper()
		p := decode[page](t, e.get(t, path+"?limit=1", token))
		if p.Next == nil {
			t.Fatalf("%s: no next", path)
		}
		return *p.Next
	}
	ownTokens := firstNext("/api/v1/tokens", a.token)
	e.addMember(t, a.tenant.ID, "x@acme.test", gatehouse.RoleStaff)
	keysNext := func() string {
		ctx := t.Context()
		owner, _ := e.svc.ActorFor(ctx, a.tenant.ID, a.ownerID, "")
		for range 2 {
			if _, _, err := e.svc.CreateCredential(ctx, owner, gatehouse.KindAPIKey, admin.CredentialInput{Name: "k"}); err != nil {
				t.Fatal(err)
			}
		}
		return firstNext("/api/v1/api-keys", a.token)
	}()
	otherTenant := firstNext("/api/v1/tokens", b.token)
	edited := []byte(ownTokens)
	edited[3] ^= 1
	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"limit=0", http.StatusBadRequest, "bad_request"},
		{"limit=201", http.StatusBadRequest, "bad_request"},
		{"limit=-1", http.StatusBadRequest, "bad_request"},
		{"limit=ten", http.StatusBadRequest, "bad_request"},
		{"limit=1&limit=2", http.StatusBadRequest, "bad_request"},
		{"next=garbage!", http.StatusBadRequest, "bad_request"},
		{"next=" + string(edited), http.StatusBadRequest, "bad_request"},
		{"next=" + keysNext, http.StatusBadRequest, "bad_request"},    // another collection's
		{"next=" + otherTenant, http.StatusBadRequest, "bad_request"}, // another tenant's
		{"next=" + strings.Repeat("A", 300), http.StatusBadRequest, "bad_request"},
		{"status=gone", http.StatusUnprocessableEntity, gatehouse.EINVALID},
		{"q=" + strings.Repeat("x", gatehouse.MaxQueryLen+1), http.StatusUnprocessableEntity, gatehouse.EINVALID},
		{"q=a&q=b", http.StatusBadRequest, "bad_request"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := e.do(t, req{method: http.MethodGet, path: "/api/v1/tokens?" + tc.query, token: a.token})
			expect(t, res, tc.status, tc.code)
			if !strings.Contains(string(res.body), "message") {
				t.Errorf("no message: %s", res.body)
			}
		})
	}
	expect(t, e.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys?user_id=" + a.ownerID, token: a.token}), http.StatusBadRequest, "bad_request")
	expect(t, e.do(t, req{method: http.MethodGet, path: "/api/v1/users?role=king", token: a.token}), http.StatusUnprocessableEntity, gatehouse.EINVALID)
	// The tenant's own cursor works.
	e.get(t, "/api/v1/tokens?limit=1&next="+ownTokens, a.token)
}

// TestListFilters: status, q and user_id on credential lists; role and
// q on users.
func TestListFilters(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		ctx := t.Context()
		f := e.newTenant(t, "acme")
		staff := e.addMember(t, f.tenant.ID, "staff.person@acme.test", gatehouse.RoleAdmin)
		owner, _ := e.svc.ActorFor(ctx, f.tenant.ID, f.ownerID, "")
		other, _ := e.svc.ActorFor(ctx, f.tenant.ID, staff, "")
		mk := func(a admin.Actor, name string) string {
			c, _, err := e.svc.CreateCredential(ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: name, Scopes: []string{"catalog"}})
			if err != nil {
				t.Fatal(err)
			}
			return c.ID
		}
		deploy := mk(owner, "Deploy bot")
		gone := mk(owner, "deploy old")
		theirs := mk(other, "reports")
		if err := e.svc.RevokeCredential(ctx, owner, gatehouse.KindPAT, gone); err != nil {
			t.Fatal(err)
		}
		list := func(query string) []string {
			t.Helper()
			var ids []string
			for _, it := range decode[page](t, e.get(t, "/api/v1/tokens?"+query, f.token)).Items {
				ids = append(ids, it["id"].(string))
			}
			return ids
		}
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{theirs, deploy, f.tokenID}},
			{"status=active", []string{theirs, deploy, f.tokenID}},
			{"status=revoked", []string{gone}},
			{"status=expired", nil},
			{"q=DEPLOY", []string{deploy}},
			{"q=deploy&status=revoked", []string{gone}},
			{"user_id=" + staff, []string{theirs}},
		} {
			if got := list(tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("?%s = %v, want %v", tc.query, got, tc.want)
			}
		}
		users := decode[page](t, e.get(t, "/api/v1/users?role=admin", f.token)).Items
		if len(users) != 1 || users[0]["id"] != staff {
			t.Errorf("role=admin: %v", users)
		}
		users = decode[page](t, e.get(t, "/api/v1/users?q=STAFF.person", f.token)).Items
		if len(users) != 1 || users[0]["id"] != staff {
			t.Errorf("q=STAFF.person: %v", users)
		}
	})
}
