package oauth2_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// storedApp registers an app directly in the store, bypassing admin's
// validation, as an app registered before OAuth apps were refused manage
// would be.
func (e *env) storedApp(confidential bool, scopes []string, grants ...string) (*gatehouse.Client, string) {
	e.t.Helper()
	c := &gatehouse.Client{
		TenantID:     e.tenant.ID,
		Name:         "Legacy app",
		RedirectURIs: []string{redirectURI},
		Scopes:       scopes,
		Confidential: confidential,
		GrantTypes:   grants,
	}
	var sec string
	if confidential {
		sec = "legacy-secret-" + secret.RandomString(20, secret.Alphabet62)
		c.SecretHash = secret.HashBytes(sec)
	}
	if err := e.store.CreateClient(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return c, sec
}

func scopeOf(a answer) []string { return strings.Fields(a.str("scope")) }

// TestScopeAllIsTheTree: SPEC §3 — "all" is the resource tree, never
// manage or verify, at the authorization endpoint and in client_credentials.
func TestScopeAllIsTheTree(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.storedApp(true, []string{"catalog", "sales", "verify"},
			gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials)

		q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "scope": {"all"}, "state": {"s"}}
		req, err := e.p.ParseAuthorize(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(req.Scopes, gatehouse.ScopeVerify) || slices.Contains(req.Scopes, gatehouse.ScopeManage) {
			t.Errorf("scope=all at /oauth2/authorize grants %v", req.Scopes)
		}
		// verify is still there for the asking.
		q.Set("scope", "catalog verify")
		if req, err = e.p.ParseAuthorize(e.ctx, q); err != nil || !slices.Contains(req.Scopes, gatehouse.ScopeVerify) {
			t.Errorf("scope=catalog verify: %v %v", req, err)
		}

		a := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"all"}}, c.ID, sec)
		wantTokens(t, a)
		if got := scopeOf(a); slices.Contains(got, gatehouse.ScopeVerify) || !slices.Contains(got, "catalog") {
			t.Errorf("client_credentials scope=all: %v", got)
		}
	})
}

