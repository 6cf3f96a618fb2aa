package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestOAuthClientOrigins: allowed_origins on create, GET and PATCH (CORS,
// docs/cors.md): normalized to the Origin header's form, [] means the
// redirect URIs' origins (effective_origins shows which apply), and a
// path, a wildcard, "null" or http off loopback is 422 on the field.
func TestOAuthClientOrigins(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		spa := e.newClient(t, f.token, `{"name":"SPA","redirect_uris":["https://spa.example/cb","http://localhost:3000/cb"],"scopes":["sales"]}`)
		if len(spa.AllowedOrigins) != 0 || !slices.Equal(spa.EffectiveOrigins, []string{"https://spa.example", "http://localhost:3000"}) {
			t.Errorf("default origins: allowed %q effective %q", spa.AllowedOrigins, spa.EffectiveOrigins)
		}
		path := "/api/v1/oauth-clients/" + spa.ClientID
		res := e.do(t, req{method: "PATCH", path: path, token: f.token, body: `{"allowed_origins":["HTTPS://App.Example:443","http://127.0.0.1:5173"]}`})
		expect(t, res, http.StatusOK, "")
		want := []string{"https://app.example", "http://127.0.0.1:5173"}
		if got := decode[oauthClientJSON](t, e.get(t, path, f.token)); !slices.Equal(got.AllowedOrigins, want) || !slices.Equal(got.EffectiveOrigins, want) {
			t.Errorf("GET after patch: allowed %q effective %q, want %q", got.AllowedOrigins, got.EffectiveOrigins, want)
		}
		for _, body := range []string{`{"allowed_origins":["https://app.example/cb"]}`, `{"allowed_origins":["https://*.example"]}`,
			`{"allowed_origins":["null"]}`, `{"allowed_origins":["http://app.example"]}`, `{"allowed_origins":["*"]}`} {
			res := e.do(t, req{method: "PATCH", path: path, token: f.token, body: body})
			expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
			if !strings.Contains(string(res.body), "allowed_origins") {
				t.Errorf("%s: %s, want the field named", body, res.body)
			}
		}
		res = e.do(t, req{method: "PATCH", path: path, token: f.token, body: `{"allowed_origins":[]}`})
		expect(t, res, http.StatusOK, "")
		if got := decode[oauthClientJSON](t, res.body); len(got.AllowedOrigins) != 0 || len(got.EffectiveOrigins) != 2 {
			t.Errorf("after clearing: allowed %q effective %q", got.AllowedOrigins, got.EffectiveOrigins)
		}
		created := e.newClient(t, f.token, `{"name":"SPA2","redirect_uris":["https://spa.example/cb"],"scopes":["sales"],"allowed_origins":["https://other.example"]}`)
		if !slices.Equal(created.AllowedOrigins, []string{"https://other.example"}) {
			t.Errorf("created with origins: %q", created.AllowedOrigins)
		}
		res = e.do(t, req{method: "POST", path: "/api/v1/oauth-clients", token: f.token,
			body: `{"name":"Bad","redirect_uris":["https://spa.example/cb"],"scopes":["sales"],"allowed_origins":["https://x.example/path"]}`})
		expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
	})
}
