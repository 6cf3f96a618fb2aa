package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestCredentialWireShape: the generic credential encoder writes, byte
// for byte, what each resource's own struct wrote before the resources
// shared one handler — the same members, in the same order, null where
// they were null, and no member another kind has (a PAT has no
// description, an API key no user_id, a staff token no revoked_at).
// Each answer is decoded into the documented shape (wire_test.go) and
// encoded again with encoding/json: the bytes must not change.
func TestCredentialWireShape(t *testing.T) {
	e := newEnv(t)
	f := e.newTenant(t, "acme")
	staffID := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleStaff)
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	post := func(path string, body any) []byte {
		t.Helper()
		res := e.do(t, req{method: http.MethodPost, path: path, token: f.token, body: body})
		expect(t, res, http.StatusCreated, "")
		return res.body
	}
	pat := post("/api/v1/tokens", map[string]any{"name": "<reports & co>", "scopes": []string{"sales"}, "expires_at": exp})
	key := post("/api/v1/api-keys", map[string]any{"description": "Amazon <Sales>"})
	staff := post(tokenPath(staffID), map[string]any{"scopes": []string{"catalog"}})
	e.allow(t, f.token, staffID, "office", "192.0.2.0/24")
	id := func(raw []byte) string { return decode[struct{ ID string }](t, raw).ID }
	revoked := id(post("/api/v1/api-keys", map[string]any{"description": "old"}))
	expect(t, e.do(t, req{method: http.MethodDelete, path: "/api/v1/api-keys/" + revoked, token: f.token}), http.StatusNoContent, "")

	for _, tc := range []struct {
		name  string
		raw   []byte
		shape func([]byte) any
	}{
		{"PAT created", pat, shape[tokenJSON](t)},
		{"PAT", e.get(t, "/api/v1/tokens/"+id(pat), f.token), shape[tokenJSON](t)},
		{"PAT list", e.get(t, "/api/v1/tokens", f.token), shape[list[tokenJSON]](t)},
		{"API key created", key, shape[apiKeyJSON](t)},
		{"API key", e.get(t, "/api/v1/api-keys/"+id(key), f.token), shape[apiKeyJSON](t)},
		{"revoked API key", e.get(t, "/api/v1/api-keys/"+revoked, f.token), shape[apiKeyJSON](t)},
		{"API key list", e.get(t, "/api/v1/api-keys", f.token), shape[list[apiKeyJSON]](t)},
		{"staff token generated", staff, shape[staffTokenJSON](t)},
		{"staff token", e.get(t, tokenPath(staffID), f.token), shape[staffTokenJSON](t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.shape(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.TrimSuffix(tc.raw, []byte("\n")); !bytes.Equal(got, want) {
				t.Errorf("answer\n%s\nis not the resource's shape\n%s", got, want)
			}
		})
	}
}

// shape returns a func that decodes an answer into T, failing t on
// members T does not have.
func shape[T any](t *testing.T) func([]byte) any {
	return func(raw []byte) any {
		t.Helper()
		var v T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		return v
	}
}

// TestCredentialNameFields: each kind takes its name under its own field
// only; the other kind's field, or any name for a staff token, is 400
// like any unknown field, and creates nothing.
func TestCredentialNameFields(t *testing.T) {
	e := newEnv(t)
	f := e.newTenant(t, "acme")
	staffID := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleStaff)
	for _, tc := range []struct{ path, body, field string }{
		{"/api/v1/tokens", `{"name":"x","description":"y","scopes":["sales"]}`, "description"},
		{"/api/v1/api-keys", `{"description":"x","name":"y"}`, "name"},
		{tokenPath(staffID), `{"name":"x","scopes":["sales"]}`, "name"},
		{tokenPath(staffID), `{"description":"x","scopes":["sales"]}`, "description"},
	} {
		res := e.do(t, req{method: http.MethodPost, path: tc.path, token: f.token, body: tc.body})
		expect(t, res, http.StatusBadRequest, "bad_request")
		if !strings.Contains(string(res.body), `unknown field \"`+tc.field+`\"`) {
			t.Errorf("%s %s: %s does not name the field", tc.path, tc.body, res.body)
		}
	}
	creds, err := e.db.ListCredentials(t.Context(), f.tenant.ID, gatehouse.CredentialFilter{})
	if err != nil || len(creds) != 1 { // the fixture's own PAT
		t.Errorf("%d credentials after refused creates (%v), want 1", len(creds), err)
	}
}
