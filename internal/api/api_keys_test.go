package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// newKey creates an API key over the API; it must answer 201.
func (e *testEnv) newKey(t *testing.T, token string, body any) apiKeyJSON {
	t.Helper()
	res := e.do(t, req{method: "POST", path: "/api/v1/api-keys", token: token, body: body})
	expect(t, res, http.StatusCreated, "")
	return decode[apiKeyJSON](t, res.body)
}

// TestAPIKeys walks seed 003's API Portal: Add New with a description,
// Copy the key shown once, see it listed, revoke it.
func TestAPIKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		exp := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)

		var amazon, reports apiKeyJSON
		t.Run("add new", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/api-keys", token: f.token, body: `{"description":"  Amazon Sales Channel  "}`})
			expect(t, res, http.StatusCreated, "")
			amazon = decode[apiKeyJSON](t, res.body)
			if amazon.ID == "" || amazon.Description != "Amazon Sales Channel" || amazon.ExpiresAt != nil || amazon.LastUsedAt != nil || amazon.RevokedAt != nil || amazon.CreatedAt.IsZero() {
				t.Errorf("created = %+v", amazon)
			}
			if !slices.Equal(amazon.Scopes, []string{"all"}) {
				t.Errorf("scopes = %v, want the default [all]", amazon.Scopes)
			}
			if kind, ok := secret.ParseToken(amazon.Key); !ok || kind != gatehouse.KindAPIKey || !strings.HasPrefix(amazon.Key, "gate_key_") {
				t.Errorf("key %q is not an API key", amazon.Key)
			}
			if got := res.header.Get("Location"); got != "/api/v1/api-keys/"+amazon.ID {
				t.Errorf("Location = %q", got)
			}
			for _, field := range []string{`"id":"`, `"description":"`, `"scopes":["all"]`, `"expires_at":null`, `"created_at":"`, `"key":"gate_key_`} {
				if !bytes.Contains(res.body, []byte(field)) {
					t.Errorf("body %s lacks %s", res.body, field)
				}
			}
		})
		t.Run("add with scopes and expiry", func(t *testing.T) {
			reports = e.newKey(t, f.token, map[string]any{"description": "Reports", "scopes": []string{"reports", "sales.orders", "verify"}, "expires_at": exp.Format(time.RFC3339)})
			if want := []string{"sales.orders", "reports", "verify"}; !slices.Equal(reports.Scopes, want) {
				t.Errorf("scopes = %v, want %v", reports.Scopes, want)
			}
			if reports.ExpiresAt == nil || !reports.ExpiresAt.Equal(exp) {
				t.Errorf("expires_at = %v, want %v", reports.ExpiresAt, exp)
			}
		})
		t.Run("empty and null scopes mean all", func(t *testing.T) {
			for _, body := range []string{`{"description":"a","scopes":[]}`, `{"description":"b","scopes":null,"expires_at":null}`} {
				if k := e.newKey(t, f.token, body); !slices.Equal(k.Scopes, []string{"all"}) {
					t.Errorf("%s: scopes = %v", body, k.Scopes)
				}
			}
		})
		t.Run("list", func(t *testing.T) {
			raw := e.get(t, "/api/v1/api-keys", f.token)
			if bytes.Contains(raw, []byte(`"key"`)) || bytes.Contains(raw, []byte(amazon.Key)) || bytes.Contains(raw, []byte(reports.Key)) {
				t.Fatalf("list shows a secret: %s", raw)
			}
			got := decode[list[apiKeyJSON]](t, raw)
			if len(got.Items) != 4 {
				t.Fatalf("items = %d, want 4: %s", len(got.Items), raw)
			}
			if got.Items[2].ID != reports.ID || got.Items[3].ID != amazon.ID {
				t.Errorf("list not newest first: %+v", got.Items)
			}
			want := amazon
			want.Key = ""
			if !equalJSON(t, got.Items[3], want) {
				t.Errorf("item = %+v, want %+v", got.Items[3], want)
			}
			for _, it := range got.Items {
				if !strings.HasPrefix(it.Hint, "gate_key_") || it.LastUsedAt != nil {
					t.Errorf("item = %+v", it)
				}
			}
		})
		t.Run("get", func(t *testing.T) {
			raw := e.get(t, "/api/v1/api-keys/"+reports.ID, f.token)
			want := reports
			want.Key = ""
			if got := decode[apiKeyJSON](t, raw); !equalJSON(t, got, want) || bytes.Contains(raw, []byte(reports.Key)) {
				t.Errorf("get = %s, want %+v", raw, want)
			}
		})
		t.Run("last used", func(t *testing.T) {
			used := time.Now().UTC().Truncate(time.Second)
			if err := e.db.TouchCredentials(t.Context(), map[string]time.Time{amazon.ID: used}); err != nil {
				t.Fatal(err)
			}
			got := decode[list[apiKeyJSON]](t, e.get(t, "/api/v1/api-keys", f.token))
			if last := got.Items[3]; last.ID != amazon.ID || last.LastUsedAt == nil || !last.LastUsedAt.Equal(used) {
				t.Errorf("item = %+v, want last_used_at %v", last, used)
			}
		})
		t.Run("revoke", func(t *testing.T) {
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/api-keys/" + amazon.ID, token: f.token}), http.StatusNoContent, "")
			for _, it := range decode[list[apiKeyJSON]](t, e.get(t, "/api/v1/api-keys", f.token)).Items {
				if it.ID == amazon.ID {
					t.Error("revoked key still listed")
				}
			}
			one := decode[apiKeyJSON](t, e.get(t, "/api/v1/api-keys/"+amazon.ID, f.token))
			if one.RevokedAt == nil {
				t.Errorf("revoked_at not set: %+v", one)
			}
			stored, err := e.db.FindCredentialByHash(t.Context(), secret.HashBytes(amazon.Key))
			if err != nil || !stored.Revoked() {
				t.Errorf("stored key = %+v, %v; want revoked (it answers REVOKED, not UNKNOWN)", stored, err)
			}
			// Revoking again is a no-op that keeps the first time.
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/api-keys/" + amazon.ID, token: f.token}), http.StatusNoContent, "")
			if again := decode[apiKeyJSON](t, e.get(t, "/api/v1/api-keys/"+amazon.ID, f.token)); !again.RevokedAt.Equal(*one.RevokedAt) {
				t.Errorf("revoked_at moved from %v to %v", one.RevokedAt, again.RevokedAt)
			}
		})
	})
}

func TestAPIKeyValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		key := e.newKey(t, f.token, `{"description":"Amazon Sales Channel"}`)
		vendor := e.addMember(t, f.tenant.ID, "vendor@acme.test", gatehouse.RoleStaff)
		staffTok := e.generate(t, f.token, vendor, `{"scopes":["all"]}`)
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		big := `{"description":"` + strings.Repeat("a", 1<<20) + `"}`

		tests := []struct {
			name         string
			method, path string
			body         any
			contentType  string
			status       int
			code         string
			field        string
		}{
			{"malformed JSON", "POST", "/api/v1/api-keys", `{"description":`, "", 400, "bad_request", ""},
			{"empty body", "POST", "/api/v1/api-keys", ``, "", 400, "bad_request", ""},
			{"two values", "POST", "/api/v1/api-keys", `{"description":"x"} {"description":"y"}`, "", 400, "bad_request", ""},
			{"unknown field", "POST", "/api/v1/api-keys", `{"description":"x","name":"y"}`, "", 400, "bad_request", ""},
			{"description not a string", "POST", "/api/v1/api-keys", `{"description":true}`, "", 400, "bad_request", ""},
			{"scopes not a list", "POST", "/api/v1/api-keys", `{"description":"x","scopes":"all"}`, "", 400, "bad_request", ""},
			{"expiry not a string", "POST", "/api/v1/api-keys", `{"description":"x","expires_at":{}}`, "", 400, "bad_request", ""},
			{"oversized", "POST", "/api/v1/api-keys", big, "", 413, "too_large", ""},
			{"wrong content type", "POST", "/api/v1/api-keys", `{"description":"x"}`, "text/plain", 415, "unsupported_media_type", ""},
			{"no description", "POST", "/api/v1/api-keys", `{"description":"   "}`, "", 422, gatehouse.EINVALID, "description"},
			{"description missing", "POST", "/api/v1/api-keys", `{"scopes":["all"]}`, "", 422, gatehouse.EINVALID, "description"},
			{"description too long", "POST", "/api/v1/api-keys", `{"description":"` + strings.Repeat("键", 201) + `"}`, "", 422, gatehouse.EINVALID, "description"},
			{"manage", "POST", "/api/v1/api-keys", `{"description":"x","scopes":["manage"]}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"manage among others", "POST", "/api/v1/api-keys", `{"description":"x","scopes":["all","manage"]}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"unknown scope", "POST", "/api/v1/api-keys", `{"description":"x","scopes":["sales","warp.drive"]}`, "", 422, gatehouse.EINVALID, "scopes"},
			{"past expiry", "POST", "/api/v1/api-keys", `{"description":"x","expires_at":"` + past + `"}`, "", 422, gatehouse.EINVALID, "expires_at"},
			{"expiry not RFC 3339", "POST", "/api/v1/api-keys", `{"description":"x","expires_at":"next week"}`, "", 422, gatehouse.EINVALID, "expires_at"},
			{"get unknown", "GET", "/api/v1/api-keys/cred_nope", nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"revoke unknown", "DELETE", "/api/v1/api-keys/cred_nope", nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"get a PAT as a key", "GET", "/api/v1/api-keys/" + f.tokenID, nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"revoke a PAT as a key", "DELETE", "/api/v1/api-keys/" + f.tokenID, nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"get a staff token as a key", "GET", "/api/v1/api-keys/" + staffTok.ID, nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"revoke a staff token as a key", "DELETE", "/api/v1/api-keys/" + staffTok.ID, nil, "", 404, gatehouse.ENOTFOUND, ""},
			{"revoke a key as a PAT", "DELETE", "/api/v1/tokens/" + key.ID, nil, "", 404, gatehouse.ENOTFOUND, ""},
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

func TestAPIKeyRoles(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		key := e.newKey(t, f.token, `{"description":"Amazon Sales Channel"}`)
		staff := e.staffCaller(t, f)
		tests := []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/api-keys", `{"description":"mine"}`},
			{"GET", "/api/v1/api-keys", nil},
			{"GET", "/api/v1/api-keys/" + key.ID, nil},
			{"DELETE", "/api/v1/api-keys/" + key.ID, nil},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				before := fullSnapshot(t, e, f)
				res := e.do(t, req{method: tt.method, path: tt.path, token: staff, body: tt.body})
				expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
				if bytes.Contains(res.body, []byte(key.ID)) || bytes.Contains(res.body, []byte("Amazon")) {
					t.Errorf("refusal leaks: %s", res.body)
				}
				assertSame(t, before, fullSnapshot(t, e, f))
			})
		}
	})
}

func TestAPIKeyIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		a := e.newTenant(t, "alpha")
		b := e.newTenant(t, "beta")
		aKey := e.newKey(t, a.token, `{"description":"Alpha key"}`)
		bKey := e.newKey(t, b.token, `{"description":"Beta Amazon Sales Channel"}`)
		bRevoked := e.newKey(t, b.token, `{"description":"Beta old"}`)
		expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/api-keys/" + bRevoked.ID, token: b.token}), http.StatusNoContent, "")
		bBefore := fullSnapshot(t, e, b)

		for _, id := range []string{bKey.ID, bRevoked.ID} {
			for _, method := range []string{"GET", "DELETE"} {
				t.Run(method+" "+id, func(t *testing.T) {
					res := e.do(t, req{method: method, path: "/api/v1/api-keys/" + id, token: a.token})
					expect(t, res, http.StatusNotFound, gatehouse.ENOTFOUND)
					ghost := e.do(t, req{method: method, path: "/api/v1/api-keys/cred_ghost", token: a.token})
					if !bytes.Equal(res.body, ghost.body) {
						t.Errorf("B's id answers %s, a missing id %s", res.body, ghost.body)
					}
				})
			}
		}
		t.Run("A's list holds only A's keys", func(t *testing.T) {
			got := decode[list[apiKeyJSON]](t, e.get(t, "/api/v1/api-keys", a.token))
			if len(got.Items) != 1 || got.Items[0].ID != aKey.ID {
				t.Errorf("A's keys = %+v", got.Items)
			}
			aState := fullSnapshot(t, e, a)
			for _, raw := range [][]byte{aState.apiKeys, aState.api.Audit, aState.creds} {
				for _, needle := range []string{bKey.ID, bRevoked.ID, "Beta", bKey.Hint} {
					if bytes.Contains(raw, []byte(needle)) {
						t.Errorf("A sees B's %s in %s", needle, raw)
					}
				}
			}
		})
		t.Run("A's key in A is unaffected by B", func(t *testing.T) {
			e.get(t, "/api/v1/api-keys/"+aKey.ID, a.token)
		})
		t.Run("B is unchanged", func(t *testing.T) {
			assertSame(t, bBefore, fullSnapshot(t, e, b))
			c, err := e.db.FindCredential(t.Context(), b.tenant.ID, bKey.ID)
			if err != nil || c.Revoked() {
				t.Errorf("B's key = %+v, %v", c, err)
			}
		})
	})
}

