package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
)

// TestOAuthClientRequirePAR: require_pushed_authorization_requests (RFC
// 9126 §6) is set at registration, shown by GET, changed by PATCH (absent
// keeps it), and stored; the OpenAPI document describes it on the create,
// patch and read schemas, and the read schema names exactly the fields an
// app is answered with.
func TestOAuthClientRequirePAR(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		app := e.newClient(t, f.token, `{"name":"SPA","redirect_uris":["https://spa.example/cb"],"scopes":["catalog"],"require_pushed_authorization_requests":true}`)
		path := "/api/v1/oauth-clients/" + app.ClientID
		stored := func() bool {
			t.Helper()
			c, err := e.db.FindClient(t.Context(), app.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			return c.RequirePAR
		}
		if !app.RequirePAR || !stored() {
			t.Fatalf("created = %+v, stored %v; want require_pushed_authorization_requests", app, stored())
		}
		if got := decode[oauthClientJSON](t, e.get(t, path, f.token)); !got.RequirePAR {
			t.Errorf("GET = %+v", got)
		}
		res := e.do(t, req{method: "PATCH", path: path, token: f.token, body: `{"name":"SPA 2"}`})
		expect(t, res, http.StatusOK, "")
		if got := decode[oauthClientJSON](t, res.body); !got.RequirePAR || !stored() {
			t.Errorf("a patch without the field changed it: %+v", got)
		}
		res = e.do(t, req{method: "PATCH", path: path, token: f.token, body: `{"require_pushed_authorization_requests":false}`})
		expect(t, res, http.StatusOK, "")
		if got := decode[oauthClientJSON](t, res.body); got.RequirePAR || stored() {
			t.Errorf("after PATCH false = %+v, stored %v", got, stored())
		}
		if got := decode[oauthClientJSON](t, e.get(t, path, f.token)); got.RequirePAR {
			t.Errorf("GET after PATCH false = %+v", got)
		}
		res = e.do(t, req{method: "PATCH", path: path, token: f.token, body: `{"require_pushed_authorization_requests":"yes"}`})
		if res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
			t.Errorf("a string for the switch = %d %s, want 400 or 422", res.status, res.body)
		}

		var doc struct {
			Components struct {
				Schemas map[string]struct {
					Properties map[string]json.RawMessage `json:"properties"`
					Required   []string                   `json:"required"`
				} `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(e.get(t, "/api/v1/openapi.json", ""), &doc); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"OAuthClientCreate", "OAuthClientPatch", "OAuthClient"} {
			if _, ok := doc.Components.Schemas[name].Properties["require_pushed_authorization_requests"]; !ok {
				t.Errorf("schema %s lacks require_pushed_authorization_requests", name)
			}
		}
		var answered map[string]json.RawMessage
		if err := json.Unmarshal(e.get(t, path, f.token), &answered); err != nil {
			t.Fatal(err)
		}
		got, want := slices.Sorted(maps.Keys(answered)), slices.Sorted(maps.Keys(doc.Components.Schemas["OAuthClient"].Properties))
		if !slices.Equal(got, want) {
			t.Errorf("GET answers fields %q, the OAuthClient schema lists %q", got, want)
		}
		if !slices.Contains(doc.Components.Schemas["OAuthClient"].Required, "require_pushed_authorization_requests") {
			t.Errorf("OAuthClient does not require require_pushed_authorization_requests")
		}
	})
}
