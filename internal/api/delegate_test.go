package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// expiringPAT makes a PAT for a member that expires in ttl.
func (e *testEnv) expiringPAT(t *testing.T, tenantID, userID string, ttl time.Duration, scopes ...string) string {
	t.Helper()
	a, err := e.svc.ActorFor(t.Context(), tenantID, userID, "")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(ttl)
	_, tok, err := e.svc.CreateCredential(t.Context(), a, gatehouse.KindPAT, admin.CredentialInput{Name: "expiring", Scopes: scopes, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// oauthAccessToken stores an OAuth 2.0 access token of the owner that
// holds "manage" (as the token endpoint issued them before SPEC §9 said
// apps never get it), expiring in an hour.
func (e *testEnv) oauthAccessToken(t *testing.T, f *fixture, scopes ...string) string {
	t.Helper()
	tok := secret.NewToken(gatehouse.KindOAuth2Access)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	c := &gatehouse.Credential{TenantID: f.tenant.ID, Kind: gatehouse.KindOAuth2Access, Name: "app", UserID: f.ownerID,
		Scopes: scopes, ExpiresAt: &exp, Hash: secret.HashBytes(tok), Hint: secret.Hint(tok)}
	if err := e.db.CreateCredential(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return tok
}

func rfc3339(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

// TestNoWiderCredentials (SPEC §9): what a credential creates over the API
// holds manage, verify and resources only if the credential does, and
// expires no later than it does.
func TestNoWiderCredentials(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		_, manageOnlyTok := e.newPAT(t, f.tenant.ID, f.ownerID, "manage")
		narrow := e.expiringPAT(t, f.tenant.ID, f.ownerID, time.Hour, "manage", "sales")
		staffID := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleStaff)
		post := func(token, path string, body any) response {
			return e.do(t, req{method: http.MethodPost, path: path, token: token, body: body})
		}
		field := func(t *testing.T, res response, want string) {
			t.Helper()
			expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
			if got := decode[struct{ Error struct{ Field string } }](t, res.body).Error.Field; got != want {
				t.Errorf("field = %q, want %q (%s)", got, want, res.body)
			}
		}

		t.Run("PATs", func(t *testing.T) {
			field(t, post(manageOnlyTok, "/api/v1/tokens", map[string]any{"name": "wide", "scopes": []string{"all", "manage", "verify"}}), "scopes")
			field(t, post(manageOnlyTok, "/api/v1/tokens", map[string]any{"name": "v", "scopes": []string{"manage", "verify"}}), "scopes")
			expect(t, post(manageOnlyTok, "/api/v1/tokens", map[string]any{"name": "same", "scopes": []string{"manage"}}), http.StatusCreated, "")
			field(t, post(narrow, "/api/v1/tokens", map[string]any{"name": "n", "scopes": []string{"catalog"}}), "scopes")
			field(t, post(narrow, "/api/v1/tokens", map[string]any{"name": "n", "scopes": []string{"sales.orders"}}), "expires_at")
			field(t, post(narrow, "/api/v1/tokens", map[string]any{"name": "n", "scopes": []string{"sales.orders"}, "expires_at": rfc3339(2 * time.Hour)}), "expires_at")
			expect(t, post(narrow, "/api/v1/tokens", map[string]any{"name": "n", "scopes": []string{"sales.orders"}, "expires_at": rfc3339(30 * time.Minute)}), http.StatusCreated, "")
		})
		t.Run("API keys", func(t *testing.T) {
			field(t, post(narrow, "/api/v1/api-keys", map[string]any{"description": "default all", "expires_at": rfc3339(time.Minute)}), "scopes")
			field(t, post(narrow, "/api/v1/api-keys", map[string]any{"description": "forever", "scopes": []string{"sales"}}), "expires_at")
			expect(t, post(narrow, "/api/v1/api-keys", map[string]any{"description": "ok", "scopes": []string{"sales"}, "expires_at": rfc3339(time.Minute)}), http.StatusCreated, "")
		})
		t.Run("staff tokens", func(t *testing.T) {
			path := "/api/v1/users/" + staffID + "/api-token"
			field(t, post(narrow, path, map[string]any{"scopes": []string{"catalog"}, "expires_at": rfc3339(time.Minute)}), "scopes")
			field(t, post(narrow, path, map[string]any{"scopes": []string{"sales"}}), "expires_at")
			expect(t, post(narrow, path, map[string]any{"scopes": []string{"sales"}, "expires_at": rfc3339(time.Minute)}), http.StatusCreated, "")
		})
		t.Run("OAuth apps", func(t *testing.T) {
			app := func(scopes []string, confidential bool, grants ...string) map[string]any {
				return map[string]any{"name": "App", "redirect_uris": []string{"https://app.example/cb"}, "scopes": scopes, "confidential": confidential, "grant_types": grants}
			}
			field(t, post(narrow, "/api/v1/oauth-clients", app([]string{"all"}, false)), "scopes")
			expect(t, post(narrow, "/api/v1/oauth-clients", app([]string{"sales"}, true, "client_credentials")), http.StatusForbidden, gatehouse.EFORBIDDEN)
			expect(t, post(narrow, "/api/v1/oauth-clients", app([]string{"sales"}, false)), http.StatusCreated, "")
		})
		t.Run("integrations", func(t *testing.T) {
			in := func(resources ...string) map[string]any {
				return map[string]any{"name": "ERP", "email": "dev@erp.example", "resource_access": "custom", "resources": resources}
			}
			field(t, post(narrow, "/api/v1/integrations", map[string]any{"name": "ERP", "email": "dev@erp.example", "resource_access": "all"}), "resources")
			field(t, post(narrow, "/api/v1/integrations", in("catalog")), "resources")
			i := e.newIntegration(t, narrow, in("sales"))
			// Integration tokens never expire, so an expiring token cannot
			// activate one; a wide integration made by another cannot be
			// activated by a narrow token either.
			expect(t, post(narrow, "/api/v1/integrations/"+i.ID+"/activate", nil), http.StatusForbidden, gatehouse.EFORBIDDEN)
			_, salesForever := e.newPAT(t, f.tenant.ID, f.ownerID, "manage", "sales")
			wide := e.newIntegration(t, f.token, in("catalog"))
			expect(t, post(salesForever, "/api/v1/integrations/"+wide.ID+"/activate", nil), http.StatusForbidden, gatehouse.EFORBIDDEN)
			res := e.do(t, req{method: http.MethodPatch, path: "/api/v1/integrations/" + i.ID, token: salesForever, body: map[string]any{"resources": []string{"catalog"}}})
			field(t, res, "resources")
			expect(t, post(salesForever, "/api/v1/integrations/"+i.ID+"/activate", nil), http.StatusOK, "")
		})
		t.Run("OAuth access token", func(t *testing.T) {
			// SPEC §9: apps are never granted manage; one that holds it
			// anyway creates nothing, and makes no owner.
			at := e.oauthAccessToken(t, f, "manage", "all")
			res := post(at, "/api/v1/tokens", map[string]any{"name": "forever", "scopes": []string{"all"}})
			expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
			if h := res.header.Get("WWW-Authenticate"); !strings.Contains(h, "insufficient_scope") {
				t.Errorf("WWW-Authenticate = %q", h)
			}
			expect(t, post(at, "/api/v1/users", map[string]any{"email": "evil@acme.test", "role": "owner"}), http.StatusForbidden, gatehouse.EFORBIDDEN)
			adminID := e.addMember(t, f.tenant.ID, "admin@acme.test", gatehouse.RoleAdmin)
			res = e.do(t, req{method: http.MethodPatch, path: "/api/v1/users/" + adminID, token: at, body: map[string]any{"role": "owner"}})
			expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
			// An owner's PAT may still make owners.
			expect(t, post(f.token, "/api/v1/users", map[string]any{"email": "co@acme.test", "role": "owner"}), http.StatusCreated, "")
		})
	})
}
