package api

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

func TestUsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")

		var alice userJSON
		t.Run("create with password", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/users", token: f.token,
				body: map[string]any{"email": " Alice@Example.TEST ", "role": "admin", "password": "s3cret-enough"}})
			expect(t, res, http.StatusCreated, "")
			alice = decode[userJSON](t, res.body)
			if alice.ID == "" || alice.Email != "alice@example.test" || alice.Role != gatehouse.RoleAdmin || alice.CreatedAt.IsZero() {
				t.Errorf("created = %+v", alice)
			}
			if got := res.header.Get("Location"); got != "/api/v1/users/"+alice.ID {
				t.Errorf("Location = %q", got)
			}
			u, err := e.db.FindUserByID(t.Context(), alice.ID)
			if err != nil || !secret.CheckPassword(u.PasswordHash, "s3cret-enough") {
				t.Errorf("password not set: %v", err)
			}
		})
		t.Run("create without password", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/users", token: f.token, body: `{"email":"bob@example.test","role":"staff"}`})
			expect(t, res, http.StatusCreated, "")
		})
		t.Run("list", func(t *testing.T) {
			got := decode[list[userJSON]](t, e.get(t, "/api/v1/users", f.token))
			roles := map[string]gatehouse.Role{}
			for _, u := range got.Items {
				roles[u.Email] = u.Role
			}
			want := map[string]gatehouse.Role{f.email: gatehouse.RoleOwner, "alice@example.test": gatehouse.RoleAdmin, "bob@example.test": gatehouse.RoleStaff}
			if len(roles) != len(want) {
				t.Fatalf("users = %v, want %v", roles, want)
			}
			for k, v := range want {
				if roles[k] != v {
					t.Errorf("role of %s = %q, want %q", k, roles[k], v)
				}
			}
		})
		t.Run("get", func(t *testing.T) {
			got := decode[userJSON](t, e.get(t, "/api/v1/users/"+alice.ID, f.token))
			if got != alice {
				t.Errorf("get = %+v, want %+v", got, alice)
			}
		})
		t.Run("patch role", func(t *testing.T) {
			res := e.do(t, req{method: "PATCH", path: "/api/v1/users/" + alice.ID, token: f.token, body: `{"role":"owner"}`})
			expect(t, res, http.StatusOK, "")
			if got := decode[userJSON](t, res.body); got.Role != gatehouse.RoleOwner || got.Email != alice.Email {
				t.Errorf("patched = %+v", got)
			}
			if got := decode[userJSON](t, e.get(t, "/api/v1/users/"+alice.ID, f.token)); got.Role != gatehouse.RoleOwner {
				t.Errorf("role after patch = %q", got.Role)
			}
		})
		t.Run("empty patch changes nothing", func(t *testing.T) {
			res := e.do(t, req{method: "PATCH", path: "/api/v1/users/" + alice.ID, token: f.token, body: `{}`})
			expect(t, res, http.StatusOK, "")
			if got := decode[userJSON](t, res.body); got.Role != gatehouse.RoleOwner {
				t.Errorf("patched = %+v", got)
			}
		})
		t.Run("delete", func(t *testing.T) {
			// Alice holds a token; removing her revokes it.
			_, tok := e.newPAT(t, f.tenant.ID, alice.ID, "manage")
			e.get(t, "/api/v1/users", tok)
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/users/" + alice.ID, token: f.token}), http.StatusNoContent, "")
			expect(t, e.do(t, req{method: "GET", path: "/api/v1/users/" + alice.ID, token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
			expect(t, e.do(t, req{method: "GET", path: "/api/v1/users", token: tok}), http.StatusUnauthorized, gatehouse.EUNAUTHORIZED)
		})
		t.Run("unknown id", func(t *testing.T) {
			for _, m := range []string{"GET", "PATCH", "DELETE"} {
				r := req{method: m, path: "/api/v1/users/usr_nope", token: f.token}
				if m == "PATCH" {
					r.body = `{"role":"staff"}`
				}
				expect(t, e.do(t, r), http.StatusNotFound, gatehouse.ENOTFOUND)
			}
		})
	})
}

func TestUserValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		staffID := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleStaff)
		adminID := e.addMember(t, f.tenant.ID, "admin@acme.test", gatehouse.RoleAdmin)
		_, adminToken := e.newPAT(t, f.tenant.ID, adminID, "manage")

		tests := []struct {
			name   string
			token  string
			method string
			path   string
			body   any
			status int
			code   string
		}{
			{"duplicate member", f.token, "POST", "/api/v1/users", `{"email":"STAFF@acme.test","role":"admin"}`, 409, gatehouse.ECONFLICT},
			{"duplicate owner", f.token, "POST", "/api/v1/users", map[string]string{"email": f.email, "role": "staff"}, 409, gatehouse.ECONFLICT},
			{"last owner demotion", f.token, "PATCH", "/api/v1/users/" + f.ownerID, `{"role":"admin"}`, 409, gatehouse.ECONFLICT},
			{"last owner removal", f.token, "DELETE", "/api/v1/users/" + f.ownerID, nil, 409, gatehouse.ECONFLICT},
			{"bad email", f.token, "POST", "/api/v1/users", `{"email":"not an email","role":"staff"}`, 422, gatehouse.EINVALID},
			{"short password", f.token, "POST", "/api/v1/users", `{"email":"new@acme.test","role":"staff","password":"short"}`, 422, gatehouse.EINVALID},
			{"unknown role", f.token, "POST", "/api/v1/users", `{"email":"new@acme.test","role":"root"}`, 422, gatehouse.EINVALID},
			{"missing role", f.token, "POST", "/api/v1/users", `{"email":"new@acme.test"}`, 422, gatehouse.EINVALID},
			{"patch unknown role", f.token, "PATCH", "/api/v1/users/" + staffID, `{"role":"root"}`, 422, gatehouse.EINVALID},
			{"malformed JSON", f.token, "POST", "/api/v1/users", `{"email":`, 400, "bad_request"},
			{"unknown field", f.token, "POST", "/api/v1/users", `{"email":"new@acme.test","role":"staff","is_admin":true}`, 400, "bad_request"},
			{"wrong type", f.token, "POST", "/api/v1/users", `{"email":["new@acme.test"],"role":"staff"}`, 400, "bad_request"},
			{"patch wrong type", f.token, "PATCH", "/api/v1/users/" + staffID, `{"role":1}`, 400, "bad_request"},
			{"patch unknown field", f.token, "PATCH", "/api/v1/users/" + staffID, `{"email":"x@acme.test"}`, 400, "bad_request"},
			{"admin cannot make owners", adminToken, "POST", "/api/v1/users", `{"email":"new@acme.test","role":"owner"}`, 403, gatehouse.EFORBIDDEN},
			{"admin cannot promote to owner", adminToken, "PATCH", "/api/v1/users/" + staffID, `{"role":"owner"}`, 403, gatehouse.EFORBIDDEN},
			{"admin cannot remove an owner", adminToken, "DELETE", "/api/v1/users/" + f.ownerID, nil, 403, gatehouse.EFORBIDDEN},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := snapshot(t, e, f.token)
				expect(t, e.do(t, req{method: tt.method, path: tt.path, token: tt.token, body: tt.body}), tt.status, tt.code)
				assertUnchanged(t, before, snapshot(t, e, f.token))
			})
		}
	})
}
