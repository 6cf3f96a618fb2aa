package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestOAuthClientDeviceGrant: an app may be registered for the device
// authorization grant (RFC 8628) alone — a CLI with no redirect URI — and
// the OpenAPI document lists the grant type.
func TestOAuthClientDeviceGrant(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients", token: f.token,
			body: `{"name":"CLI","scopes":["catalog"],"confidential":false,"grant_types":["` + gatehouse.GrantDeviceCode + `","refresh_token"]}`})
		expect(t, res, http.StatusCreated, "")
		cli := decode[oauthClientJSON](t, res.body)
		if !slices.Contains(cli.GrantTypes, gatehouse.GrantDeviceCode) || len(cli.RedirectURIs) != 0 {
			t.Errorf("created %+v", cli)
		}
		res = e.do(t, req{method: "PATCH", path: "/api/v1/oauth-clients/" + cli.ClientID, token: f.token, body: `{"grant_types":["refresh_token"]}`})
		expect(t, res, http.StatusOK, "")
		res = e.do(t, req{method: "GET", path: "/api/v1/openapi.json"})
		if n := strings.Count(string(res.body), gatehouse.GrantDeviceCode); n < 3 {
			t.Errorf("the OpenAPI document names the device grant %d times, want it in each grant_types enum", n)
		}
	})
}
