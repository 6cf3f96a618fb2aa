package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Paths of a user's staff API token and its whitelist.
func tokenPath(userID string) string     { return "/api/v1/users/" + userID + "/api-token" }
func allowPath(userID string) string     { return tokenPath(userID) + "/ip-allowlist" }
func entryPath(userID, id string) string { return allowPath(userID) + "/" + id }

// generate generates a staff user's token over the API; it must answer 201.
func (e *testEnv) generate(t *testing.T, token, userID string, body any) staffTokenJSON {
	t.Helper()
	res := e.do(t, req{method: "POST", path: tokenPath(userID), token: token, body: body})
	expect(t, res, http.StatusCreated, "")
	return decode[staffTokenJSON](t, res.body)
}

// allow adds a whitelist entry over the API; it must answer 201.
func (e *testEnv) allow(t *testing.T, token, userID, name, cidr string) allowListJSON {
	t.Helper()
	res := e.do(t, req{method: "POST", path: allowPath(userID), token: token, body: map[string]string{"name": name, "cidr": cidr}})
	expect(t, res, http.StatusCreated, "")
	return decode[allowListJSON](t, res.body)
}

// staffCaller returns a manage token whose owner is now a staff member: it
// authenticates, and every management call must be refused by role.
func (e *testEnv) staffCaller(t *testing.T, f *fixture) string {
	t.Helper()
	id := e.addMember(t, f.tenant.ID, "demoted@"+f.tenant.Slug+".test", gatehouse.RoleAdmin)
	_, tok := e.newPAT(t, f.tenant.ID, id, "manage", "all")
	if _, err := e.svc.SetRole(t.Context(), operator(f.tenant.ID), id, gatehouse.RoleStaff); err != nil {
		t.Fatal(err)
	}
	return tok
}

// fullState is what the management API shows of a tenant plus every
// credential the store holds for it (revoked ones and allowlists
// included), to prove a refused request changed nothing.
type fullState struct {
	api     state
	apiKeys []byte
	creds   []byte
}

