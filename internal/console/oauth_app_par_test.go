package console_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestOAuthAppRequirePAR: the Activate and edit forms carry the RFC 9126
// §6 checkbox; ticked it is stored, shown on the app's page and pre-ticked
// on the edit form; unticked on edit it is cleared.
func TestOAuthAppRequirePAR(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	wantBody(t, b.get("/console/oauth-apps"), `name="require_par" value="on" aria-describedby`, "Require pushed authorization requests")

	res := b.register(url.Values{"name": {"Strict"}, "redirect_uris": {"https://strict.example/cb"}, "client_type": {"confidential"},
		"grant_types": {"authorization_code"}, "scopes": {"catalog"}, "require_par": {"on"}})
	wantStatus(t, res, http.StatusOK)
	apps, err := e.store.ListClients(e.ctx, e.tenantA.ID, gatehouse.ListFilter{Query: "Strict"})
	if err != nil || len(apps) != 1 || !apps[0].RequirePAR {
		t.Fatalf("registered = %+v %v, want RequirePAR", apps, err)
	}
	app := apps[0]
	page, edit := "/console/oauth-apps/"+app.ID, "/console/oauth-apps/"+app.ID+"/edit"
	wantBody(t, b.get(page), "Pushed authorization requests</dt><dd>Required")
	wantBody(t, b.get(edit), `name="require_par" value="on" checked`)

	f := editForm(b, edit, "Strict", "https://strict.example/cb", []string{"catalog"}, "authorization_code")
	f.Del("require_par") // the box unticked
	wantRedirect(t, b.post(edit, f), page)
	if got, _ := e.store.FindClient(e.ctx, app.ID); got.RequirePAR {
		t.Errorf("after unticking: %+v", got)
	}
	wantBody(t, b.get(page), "Pushed authorization requests</dt><dd>Optional")
	wantNoBody(t, b.get(edit), `value="on" checked`)

	// An app registered without it (admin default) shows Optional.
	plain, _ := e.newApp(e.tenantA, e.member(e.tenantA, "admin@acme.test", gatehouse.RoleAdmin), admin.ClientInput{Name: "Plain",
		RedirectURIs: []string{"https://plain.example/cb"}, Scopes: []string{"catalog"}, Confidential: true})
	wantBody(t, b.get("/console/oauth-apps/"+plain.ID), "Pushed authorization requests</dt><dd>Optional")
}