// TestNeverManage: SPEC §9 — an OAuth app is never granted manage: not
// offered at consent, not accepted at the token endpoint, and an app whose
// stored scopes include it (registered before the rule) never gets it.
func TestNeverManage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		legacy := []string{"catalog", gatehouse.ScopeManage}
		c, sec := e.storedApp(true, legacy,
			gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials)
		pub, _ := e.storedApp(false, []string{"all", gatehouse.ScopeManage}, gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken)
		noManage := func(t *testing.T, what string, scopes []string) {
			t.Helper()
			if slices.Contains(scopes, gatehouse.ScopeManage) {
				t.Errorf("%s: granted %v", what, scopes)
			}
		}

		t.Run("authorize", func(t *testing.T) {
			for _, scope := range []string{"all", "catalog"} {
				q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "scope": {scope}}
				req, err := e.p.ParseAuthorize(e.ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				noManage(t, "scope="+scope, req.Scopes)
			}
			q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "scope": {"catalog manage"}}
			_, err := e.p.ParseAuthorize(e.ctx, q)
			var ae *provider.AuthorizeError
			if !errors.As(err, &ae) || ae.Code != "invalid_scope" {
				t.Fatalf("scope=catalog manage: %v", err)
			}
		})
		t.Run("authorization_code", func(t *testing.T) {
			// A code that carries manage (issued before the rule) yields
			// tokens without it.
			v, ch := pkce("nm")
			code := secret.RandomString(secret.RandomLen, secret.Alphabet62)
			if err := e.store.CreateAuthCode(e.ctx, &gatehouse.AuthCode{
				Hash: secret.HashBytes(code), TenantID: e.tenant.ID, ClientID: c.ID, UserID: e.owner.UserID,
				RedirectURI: redirectURI, Scopes: legacy, CodeChallenge: ch, GrantID: "grt_legacy",
				ExpiresAt: e.clock.Now().Add(time.Minute), CreatedAt: e.clock.Now(),
			}); err != nil {
				t.Fatal(err)
			}
			if err := e.store.SaveConsent(e.ctx, &gatehouse.Consent{TenantID: e.tenant.ID, UserID: e.owner.UserID, ClientID: c.ID, Scopes: legacy}); err != nil {
				t.Fatal(err)
			}
			a := e.exchange(c, sec, code, v)
			at, rt := wantTokens(t, a)
			noManage(t, "code exchange", scopeOf(a))
			if res, _ := e.v.Verify(e.ctx, verifyReq(at, c.ID, gatehouse.ScopeManage)); res.Valid() {
				t.Error("the access token passes a manage check")
			}
			wantError(t, e.refresh(c, sec, rt, "manage"), 400, "invalid_scope")
			a = e.refresh(c, sec, rt, "")
			wantTokens(t, a)
			noManage(t, "refresh", scopeOf(a))
		})
		t.Run("refresh of a token that holds manage", func(t *testing.T) {
			if err := e.store.SaveConsent(e.ctx, &gatehouse.Consent{TenantID: e.tenant.ID, UserID: e.owner.UserID, ClientID: pub.ID, Scopes: []string{"all"}}); err != nil {
				t.Fatal(err)
			}
			rt := secret.NewToken(gatehouse.KindOAuth2Refresh)
			if err := e.store.CreateCredential(e.ctx, &gatehouse.Credential{
				TenantID: e.tenant.ID, Kind: gatehouse.KindOAuth2Refresh, Hash: secret.HashBytes(rt), Hint: secret.Hint(rt),
				UserID: e.owner.UserID, ClientID: pub.ID, GrantID: "grt_legacy_pub", Scopes: []string{"all", gatehouse.ScopeManage},
				CreatedAt: e.clock.Now(),
			}); err != nil {
				t.Fatal(err)
			}
			a := e.refresh(pub, "", rt, "")
			at, next := wantTokens(t, a)
			noManage(t, "public refresh", scopeOf(a))
			if res, _ := e.v.Verify(e.ctx, verifyReq(at, pub.ID, gatehouse.ScopeManage)); res.Valid() {
				t.Error("the refreshed access token passes a manage check")
			}
			// Its successor does not carry manage either.
			a = e.refresh(pub, "", next, "")
			wantTokens(t, a)
			noManage(t, "second public refresh", scopeOf(a))
		})
		t.Run("an access token issued with manage", func(t *testing.T) {
			// Issued before the rule: it keeps its other scopes, never manage.
			at := secret.NewToken(gatehouse.KindOAuth2Access)
			exp := e.clock.Now().Add(time.Hour)
			if err := e.store.CreateCredential(e.ctx, &gatehouse.Credential{
				TenantID: e.tenant.ID, Kind: gatehouse.KindOAuth2Access, Hash: secret.HashBytes(at), Hint: secret.Hint(at),
				UserID: e.owner.UserID, ClientID: c.ID, Scopes: legacy, ExpiresAt: &exp, CreatedAt: e.clock.Now(),
			}); err != nil {
				t.Fatal(err)
			}
			if res, _ := e.v.Verify(e.ctx, verifyReq(at, c.ID, gatehouse.ScopeManage)); res.Code != gatehouse.CodeInsufficientScope {
				t.Errorf("legacy token with manage, checked for manage: %s", res.Code)
			}
			if res, _ := e.v.Verify(e.ctx, verifyReq(at, c.ID, "catalog")); res.Code != gatehouse.CodeValid {
				t.Errorf("legacy token with manage, checked for catalog: %s", res.Code)
			}
		})
		t.Run("client_credentials", func(t *testing.T) {
			wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"manage"}}, c.ID, sec), 400, "invalid_scope")
			for _, scope := range []string{"", "all", "catalog"} {
				form := url.Values{"grant_type": {"client_credentials"}}
				if scope != "" {
					form.Set("scope", scope)
				}
				a := e.post("/oauth2/token", form, c.ID, sec)
				wantTokens(t, a)
				noManage(t, "client_credentials scope="+scope, scopeOf(a))
			}
		})
	})
}
