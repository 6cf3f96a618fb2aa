package oauth2_test

import (
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestEditedAppNarrows: when an admin narrows an app (admin.UpdateClient),
// what comes next follows the app as it is now. A refresh token granted
// the removed scope gets only the scopes the app still has; one whose
// scopes were all removed is refused; access tokens already issued keep
// theirs until they expire; a removed redirect URI is refused by new
// authorization requests; a removed grant type stops working.
func TestEditedAppNarrows(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog", "sales"})
		verifier, challenge := pkce("ed")
		at, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog sales", challenge), verifier))
		_, rtSales := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "sales", challenge), verifier))
		_, rtProducts := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))

		ptr := func(s ...string) *[]string { return &s }
		if _, err := e.admin.UpdateClient(e.ctx, e.owner, c.ID, admin.ClientUpdate{
			Scopes: ptr("catalog.products"), RedirectURIs: ptr("http://localhost:9/other"),
		}); err != nil {
			t.Fatal(err)
		}
		// The access token issued before the edit lives out its hour.
		if res, _ := e.v.Verify(e.ctx, verifyReq(at, c.ID, "sales.orders")); res.Code != gatehouse.CodeValid {
			t.Errorf("access token issued before the edit: %s", res.Code)
		}
		// A refresh keeps what the app still may have: catalog narrows to
		// catalog.products, sales is gone.
		a := e.refresh(c, sec, rt, "")
		at2, _ := wantTokens(t, a)
		if a.str("scope") != "catalog.products" {
			t.Errorf("refreshed scope %q, want catalog.products", a.str("scope"))
		}
		if res, _ := e.v.Verify(e.ctx, verifyReq(at2, c.ID, "sales.orders")); res.Code != gatehouse.CodeInsufficientScope {
			t.Errorf("refreshed token on a removed scope: %s", res.Code)
		}
		wantError(t, e.refresh(c, sec, rt, "sales"), 400, "invalid_scope")
		if a := e.refresh(c, sec, rtProducts, ""); a.str("scope") != "catalog.products" {
			t.Errorf("refresh of a catalog grant: %s", a.Raw)
		}
		// Nothing left of sales: the refresh token is refused.
		wantError(t, e.refresh(c, sec, rtSales, ""), 400, "invalid_scope")

		// The removed redirect URI: a new authorization request is refused.
		if _, err := e.p.ParseAuthorize(e.ctx, authorizeQuery(c.ID, redirectURI, "catalog.products", challenge)); err == nil {
			t.Error("an authorization request with a removed redirect URI was accepted")
		}
		if _, err := e.p.ParseAuthorize(e.ctx, authorizeQuery(c.ID, "http://localhost:9/other", "catalog.products", challenge)); err != nil {
			t.Errorf("the kept redirect URI: %v", err)
		}

		// Without refresh_token among its grant types, refreshes stop.
		if _, err := e.admin.UpdateClient(e.ctx, e.owner, c.ID, admin.ClientUpdate{GrantTypes: ptr("authorization_code")}); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.refresh(c, sec, rt, ""), 400, "unauthorized_client")
	})
}

// authorizeQuery is an authorization request with PKCE.
func authorizeQuery(clientID, redirect, scope, challenge string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}
