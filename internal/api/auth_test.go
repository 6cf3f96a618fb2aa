package api

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
)

func TestAuthentication(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		ctx := t.Context()

		revokedID, revoked := e.newPAT(t, f.tenant.ID, f.ownerID, "manage")
		if err := e.svc.RevokeCredential(ctx, operator(f.tenant.ID), gatehouse.KindPAT, revokedID); err != nil {
			t.Fatal(err)
		}
		_, noManage := e.newPAT(t, f.tenant.ID, f.ownerID, "all", "verify")

		// An expired token: issued by a service whose clock is two hours behind.
		past := admin.New(e.db, e.tree, admin.Options{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
		a, err := past.ActorFor(ctx, f.tenant.ID, f.ownerID, "")
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(-time.Hour)
		_, expired, err := past.CreateCredential(ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: "old", Scopes: []string{"manage"}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}

		unknown := secret.NewToken(gatehouse.KindPAT) // well formed, never stored
		typo := f.token[:len(f.token)-1] + string(f.token[len(f.token)-1]^1)

		tests := []struct {
			name      string
			header    map[string]string
			query     string
			status    int
			code      string
			challenge string // WWW-Authenticate must contain this ("" = no header)
			noError   bool   // the challenge must carry no error attribute
		}{
			{name: "missing", status: 401, code: "unauthorized", challenge: `Bearer realm="gatehouse"`, noError: true},
			{name: "other scheme", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, status: 401, code: "unauthorized", challenge: `Bearer realm="gatehouse"`, noError: true},
			{name: "empty bearer", header: map[string]string{"Authorization": "Bearer "}, status: 401, code: "unauthorized", challenge: `error="invalid_token"`},
			{name: "malformed", header: bearer("not-a-token"), status: 401, code: "unauthorized", challenge: `error="invalid_token"`},
			{name: "checksum typo", header: bearer(typo), status: 401, code: "unauthorized", challenge: `error="invalid_token"`},
			{name: "unknown", header: bearer(unknown), status: 401, code: "unauthorized", challenge: `error="invalid_token"`},
			{name: "revoked", header: bearer(revoked), status: 401, code: "unauthorized", challenge: `error="invalid_token"`},
			{name: "expired", header: bearer(expired), status: 401, code: "unauthorized", challenge: `error="invalid_token"`},
			{name: "query parameter ignored", query: "?access_token=" + f.token, status: 401, code: "unauthorized", challenge: `Bearer realm="gatehouse"`, noError: true},
			{name: "without manage", header: bearer(noManage), status: 403, code: "forbidden", challenge: `error="insufficient_scope"`},
			{name: "valid", header: bearer(f.token), status: 200},
			{name: "scheme is case-insensitive", header: map[string]string{"Authorization": "bearer " + f.token}, status: 200},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, path := range []string{"/api/v1/tokens", "/api/v1/users", "/api/v1/settings", "/api/v1/audit-events"} {
					res := e.do(t, req{method: "GET", path: path + tt.query, header: tt.header})
					expect(t, res, tt.status, tt.code)
					ch := res.header.Get("WWW-Authenticate")
					if tt.challenge == "" {
						if ch != "" {
							t.Errorf("%s: WWW-Authenticate = %q, want none", path, ch)
						}
						continue
					}
					if !strings.HasPrefix(ch, `Bearer realm="gatehouse"`) || !strings.Contains(ch, tt.challenge) {
						t.Errorf("%s: WWW-Authenticate = %q, want %q", path, ch, tt.challenge)
					}
					if tt.noError && strings.Contains(ch, "error=") {
						t.Errorf("%s: WWW-Authenticate = %q has an error attribute", path, ch)
					}
				}
			})
		}
		t.Run("refused writes change nothing", func(t *testing.T) {
			before := snapshot(t, e, f.token)
			for _, tok := range []string{"", revoked, expired, noManage, unknown} {
				e.do(t, req{method: "POST", path: "/api/v1/tokens", token: tok, body: `{"name":"x","scopes":["all"]}`})
				e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: tok, body: `{"enhanced_security":true}`})
				e.do(t, req{method: "DELETE", path: "/api/v1/tokens/" + f.tokenID, token: tok})
			}
			assertUnchanged(t, before, snapshot(t, e, f.token))
		})
	})
}

