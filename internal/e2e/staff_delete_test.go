package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/middleware"
)

// TestDeletedStaffTokenAnswersRevoked: a staff API token deleted over the
// management API (seed 001's Delete, whitelist and all) answers REVOKED
// from then on, like every ended credential, not UNKNOWN (issue 14), at
// every place a credential is judged: /api/v1/verify, the gateway and the
// Go middleware of a resource server. The VALID answers cached before by
// Gatehouse's verifier turn REVOKED at the next call, and the
// middleware's cache hears of it through the invalidation stream within a
// second; an address the deleted whitelist refused is told REVOKED too,
// not IP_NOT_ALLOWED. On SQLite and PostgreSQL.
func TestDeletedStaffTokenAnswersRevoked(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		e := newWLEnv(t, wlOptions{databaseURL: databaseURL})
		ctx := context.Background()
		_, tok := e.generate(t, nil)
		e.allow(t, "loopback", "127.0.0.0/8")
		_, manage, err := e.s.Admin.CreateCredential(ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "console admin", Scopes: []string{gatehouse.ScopeManage}})
		if err != nil {
			t.Fatal(err)
		}

		// A resource server with the middleware, its stream connected.
		mw, err := middleware.New(middleware.Config{Endpoint: e.url, Token: e.verifyPAT})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); mw.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done })
		mux := http.NewServeMux()
		mux.Handle("GET /orders", mw.Require("sales.orders")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })))
		rs := httptest.NewServer(mux)
		t.Cleanup(rs.Close)
		for deadline := time.Now().Add(5 * time.Second); !mw.Connected(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the middleware's invalidation stream did not come up")
			}
		}
		resource := func() (int, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", rs.URL+"/orders", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp.StatusCode, string(gatehouse.CodeValid)
			}
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("middleware refusal %d: %v", resp.StatusCode, err)
			}
			return resp.StatusCode, body.Error.Code
		}
		client := wlClientFrom(t, "127.0.0.1")

		// Before: VALID everywhere, twice (the second answers are the caches').
		for range 2 {
			wantVerify(t, "before", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.0.1"), gatehouse.CodeValid)
			e.wantGateway(t, "before", e.gateway(t, client, bearer(tok)), gatehouse.CodeValid, gatehouse.KindStaff)
			if status, code := resource(); status != http.StatusOK {
				t.Fatalf("middleware before: %d %s", status, code)
			}
		}
		wantVerify(t, "before, not whitelisted", e.verify(t, e.verifyPAT, tok, "sales.orders", "203.0.113.9"), gatehouse.CodeIPNotAllowed)

		// Delete, as the API Auth tab's Delete does.
		status, err := doJSON(ctx, &http.Client{Timeout: 10 * time.Second}, http.MethodDelete,
			e.url+"/api/v1/users/"+e.staffID+"/api-token", manage, nil, nil)
		if err != nil || status != http.StatusNoContent {
			t.Fatalf("DELETE api-token: %d %v", status, err)
		}
		deleted := time.Now()

		// At once: REVOKED at the verifier and the gateway.
		wantVerify(t, "after", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.0.1"), gatehouse.CodeRevoked)
		wantVerify(t, "after, not whitelisted", e.verify(t, e.verifyPAT, tok, "sales.orders", "203.0.113.9"), gatehouse.CodeRevoked)
		wantVerify(t, "after, no resource", e.verify(t, e.verifyPAT, tok, "", ""), gatehouse.CodeRevoked)
		e.wantGateway(t, "after", e.gateway(t, client, bearer(tok)), gatehouse.CodeRevoked, "")
		// The middleware, through its stream, within a second.
		for {
			status, code := resource()
			if status == http.StatusUnauthorized && code == string(gatehouse.CodeRevoked) {
				break
			}
			if status != http.StatusOK {
				t.Fatalf("middleware after the deletion: %d %s, want 401 REVOKED", status, code)
			}
			if time.Since(deleted) > time.Second {
				t.Fatal("the middleware did not see the deletion within one second")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
