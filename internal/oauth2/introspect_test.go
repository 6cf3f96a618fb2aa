package oauth2_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
)

// TestIntrospect answers for every credential kind of the caller's tenant
// and nothing of another's (RFC 7662).
func TestIntrospect(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog", "sales"}, gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials)
		verifier, challenge := pkce("in")
		at, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))
		cc, _ := wantTokens(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"sales"}}, c.ID, sec))
		exp := e.clock.Now().Add(48 * time.Hour)
		_, pat, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "p", Scopes: []string{"sales", "verify"}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindAPIKey, admin.CredentialInput{Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		_, staff, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: e.owner.UserID, Scopes: []string{"catalog"}})
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now().Unix()

		ask := func(tok string) answer {
			t.Helper()
			a := e.post("/oauth2/introspect", url.Values{"token": {tok}}, c.ID, sec)
			if a.Status != 200 {
				t.Fatalf("introspect: %d %s", a.Status, a.Raw)
			}
			wantNoStore(t, a)
			return a
		}
		for _, tc := range []struct {
			name, tok, kind, tokenType, scope, sub, client string
			exp                                            int64
		}{
			{"oauth2", at, "oauth2", "Bearer", "catalog", e.owner.UserID, c.ID, now + 3600},
			{"oauth2_refresh", rt, "oauth2_refresh", "refresh_token", "catalog", e.owner.UserID, c.ID, 0},
			{"client_credentials", cc, "oauth2", "Bearer", "sales", c.ID, c.ID, now + 3600},
			{"pat", pat, "pat", "Bearer", "sales verify", e.owner.UserID, "", exp.Unix()},
			{"apikey", key, "apikey", "Bearer", "all", "", "", 0},
			{"staff", staff, "staff", "Bearer", "catalog", e.owner.UserID, "", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := ask(tc.tok)
				b := a.Body
				if b["active"] != true || a.str("kind") != tc.kind || a.str("token_type") != tc.tokenType || a.str("scope") != tc.scope ||
					a.str("tenant") != e.tenant.Slug || a.str("client_id") != tc.client || a.str("iss") != e.p.Issuer() {
					t.Fatalf("introspection %s", a.Raw)
				}
				if tc.sub != "" && a.str("sub") != tc.sub || a.str("sub") == "" {
					t.Fatalf("sub %q, want %q", a.str("sub"), tc.sub)
				}
				// Admin-made credentials take the store's clock for
				// CreatedAt, OAuth tokens the provider's (the test clock).
				if iat, _ := b["iat"].(float64); int64(iat) < now || int64(iat) > now+5 {
					t.Fatalf("iat %v, want about %d", b["iat"], now)
				}
				if got, _ := b["exp"].(float64); int64(got) != tc.exp {
					t.Fatalf("exp %v, want %d", b["exp"], tc.exp)
				}
			})
		}

		inactive := func(tok string) {
			t.Helper()
			if a := ask(tok); a.Raw != "{\"active\":false}\n" {
				t.Fatalf("introspection %q, want exactly {\"active\":false}", a.Raw)
			}
		}
		t.Run("inactive", func(t *testing.T) {
			inactive("gate_at_nonsense")
			inactive("garbage")
			inactive("gate_pat_0000000000000000000000000000000000000") // bad checksum
			other, otherOwner := e.newTenant("other", "o@other.test")
			_ = other
			_, foreign, err := e.admin.CreateCredential(e.ctx, otherOwner, gatehouse.KindPAT, admin.CredentialInput{Name: "f", Scopes: []string{"all"}})
			if err != nil {
				t.Fatal(err)
			}
			inactive(foreign)
			// The other tenant's client sees its own, not ours.
			oc, osec := e.app(otherOwner, true, []string{"catalog"}, gatehouse.GrantClientCredentials)
			if a := e.post("/oauth2/introspect", url.Values{"token": {foreign}}, oc.ID, osec); a.Body["active"] != true {
				t.Fatalf("own tenant: %s", a.Raw)
			}
			if a := e.post("/oauth2/introspect", url.Values{"token": {at}}, oc.ID, osec); a.Raw != "{\"active\":false}\n" {
				t.Fatalf("foreign tenant: %s", a.Raw)
			}
			if err := e.admin.RevokeCredential(e.ctx, e.owner, gatehouse.KindAPIKey, keyID(t, e, key)); err != nil {
				t.Fatal(err)
			}
			inactive(key)
		})
		t.Run("rotated refresh token", func(t *testing.T) {
			pub, _ := e.app(e.owner, false, []string{"catalog"})
			_, prt := wantTokens(t, e.exchange(pub, "", e.code(pub, e.owner.UserID, "catalog", challenge), verifier))
			wantTokens(t, e.refresh(pub, "", prt, ""))
			inactive(prt)
		})
		t.Run("expired", func(t *testing.T) {
			e.clock.Advance(time.Hour)
			inactive(at)
			if a := ask(pat); a.Body["active"] != true {
				t.Fatalf("pat: %s", a.Raw)
			}
		})
		t.Run("enhanced security window", func(t *testing.T) {
			s, _ := e.admin.Settings(e.ctx, e.owner)
			s.EnhancedSecurity = true
			if err := e.admin.UpdateSettings(e.ctx, e.owner, s); err != nil {
				t.Fatal(err)
			}
			a := ask(rt)
			if got, _ := a.Body["exp"].(float64); int64(got) != now+int64(provider.EnhancedRefresh/time.Second) {
				t.Fatalf("refresh exp %v, want iat+30d", a.Body["exp"])
			}
			e.clock.Advance(provider.EnhancedRefresh)
			inactive(rt)
			s.EnhancedSecurity = false
			if err := e.admin.UpdateSettings(e.ctx, e.owner, s); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("bearer caller with verify", func(t *testing.T) {
			_, caller, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "v", Scopes: []string{"verify"}})
			if err != nil {
				t.Fatal(err)
			}
			a := e.do("/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {staff}}.Encode(), func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+caller)
			})
			if a.Status != 200 || a.Body["active"] != true || a.str("kind") != "staff" {
				t.Fatalf("bearer introspection: %d %s", a.Status, a.Raw)
			}
			_, weak, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "w", Scopes: []string{"catalog"}})
			if err != nil {
				t.Fatal(err)
			}
			a = e.do("/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {staff}}.Encode(), func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+weak)
			})
			wantError(t, a, 401, "insufficient_scope")
			a = e.do("/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {staff}}.Encode(), func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer gate_pat_nonsense")
			})
			wantError(t, a, 401, "invalid_token")
		})
		t.Run("caller not authenticated", func(t *testing.T) {
			a := e.post("/oauth2/introspect", url.Values{"token": {at}}, "", "")
			wantError(t, a, 401, "invalid_client")
			a = e.post("/oauth2/introspect", url.Values{"token": {at}}, c.ID, "wrong")
			wantError(t, a, 401, "invalid_client")
			pub, _ := e.app(e.owner, false, []string{"catalog"})
			a = e.post("/oauth2/introspect", url.Values{"token": {at}, "client_id": {pub.ID}}, "", "")
			wantError(t, a, 401, "invalid_client")
		})
		t.Run("token missing", func(t *testing.T) {
			wantError(t, e.post("/oauth2/introspect", url.Values{}, c.ID, sec), 400, "invalid_request")
		})
	})
}

