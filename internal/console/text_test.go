package console_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestNamesAreText: the console's forms refuse names with a NUL byte, a
// control character or invalid UTF-8 as the API does (the domain's
// Validate refuses them), re-rendering the form (422) with a message that
// says what is wrong, and save nothing.
func TestNamesAreText(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	const want = "Use plain text: tabs, line breaks and other control characters are not allowed."
	for _, bad := range []string{"a\x00b", "a\tb", "a\xffb"} {
		for _, tc := range []struct {
			name, page, path string
			form             url.Values
		}{
			{"integration name", "/console/integrations/new", "/console/integrations",
				integrationForm(bad, "", "", password, "catalog")},
			{"integration email", "/console/integrations/new", "/console/integrations",
				func() url.Values {
					f := integrationForm("ERP", "", "", password, "catalog")
					f.Set("email", "d"+bad+"v@erp.example")
					return f
				}()},
			{"oauth app name", "/console/oauth-apps", "/console/oauth-apps",
				appForm(bad, "https://app.example/cb", true, "authorization_code")},
			{"token name", "/console/tokens", "/console/tokens",
				url.Values{"name": {bad}, "scopes": {"all"}}},
			{"api key description", "/console/api-keys", "/console/api-keys",
				url.Values{"description": {bad}, "scopes": {"all"}}},
		} {
			t.Run(tc.name+" "+url.QueryEscape(bad), func(t *testing.T) {
				res := b.postForm(tc.page, tc.path, tc.form)
				wantStatus(t, res, http.StatusUnprocessableEntity)
				wantBody(t, res, want)
			})
		}
	}
	if got := e.integrations(e.tenantA); len(got) != 0 {
		t.Errorf("%d integrations saved", len(got))
	}
	if cs, err := e.store.ListClients(e.ctx, e.tenantA.ID, gatehouse.ListFilter{}); err != nil || len(cs) != 0 {
		t.Errorf("%d apps saved (%v)", len(cs), err)
	}
}