// TestCredentialSecretsAtRest: staff tokens and API keys leave the server
// once, in the response that creates them; each backend stores only their
// SHA-256.
func TestCredentialSecretsAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		vendor := e.addMember(t, f.tenant.ID, "vendor@acme.test", gatehouse.RoleStaff)
		staffTok := e.generate(t, f.token, vendor, `{"scopes":["sales"]}`)
		e.allow(t, f.token, vendor, "office", "203.0.113.7")
		key := e.newKey(t, f.token, `{"description":"Amazon Sales Channel"}`)

		secrets := []struct{ kind, id, plain, prefix string }{
			{"staff token", staffTok.ID, staffTok.Token, "gate_stf_"},
			{"api key", key.ID, key.Key, "gate_key_"},
		}
		var tails [][]byte // the random part and checksum of each secret
		for _, s := range secrets {
			if !strings.HasPrefix(s.plain, s.prefix) {
				t.Fatalf("%s = %q", s.kind, s.plain)
			}
			tails = append(tails, []byte(s.plain[len(s.prefix):]))
			stored, err := e.db.FindCredential(t.Context(), f.tenant.ID, s.id)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(s.plain))
			if !bytes.Equal(stored.Hash, sum[:]) {
				t.Errorf("%s: stored hash = %x, want SHA-256 of the plaintext %x", s.kind, stored.Hash, sum)
			}
			if strings.Contains(stored.Hint, s.plain[len(s.prefix):]) || strings.Contains(stored.Name, s.plain) {
				t.Errorf("%s: stored credential = %+v", s.kind, stored)
			}
			if byHash, err := e.db.FindCredentialByHash(t.Context(), sum[:]); err != nil || byHash.ID != s.id {
				t.Errorf("%s: FindCredentialByHash = %v, %v", s.kind, byHash, err)
			}
		}

		// No later answer shows them.
		for _, path := range []string{tokenPath(vendor), allowPath(vendor), "/api/v1/api-keys", "/api/v1/api-keys/" + key.ID, "/api/v1/audit-events?limit=200", "/api/v1/tokens"} {
			raw := e.get(t, path, f.token)
			for i, tail := range tails {
				if bytes.Contains(raw, tail) {
					t.Errorf("GET %s shows the %s", path, secrets[i].kind)
				}
			}
		}

		if e.pgURL != "" {
			// Every row of the tables that mention credentials, as text.
			db := e.rawDB(t)
			for _, q := range []string{
				`SELECT c::text FROM credentials c`,
				`SELECT a::text FROM allow_entries a`,
				`SELECT a::text FROM audit_events a`,
			} {
				rows, err := db.QueryContext(t.Context(), q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				n := 0
				for rows.Next() {
					var row string
					if err := rows.Scan(&row); err != nil {
						t.Fatal(err)
					}
					n++
					for i, tail := range tails {
						if strings.Contains(row, string(tail)) {
							t.Errorf("%s: a row holds the %s's plaintext: %s", q, secrets[i].kind, row)
						}
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				rows.Close()
				if n == 0 {
					t.Errorf("%s: no rows", q)
				}
			}
			var hexHash string
			if err := db.QueryRowContext(t.Context(), `SELECT encode(hash, 'hex') FROM credentials WHERE id = $1`, key.ID).Scan(&hexHash); err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256([]byte(key.Key)); hexHash != hexOf(sum[:]) {
				t.Errorf("stored hash column = %s, want %x", hexHash, sum)
			}
			return
		}

		// The SQLite file, its WAL and anything else SQLite keeps beside it.
		files, err := filepath.Glob(e.dbPath + "*")
		if err != nil || len(files) < 2 {
			t.Fatalf("database files = %v, %v; want the file and its WAL", files, err)
		}
		for _, p := range files {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i, tail := range tails {
				if bytes.Contains(raw, tail) {
					t.Errorf("%s contains the %s's plaintext", filepath.Base(p), secrets[i].kind)
				}
			}
		}
		// The hashes are there (so the scan looked at the right bytes).
		sum := sha256.Sum256([]byte(key.Key))
		found := false
		for _, p := range files {
			raw, _ := os.ReadFile(p)
			found = found || bytes.Contains(raw, sum[:])
		}
		if !found {
			t.Error("the API key's hash is in none of the database files")
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestCredentialAudit: every change to staff tokens, whitelists and API
// keys is in the audit log, with the caller and its address.
func TestCredentialAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		vendor := e.addMember(t, f.tenant.ID, "vendor@acme.test", gatehouse.RoleStaff)
		const ip = "203.0.113.50"
		xff := map[string]string{"X-Forwarded-For": ip} // the loopback peer is a trusted proxy
		call := func(method, path string, body any, status int) []byte {
			t.Helper()
			res := e.do(t, req{method: method, path: path, token: f.token, header: xff, body: body})
			expect(t, res, status, "")
			return res.body
		}

		tok := decode[staffTokenJSON](t, call("POST", tokenPath(vendor), `{"scopes":["sales"]}`, 201))
		ent := decode[allowListJSON](t, call("POST", allowPath(vendor), `{"name":"办公室","cidr":"::ffff:198.51.100.0/120"}`, 201))
		call("DELETE", entryPath(vendor, ent.ID), nil, 204)
		call("DELETE", tokenPath(vendor), nil, 204)
		key := decode[apiKeyJSON](t, call("POST", "/api/v1/api-keys", `{"description":"Amazon Sales Channel"}`, 201))
		call("DELETE", "/api/v1/api-keys/"+key.ID, nil, 204)

		page := decode[auditPage](t, e.get(t, "/api/v1/audit-events", f.token))
		// A credential's events name it by id and name (a staff token by
		// its holder's email), the same for create, revoke and delete.
		want := []struct{ action, target, id, name string }{
			{"api_key.revoke", key.ID + " Amazon Sales Channel", key.ID, "Amazon Sales Channel"},
			{"api_key.create", key.ID + " Amazon Sales Channel", key.ID, "Amazon Sales Channel"},
			{"staff_token.delete", tok.ID + " vendor@acme.test", tok.ID, "vendor@acme.test"},
			{"ip_whitelist.delete", tok.ID + " 办公室 198.51.100.0/24", ent.ID, "办公室"},
			{"ip_whitelist.add", tok.ID + " 办公室 198.51.100.0/24", ent.ID, "办公室"},
			{"staff_token.create", tok.ID + " vendor@acme.test", tok.ID, "vendor@acme.test"},
		}
		if len(page.Items) < len(want) {
			t.Fatalf("events = %+v", page.Items)
		}
		for i, w := range want {
			got := page.Items[i]
			if got.Action != w.action || got.Target != w.target || got.TargetID != w.id || got.TargetName != w.name || got.Actor != f.email || got.IP != ip {
				t.Errorf("event %d = %+v, want %s %q (%s, %s) by %s from %s", i, got, w.action, w.target, w.id, w.name, f.email, ip)
			}
		}
		raw, _ := json.Marshal(page)
		if bytes.Contains(raw, []byte(tok.Token[len("gate_stf_"):])) || bytes.Contains(raw, []byte(key.Key[len("gate_key_"):])) {
			t.Error("the audit log holds a secret")
		}
	})
}