func keyID(t *testing.T, e *env, key string) string {
	t.Helper()
	res, err := e.v.Verify(e.ctx, verifyReq(key, "", ""))
	if err != nil || !res.Found() {
		t.Fatalf("verify key: %v %+v", err, res)
	}
	return res.Principal.CredentialID
}

// TestRevoke covers RFC 7009.
func TestRevoke(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog"})
		pub, _ := e.app(e.owner, false, []string{"catalog"})
		verifier, challenge := pkce("rv")
		revoke := func(c *gatehouse.Client, sec, tok, hint string) {
			t.Helper()
			form := url.Values{"token": {tok}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			var a answer
			if c.Confidential {
				a = e.post("/oauth2/revoke", form, c.ID, sec)
			} else {
				form.Set("client_id", c.ID)
				a = e.post("/oauth2/revoke", form, "", "")
			}
			if a.Status != 200 || a.Raw != "" {
				t.Fatalf("revoke: %d %s", a.Status, a.Raw)
			}
			wantNoStore(t, a)
		}

		t.Run("access token", func(t *testing.T) {
			at, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))
			revoke(c, sec, at, "access_token")
			e.wantCode(at, c.ID, gatehouse.CodeRevoked)
			at2, _ := wantTokens(t, e.refresh(c, sec, rt, "")) // the grant lives on
			e.wantCode(at2, c.ID, gatehouse.CodeValid)
		})
		t.Run("refresh token revokes the grant", func(t *testing.T) {
			at, rt := wantTokens(t, e.exchange(pub, "", e.code(pub, e.owner.UserID, "catalog", challenge), verifier))
			at2, rt2 := wantTokens(t, e.refresh(pub, "", rt, ""))
			revoke(pub, "", rt2, "access_token") // a wrong hint is only a hint
			for _, tok := range []string{at, at2} {
				e.wantCode(tok, pub.ID, gatehouse.CodeRevoked)
			}
			wantError(t, e.refresh(pub, "", rt2, ""), 400, "invalid_grant")
		})
		t.Run("another client's token is refused", func(t *testing.T) {
			// RFC 7009 §2.1: the token must have been issued to the client
			// asking; otherwise the request is refused (unauthorized_client,
			// as Hydra answers) and the token left alone.
			at, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))
			for _, tok := range []string{at, rt} {
				wantError(t, e.post("/oauth2/revoke", url.Values{"token": {tok}, "client_id": {pub.ID}}, "", ""), 400, "unauthorized_client")
				other, osec := e.app(e.owner, true, []string{"catalog"})
				wantError(t, e.post("/oauth2/revoke", url.Values{"token": {tok}}, other.ID, osec), 400, "unauthorized_client")
			}
			e.wantCode(at, c.ID, gatehouse.CodeValid)
			wantTokens(t, e.refresh(c, sec, rt, ""))
		})
		t.Run("unknown and foreign tokens", func(t *testing.T) {
			revoke(c, sec, "gate_at_nonsense", "")
			revoke(c, sec, "garbage", "")
			_, pat, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "p", Scopes: []string{"catalog"}})
			if err != nil {
				t.Fatal(err)
			}
			revoke(c, sec, pat, "")
			e.wantCode(pat, "", gatehouse.CodeValid)
		})
		t.Run("client authentication", func(t *testing.T) {
			wantError(t, e.post("/oauth2/revoke", url.Values{"token": {"x"}}, c.ID, "wrong"), 401, "invalid_client")
			wantError(t, e.post("/oauth2/revoke", url.Values{"token": {"x"}}, "", ""), 401, "invalid_client")
			wantError(t, e.post("/oauth2/revoke", url.Values{}, c.ID, sec), 400, "invalid_request")
		})
	})
}