func fullSnapshot(t *testing.T, e *testEnv, f *fixture) fullState {
	t.Helper()
	list, err := e.db.ListCredentials(t.Context(), f.tenant.ID, gatehouse.CredentialFilter{IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return fullState{
		api:     snapshot(t, e, f.token),
		apiKeys: e.get(t, "/api/v1/api-keys", f.token),
		creds:   creds,
	}
}

func assertSame(t *testing.T, before, after fullState) {
	t.Helper()
	assertUnchanged(t, before.api, after.api)
	if !bytes.Equal(before.apiKeys, after.apiKeys) {
		t.Errorf("api keys changed:\nbefore %s\nafter  %s", before.apiKeys, after.apiKeys)
	}
	if !bytes.Equal(before.creds, after.creds) {
		t.Errorf("stored credentials changed:\nbefore %s\nafter  %s", before.creds, after.creds)
	}
}

// errorOf decodes an error body, field included.
func errorOf(t *testing.T, raw []byte) struct{ Code, Message, Field string } {
	t.Helper()
	return decode[struct {
		Error struct{ Code, Message, Field string }
	}](t, raw).Error
}

// allowRows counts the allowlist rows the database still holds for a
// credential, beneath the store's API.
func (e *testEnv) allowRows(t *testing.T, credentialID string) int {
	t.Helper()
	var n int
	err := e.rawDB(t).QueryRowContext(t.Context(), `SELECT COUNT(*) FROM allow_entries WHERE credential_id = $1`, credentialID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStaffToken walks seed 001: Generate with Expired At, copy the token,
// add whitelist entries, delete one, delete the token with its whitelist,
// and regenerate with an empty whitelist.
func TestStaffToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		vendor := e.addMember(t, f.tenant.ID, "vendor@acme.test", gatehouse.RoleStaff)
		exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)

		var created staffTokenJSON
		t.Run("generate", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: tokenPath(vendor), token: f.token, body: map[string]any{
				"scopes": []string{"sales.orders", "catalog"}, "expires_at": exp.Format(time.RFC3339),
			}})
			expect(t, res, http.StatusCreated, "")
			created = decode[staffTokenJSON](t, res.body)
			if created.ID == "" || created.UserID != vendor || created.Expired || created.LastUsedAt != nil || created.CreatedAt.IsZero() {
				t.Errorf("created = %+v", created)
			}
			if want := []string{"catalog", "sales.orders"}; !slices.Equal(created.Scopes, want) {
				t.Errorf("scopes = %v, want %v", created.Scopes, want)
			}
			if created.ExpiresAt == nil || !created.ExpiresAt.Equal(exp) {
				t.Errorf("expires_at = %v, want %v", created.ExpiresAt, exp)
			}
			if kind, ok := secret.ParseToken(created.Token); !ok || kind != gatehouse.KindStaff || !strings.HasPrefix(created.Token, "gate_stf_") {
				t.Errorf("token %q is not a staff token", created.Token)
			}
			if !strings.HasPrefix(created.Hint, "gate_stf_") || strings.Contains(created.Hint, created.Token[len("gate_stf_"):]) {
				t.Errorf("hint = %q", created.Hint)
			}
			if got := res.header.Get("Location"); got != tokenPath(vendor) {
				t.Errorf("Location = %q", got)
			}
			for _, field := range []string{`"id":"`, `"token":"gate_stf_`, `"scopes":[`, `"expires_at":"`, `"created_at":"`, `"ip_allowlist":[]`} {
				if !bytes.Contains(res.body, []byte(field)) {
					t.Errorf("body %s lacks %s", res.body, field)
				}
			}
		})
		t.Run("get", func(t *testing.T) {
			raw := e.get(t, tokenPath(vendor), f.token)
			if bytes.Contains(raw, []byte(`"token"`)) || bytes.Contains(raw, []byte(created.Token)) {
				t.Fatalf("GET shows the secret: %s", raw)
			}
			for _, field := range []string{`"hint":"gate_stf_`, `"last_used_at":null`, `"expired":false`, `"ip_allowlist":[]`} {
				if !bytes.Contains(raw, []byte(field)) {
					t.Errorf("body %s lacks %s", raw, field)
				}
			}
			got := decode[staffTokenJSON](t, raw)
			want := created
			want.Token = ""
			if !equalJSON(t, got, want) {
				t.Errorf("get = %+v, want %+v", got, want)
			}
		})
		t.Run("last used", func(t *testing.T) {
			used := time.Now().UTC().Truncate(time.Second)
			if err := e.db.TouchCredentials(t.Context(), map[string]time.Time{created.ID: used}); err != nil {
				t.Fatal(err)
			}
			got := decode[staffTokenJSON](t, e.get(t, tokenPath(vendor), f.token))
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
				t.Errorf("last_used_at = %v, want %v", got.LastUsedAt, used)
			}
		})
		t.Run("generate while one exists", func(t *testing.T) {
			before := fullSnapshot(t, e, f)
			res := e.do(t, req{method: "POST", path: tokenPath(vendor), token: f.token, body: `{"scopes":["all"]}`})
			expect(t, res, http.StatusConflict, gatehouse.ECONFLICT)
			assertSame(t, before, fullSnapshot(t, e, f))
		})

		var entries []allowListJSON
		t.Run("add whitelist entries", func(t *testing.T) {
			// What is sent, and the canonical form the API answers with.
			tests := []struct{ name, cidr, want string }{
				{"office", "203.0.113.7", "203.0.113.7/32"},
				{"vpn", " 198.51.100.0/24 ", "198.51.100.0/24"},
				{"ipv6 host", "2001:DB8:0:0::1", "2001:db8::1/128"},
				{"ipv6 net", "2001:db8:abcd::/48", "2001:db8:abcd::/48"},
				{"mapped host", "::ffff:192.0.2.1", "192.0.2.1/32"},
				{"mapped net", "::ffff:10.0.0.0/104", "10.0.0.0/8"},
				{strings.Repeat("仓", gatehouse.MaxAllowEntryName), "192.0.2.128/25", "192.0.2.128/25"},
				{strings.Repeat("n", gatehouse.MaxAllowEntryName), "0.0.0.0/1", "0.0.0.0/1"},
			}
			for _, tt := range tests {
				res := e.do(t, req{method: "POST", path: allowPath(vendor), token: f.token, body: map[string]string{"name": tt.name, "cidr": tt.cidr}})
				expect(t, res, http.StatusCreated, "")
				got := decode[allowListJSON](t, res.body)
				if got.ID == "" || got.Name != tt.name || got.CIDR != tt.want || got.CreatedAt.IsZero() {
					t.Errorf("%q %q: entry = %+v, want cidr %q", tt.name, tt.cidr, got, tt.want)
				}
				if loc := res.header.Get("Location"); loc != entryPath(vendor, got.ID) {
					t.Errorf("Location = %q", loc)
				}
				entries = append(entries, got)
			}
		})
		t.Run("list whitelist", func(t *testing.T) {
			got := decode[list[allowListJSON]](t, e.get(t, allowPath(vendor), f.token))
			if !equalJSON(t, got.Items, entries) {
				t.Errorf("items = %+v, want in the order added %+v", got.Items, entries)
			}
			tok := decode[staffTokenJSON](t, e.get(t, tokenPath(vendor), f.token))
			if !equalJSON(t, tok.IPAllowlist, entries) {
				t.Errorf("ip_allowlist = %+v, want %+v", tok.IPAllowlist, entries)
			}
		})
		t.Run("delete whitelist entry", func(t *testing.T) {
			gone := entries[1]
			expect(t, e.do(t, req{method: "DELETE", path: entryPath(vendor, gone.ID), token: f.token}), http.StatusNoContent, "")
			entries = slices.Delete(entries, 1, 2)
			got := decode[list[allowListJSON]](t, e.get(t, allowPath(vendor), f.token))
			if !equalJSON(t, got.Items, entries) {
				t.Errorf("items = %+v, want %+v", got.Items, entries)
			}
			// It cannot be restored, nor deleted twice.
			expect(t, e.do(t, req{method: "DELETE", path: entryPath(vendor, gone.ID), token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
		})
		t.Run("delete token takes the whitelist", func(t *testing.T) {
			if n := e.allowRows(t, created.ID); n != len(entries) {
				t.Fatalf("allowlist rows = %d, want %d", n, len(entries))
			}
			expect(t, e.do(t, req{method: "DELETE", path: tokenPath(vendor), token: f.token}), http.StatusNoContent, "")
			if n := e.allowRows(t, created.ID); n != 0 {
				t.Errorf("%d allowlist rows outlive their token", n)
			}
			// Revoked, as every ended credential is, so it answers REVOKED.
			if c, err := e.db.FindCredentialByHash(t.Context(), secret.HashBytes(created.Token)); err != nil || !c.Revoked() {
				t.Errorf("deleted token: %+v, %v; want it revoked", c, err)
			}
			expect(t, e.do(t, req{method: "GET", path: tokenPath(vendor), token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
			expect(t, e.do(t, req{method: "DELETE", path: tokenPath(vendor), token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
			expect(t, e.do(t, req{method: "GET", path: allowPath(vendor), token: f.token}), http.StatusConflict, gatehouse.ECONFLICT)
		})
		t.Run("regenerate starts with an empty whitelist", func(t *testing.T) {
			again := e.generate(t, f.token, vendor, `{"scopes":["catalog"],"expires_at":null}`)
			if again.ID == created.ID || again.Token == created.Token || again.ExpiresAt != nil || len(again.IPAllowlist) != 0 {
				t.Errorf("regenerated = %+v", again)
			}
			got := decode[list[allowListJSON]](t, e.get(t, allowPath(vendor), f.token))
			if len(got.Items) != 0 {
				t.Errorf("regenerated token's whitelist = %+v, want empty", got.Items)
			}
			if raw := e.get(t, allowPath(vendor), f.token); string(raw) != "{\"items\":[]}\n" {
				t.Errorf("empty list = %s", raw)
			}
		})
		t.Run("another member's token is independent", func(t *testing.T) {
			other := e.addMember(t, f.tenant.ID, "partner@acme.test", gatehouse.RoleStaff)
			e.generate(t, f.token, other, `{"scopes":["sales"]}`)
			e.allow(t, f.token, other, "partner", "192.0.2.9")
			if got := decode[list[allowListJSON]](t, e.get(t, allowPath(vendor), f.token)); len(got.Items) != 0 {
				t.Errorf("vendor's whitelist = %+v", got.Items)
			}
		})
	})
}

// TestStaffTokenExpired: an expired token shows expired, blocks Generate
// until it is deleted (seed 001), and the new token has no whitelist.
func TestStaffTokenExpired(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		vendor := e.addMember(t, f.tenant.ID, "vendor@acme.test", gatehouse.RoleStaff)
		// Generated by a service whose clock is two hours behind.
		past := admin.New(e.db, e.tree, admin.Options{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
		exp := time.Now().Add(-time.Hour)
		old, _, err := past.CreateCredential(t.Context(), operator(f.tenant.ID), gatehouse.KindStaff, admin.CredentialInput{UserID: vendor, Scopes: []string{"all"}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		e.allow(t, f.token, vendor, "office", "203.0.113.7")

		got := decode[staffTokenJSON](t, e.get(t, tokenPath(vendor), f.token))
		if !got.Expired || got.ID != old.ID || len(got.IPAllowlist) != 1 {
			t.Errorf("expired token = %+v", got)
		}
		before := fullSnapshot(t, e, f)
		expect(t, e.do(t, req{method: "POST", path: tokenPath(vendor), token: f.token, body: `{"scopes":["all"]}`}), http.StatusConflict, gatehouse.ECONFLICT)
		assertSame(t, before, fullSnapshot(t, e, f))

		expect(t, e.do(t, req{method: "DELETE", path: tokenPath(vendor), token: f.token}), http.StatusNoContent, "")
		fresh := e.generate(t, f.token, vendor, `{"scopes":["all"]}`)
		if fresh.Expired || fresh.ID == old.ID || len(fresh.IPAllowlist) != 0 {
			t.Errorf("regenerated = %+v", fresh)
		}
	})
}

// TestStaffAllowListLimit: 20 entries are accepted, the 21st is refused
// and changes nothing; a freed place can be used again.
func TestStaffAllowListLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		vendor := e.addMember(t, f.tenant.ID, "vendor@acme.test", gatehouse.RoleStaff)
		e.generate(t, f.token, vendor, `{"scopes":["all"]}`)
		var ids []string
		for i := range gatehouse.MaxAllowEntries {
			ids = append(ids, e.allow(t, f.token, vendor, fmt.Sprintf("entry %02d", i+1), fmt.Sprintf("192.0.2.%d", i+1)).ID)
		}
		got := decode[list[allowListJSON]](t, e.get(t, allowPath(vendor), f.token))
		if len(got.Items) != gatehouse.MaxAllowEntries {
			t.Fatalf("entries = %d, want %d", len(got.Items), gatehouse.MaxAllowEntries)
		}

		before := fullSnapshot(t, e, f)
		res := e.do(t, req{method: "POST", path: allowPath(vendor), token: f.token, body: `{"name":"entry 21","cidr":"192.0.2.21"}`})
		expect(t, res, http.StatusUnprocessableEntity, gatehouse.EINVALID)
		if msg := errorOf(t, res.body).Message; !strings.Contains(msg, "20") {
			t.Errorf("message %q does not tell the limit", msg)
		}
		assertSame(t, before, fullSnapshot(t, e, f))

		expect(t, e.do(t, req{method: "DELETE", path: entryPath(vendor, ids[0]), token: f.token}), http.StatusNoContent, "")
		e.allow(t, f.token, vendor, "entry 21", "192.0.2.21")
	})
}

func TestStaffTokenValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		holder := e.addMember(t, f.tenant.ID, "holder@acme.test", gatehouse.RoleStaff)
		bare := e.addMember(t, f.tenant.ID, "bare@acme.test", gatehouse.RoleStaff)
		e.generate(t, f.token, holder, `{"scopes":["all"]}`)
		entry := e.allow(t, f.token, holder, "office", "203.0.113.7")
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		bigToken := `{"scopes":["` + strings.Repeat("a", 1<<20) + `"]}`
		bigEntry := `{"name":"x","cidr":"` + strings.Repeat("1", 1<<20) + `"}`
		entryBody := func(name, cidr string) string {
			raw, _ := json.Marshal(map[string]string{"name": name, "cidr": cidr})
			return string(raw)
		}

		tests := []struct {
			name         string
			method, path string
			body         any
			contentType  string
			status       int
			code         string
			field        string
		}{
			// POST api-token
			{"token: malformed JSON", "POST", tokenPath(bare), `{"scopes":[`, "", 400, "bad_request", ""},
			{"token: empty body", "POST", tokenPath(bare), ``, "", 400, "bad_request", ""},
			{"token: two values", "POST", tokenPath(bare), `{"scopes":["all"]}{}`, "", 400, "bad_request", ""},
			{"token: unknown field", "POST", tokenPath(bare), `{"scopes":["all"],"ip_allowlist":[]}`, "", 400, "bad_request", ""},
			{"token: name is not a field", "POST", tokenPath(bare), `{"name":"x","scopes":["all"]}`, "", 400, "bad_request", ""},
			{"token: scopes not a list", "POST", tokenPath(bare), `{"scopes":"all"}`, "", 400, "bad_request", ""},
			{"token: scope not a string", "POST", tokenPath(bare), `{"scopes":[1]}`, "", 400, "bad_request", ""},
			{"token: expiry not a string", "POST", tokenPath(bare), `{"scopes":["all"],"expires_at":1893456000}`, "", 400, "bad_request", ""},
			{"token: oversized", "POST", tokenPath(bare), bigToken, "", 413, "too_large", ""},
			{"token: wrong content type", "POST", tokenPath(bare), `{"scopes":["all"]}`, "text/plain", 415, "unsupported_media_type", ""},
			{"token: manage", "POST", tokenPath(bare), `{"scopes":["sales","manage"]}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"token: unknown scope", "POST", tokenPath(bare), `{"scopes":["warp.drive"]}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"token: no scopes", "POST", tokenPath(bare), `{"scopes":[]}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"token: scopes missing", "POST", tokenPath(bare), `{}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"token: past expiry", "POST", tokenPath(bare), `{"scopes":["all"],"expires_at":"` + past + `"}`, "", 422, gatehouse.EINVALID, "expires_at"},
			{"token: expiry not RFC 3339", "POST", tokenPath(bare), `{"scopes":["all"],"expires_at":"2030-01-02"}`, "", 422, gatehouse.EINVALID, "expires_at"},
			{"token: unknown user", "POST", tokenPath("usr_nope"), `{"scopes":["all"]}`, "", 404, gatehouse.ENOTFOUND, ""},
			{"token: already exists", "POST", tokenPath(holder), `{"scopes":["all"]}`, "", 409, gatehouse.ECONFLICT, ""},
			// GET and DELETE api-token
			{"token: get without token", "GET", tokenPath(bare), nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"token: get unknown user", "GET", tokenPath("usr_nope"), nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"token: delete without token", "DELETE", tokenPath(bare), nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"token: delete unknown user", "DELETE", tokenPath("usr_nope"), nil, "", 404, gatehouse.ENOTFOUND, ""},
			// POST ip-allowlist
			{"entry: malformed JSON", "POST", allowPath(holder), `{"name":"x",`, "", 400, "bad_request", ""},
			{"entry: unknown field", "POST", allowPath(holder), `{"name":"x","cidr":"192.0.2.1","note":"y"}`, "", 400, "bad_request", ""},
			{"entry: name not a string", "POST", allowPath(holder), `{"name":5,"cidr":"192.0.2.1"}`, "", 400, "bad_request", ""},
			{"entry: cidr not a string", "POST", allowPath(holder), `{"name":"x","cidr":["192.0.2.1"]}`, "", 400, "bad_request", ""},
			{"entry: oversized", "POST", allowPath(holder), bigEntry, "", 413, "too_large", ""},
			{"entry: wrong content type", "POST", allowPath(holder), entryBody("x", "192.0.2.1"), "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
			{"entry: 21-character name", "POST", allowPath(holder), entryBody(strings.Repeat("n", 21), "192.0.2.1"), "", 422, gatehouse.EINVALID, "name"},
			{"entry: 21-character Chinese name", "POST", allowPath(holder), entryBody(strings.Repeat("仓", 21), "192.0.2.1"), "", 422, gatehouse.EINVALID, "name"},
			{"entry: no name", "POST", allowPath(holder), entryBody("", "192.0.2.1"), "", 422, gatehouse.EINVALID, "name"},
			{"entry: blank name", "POST", allowPath(holder), entryBody("   ", "192.0.2.1"), "", 422, gatehouse.EINVALID, "name"},
			{"entry: name missing", "POST", allowPath(holder), `{"cidr":"192.0.2.1"}`, "", 422, gatehouse.EINVALID, "name"},
			{"entry: cidr missing", "POST", allowPath(holder), `{"name":"x"}`, "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: leading zeros", "POST", allowPath(holder), entryBody("x", "010.0.0.1"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: leading zeros in a CIDR", "POST", allowPath(holder), entryBody("x", "010.0.0.0/8"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: octal", "POST", allowPath(holder), entryBody("x", "0177.0.0.1"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: hex", "POST", allowPath(holder), entryBody("x", "0x7f.0.0.1"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: short form", "POST", allowPath(holder), entryBody("x", "127.1"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: IPv4 prefix /33", "POST", allowPath(holder), entryBody("x", "10.0.0.0/33"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: IPv6 prefix /129", "POST", allowPath(holder), entryBody("x", "2001:db8::/129"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: negative prefix", "POST", allowPath(holder), entryBody("x", "10.0.0.0/-1"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: prefix with leading zero", "POST", allowPath(holder), entryBody("x", "10.0.0.0/08"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: host bits set", "POST", allowPath(holder), entryBody("x", "10.0.0.1/8"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: IPv6 host bits set", "POST", allowPath(holder), entryBody("x", "2001:db8::1/32"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: zone", "POST", allowPath(holder), entryBody("x", "fe80::1%eth0"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: host name", "POST", allowPath(holder), entryBody("x", "office.example.com"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: range", "POST", allowPath(holder), entryBody("x", "192.0.2.1-192.0.2.9"), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: empty cidr", "POST", allowPath(holder), entryBody("x", " "), "", 422, gatehouse.EINVALID, "cidr"},
			{"entry: no token yet", "POST", allowPath(bare), entryBody("x", "192.0.2.1"), "", 409, gatehouse.ECONFLICT, ""},
			{"entry: unknown user", "POST", allowPath("usr_nope"), entryBody("x", "192.0.2.1"), "", 404, gatehouse.ENOTFOUND, ""},
			// GET ip-allowlist and DELETE an entry
			{"entry: list without token", "GET", allowPath(bare), nil, "", 409, gatehouse.ECONFLICT, ""},
			{"entry: list of unknown user", "GET", allowPath("usr_nope"), nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"entry: delete unknown entry", "DELETE", entryPath(holder, "ip_nope"), nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"entry: delete another token's entry", "DELETE", entryPath(bare, entry.ID), nil, "", 409, gatehouse.ECONFLICT, ""},
			{"entry: delete of unknown user", "DELETE", entryPath("usr_nope", entry.ID), nil, "", 404, gatehouse.ENOTFOUND, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := fullSnapshot(t, e, f)
				r := req{method: tt.method, path: tt.path, token: f.token, body: tt.body}
				if tt.contentType != "" {
					r.header = map[string]string{"Content-Type": tt.contentType}
				}
				res := e.do(t, r)
				expect(t, res, tt.status, tt.code)
				if tt.field != "" {
					if got := errorOf(t, res.body); got.Field != tt.field {
						t.Errorf("field = %q, want %q (message %q)", got.Field, tt.field, got.Message)
					}
				}
				assertSame(t, before, fullSnapshot(t, e, f))
			})
		}
	})
}

// TestStaffTokenRoles: a staff member's manage token is refused every call,
// and nothing changes.
func TestStaffTokenRoles(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		holder := e.addMember(t, f.tenant.ID, "holder@acme.test", gatehouse.RoleStaff)
		bare := e.addMember(t, f.tenant.ID, "bare@acme.test", gatehouse.RoleStaff)
		e.generate(t, f.token, holder, `{"scopes":["all"]}`)
		entry := e.allow(t, f.token, holder, "office", "203.0.113.7")
		staff := e.staffCaller(t, f)

		tests := []struct {
			method, path string
			body         any
		}{
			{"POST", tokenPath(bare), `{"scopes":["all"]}`},
			{"POST", tokenPath(holder), `{"scopes":["all"]}`},
			{"GET", tokenPath(holder), nil},
			{"DELETE", tokenPath(holder), nil},
			{"POST", allowPath(holder), `{"name":"x","cidr":"192.0.2.1"}`},
			{"GET", allowPath(holder), nil},
			{"DELETE", entryPath(holder, entry.ID), nil},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				before := fullSnapshot(t, e, f)
				res := e.do(t, req{method: tt.method, path: tt.path, token: staff, body: tt.body})
				expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
				if bytes.Contains(res.body, []byte(entry.ID)) || bytes.Contains(res.body, []byte("203.0.113.7")) {
					t.Errorf("refusal leaks: %s", res.body)
				}
				assertSame(t, before, fullSnapshot(t, e, f))
			})
		}
	})
}

// TestStaffTokenIsolation: tenant A cannot see or touch B's staff tokens or
// whitelists; B's ids answer exactly like ids that do not exist.
func TestStaffTokenIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		a := e.newTenant(t, "alpha")
		b := e.newTenant(t, "beta")
		aUser := e.addMember(t, a.tenant.ID, "vendor@alpha.test", gatehouse.RoleStaff)
		e.generate(t, a.token, aUser, `{"scopes":["all"]}`)
		aEntry := e.allow(t, a.token, aUser, "alpha office", "192.0.2.1")
		bHolder := e.addMember(t, b.tenant.ID, "vendor@beta.test", gatehouse.RoleStaff)
		bBare := e.addMember(t, b.tenant.ID, "bare@beta.test", gatehouse.RoleStaff)
		bTok := e.generate(t, b.token, bHolder, `{"scopes":["sales"]}`)
		bEntry := e.allow(t, b.token, bHolder, "beta office", "198.51.100.0/24")
		bBefore := fullSnapshot(t, e, b)
		aBefore := decode[staffTokenJSON](t, e.get(t, tokenPath(aUser), a.token))
		const ghost = "usr_ghost"

		tests := []struct {
			name              string
			method, path, alt string // alt: the same call on an id that does not exist
			body              any
		}{
			{"generate for B's user", "POST", tokenPath(bBare), tokenPath(ghost), `{"scopes":["all"]}`},
			{"generate for B's holder", "POST", tokenPath(bHolder), tokenPath(ghost), `{"scopes":["all"]}`},
			{"get B's token", "GET", tokenPath(bHolder), tokenPath(ghost), nil},
			{"delete B's token", "DELETE", tokenPath(bHolder), tokenPath(ghost), nil},
			{"add to B's whitelist", "POST", allowPath(bHolder), allowPath(ghost), `{"name":"x","cidr":"192.0.2.0/24"}`},
			{"add to B's bare user", "POST", allowPath(bBare), allowPath(ghost), `{"name":"x","cidr":"192.0.2.0/24"}`},
			{"list B's whitelist", "GET", allowPath(bHolder), allowPath(ghost), nil},
			{"delete B's entry", "DELETE", entryPath(bHolder, bEntry.ID), entryPath(ghost, bEntry.ID), nil},
			{"delete B's entry through A's user", "DELETE", entryPath(aUser, bEntry.ID), entryPath(aUser, "ip_ghost"), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(t, req{method: tt.method, path: tt.path, token: a.token, body: tt.body})
				expect(t, res, http.StatusNotFound, gatehouse.ENOTFOUND)
				alt := e.do(t, req{method: tt.method, path: tt.alt, token: a.token, body: tt.body})
				if !bytes.Equal(res.body, alt.body) || res.status != alt.status {
					t.Errorf("B's id answers %d %s, a missing id %d %s", res.status, res.body, alt.status, alt.body)
				}
				for _, secret := range []string{bTok.ID, bTok.Hint, bEntry.ID, "198.51.100", "beta"} {
					if bytes.Contains(res.body, []byte(secret)) {
						t.Errorf("answer leaks %q: %s", secret, res.body)
					}
				}
			})
		}
		t.Run("A's views hold nothing of B", func(t *testing.T) {
			aState := fullSnapshot(t, e, a)
			views := [][]byte{aState.api.Tokens, aState.api.Users, aState.api.Audit, aState.apiKeys, aState.creds,
				e.get(t, tokenPath(aUser), a.token), e.get(t, allowPath(aUser), a.token)}
			for _, raw := range views {
				for _, needle := range []string{bTok.ID, bHolder, bEntry.ID, "198.51.100", "beta office"} {
					if bytes.Contains(raw, []byte(needle)) {
						t.Errorf("A sees B's %s in %s", needle, raw)
					}
				}
			}
		})
		t.Run("B is unchanged", func(t *testing.T) {
			assertSame(t, bBefore, fullSnapshot(t, e, b))
			got := decode[staffTokenJSON](t, e.get(t, tokenPath(bHolder), b.token))
			if got.ID != bTok.ID || len(got.IPAllowlist) != 1 || got.IPAllowlist[0] != bEntry {
				t.Errorf("B's token = %+v", got)
			}
			expect(t, e.do(t, req{method: "GET", path: tokenPath(bBare), token: b.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
		})
		t.Run("A is unchanged", func(t *testing.T) {
			got := decode[staffTokenJSON](t, e.get(t, tokenPath(aUser), a.token))
			if !equalJSON(t, got, aBefore) || len(got.IPAllowlist) != 1 || got.IPAllowlist[0] != aEntry {
				t.Errorf("A's token = %+v, want %+v", got, aBefore)
			}
		})
	})
}

// equalJSON compares two values by their JSON, which is what clients see.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ra, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ra, rb)
}
