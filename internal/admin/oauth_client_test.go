package admin_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/google/go-cmp/cmp"
)

// TestClientNeverManage: SPEC §9 — an OAuth app's scopes cannot include
// manage (EINVALID: 422 on the API and a field message in the console).
func TestClientNeverManage(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tenant.Plan = gatehouse.PlanEnterprise
	if err := f.st.UpdateTenant(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	for _, scopes := range [][]string{{"manage"}, {"all", "manage"}, {"catalog", "manage", "verify"}} {
		_, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
			Name: "App", Scopes: scopes, RedirectURIs: []string{"https://app.example/cb"}, Confidential: true,
		})
		wantCode(t, err, gatehouse.EINVALID)
	}
	c, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
		Name: "App", Scopes: []string{"all", "verify"}, RedirectURIs: []string{"https://app.example/cb"}, Confidential: true,
	})
	if err != nil || len(c.Scopes) != 2 {
		t.Fatalf("all verify: %v %v", c, err)
	}
}

// TestUpdateClient: an app's name, redirect URIs, scopes and grant types
// change with CreateClient's rules, its client id and secret never; the
// audit log has old → new; staff and other tenants cannot.
func TestUpdateClient(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tenant.Plan = gatehouse.PlanEnterprise
	if err := f.st.UpdateTenant(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	app, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
		Name: "Fax", Scopes: []string{"catalog", "sales"}, RedirectURIs: []string{"https://fax.example/cb"}, Confidential: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	public, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
		Name: "SPA", Scopes: []string{"sales"}, RedirectURIs: []string{"http://localhost:3000/cb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(s ...string) *[]string { return &s }
	name := "  Fax sender  "

	got, err := f.svc.UpdateClient(ctx, f.admin, app.ID, admin.ClientUpdate{
		Name:         &name,
		RedirectURIs: ptr("https://fax.example/v2/cb", "http://127.0.0.1:8080/cb"),
		Scopes:       ptr("sales.orders"),
		GrantTypes:   ptr("refresh_token", "client_credentials", "authorization_code", "refresh_token"),
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.st.FindClient(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *app
	want.Name = "Fax sender"
	want.RedirectURIs = []string{"https://fax.example/v2/cb", "http://127.0.0.1:8080/cb"}
	want.Scopes = []string{"sales.orders"}
	want.GrantTypes = []string{"authorization_code", "client_credentials", "refresh_token"}
	want.CreatedAt = stored.CreatedAt
	if diff := cmp.Diff(&want, stored); diff != "" {
		t.Errorf("stored after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(stored, got); diff != "" {
		t.Errorf("returned client differs from the stored one:\n%s", diff)
	}
	page, err := f.st.ListAudit(ctx, f.tenant.ID, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: "oauth_client.update"}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("audit events: %+v %v", page.Events, err)
	}
	ev := page.Events[0]
	wantChanges := []gatehouse.AuditChange{
		{Field: "name", Old: "Fax", New: "Fax sender"},
		{Field: "redirect_uris", Old: "https://fax.example/cb", New: "https://fax.example/v2/cb http://127.0.0.1:8080/cb"},
		{Field: "scopes", Old: "catalog sales", New: "sales.orders"},
		{Field: "grant_types", Old: "authorization_code refresh_token", New: "authorization_code client_credentials refresh_token"},
	}
	if diff := cmp.Diff(wantChanges, ev.Changes); diff != "" || ev.TargetID != app.ID || ev.TargetName != "Fax sender" {
		t.Errorf("audit event %+v (-want +got changes):\n%s", ev, diff)
	}

	// A partial update touches only what it names; the same values again
	// save and log nothing.
	if _, err := f.svc.UpdateClient(ctx, f.owner, app.ID, admin.ClientUpdate{Scopes: ptr("catalog.products", "sales.orders")}); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.st.FindClient(ctx, app.ID); c.Name != "Fax sender" || len(c.RedirectURIs) != 2 || len(c.Scopes) != 2 {
		t.Errorf("after a partial update: %+v", c)
	}
	if _, err := f.svc.UpdateClient(ctx, f.owner, app.ID, admin.ClientUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if page, _ := f.st.ListAudit(ctx, f.tenant.ID, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: "oauth_client.update"}}); len(page.Events) != 2 {
		t.Errorf("%d update events, want 2 (a no-op is not logged)", len(page.Events))
	}

	// CreateClient's rules, field by field.
	empty, long := "", strings.Repeat("x", 101)
	for _, tc := range []struct {
		name  string
		id    string
		in    admin.ClientUpdate
		field string
	}{
		{"empty name", app.ID, admin.ClientUpdate{Name: &empty}, "name"},
		{"long name", app.ID, admin.ClientUpdate{Name: &long}, "name"},
		{"http redirect", app.ID, admin.ClientUpdate{RedirectURIs: ptr("http://fax.example/cb")}, "redirect_uris"},
		{"fragment", app.ID, admin.ClientUpdate{RedirectURIs: ptr("https://fax.example/cb#x")}, "redirect_uris"},
		{"duplicate", app.ID, admin.ClientUpdate{RedirectURIs: ptr("https://fax.example/cb", "https://fax.example/cb")}, "redirect_uris"},
		{"no redirect for authorization_code", app.ID, admin.ClientUpdate{RedirectURIs: ptr()}, "redirect_uris"},
		{"unknown scope", app.ID, admin.ClientUpdate{Scopes: ptr("sales", "nope")}, "scopes"},
		{"no scope", app.ID, admin.ClientUpdate{Scopes: ptr()}, "scopes"},
		{"manage", app.ID, admin.ClientUpdate{Scopes: ptr("all", "manage")}, "scopes"},
		{"no grant", app.ID, admin.ClientUpdate{GrantTypes: ptr()}, "grant_types"},
		{"unknown grant", app.ID, admin.ClientUpdate{GrantTypes: ptr("password")}, "grant_types"},
		{"public client_credentials", public.ID, admin.ClientUpdate{GrantTypes: ptr("client_credentials")}, "grant_types"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := f.st.FindClient(ctx, tc.id)
			_, err := f.svc.UpdateClient(ctx, f.owner, tc.id, tc.in)
			wantCode(t, err, gatehouse.EINVALID)
			var ge *gatehouse.Error
			if !errors.As(err, &ge) || ge.Field != tc.field {
				t.Errorf("error %v is about field %q, want %q", err, ge.Field, tc.field)
			}
			if after, _ := f.st.FindClient(ctx, tc.id); !cmp.Equal(before, after) {
				t.Errorf("a refused update changed the app: %s", cmp.Diff(before, after))
			}
		})
	}
	// A client_credentials-only app needs no redirect URI.
	if _, err := f.svc.UpdateClient(ctx, f.owner, app.ID, admin.ClientUpdate{RedirectURIs: ptr(), GrantTypes: ptr("client_credentials")}); err != nil {
		t.Fatalf("client_credentials without redirect URIs: %v", err)
	}

	// Staff may not; another tenant's app is not found; a missing one neither.
	_, err = f.svc.UpdateClient(ctx, f.staff, app.ID, admin.ClientUpdate{Name: &name})
	wantCode(t, err, gatehouse.EFORBIDDEN)
	other, err := f.svc.CreateTenant(ctx, "bolt", "Bolt", "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.svc.AddMember(ctx, admin.Actor{TenantID: other.ID, Name: admin.OperatorName, Operator: true}, admin.NewMember{Email: "o@bolt.test", Role: gatehouse.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	boltOwner, err := f.svc.ActorFor(ctx, other.ID, m.UserID, "")
	if err != nil {
		t.Fatal(err)
	}
	stolen := "stolen"
	_, err = f.svc.UpdateClient(ctx, boltOwner, app.ID, admin.ClientUpdate{Name: &stolen})
	wantCode(t, err, gatehouse.ENOTFOUND)
	_, err = f.svc.UpdateClient(ctx, f.owner, "APIK-MISSING", admin.ClientUpdate{Name: &stolen})
	wantCode(t, err, gatehouse.ENOTFOUND)
	if c, _ := f.st.FindClient(ctx, app.ID); c.Name != "Fax sender" || c.ID != app.ID || !bytes.Equal(c.SecretHash, app.SecretHash) {
		t.Errorf("after refused updates: %+v", c)
	}
}

// TestClientOrigins: allowed origins are normalized to the Origin header's
// form on create and update, refused when not an origin (a path, a
// wildcard, "null", http off loopback, too many) with a field error, an
// empty list on update returns to the default, and the change is audited.
func TestClientOrigins(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tenant.Plan = gatehouse.PlanEnterprise
	if err := f.st.UpdateTenant(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	app, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
		Name: "SPA", Scopes: []string{"sales"}, RedirectURIs: []string{"https://spa.example/cb"},
		AllowedOrigins: []string{" HTTPS://SPA.example:443/ ", "http://localhost:5173"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://spa.example", "http://localhost:5173"}; !cmp.Equal(app.AllowedOrigins, want) {
		t.Errorf("created origins = %q, want %q", app.AllowedOrigins, want)
	}
	many := make([]string, gatehouse.MaxAllowedOrigins+1)
	for i := range many {
		many[i] = "https://a" + strings.Repeat("x", i) + ".example"
	}
	for _, bad := range [][]string{{"https://spa.example/cb"}, {"https://*.example"}, {"*"}, {"null"}, {"http://spa.example"},
		{"https://spa.example", "https://SPA.example"}, many} {
		_, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{Name: "Bad", Scopes: []string{"sales"}, RedirectURIs: []string{"https://spa.example/cb"}, AllowedOrigins: bad})
		wantCode(t, err, gatehouse.EINVALID)
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Field != "allowed_origins" {
			t.Errorf("origins %q: %v, want a field error on allowed_origins", bad, err)
		}
		_, err = f.svc.UpdateClient(ctx, f.owner, app.ID, admin.ClientUpdate{AllowedOrigins: &bad})
		wantCode(t, err, gatehouse.EINVALID)
	}
	none := []string{}
	got, err := f.svc.UpdateClient(ctx, f.owner, app.ID, admin.ClientUpdate{AllowedOrigins: &none})
	if err != nil {
		t.Fatal(err)
	}
	if got.AllowedOrigins != nil || !cmp.Equal(got.EffectiveOrigins(), []string{"https://spa.example"}) {
		t.Errorf("cleared origins = %q (effective %q), want the default", got.AllowedOrigins, got.EffectiveOrigins())
	}
	stored, err := f.st.FindClient(ctx, app.ID)
	if err != nil || stored.AllowedOrigins != nil {
		t.Fatalf("stored origins after clearing: %v %v", stored, err)
	}
}
