package middleware_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/middleware"
)

// TestAgainstGatehouse runs the middleware against a real Gatehouse
// (testenv: server.New on SQLite): it verifies, refuses, caches, and sees a
// revocation through the invalidation stream within one second (issue 6,
// done means 4).
func TestAgainstGatehouse(t *testing.T) {
	// Gatehouse, counting the verifications it is asked for.
	var verifies atomic.Int64
	e := testenv.New(t, testenv.Options{
		Handler: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/api/v1/verify" {
					verifies.Add(1)
				}
				h.ServeHTTP(w, r)
			})
		},
		Tenant: testenv.Seed{Slug: "acme", Name: "Acme", Email: "owner@acme.test", Plan: gatehouse.PlanStandard},
	})
	ctx, s, owner := e.Ctx, e.Server, e.Owner
	_, caller, err := s.Admin.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "resource server", Scopes: []string{"verify"}})
	if err != nil {
		t.Fatal(err)
	}
	pat, token, err := s.Admin.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "integrator", Scopes: []string{"catalog"}})
	if err != nil {
		t.Fatal(err)
	}

	// The resource server.
	v, err := middleware.New(middleware.Config{Endpoint: e.URL, Token: caller})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.Run(runCtx)
	}()
	t.Cleanup(func() { stop(); <-done }) // before Gatehouse closes: the stream must end first
	products := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		json.NewEncoder(w).Encode(p)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /products/{sku}", v.Require("catalog.products")(products))
	mux.Handle("GET /customers/{id}", v.Require("customers")(products))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)

	call := func(path, tok string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", api.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	deadline := time.Now().Add(5 * time.Second)
	for !v.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("the invalidation stream did not come up")
		}
		time.Sleep(5 * time.Millisecond)
	}

	status, body := call("/products/1", token)
	var p middleware.Principal
	if status != 200 || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("valid token: %d %s", status, body)
	}
	if p.Tenant != "acme" || p.Kind != "pat" || p.Subject == "" || strings.Join(p.Scopes, " ") != "catalog" {
		t.Fatalf("principal = %+v", p)
	}
	t.Logf("200 %s", strings.TrimSpace(body))

	for _, tc := range []struct {
		path, tok string
		status    int
		code      string
	}{
		{"/products/1", "", 401, "MISSING"},
		{"/products/1", secret.NewToken(gatehouse.KindPAT), 401, "UNKNOWN"},
		{"/products/1", token[:len(token)-1] + "x", 401, "MALFORMED"},
		{"/customers/1", token, 403, "INSUFFICIENT_SCOPE"},
	} {
		status, body := call(tc.path, tc.tok)
		if status != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) {
			t.Fatalf("GET %s: %d %s, want %d %s", tc.path, status, body, tc.status, tc.code)
		}
		t.Logf("%d %s", status, strings.TrimSpace(body))
	}

	// The cache: asking again does not reach Gatehouse.
	before := verifies.Load()
	for range 10 {
		if status, body := call("/products/1", token); status != 200 {
			t.Fatalf("cached: %d %s", status, body)
		}
	}
	if n := verifies.Load() - before; n != 0 {
		t.Fatalf("10 cached calls asked Gatehouse %d times, want 0", n)
	}

	// Revocation through the stream, within one second.
	revoked := time.Now()
	if err := s.Admin.RevokeCredential(ctx, owner, gatehouse.KindPAT, pat.ID); err != nil {
		t.Fatal(err)
	}
	for {
		status, body := call("/products/1", token)
		if status == 401 && strings.Contains(body, "REVOKED") {
			break
		}
		if status != 200 {
			t.Fatalf("while waiting for the revocation: %d %s", status, body)
		}
		if time.Since(revoked) > time.Second {
			t.Fatal("the revocation was not seen within one second")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revocation seen by the middleware after %v", time.Since(revoked).Round(time.Millisecond))
}
