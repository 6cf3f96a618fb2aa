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

func TestTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)

		var created tokenJSON
		t.Run("create", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: map[string]any{
				"name": "  reporting  ", "scopes": []string{"sales.orders", "sales", "manage"}, "expires_at": exp.Format(time.RFC3339),
			}})
			expect(t, res, http.StatusCreated, "")
			created = decode[tokenJSON](t, res.body)
			if created.ID == "" || created.Name != "reporting" || created.UserID != f.ownerID {
				t.Errorf("created = %+v", created)
			}
			if want := []string{"sales", "sales.orders", "manage"}; !slices.Equal(created.Scopes, want) {
				t.Errorf("scopes = %v, want in tree order %v", created.Scopes, want)
			}
			if created.ExpiresAt == nil || !created.ExpiresAt.Equal(exp) {
				t.Errorf("expires_at = %v, want %v", created.ExpiresAt, exp)
			}
			if kind, ok := secret.ParseToken(created.Token); !ok || kind != gatehouse.KindPAT {
				t.Errorf("token %q is not a PAT", created.Token)
			}
			if got := res.header.Get("Location"); got != "/api/v1/tokens/"+created.ID {
				t.Errorf("Location = %q", got)
			}
			for _, field := range []string{`"created_at":"`, `"expires_at":"`, `"last_used_at":null`} {
				if !bytes.Contains(res.body, []byte(field)) {
					t.Errorf("body %s lacks %s", res.body, field)
				}
			}
			if !bytes.Contains(res.body, []byte(`Z"`)) {
				t.Errorf("times are not UTC: %s", res.body)
			}
		})
		t.Run("create without expiry", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: `{"name":"forever","scopes":["all"],"expires_at":null}`})
			expect(t, res, http.StatusCreated, "")
			if got := decode[tokenJSON](t, res.body); got.ExpiresAt != nil {
				t.Errorf("expires_at = %v, want null", got.ExpiresAt)
			}
		})
		t.Run("new token authenticates", func(t *testing.T) {
			e.get(t, "/api/v1/tokens", created.Token)
		})
		t.Run("list", func(t *testing.T) {
			raw := e.get(t, "/api/v1/tokens", f.token)
			if bytes.Contains(raw, []byte(`"token"`)) || bytes.Contains(raw, []byte(created.Token)) {
				t.Fatalf("list shows a secret: %s", raw)
			}
			got := decode[list[tokenJSON]](t, raw)
			if len(got.Items) != 3 {
				t.Fatalf("items = %d, want 3: %s", len(got.Items), raw)
			}
			if got.Items[1].Name != "reporting" || got.Items[1].ID != created.ID {
				t.Errorf("list not newest first: %+v", got.Items)
			}
			for _, it := range got.Items {
				if it.LastUsedAt != nil || it.RevokedAt != nil || !strings.HasPrefix(it.Hint, "gate_pat_") {
					t.Errorf("item = %+v", it)
				}
			}
		})
		t.Run("get", func(t *testing.T) {
			raw := e.get(t, "/api/v1/tokens/"+created.ID, f.token)
			got := decode[tokenJSON](t, raw)
			if got.ID != created.ID || got.Name != "reporting" || got.Token != "" || !got.CreatedAt.Equal(created.CreatedAt) {
				t.Errorf("get = %+v", got)
			}
		})
		t.Run("get unknown", func(t *testing.T) {
			expect(t, e.do(t, req{method: "GET", path: "/api/v1/tokens/cred_nope", token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
		})
		t.Run("delete revokes", func(t *testing.T) {
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/tokens/" + created.ID, token: f.token}), http.StatusNoContent, "")
			got := decode[list[tokenJSON]](t, e.get(t, "/api/v1/tokens", f.token))
			for _, it := range got.Items {
				if it.ID == created.ID {
					t.Errorf("revoked token still listed")
				}
			}
			one := decode[tokenJSON](t, e.get(t, "/api/v1/tokens/"+created.ID, f.token))
			if one.RevokedAt == nil {
				t.Errorf("revoked_at not set: %+v", one)
			}
			res := e.do(t, req{method: "GET", path: "/api/v1/tokens", token: created.Token})
			expect(t, res, http.StatusUnauthorized, gatehouse.EUNAUTHORIZED)
			// Revoking again is a no-op, still 204.
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/tokens/" + created.ID, token: f.token}), http.StatusNoContent, "")
		})
		t.Run("delete unknown", func(t *testing.T) {
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/tokens/cred_nope", token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
		})
		t.Run("another kind's id is not a token", func(t *testing.T) {
			// The id of a user is not found among tokens.
			expect(t, e.do(t, req{method: "GET", path: "/api/v1/tokens/" + f.ownerID, token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
		})
	})
}

// TestTokenSecretAtRest checks that the plaintext of a PAT leaves the
// server once, in the create response, and that the database holds only
// its SHA-256.
func TestTokenSecretAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.newTenant(t, "acme")
	res := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: map[string]any{"name": "ci", "scopes": []string{"catalog"}}})
	expect(t, res, http.StatusCreated, "")
	c := decode[tokenJSON](t, res.body)

	stored, err := e.db.FindCredential(t.Context(), f.tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(c.Token))
	if !bytes.Equal(stored.Hash, sum[:]) {
		t.Errorf("stored hash = %x, want SHA-256 of the token %x", stored.Hash, sum)
	}
	secretPart := c.Token[len("gate_pat_"):] // the random part and checksum
	if strings.Contains(stored.Hint, secretPart) || stored.Name != "ci" {
		t.Errorf("stored credential = %+v", stored)
	}
	byHash, err := e.db.FindCredentialByHash(t.Context(), sum[:])
	if err != nil || byHash.ID != c.ID {
		t.Errorf("FindCredentialByHash = %v, %v", byHash, err)
	}

	for _, path := range []string{"/api/v1/tokens", "/api/v1/tokens/" + c.ID, "/api/v1/audit-events"} {
		if raw := e.get(t, path, f.token); bytes.Contains(raw, []byte(c.Token)) {
			t.Errorf("GET %s shows the token", path)
		}
	}

	// The database file, its WAL and anything else SQLite keeps beside it.
	files, err := filepath.Glob(e.dbPath + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files: %v", err)
	}
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(secretPart)) {
			t.Errorf("%s contains the token's plaintext", filepath.Base(p))
		}
	}
}

func TestTokenValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		big := `{"name":"` + strings.Repeat("a", 1<<20) + `","scopes":["all"]}`

		tests := []struct {
			name        string
			body        any
			contentType string
			status      int
			code        string
		}{
			{"malformed JSON", `{"name":"x",`, "", 400, "bad_request"},
			{"syntax error", `{"name" "x"}`, "", 400, "bad_request"},
			{"empty body", ``, "", 400, "bad_request"},
			{"two values", `{"name":"x","scopes":["all"]} {}`, "", 400, "bad_request"},
			{"unknown field", `{"name":"x","scopes":["all"],"admin":true}`, "", 400, "bad_request"},
			{"wrong type", `{"name":7,"scopes":["all"]}`, "", 400, "bad_request"},
			{"scopes not a list", `{"name":"x","scopes":"all"}`, "", 400, "bad_request"},
			{"oversized", big, "", 413, "too_large"},
			{"wrong content type", `{"name":"x","scopes":["all"]}`, "text/plain", 415, "unsupported_media_type"},
			{"unknown scope", `{"name":"x","scopes":["sales","warp.drive"]}`, "", 422, gatehouse.EINVALID},
			{"no scopes", `{"name":"x","scopes":[]}`, "", 422, gatehouse.EINVALID},
			{"no name", `{"name":" ","scopes":["all"]}`, "", 422, gatehouse.EINVALID},
			{"past expiry", `{"name":"x","scopes":["all"],"expires_at":"` + past + `"}`, "", 422, gatehouse.EINVALID},
			{"expiry not RFC 3339", `{"name":"x","scopes":["all"],"expires_at":"tomorrow"}`, "", 422, gatehouse.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := snapshot(t, e, f.token)
				r := req{method: "POST", path: "/api/v1/tokens", token: f.token, body: tt.body}
				if tt.contentType != "" {
					r.header = map[string]string{"Content-Type": tt.contentType}
				}
				expect(t, e.do(t, r), tt.status, tt.code)
				assertUnchanged(t, before, snapshot(t, e, f.token))
			})
		}
		t.Run("field named", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: `{"name":"x","scopes":["warp.drive"]}`})
			if got := decode[struct {
				Error struct{ Field, Message string }
			}](t, res.body); got.Error.Field != "scopes" || !strings.Contains(got.Error.Message, "warp.drive") {
				t.Errorf("error = %+v", got.Error)
			}
		})
	})
}

// state is what a tenant's management API shows, to prove a refused
// request changed nothing.
type state struct {
	Tokens, Users, Settings, Audit json.RawMessage
}

func snapshot(t *testing.T, e *testEnv, token string) state {
	t.Helper()
	return state{
		Tokens:   e.get(t, "/api/v1/tokens", token),
		Users:    e.get(t, "/api/v1/users", token),
		Settings: e.get(t, "/api/v1/settings", token),
		Audit:    e.get(t, "/api/v1/audit-events?limit=200", token),
	}
}

func assertUnchanged(t *testing.T, before, after state) {
	t.Helper()
	for _, c := range []struct {
		name string
		a, b []byte
	}{
		{"tokens", before.Tokens, after.Tokens},
		{"users", before.Users, after.Users},
		{"settings", before.Settings, after.Settings},
		{"audit", before.Audit, after.Audit},
	} {
		if !bytes.Equal(c.a, c.b) {
			t.Errorf("%s changed:\nbefore %s\nafter  %s", c.name, c.a, c.b)
		}
	}
}
