package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestDuplicateJSONMembers: a body naming a member twice, at any depth,
// is 400 and changes nothing (encoding/json alone keeps the last).
func TestDuplicateJSONMembers(t *testing.T) {
	e := newEnv(t)
	f := e.newTenant(t, "acme")
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/users", `{"email":"x@acme.test","role":"staff","role":"owner"}`},
		{"/api/v1/tokens", `{"name":"a","scopes":["sales"],"Name":"b"}`},
		{"/api/v1/integrations", `{"name":"ERP","email":"dev@erp.example","resource_access":"custom","resources":["sales"],"resources":["all"]}`},
	} {
		res := e.do(t, req{method: http.MethodPost, path: tc.path, token: f.token, body: tc.body})
		expect(t, res, http.StatusBadRequest, "bad_request")
		if !strings.Contains(string(res.body), "duplicate") {
			t.Errorf("%s: %s does not name the duplicate", tc.path, res.body)
		}
	}
	if n := len(decode[list[userJSON]](t, e.get(t, "/api/v1/users", f.token)).Items); n != 1 {
		t.Errorf("%d members after refused requests, want 1", n)
	}
}

// TestNamesAreText: NUL, control characters and broken text (a lone
// surrogate decodes to U+FFFD) in any name, description or email are 422
// naming the field.
func TestNamesAreText(t *testing.T) {
	e := newEnv(t)
	f := e.newEnterprise(t, "acme")
	staffID := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleStaff)
	tokenPath := "/api/v1/users/" + staffID + "/api-token"
	expect(t, e.do(t, req{method: http.MethodPost, path: tokenPath, token: f.token, body: map[string]any{"scopes": []string{"sales"}}}), http.StatusCreated, "")
	for _, bad := range []string{`a\u0000b`, `a\ud800b`, `a\tb`, `a\u0085b`} {
		for _, tc := range []struct{ path, body, field string }{
			{"/api/v1/tokens", `{"name":"%s","scopes":["sales"]}`, "name"},
			{"/api/v1/api-keys", `{"description":"%s"}`, "description"},
			{"/api/v1/users", `{"email":"x%s@acme.test","role":"staff"}`, "email"},
			{tokenPath + "/ip-allowlist", `{"name":"%s","cidr":"192.0.2.1"}`, "name"},
			{"/api/v1/integrations", `{"name":"%s","email":"dev@erp.example","resource_access":"all"}`, "name"},
			{"/api/v1/integrations", `{"name":"ERP","email":"d%sv@erp.example","resource_access":"all"}`, "email"},
			{"/api/v1/oauth-clients", `{"name":"%s","redirect_uris":["https://app.example/cb"],"scopes":["sales"],"confidential":false}`, "name"},
		} {
			t.Run(tc.path+" "+tc.field+" "+bad, func(t *testing.T) {
				res := e.do(t, req{method: http.MethodPost, path: tc.path, token: f.token, body: fmt.Sprintf(tc.body, bad)})
				expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
				if got := decode[struct{ Error struct{ Field string } }](t, res.body).Error.Field; got != tc.field {
					t.Errorf("field = %q, want %q", got, tc.field)
				}
			})
		}
	}
}

// TestAllowlistEverything: 0.0.0.0/0 and ::/0 are refused; an empty
// allowlist already means no restriction (SPEC §9).
func TestAllowlistEverything(t *testing.T) {
	e := newEnv(t)
	f := e.newTenant(t, "acme")
	staffID := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleStaff)
	path := "/api/v1/users/" + staffID + "/api-token"
	expect(t, e.do(t, req{method: http.MethodPost, path: path, token: f.token, body: map[string]any{"scopes": []string{"sales"}}}), http.StatusCreated, "")
	for _, cidr := range []string{"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"} {
		res := e.do(t, req{method: http.MethodPost, path: path + "/ip-allowlist", token: f.token, body: map[string]string{"name": "any", "cidr": cidr}})
		expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
		if !strings.Contains(string(res.body), "no allowlist") {
			t.Errorf("%s: message %s does not say what an empty allowlist means", cidr, res.body)
		}
	}
	expect(t, e.do(t, req{method: http.MethodPost, path: path + "/ip-allowlist", token: f.token, body: map[string]string{"name": "half", "cidr": "0.0.0.0/1"}}), http.StatusCreated, "")
}

// TestLiveTokenCap: a user holds at most 100 live PATs in a tenant (the
// default of GATEHOUSE_MAX_TOKENS_PER_USER); the next is 409 until one is
// revoked. Another user is not affected.
func TestLiveTokenCap(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		post := func(token string) response {
			return e.do(t, req{method: http.MethodPost, path: "/api/v1/tokens", token: token, body: map[string]any{"name": "n", "scopes": []string{"sales"}}})
		}
		var last tokenJSON
		for i := 1; i < 100; i++ { // the fixture's own token is the first
			res := post(f.token)
			expect(t, res, http.StatusCreated, "")
			last = decode[tokenJSON](t, res.body)
		}
		res := post(f.token)
		expect(t, res, http.StatusConflict, gatehouse.ECONFLICT)
		if !strings.Contains(string(res.body), "100") {
			t.Errorf("message %s does not say the limit", res.body)
		}
		adminID := e.addMember(t, f.tenant.ID, "admin@acme.test", gatehouse.RoleAdmin)
		_, adminTok := e.newPAT(t, f.tenant.ID, adminID, "manage", "all")
		expect(t, post(adminTok), http.StatusCreated, "")
		expect(t, e.do(t, req{method: http.MethodDelete, path: "/api/v1/tokens/" + last.ID, token: f.token}), http.StatusNoContent, "")
		expect(t, post(f.token), http.StatusCreated, "")
	})
}

// TestStaffTokenForOwner: an admin cannot generate a staff API token in an
// owner's name (403); an owner can.
func TestStaffTokenForOwner(t *testing.T) {
	e := newEnv(t)
	f := e.newTenant(t, "acme")
	adminID := e.addMember(t, f.tenant.ID, "admin@acme.test", gatehouse.RoleAdmin)
	_, adminTok := e.newPAT(t, f.tenant.ID, adminID, "manage", "all")
	path := "/api/v1/users/" + f.ownerID + "/api-token"
	body := map[string]any{"scopes": []string{"sales"}}
	expect(t, e.do(t, req{method: http.MethodPost, path: path, token: adminTok, body: body}), http.StatusForbidden, gatehouse.EFORBIDDEN)
	expect(t, e.do(t, req{method: http.MethodPost, path: path, token: f.token, body: body}), http.StatusCreated, "")
}
