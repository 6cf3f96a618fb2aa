package e2e

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

const serviceToken = "operator-service-token-0123456789abcdef"

// TestCLITokenVerify: a token made by `gatehouse token create --json`
// answers every verification code it should at /api/v1/verify, and the
// database never holds it in plaintext (SQLite file and PostgreSQL table).
func TestCLITokenVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Run("sqlite", func(t *testing.T) {
		db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
		wantNoPlaintext(t, db, cliVerify(t, db, nil))
	})
	t.Run("postgres", func(t *testing.T) {
		direct := sqlstoretest.PostgresURL(t)
		u, _ := url.Parse(direct)
		proxy := newTCPProxy(t, u.Host)
		u.Host = proxy.addr
		u.RawQuery += "&connect_timeout=2"
		wantNoPlaintext(t, direct, cliVerify(t, u.String(), proxy))
	})
}

// cliVerify creates tokens with the CLI, then asks a server about them.
// With a proxy in front of PostgreSQL it also shows that a checksum typo is
// answered without the database. It returns the token it checked.
func cliVerify(t *testing.T, db string, proxy *tcpProxy) string {
	tok := bootstrap(t, db, "acme", "owner@acme.test", "manage verify sales", "--expires", "720h")
	if tok.ExpiresAt == nil || !strings.HasPrefix(tok.Token, "gate_pat_") {
		t.Fatalf("token create --json printed %+v", tok)
	}
	other := bootstrap(t, db, "other", "owner@other.test", "verify catalog")

	clock := testclock.Running() // the server's clock, moved ahead below
	te := testenv.New(t, testenv.Options{
		DatabaseURL: db,
		Config:      func(c *config.Config) { c.ServiceToken = serviceToken },
		Clock:       clock,
		NoTenant:    true, // the CLI made them
	})
	ctx, srvURL, client := te.Ctx, te.URL, te.HTTP

	ask := func(caller, credential, resource string) verifyAnswer {
		t.Helper()
		var ans verifyAnswer
		status, err := doJSON(ctx, client, "POST", srvURL+"/api/v1/verify", caller,
			map[string]string{"credential": credential, "resource": resource}, &ans)
		if err != nil || status != http.StatusOK {
			t.Fatalf("verify %q: %d %v", resource, status, err)
		}
		return ans
	}
	want := func(ans verifyAnswer, code gatehouse.Code) {
		t.Helper()
		if ans.Code != string(code) || ans.Valid != (code == gatehouse.CodeValid) {
			t.Fatalf("answer %+v, want %s", ans, code)
		}
	}

	ans := ask(serviceToken, tok.Token, "sales.orders")
	want(ans, gatehouse.CodeValid)
	if ans.Tenant != "acme" || ans.Kind != "pat" || ans.ExpiresAt == nil {
		t.Fatalf("VALID answer lacks tenant/kind/expiry: %+v", ans)
	}
	want(ask(tok.Token, tok.Token, "sales.orders"), gatehouse.CodeValid) // the token may verify itself: it has `verify`
	// The endpoint's direct route (server.hotRoute) takes POST only; the
	// rest reaches the mux as before.
	if resp, err := client.Get(srvURL + "/api/v1/verify"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET /api/v1/verify: %v %v, want 405 with Allow: POST", resp, err)
	} else {
		resp.Body.Close()
	}
	want(ask(serviceToken, tok.Token, "catalog.products"), gatehouse.CodeInsufficientScope)
	typo := []byte(tok.Token)
	if typo[12] == 'A' { // one character off, still base62
		typo[12] = 'B'
	} else {
		typo[12] = 'A'
	}
	want(ask(serviceToken, string(typo), "sales.orders"), gatehouse.CodeMalformed)
	want(ask(serviceToken, secret.NewToken(gatehouse.KindPAT), "sales.orders"), gatehouse.CodeUnknown)
	// Tenant isolation: tenant other's verify token learns nothing about acme's token.
	if a := ask(other.Token, tok.Token, "sales.orders"); a.Valid || a.Code != string(gatehouse.CodeUnknown) || a.Tenant != "" {
		t.Fatalf("another tenant's caller got %+v", a)
	}

	if proxy != nil {
		// MALFORMED needs no database: it is answered with PostgreSQL cut off,
		// while a well-formed token that is not cached cannot be.
		proxy.stop()
		want(ask(serviceToken, string(typo), "sales.orders"), gatehouse.CodeMalformed)
		var e map[string]any
		status, _ := doJSON(ctx, client, "POST", srvURL+"/api/v1/verify", serviceToken,
			map[string]string{"credential": secret.NewToken(gatehouse.KindPAT)}, &e)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("unknown token with the database down: %d, want 503", status)
		}
		proxy.start()
	}

	clock.SetOffset(721 * time.Hour)
	want(ask(serviceToken, tok.Token, "sales.orders"), gatehouse.CodeExpired)
	clock.SetOffset(0)

	status, err := doJSON(ctx, client, "DELETE", srvURL+"/api/v1/tokens/"+tok.ID, tok.Token, nil, nil)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("revoke: %d %v", status, err)
	}
	want(ask(serviceToken, tok.Token, "sales.orders"), gatehouse.CodeRevoked)
	return tok.Token
}
