package api

import (
	"bytes"
	"crypto/sha256"
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

// newEnterprise seeds a tenant on the Enterprise plan (OAuth apps need it).
func (e *testEnv) newEnterprise(t *testing.T, slug string) *fixture {
	t.Helper()
	f := e.newTenant(t, slug)
	f.tenant.Plan = gatehouse.PlanEnterprise
	if err := e.db.UpdateTenant(t.Context(), f.tenant); err != nil {
		t.Fatalf("enterprise plan: %v", err)
	}
	return f
}

// newClient registers an app over the API; it must answer 201.
func (e *testEnv) newClient(t *testing.T, token string, body any) oauthClientJSON {
	t.Helper()
	res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients", token: token, body: body})
	expect(t, res, http.StatusCreated, "")
	return decode[oauthClientJSON](t, res.body)
}

const faxApp = `{"name":"Fax sender","redirect_uris":["https://fax.example/callback","http://127.0.0.1:8765/cb"],"scopes":["sales","catalog.products"],"confidential":true,"grant_types":["authorization_code","refresh_token","client_credentials"]}`

// TestOAuthClients walks seed 002's Activate over the API: register, read
// the Client ID and Client Secret once, list, get, rotate with and without
// a grace period, delete.
func TestOAuthClients(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		var fax, spa oauthClientJSON
		t.Run("activate confidential", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients", token: f.token, body: faxApp})
			expect(t, res, http.StatusCreated, "")
			fax = decode[oauthClientJSON](t, res.body)
			if !strings.HasPrefix(fax.ClientID, "APIK-") || len(fax.ClientID) < 20 {
				t.Errorf("client_id = %q", fax.ClientID)
			}
			if len(fax.ClientSecret) < 43 { // ≥ 256 bits of base62
				t.Errorf("client_secret = %q", fax.ClientSecret)
			}
			if fax.Name != "Fax sender" || !fax.Confidential || fax.CreatedAt.IsZero() || fax.PreviousSecretExpiresAt != nil {
				t.Errorf("created = %+v", fax)
			}
			if want := []string{"https://fax.example/callback", "http://127.0.0.1:8765/cb"}; !slices.Equal(fax.RedirectURIs, want) {
				t.Errorf("redirect_uris = %v", fax.RedirectURIs)
			}
			if want := []string{"catalog.products", "sales"}; !slices.Equal(fax.Scopes, want) {
				t.Errorf("scopes = %v, want %v (tree order)", fax.Scopes, want)
			}
			if want := []string{"authorization_code", "client_credentials", "refresh_token"}; !slices.Equal(fax.GrantTypes, want) {
				t.Errorf("grant_types = %v", fax.GrantTypes)
			}
			if fax.SecretHint == nil || !strings.HasPrefix(fax.ClientSecret, strings.TrimSuffix(*fax.SecretHint, "…")) {
				t.Errorf("secret_hint = %v", fax.SecretHint)
			}
			if got := res.header.Get("Location"); got != "/api/v1/oauth-clients/"+fax.ClientID {
				t.Errorf("Location = %q", got)
			}
		})
		t.Run("activate public with default grants", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients", token: f.token,
				body: `{"name":"SPA","redirect_uris":["http://localhost:3000/cb"],"scopes":["all"],"confidential":false}`})
			expect(t, res, http.StatusCreated, "")
			if bytes.Contains(res.body, []byte(`"client_secret"`)) {
				t.Errorf("a public app got a secret: %s", res.body)
			}
			spa = decode[oauthClientJSON](t, res.body)
			if spa.Confidential || spa.SecretHint != nil || !slices.Equal(spa.GrantTypes, []string{"authorization_code", "refresh_token"}) {
				t.Errorf("public app = %+v", spa)
			}
			if !bytes.Contains(res.body, []byte(`"secret_hint":null`)) {
				t.Errorf("body %s lacks secret_hint null", res.body)
			}
		})
		t.Run("list and get never show the secret", func(t *testing.T) {
			raw := e.get(t, "/api/v1/oauth-clients", f.token)
			if bytes.Contains(raw, []byte(fax.ClientSecret)) || bytes.Contains(raw, []byte(`"client_secret"`)) {
				t.Fatalf("list shows a secret: %s", raw)
			}
			got := decode[list[oauthClientJSON]](t, raw)
			if len(got.Items) != 2 {
				t.Fatalf("items = %s", raw)
			}
			ids := []string{got.Items[0].ClientID, got.Items[1].ClientID}
			if !slices.Contains(ids, fax.ClientID) || !slices.Contains(ids, spa.ClientID) {
				t.Errorf("ids = %v", ids)
			}
			one := e.get(t, "/api/v1/oauth-clients/"+fax.ClientID, f.token)
			want := fax
			want.ClientSecret = ""
			if g := decode[oauthClientJSON](t, one); !equalJSON(t, g, want) || bytes.Contains(one, []byte(fax.ClientSecret)) {
				t.Errorf("get = %s, want %+v", one, want)
			}
		})
		t.Run("rotate with a grace period", func(t *testing.T) {
			before := time.Now()
			res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients/" + fax.ClientID + "/rotate-secret", token: f.token, body: `{"grace_period":"24h"}`})
			expect(t, res, http.StatusOK, "")
			got := decode[rotateSecretJSON](t, res.body)
			if got.ClientID != fax.ClientID || len(got.ClientSecret) < 43 || got.ClientSecret == fax.ClientSecret {
				t.Fatalf("rotated = %+v", got)
			}
			if got.PreviousSecretExpiresAt == nil || got.PreviousSecretExpiresAt.Before(before.Add(24*time.Hour-time.Minute)) || got.PreviousSecretExpiresAt.After(time.Now().Add(24*time.Hour+time.Minute)) {
				t.Errorf("previous_secret_expires_at = %v", got.PreviousSecretExpiresAt)
			}
			stored, err := e.db.FindClient(t.Context(), fax.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stored.SecretHash, secret.HashBytes(got.ClientSecret)) || !bytes.Equal(stored.PrevSecretHash, secret.HashBytes(fax.ClientSecret)) {
				t.Error("stored hashes are not the new and the previous secret's SHA-256")
			}
			fax.ClientSecret = got.ClientSecret
		})
		t.Run("rotate without a body", func(t *testing.T) {
			res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients/" + fax.ClientID + "/rotate-secret", token: f.token})
			expect(t, res, http.StatusOK, "")
			got := decode[rotateSecretJSON](t, res.body)
			if got.PreviousSecretExpiresAt != nil || !bytes.Contains(res.body, []byte(`"previous_secret_expires_at":null`)) {
				t.Errorf("rotated without grace = %s", res.body)
			}
			stored, _ := e.db.FindClient(t.Context(), fax.ClientID)
			if stored.PrevSecretHash != nil || stored.PrevSecretExpiresAt != nil {
				t.Errorf("the previous secret still works: %+v", stored)
			}
		})
		t.Run("a public app has no secret to rotate", func(t *testing.T) {
			expect(t, e.do(t, req{method: "POST", path: "/api/v1/oauth-clients/" + spa.ClientID + "/rotate-secret", token: f.token, body: `{}`}), http.StatusConflict, gatehouse.ECONFLICT)
		})
		t.Run("delete", func(t *testing.T) {
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/oauth-clients/" + fax.ClientID, token: f.token}), http.StatusNoContent, "")
			expect(t, e.do(t, req{method: "GET", path: "/api/v1/oauth-clients/" + fax.ClientID, token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
			expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/oauth-clients/" + fax.ClientID, token: f.token}), http.StatusNotFound, gatehouse.ENOTFOUND)
			got := decode[list[oauthClientJSON]](t, e.get(t, "/api/v1/oauth-clients", f.token))
			if len(got.Items) != 1 || got.Items[0].ClientID != spa.ClientID {
				t.Errorf("after delete = %+v", got.Items)
			}
		})
		t.Run("audited", func(t *testing.T) {
			raw := e.get(t, "/api/v1/audit-events?limit=50", f.token)
			for _, a := range []string{"oauth_client.create", "oauth_client.rotate_secret", "oauth_client.delete"} {
				if !bytes.Contains(raw, []byte(a)) {
					t.Errorf("audit lacks %s", a)
				}
			}
			if bytes.Contains(raw, []byte(fax.ClientSecret)) {
				t.Error("the audit log shows a secret")
			}
		})
	})
}

func TestOAuthClientValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		app := e.newClient(t, f.token, faxApp)
		ok := func(over string) string { // a valid app with its name field replaced
			return strings.Replace(`{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":["all"],"confidential":true}`, `"name":"x"`, over, 1)
		}
		rotate := "/api/v1/oauth-clients/" + app.ClientID + "/rotate-secret"
		tests := []struct {
			name         string
			method, path string
			body         any
			status       int
			code, field  string
		}{
			{"malformed JSON", "POST", "/api/v1/oauth-clients", `{"name":`, 400, "bad_request", ""},
			{"unknown field", "POST", "/api/v1/oauth-clients", ok(`"name":"x","client_secret":"mine"`), 400, "bad_request", ""},
			{"redirect_uris not a list", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":"https://a.example/cb","scopes":["all"]}`, 400, "bad_request", ""},
			{"no name", "POST", "/api/v1/oauth-clients", ok(`"name":"  "`), 422, gatehouse.EINVALID, "name"},
			{"name too long", "POST", "/api/v1/oauth-clients", ok(`"name":"` + strings.Repeat("n", 101) + `"`), 422, gatehouse.EINVALID, "name"},
			{"http not loopback", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["http://app.example/cb"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"fragment", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://app.example/cb#frag"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"empty fragment", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://app.example/cb#"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"relative", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["/cb"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"custom scheme", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["javascript:alert(1)"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"user info", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://u:p@app.example/cb"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"duplicate redirect", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://a.example/cb","https://a.example/cb"],"scopes":["all"]}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"code grant without redirect", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":[],"scopes":["all"],"confidential":true}`, 422, gatehouse.EINVALID, "redirect_uris"},
			{"unknown scope", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":["sales","warp.drive"]}`, 422, gatehouse.EINVALID, "scopes"},
			{"no scopes", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":[]}`, 422, gatehouse.EINVALID, "scopes"},
			{"client_credentials on a public app", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":["all"],"confidential":false,"grant_types":["authorization_code","client_credentials"]}`, 422, gatehouse.EINVALID, "grant_types"},
			{"unknown grant", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":["all"],"grant_types":["password"]}`, 422, gatehouse.EINVALID, "grant_types"},
			{"implicit grant", "POST", "/api/v1/oauth-clients", `{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":["all"],"grant_types":["implicit"]}`, 422, gatehouse.EINVALID, "grant_types"},
			{"grace not a duration", "POST", rotate, `{"grace_period":"a day"}`, 422, gatehouse.EINVALID, "grace_period"},
			{"grace as a number", "POST", rotate, `{"grace_period":3600}`, 400, "bad_request", ""},
			{"grace too long", "POST", rotate, `{"grace_period":"169h"}`, 422, gatehouse.EINVALID, "grace_period"},
			{"grace negative", "POST", rotate, `{"grace_period":"-1h"}`, 422, gatehouse.EINVALID, "grace_period"},
			{"rotate unknown field", "POST", rotate, `{"grace":"1h"}`, 400, "bad_request", ""},
			{"get unknown", "GET", "/api/v1/oauth-clients/APIK-NOPE", nil, 404, gatehouse.ENOTFOUND, ""},
			{"rotate unknown", "POST", "/api/v1/oauth-clients/APIK-NOPE/rotate-secret", `{}`, 404, gatehouse.ENOTFOUND, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := e.clientState(t, f)
				res := e.do(t, req{method: tt.method, path: tt.path, token: f.token, body: tt.body})
				expect(t, res, tt.status, tt.code)
				if tt.field != "" {
					if got := errorOf(t, res.body); got.Field != tt.field {
						t.Errorf("field = %q, want %q (message %q)", got.Field, tt.field, got.Message)
					}
				}
				if after := e.clientState(t, f); after != before {
					t.Errorf("apps changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	})
}

// clientState is every app of the tenant as stored, secrets' hashes
// included, to prove a refused request changed nothing.
func (e *testEnv) clientState(t *testing.T, f *fixture) string {
	t.Helper()
	cs, err := e.db.ListClients(t.Context(), f.tenant.ID, gatehouse.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.ID + " " + c.Name + " " + strings.Join(c.RedirectURIs, ",") + " " + string(c.SecretHash) + string(c.PrevSecretHash) + "\n")
	}
	return b.String()
}

func TestOAuthClientRolesAndPlan(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		app := e.newClient(t, f.token, faxApp)
		staff := e.staffCaller(t, f)
		for _, tt := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/oauth-clients", faxApp},
			{"GET", "/api/v1/oauth-clients", nil},
			{"GET", "/api/v1/oauth-clients/" + app.ClientID, nil},
			{"DELETE", "/api/v1/oauth-clients/" + app.ClientID, nil},
			{"POST", "/api/v1/oauth-clients/" + app.ClientID + "/rotate-secret", `{}`},
		} {
			t.Run("staff "+tt.method+" "+tt.path, func(t *testing.T) {
				before := e.clientState(t, f)
				res := e.do(t, req{method: tt.method, path: tt.path, token: staff, body: tt.body})
				expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
				if bytes.Contains(res.body, []byte(app.ClientID)) || bytes.Contains(res.body, []byte("Fax")) {
					t.Errorf("refusal leaks: %s", res.body)
				}
				if after := e.clientState(t, f); after != before {
					t.Error("a staff call changed the apps")
				}
			})
		}
		t.Run("standard plan", func(t *testing.T) {
			std := e.newTenant(t, "small")
			res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients", token: std.token, body: faxApp})
			expect(t, res, http.StatusForbidden, gatehouse.EFORBIDDEN)
			if got := errorOf(t, res.body); !strings.Contains(got.Message, "Enterprise plan") {
				t.Errorf("message = %q, want the plan named", got.Message)
			}
			if got := decode[list[oauthClientJSON]](t, e.get(t, "/api/v1/oauth-clients", std.token)); len(got.Items) != 0 {
				t.Errorf("standard tenant lists %+v", got.Items)
			}
		})
	})
}

func TestOAuthClientIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		a := e.newEnterprise(t, "alpha")
		b := e.newEnterprise(t, "beta")
		aApp := e.newClient(t, a.token, faxApp)
		bApp := e.newClient(t, b.token, strings.Replace(faxApp, "Fax sender", "Beta fax", 1))
		bBefore := e.clientState(t, b)
		for _, tt := range []struct {
			method, suffix string
			body           any
		}{{"GET", "", nil}, {"DELETE", "", nil}, {"POST", "/rotate-secret", `{"grace_period":"1h"}`}} {
			t.Run(tt.method+tt.suffix, func(t *testing.T) {
				res := e.do(t, req{method: tt.method, path: "/api/v1/oauth-clients/" + bApp.ClientID + tt.suffix, token: a.token, body: tt.body})
				expect(t, res, http.StatusNotFound, gatehouse.ENOTFOUND)
				ghost := e.do(t, req{method: tt.method, path: "/api/v1/oauth-clients/APIK-GHOST" + tt.suffix, token: a.token, body: tt.body})
				if !bytes.Equal(res.body, ghost.body) {
					t.Errorf("B's app answers %s, a missing one %s", res.body, ghost.body)
				}
			})
		}
		raw := e.get(t, "/api/v1/oauth-clients", a.token)
		if got := decode[list[oauthClientJSON]](t, raw); len(got.Items) != 1 || got.Items[0].ClientID != aApp.ClientID || bytes.Contains(raw, []byte("Beta")) {
			t.Errorf("A's list = %s", raw)
		}
		if after := e.clientState(t, b); after != bBefore {
			t.Error("B's apps changed")
		}
	})
}

// TestOAuthClientSecretAtRest: a client secret leaves the server only in
// the responses that create or rotate it; each backend stores its SHA-256.
func TestOAuthClientSecretAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newEnterprise(t, "acme")
		app := e.newClient(t, f.token, faxApp)
		res := e.do(t, req{method: "POST", path: "/api/v1/oauth-clients/" + app.ClientID + "/rotate-secret", token: f.token, body: `{"grace_period":"1h"}`})
		expect(t, res, http.StatusOK, "")
		rotated := decode[rotateSecretJSON](t, res.body).ClientSecret
		secrets := []string{app.ClientSecret, rotated}
		for _, s := range secrets {
			if len(s) < 43 {
				t.Fatalf("secret %q", s)
			}
		}
		stored, err := e.db.FindClient(t.Context(), app.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range [][]byte{stored.PrevSecretHash, stored.SecretHash} {
			if sum := sha256.Sum256([]byte(secrets[i])); !bytes.Equal(want, sum[:]) {
				t.Errorf("stored hash %d = %x, want SHA-256 %x", i, want, sum)
			}
		}
		for _, path := range []string{"/api/v1/oauth-clients", "/api/v1/oauth-clients/" + app.ClientID, "/api/v1/audit-events?limit=200"} {
			raw := e.get(t, path, f.token)
			for _, s := range secrets {
				if bytes.Contains(raw, []byte(s[4:])) {
					t.Errorf("GET %s shows a secret", path)
				}
			}
		}

		if e.pgURL != "" {
			db := e.rawDB(t)
			for _, q := range []string{`SELECT c::text FROM oauth_clients c`, `SELECT a::text FROM audit_events a`} {
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
					for _, s := range secrets {
						if strings.Contains(row, s[4:]) {
							t.Errorf("%s: a row holds a client secret: %s", q, row)
						}
					}
				}
				rows.Close()
				if n == 0 {
					t.Errorf("%s: no rows", q)
				}
			}
			return
		}
		files, err := filepath.Glob(e.dbPath + "*")
		if err != nil || len(files) < 2 {
			t.Fatalf("database files = %v, %v", files, err)
		}
		found := false
		sum := sha256.Sum256([]byte(rotated))
		for _, p := range files {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if bytes.Contains(raw, []byte(s[4:])) {
					t.Errorf("%s contains a client secret", filepath.Base(p))
				}
			}
			found = found || bytes.Contains(raw, sum[:])
		}
		if !found {
			t.Error("the secret's hash is in none of the database files")
		}
	})
}
