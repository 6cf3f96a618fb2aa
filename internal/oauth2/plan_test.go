package oauth2_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// TestEnterprisePlan: OAuth apps are an Enterprise-plan feature (seed 002).
// When the tenant leaves the plan its apps' tokens stop verifying (a
// TENANT_DISABLED answer that says why) and none are issued; when the plan
// returns they work again.
func TestEnterprisePlan(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog"},
			gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials)
		verifier, challenge := pkce("ep")
		at, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))
		code := e.code(c, e.owner.UserID, "catalog", challenge) // issued while on the plan
		_, pat, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "introspector", Scopes: []string{gatehouse.ScopeVerify}})
		if err != nil {
			t.Fatal(err)
		}
		e.wantCode(at, c.ID, gatehouse.CodeValid)
		setPlan := func(plan string) {
			t.Helper()
			e.tenant.Plan = plan
			if err := e.store.UpdateTenant(e.ctx, e.tenant); err != nil {
				t.Fatal(err)
			}
		}

		setPlan(gatehouse.PlanStandard)
		res, err := e.v.Verify(e.ctx, verify.Request{Credential: at, ClientID: c.ID})
		if err != nil || res.Code != gatehouse.CodeTenantDisabled || res.Detail != verify.DetailPlan {
			t.Fatalf("verify after leaving the plan: %s %q %v", res.Code, res.Detail, err)
		}
		e.wantCode(pat, "", gatehouse.CodeValid) // other kinds are not an Enterprise feature
		wantError(t, e.refresh(c, sec, rt, ""), 400, "unauthorized_client")
		wantError(t, e.exchange(c, sec, code, verifier), 400, "unauthorized_client")
		wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ID, sec), 400, "unauthorized_client")
		in := e.do("/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {at}}.Encode(),
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+pat) })
		if in.Status != 200 || in.Body["active"] != false {
			t.Errorf("introspect after leaving the plan: %d %s", in.Status, in.Raw)
		}
		q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "scope": {"catalog"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		_, err = e.p.ParseAuthorize(e.ctx, q)
		var ae *provider.AuthorizeError
		if !errors.As(err, &ae) || !ae.Redirect || ae.Code != "unauthorized_client" {
			t.Errorf("authorize after leaving the plan: %v", err)
		}

		setPlan(gatehouse.PlanEnterprise)
		e.wantCode(at, c.ID, gatehouse.CodeValid)
		wantTokens(t, e.refresh(c, sec, rt, ""))
		wantTokens(t, e.exchange(c, sec, code, verifier)) // not spent by the refusal
	})
}