// TestRoleChecks: a manage token acts with its owner's current role, so
// demoting the owner to staff takes the management API away at once.
func TestRoleChecks(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		ctx := t.Context()

		// Ann is an owner with a manage token; then she is demoted to staff.
		annID := e.addMember(t, f.tenant.ID, "ann@acme.test", gatehouse.RoleOwner)
		annTokenID, annToken := e.newPAT(t, f.tenant.ID, annID, "manage", "all")
		e.get(t, "/api/v1/users", annToken)
		if _, err := e.svc.SetRole(ctx, operator(f.tenant.ID), annID, gatehouse.RoleStaff); err != nil {
			t.Fatal(err)
		}
		// The token still verifies...
		p, code, err := storeAuthenticator(e.db, e.tree, time.Now)(ctx, annToken, netip.MustParseAddr("127.0.0.1"))
		if err != nil || code != gatehouse.CodeValid || p.Subject != annID {
			t.Fatalf("authenticate = %+v, %s, %v", p, code, err)
		}

		before := snapshot(t, e, f.token)
		tests := []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/tokens", nil},
			{"POST", "/api/v1/tokens", `{"name":"x","scopes":["all"]}`},
			{"GET", "/api/v1/tokens/" + f.tokenID, nil},
			{"DELETE", "/api/v1/tokens/" + f.tokenID, nil},
			{"DELETE", "/api/v1/tokens/" + annTokenID, nil},
			{"GET", "/api/v1/users", nil},
			{"POST", "/api/v1/users", `{"email":"x@acme.test","role":"staff"}`},
			{"GET", "/api/v1/users/" + annID, nil},
			{"PATCH", "/api/v1/users/" + annID, `{"role":"owner"}`},
			{"DELETE", "/api/v1/users/" + f.ownerID, nil},
			{"GET", "/api/v1/settings", nil},
			{"PATCH", "/api/v1/settings", `{"enhanced_security":true}`},
			{"GET", "/api/v1/audit-events", nil},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				// ...but the role check refuses, and no challenge is sent: the
				// token is fine, its owner is not allowed.
				res := e.do(t, req{method: tt.method, path: tt.path, token: annToken, body: tt.body})
				expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
				if ch := res.header.Get("WWW-Authenticate"); ch != "" {
					t.Errorf("WWW-Authenticate = %q", ch)
				}
			})
		}
		assertUnchanged(t, before, snapshot(t, e, f.token))

		t.Run("promoted again", func(t *testing.T) {
			if _, err := e.svc.SetRole(ctx, operator(f.tenant.ID), annID, gatehouse.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			e.get(t, "/api/v1/users", annToken)
		})
	})
}

func TestDatabaseUnavailable(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		e.db.Close()
		for _, path := range []string{"/api/v1/tokens", "/api/v1/settings"} {
			res := e.do(t, req{method: "GET", path: path, token: f.token})
			expect(t, res, http.StatusServiceUnavailable, gatehouse.EUNAVAILABLE)
			if strings.Contains(string(res.body), "sql") {
				t.Errorf("internal detail leaked: %s", res.body)
			}
		}
		// Without a token there is nothing to look up: still a plain 401.
		expect(t, e.do(t, req{method: "GET", path: "/api/v1/tokens"}), http.StatusUnauthorized, "unauthorized")
		// The OpenAPI document needs no database.
		expect(t, e.do(t, req{method: "GET", path: "/api/v1/openapi.json"}), http.StatusOK, "")
	})
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
