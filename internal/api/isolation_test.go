package api

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestTenantIsolation: a token of tenant A never sees or touches tenant B's
// objects; B's ids are 404 for A exactly like ids that do not exist.
func TestTenantIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		a := e.newTenant(t, "alpha")
		b := e.newTenant(t, "beta")
		bUser := e.addMember(t, b.tenant.ID, "bob@beta.test", gatehouse.RoleStaff)
		bPAT, _ := e.newPAT(t, b.tenant.ID, b.ownerID, "catalog")
		if err := e.svc.UpdateSettings(t.Context(), operator(b.tenant.ID), gatehouse.Settings{EnhancedSecurity: true}); err != nil {
			t.Fatal(err)
		}
		bBefore := snapshot(t, e, b.token)

		tests := []struct {
			name         string
			method, path string
			body         any
		}{
			{"get B's token", "GET", "/api/v1/tokens/" + bPAT, nil},
			{"get B's manage token", "GET", "/api/v1/tokens/" + b.tokenID, nil},
			{"revoke B's token", "DELETE", "/api/v1/tokens/" + bPAT, nil},
			{"revoke B's manage token", "DELETE", "/api/v1/tokens/" + b.tokenID, nil},
			{"get B's user", "GET", "/api/v1/users/" + bUser, nil},
			{"get B's owner", "GET", "/api/v1/users/" + b.ownerID, nil},
			{"patch B's user", "PATCH", "/api/v1/users/" + bUser, `{"role":"admin"}`},
			{"demote B's owner", "PATCH", "/api/v1/users/" + b.ownerID, `{"role":"staff"}`},
			{"remove B's user", "DELETE", "/api/v1/users/" + bUser, nil},
			{"remove B's owner", "DELETE", "/api/v1/users/" + b.ownerID, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(t, req{method: tt.method, path: tt.path, token: a.token, body: tt.body})
				expect(t, res, http.StatusNotFound, gatehouse.ENOTFOUND)
				// Indistinguishable from an id that does not exist.
				ghost := e.do(t, req{method: tt.method, path: tt.path + "x", token: a.token, body: tt.body})
				if !bytes.Equal(res.body, ghost.body) {
					t.Errorf("B's id answers %s, a missing id %s", res.body, ghost.body)
				}
			})
		}

		t.Run("lists hold only A's objects", func(t *testing.T) {
			aState := snapshot(t, e, a.token)
			for _, needle := range []string{bPAT, b.tokenID, bUser, b.ownerID, "beta.test", "enhanced_security=true"} {
				for name, raw := range map[string][]byte{"tokens": aState.Tokens, "users": aState.Users, "audit": aState.Audit} {
					if bytes.Contains(raw, []byte(needle)) {
						t.Errorf("A's %s list shows B's %s", name, needle)
					}
				}
			}
			if got := decode[gatehouse.Settings](t, aState.Settings); got != gatehouse.DefaultSettings() {
				t.Errorf("A's settings = %+v, want A's own defaults", got)
			}
		})

		t.Run("A's changes stay in A", func(t *testing.T) {
			expect(t, e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: a.token, body: `{"require_client_header":false}`}), http.StatusOK, "")
			// The same email in A is a new membership of A, not B's.
			expect(t, e.do(t, req{method: "POST", path: "/api/v1/users", token: a.token, body: `{"email":"bob@beta.test","role":"admin"}`}), http.StatusCreated, "")
		})

		t.Run("B is unchanged", func(t *testing.T) {
			assertUnchanged(t, bBefore, snapshot(t, e, b.token))
			c, err := e.db.FindCredential(t.Context(), b.tenant.ID, bPAT)
			if err != nil || c.Revoked() {
				t.Errorf("B's token = %+v, %v", c, err)
			}
			m, err := e.db.FindMembership(t.Context(), b.tenant.ID, bUser)
			if err != nil || m.Role != gatehouse.RoleStaff {
				t.Errorf("B's member = %+v, %v", m, err)
			}
		})
	})
}
