package console_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// editForm is the edit form of app as a browser would post it.
func editForm(b *browser, page, name, redirects string, scopes []string, grants ...string) url.Values {
	f := b.formOf(page)
	f.Set("name", name)
	f.Set("redirect_uris", redirects)
	f["scopes"], f["grant_types"] = scopes, grants
	return f
}

func TestOAuthAppEdit(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "Fax", RedirectURIs: []string{"https://fax.example/cb", "http://127.0.0.1:8765/cb"},
		Scopes: []string{"catalog", "sales.orders"}, Confidential: true, GrantTypes: []string{"authorization_code", "refresh_token"}})
	public, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "SPA", RedirectURIs: []string{"http://localhost:3000/cb"}, Scopes: []string{"sales"}})
	b := e.browser()
	b.login("owner@acme.test")
	page, edit := "/console/oauth-apps/"+app.ID, "/console/oauth-apps/"+app.ID+"/edit"

	// The form is filled in with the app as it is; the Client ID is shown, not editable.
	form := b.get(edit)
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Edit Fax", `action="`+edit+`"`, `id="client-id" class="secret" type="text" value="`+app.ID+`" readonly`,
		`name="name" type="text" maxlength="100" value="Fax"`, ">https://fax.example/cb\nhttp://127.0.0.1:8765/cb</textarea>",
		`value="authorization_code" checked`, `value="refresh_token" checked`, `value="client_credentials">`,
		`value="catalog" checked`, `value="sales.orders" checked`, `value="sales">`, "Confidential", "The client type cannot change")
	wantNoBody(t, form, `name="client_id"`, `name="client_type"`, `value="manage"`)

	// Save: name, redirect URIs, scopes, grant types; the Client ID and secret stay.
	res := b.post(edit, editForm(b, edit, "Fax sender", "https://fax.example/v2/cb\r\n\r\n", []string{"sales"}, "authorization_code", "client_credentials"))
	wantRedirect(t, res, page)
	shown := b.get(page)
	wantBody(t, shown, "The app was saved. Its Client ID did not change.", "Fax sender", app.ID, "https://fax.example/v2/cb")
	wantNoBody(t, shown, "http://127.0.0.1:8765/cb")
	got, err := e.store.FindClient(e.ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Fax sender" || !slices.Equal(got.RedirectURIs, []string{"https://fax.example/v2/cb"}) || !slices.Equal(got.Scopes, []string{"sales"}) ||
		!slices.Equal(got.GrantTypes, []string{"authorization_code", "client_credentials"}) || !bytes.Equal(got.SecretHash, app.SecretHash) || !got.Confidential {
		t.Errorf("after edit = %+v", got)
	}
	audit, err := e.store.ListAudit(e.ctx, e.tenantA.ID, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: "oauth_client.update"}})
	if err != nil || len(audit.Events) != 1 || len(audit.Events[0].Changes) != 4 || audit.Events[0].Actor != "owner@acme.test" {
		t.Errorf("audit = %+v %v", audit.Events, err)
	}

	// Refusals re-render what was typed with the field's message; nothing changes.
	for _, tc := range []struct {
		name      string
		form      url.Values
		want      []string
		wantField string
	}{
		{"http redirect", editForm(b, edit, "Typed name", "http://fax.example/cb", []string{"sales"}, "authorization_code"),
			[]string{"http:// is allowed only for an app on the user&#39;s own computer", `value="Typed name"`, ">http://fax.example/cb</textarea>"}, "redirect_uris"},
		{"no redirect", editForm(b, edit, "Fax sender", "", []string{"sales"}, "authorization_code"),
			[]string{"The Authorization Code grant needs at least one redirect URI."}, "redirect_uris"},
		{"no grant", editForm(b, edit, "Fax sender", "https://fax.example/cb", []string{"sales"}),
			[]string{"Choose at least one grant type."}, "grant_types"},
		{"empty name", editForm(b, edit, " ", "https://fax.example/cb", []string{"sales"}, "authorization_code"),
			nil, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.post(edit, tc.form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, append(tc.want, `action="`+edit+`"`, app.ID, `class="field-error"`)...)
		})
	}
	if now, _ := e.store.FindClient(e.ctx, app.ID); !slices.Equal(now.RedirectURIs, got.RedirectURIs) || now.Name != got.Name {
		t.Errorf("a refused edit changed the app: %+v", now)
	}
	// Without a CSRF token nothing changes.
	forged := url.Values{"name": {"Forged"}, "redirect_uris": {"https://evil.example/cb"}, "scopes": {"all"}, "grant_types": {"authorization_code"}}
	wantStatus(t, b.post(edit, forged), http.StatusForbidden)

	// A public app is offered no client_credentials, and refused it if posted.
	pubEdit := "/console/oauth-apps/" + public.ID + "/edit"
	wantNoBody(t, b.get(pubEdit), `value="client_credentials"`)
	res = b.post(pubEdit, editForm(b, pubEdit, "SPA", "http://localhost:3000/cb", []string{"sales"}, "client_credentials"))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "The Client Credentials grant needs a confidential app")

	// Staff may not; another tenant's app is 404.
	e.member(e.tenantA, "staff@acme.test", gatehouse.RoleStaff)
	staff := e.browser()
	staff.login("staff@acme.test")
	wantStatus(t, staff.get(edit), http.StatusForbidden)
	wantStatus(t, staff.submit("/console/connected-apps", edit, url.Values{"name": {"staff"}}), http.StatusForbidden)
	e.enterprise(e.tenantB)
	e.member(e.tenantB, "other@bolt.test", gatehouse.RoleOwner)
	other := e.browser()
	other.login("other@bolt.test")
	wantStatus(t, other.get(edit), http.StatusNotFound)
	wantStatus(t, other.submit("/console/connected-apps", edit, url.Values{"name": {"stolen"}, "scopes": {"all"}, "grant_types": {"refresh_token"}}), http.StatusNotFound)
	wantStatus(t, other.get(page+"/rotate-secret"), http.StatusNotFound)
	if now, _ := e.store.FindClient(e.ctx, app.ID); now.Name != "Fax sender" {
		t.Errorf("another tenant or staff changed the app: %+v", now)
	}
}

