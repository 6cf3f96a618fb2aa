package api

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestOAuthClientPatch: PATCH /oauth-clients/{client_id} changes the
// fields sent and keeps the client id and secret; bad input is 422 with
// the field named (a type change among them), another tenant's app is 404
// like a missing one, a staff token or one without manage is 403.
func TestOAuthClientPatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		app := e.newClient(t, f.token, faxApp)
		path := "/api/v1/oauth-clients/" + app.ClientID
		stored := func() *gatehouse.Client {
			t.Helper()
			c, err := e.db.FindClient(t.Context(), app.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		before := stored()

		t.Run("200", func(t *testing.T) {
			res := e.do(t, req{method: "PATCH", path: path, token: f.token,
				body: `{"name":"Fax sender v2","redirect_uris":["https://fax.example/v2/cb"],"scopes":["sales.orders"],"grant_types":["refresh_token","authorization_code"]}`})
			expect(t, res, http.StatusOK, "")
			got := decode[oauthClientJSON](t, res.body)
			if got.ClientID != app.ClientID || got.Name != "Fax sender v2" || !got.Confidential || got.ClientSecret != "" ||
				!slices.Equal(got.RedirectURIs, []string{"https://fax.example/v2/cb"}) || !slices.Equal(got.Scopes, []string{"sales.orders"}) ||
				!slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) || got.SecretHint == nil || *got.SecretHint != *app.SecretHint {
				t.Errorf("patched = %+v", got)
			}
			now := stored()
			if !bytes.Equal(now.SecretHash, before.SecretHash) || now.CreatedAt != before.CreatedAt {
				t.Errorf("the secret or creation time changed: %+v", now)
			}
			// Partial: only the name; the rest stays. The same type is accepted.
			res = e.do(t, req{method: "PATCH", path: path, token: f.token, body: `{"name":"Fax","confidential":true}`})
			expect(t, res, http.StatusOK, "")
			if got := decode[oauthClientJSON](t, res.body); got.Name != "Fax" || !slices.Equal(got.Scopes, []string{"sales.orders"}) {
				t.Errorf("after a partial patch = %+v", got)
			}
			if got := decode[oauthClientJSON](t, e.get(t, path, f.token)); got.Name != "Fax" || got.ClientID != app.ClientID {
				t.Errorf("GET after patch = %+v", got)
			}
		})

		t.Run("422", func(t *testing.T) {
			mid := e.clientState(t, f)
			for _, tc := range []struct{ body, field, message string }{
				{`{"confidential":false}`, "confidential", "cannot change"},
				{`{"name":""}`, "name", "1-100"},
				{`{"redirect_uris":["http://fax.example/cb"]}`, "redirect_uris", "http is allowed only for loopback hosts"},
				{`{"redirect_uris":[]}`, "redirect_uris", "authorization_code needs"},
				{`{"scopes":["nosuch"]}`, "scopes", "unknown resource"},
				{`{"scopes":["manage"]}`, "scopes", "manage"},
				{`{"grant_types":[]}`, "grant_types", "at least one grant type"},
				{`{"grant_types":["password"]}`, "grant_types", "unsupported grant type"},
			} {
				res := e.do(t, req{method: "PATCH", path: path, token: f.token, body: tc.body})
				expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
				if got := errorOf(t, res.body); !strings.Contains(got.Message, tc.message) || !strings.Contains(string(res.body), tc.field) {
					t.Errorf("%s: %s, want field %s and %q", tc.body, res.body, tc.field, tc.message)
				}
			}
			// A public app never gets client_credentials.
			spa := e.newClient(t, f.token, `{"name":"SPA","redirect_uris":["http://localhost:3000/cb"],"scopes":["sales"]}`)
			res := e.do(t, req{method: "PATCH", path: "/api/v1/oauth-clients/" + spa.ClientID, token: f.token, body: `{"grant_types":["client_credentials"]}`})
			expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
			// Malformed and unknown fields (the client id, the secret) are 400.
			for _, body := range []string{`{"client_id":"APIK-OTHER"}`, `{"client_secret":"x"}`, `{"name":`} {
				expect(t, e.do(t, req{method: "PATCH", path: path, token: f.token, body: body}), http.StatusBadRequest, "")
			}
			e.do(t, req{method: "DELETE", path: "/api/v1/oauth-clients/" + spa.ClientID, token: f.token})
			if after := e.clientState(t, f); after != mid {
				t.Errorf("refused patches changed the apps:\n%s\n%s", mid, after)
			}
		})

		t.Run("404 cross-tenant", func(t *testing.T) {
			b := e.newEnterprise(t, "beta")
			mid := e.clientState(t, f)
			res := e.do(t, req{method: "PATCH", path: path, token: b.token, body: `{"name":"stolen"}`})
			expect(t, res, http.StatusNotFound, gatehouse.ENOTFOUND)
			ghost := e.do(t, req{method: "PATCH", path: "/api/v1/oauth-clients/APIK-GHOST", token: b.token, body: `{"name":"stolen"}`})
			if !bytes.Equal(res.body, ghost.body) {
				t.Errorf("A's app answers %s, a missing one %s", res.body, ghost.body)
			}
			if after := e.clientState(t, f); after != mid {
				t.Error("another tenant changed the app")
			}
		})

		t.Run("403", func(t *testing.T) {
			mid := e.clientState(t, f)
			_, noManage := e.newPAT(t, f.tenant.ID, f.ownerID, "all", "verify")
			res := e.do(t, req{method: "PATCH", path: path, token: noManage, body: `{"name":"no"}`})
			if res.status != http.StatusForbidden {
				t.Errorf("token without manage: %d %s", res.status, res.body)
			}
			res = e.do(t, req{method: "PATCH", path: path, token: e.staffCaller(t, f), body: `{"name":"no"}`})
			expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
			// A manage token narrower than the scopes it would grant.
			_, narrow := e.newPAT(t, f.tenant.ID, f.ownerID, "manage", "catalog")
			res = e.do(t, req{method: "PATCH", path: path, token: narrow, body: `{"scopes":["sales"]}`})
			expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
			if after := e.clientState(t, f); after != mid {
				t.Error("a refused caller changed the app")
			}
		})
	})
}
