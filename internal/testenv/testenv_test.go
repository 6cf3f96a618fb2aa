package testenv_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// TestConsole: the console client is logged in, and the CSRF token it adds
// is the session's: logging out (a CSRF-checked POST) ends the session.
func TestConsole(t *testing.T) {
	e := testenv.New(t, testenv.Options{})
	c := e.Console(e.OwnerEmail, testenv.Password)
	if resp, page := c.Get("/console/tokens"); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console/tokens" || !strings.Contains(page, e.OwnerEmail) {
		t.Fatalf("logged in: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if resp, _ := c.Post("/console/logout", url.Values{}); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/console/login") {
		t.Fatalf("logout: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if resp, _ := c.Get("/console/tokens"); !strings.HasPrefix(resp.Request.URL.Path, "/console/login") {
		t.Fatalf("after logout: %d at %s, want the login page", resp.StatusCode, resp.Request.URL)
	}
}

// TestApp: the app's client_credentials configuration gets a token from
// the server that the server's verifier accepts for that client.
func TestApp(t *testing.T) {
	e := testenv.New(t, testenv.Options{})
	app := e.App(e.Owner, admin.ClientInput{Name: "Export", Scopes: []string{"catalog"}, Confidential: true,
		GrantTypes: []string{gatehouse.GrantClientCredentials}})
	tok, err := app.ClientCredentials("catalog").Token(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Server.Verifier.Verify(e.Ctx, verify.Request{Credential: tok.AccessToken, ClientID: app.ID, Resource: "catalog"})
	if err != nil || res.Code != gatehouse.CodeValid || res.Principal.TenantID != e.Tenant.ID {
		t.Fatalf("verify the app's token: %+v, %v", res, err)
	}
	if app.Config.Endpoint.TokenURL != e.URL+"/oauth2/token" {
		t.Fatalf("token URL %s", app.Config.Endpoint.TokenURL)
	}
}