// TestOAuthAppRotateConfirm: Rotate secret asks first, on a page with the
// four grace periods (none chosen by default); a refusal re-renders it.
func TestOAuthAppRotateConfirm(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "Fax", RedirectURIs: []string{"https://fax.example/cb"}, Scopes: []string{"all"}, Confidential: true})
	public, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "SPA", RedirectURIs: []string{"http://localhost:3000/cb"}, Scopes: []string{"sales"}})
	b := e.browser()
	b.login("owner@acme.test")
	rotate := "/console/oauth-apps/" + app.ID + "/rotate-secret"

	confirm := b.get(rotate)
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "Rotate the Client Secret of Fax?", `action="`+rotate+`"`, app.ID, app.SecretHint,
		`id="grace-0" name="grace_period" value="0" checked`, `id="grace-1" name="grace_period" value="1h">`,
		`id="grace-2" name="grace_period" value="24h">`, `id="grace-3" name="grace_period" value="168h">`,
		"No grace period (stops at once)", "1 hour", "24 hours", "7 days", "Rotate now", "Cancel")
	// Opening the page changes nothing.
	if now, _ := e.store.FindClient(e.ctx, app.ID); !bytes.Equal(now.SecretHash, app.SecretHash) || now.PrevSecretHash != nil {
		t.Error("opening the confirmation rotated the secret")
	}
	// A refused grace period comes back to the confirmation with its message.
	f := b.formOf(rotate)
	f.Set("grace_period", "forever")
	res := b.post(rotate, f)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "Choose a grace period of at most 7 days.", `value="0" checked`, "Rotate now")
	f = b.formOf(rotate)
	f.Set("grace_period", "1h")
	res = b.post(rotate, f)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "New Client Secret", "previous secret works until")
	if now, _ := e.store.FindClient(e.ctx, app.ID); !bytes.Equal(now.PrevSecretHash, app.SecretHash) || now.PrevSecretExpiresAt == nil ||
		now.PrevSecretExpiresAt.Sub(e.clock.Now()).Round(time.Second) != time.Hour {
		t.Errorf("after a 1 h rotation: %+v", now)
	}
	// A public app has no secret to rotate.
	wantStatus(t, b.get("/console/oauth-apps/"+public.ID+"/rotate-secret"), http.StatusConflict)
}

// TestOAuthAppOrigins: the register and edit forms have Allowed origins
// (CORS); empty shows the redirect URIs' origins as the default, a typed
// origin is saved normalized, a bad one re-renders the form with the
// field's message.
func TestOAuthAppOrigins(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "SPA", RedirectURIs: []string{"http://localhost:3000/cb"}, Scopes: []string{"sales"}})
	b := e.browser()
	b.login("owner@acme.test")
	wantBody(t, b.get("/console/oauth-apps"), `name="allowed_origins"`, "Allowed origins (CORS)")
	page, edit := "/console/oauth-apps/"+app.ID, "/console/oauth-apps/"+app.ID+"/edit"
	wantBody(t, b.get(edit), `name="allowed_origins"`, "Allowed now:", "<code>http://localhost:3000</code>", "(the origins of the redirect URIs)")

	f := editForm(b, edit, "SPA", "http://localhost:3000/cb", []string{"sales"}, "authorization_code")
	f.Set("allowed_origins", "HTTPS://SPA.example:443\r\nhttp://127.0.0.1:5173\r\n")
	wantRedirect(t, b.post(edit, f), page)
	got, err := e.store.FindClient(e.ctx, app.ID)
	if err != nil || !slices.Equal(got.AllowedOrigins, []string{"https://spa.example", "http://127.0.0.1:5173"}) {
		t.Fatalf("saved origins %v: %v", got, err)
	}
	shown := b.get(page)
	wantBody(t, shown, "<code>https://spa.example</code>", "<code>http://127.0.0.1:5173</code>")
	wantNoBody(t, shown, "(the origins of the redirect URIs)")

	f = editForm(b, edit, "SPA", "http://localhost:3000/cb", []string{"sales"}, "authorization_code")
	f.Set("allowed_origins", "https://spa.example/app")
	res := b.post(edit, f)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "an origin has no path, query or fragment", ">https://spa.example/app</textarea>", `class="field-error"`)

	// Emptied: back to the default.
	f = editForm(b, edit, "SPA", "http://localhost:3000/cb", []string{"sales"}, "authorization_code")
	f.Set("allowed_origins", "")
	wantRedirect(t, b.post(edit, f), page)
	if got, _ := e.store.FindClient(e.ctx, app.ID); got.AllowedOrigins != nil {
		t.Errorf("emptied origins = %q, want the default", got.AllowedOrigins)
	}
}
