package oauth2_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// deafStore is the real store as another node sees it: its writes are
// shared, but this node's change notifications never arrive, so only the
// cache TTL refreshes its tenant snapshots.
type deafStore struct{ *sqlstore.DB }

func (deafStore) Subscribe(func(gatehouse.Change)) func() { return func() {} }

// TestDisabledTenantEveryGrant: a disabled tenant's apps are refused by
// every grant, by revocation and by the authorization endpoint, although
// the tenant snapshot they are admitted with was cached before the
// tenant was disabled; codes and refresh tokens refused meanwhile work
// again once it is enabled. On a node that missed the change (deafStore)
// the refusal holds once the snapshot's TTL has passed: the staleness
// rule of verification, for every grant alike.
func TestDisabledTenantEveryGrant(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog"},
			gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials)
		pub, _ := e.app(e.owner, false, []string{"catalog"})
		verifier, challenge := pkce("dt")
		at, rt := wantTokens(t, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog", challenge), verifier))
		_, prt := wantTokens(t, e.exchange(pub, "", e.code(pub, e.owner.UserID, "catalog", challenge), verifier))
		code := e.code(c, e.owner.UserID, "catalog", challenge) // issued while enabled
		pcode := e.code(pub, e.owner.UserID, "catalog", challenge)
		cc := url.Values{"grant_type": {"client_credentials"}}
		wantTokens(t, e.post("/oauth2/token", cc, c.ID, sec)) // the snapshot is cached now

		// The other node, with its own verifier and provider over the
		// same database, its snapshot cached too.
		log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
		vb := verify.New(deafStore{e.store}, e.tree, verify.Options{Now: e.clock.Now, Logger: log})
		t.Cleanup(func() { vb.Close() })
		pb := provider.New(provider.Config{Store: e.store, Tree: e.tree, Verifier: vb, Issuer: e.p.Issuer(), Now: e.clock.Now, Log: log})
		mux := http.NewServeMux()
		mux.Handle("POST /oauth2/token", pb.TokenHandler())
		mux.Handle("POST /oauth2/revoke", pb.RevokeHandler())
		nodeB := httptest.NewServer(mux)
		t.Cleanup(nodeB.Close)
		nodeA, clientA := e.url, e.http
		onB := func(f func()) {
			t.Helper()
			e.url, e.http = nodeB.URL, nodeB.Client()
			defer func() { e.url, e.http = nodeA, clientA }()
			f()
		}
		onB(func() { wantTokens(t, e.post("/oauth2/token", cc, c.ID, sec)) })

		authorize := func(p *provider.Provider, client *gatehouse.Client) error {
			t.Helper()
			_, err := p.ParseAuthorize(e.ctx, url.Values{"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {redirectURI},
				"scope": {"catalog"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
			return err
		}
		refused := func(t *testing.T, p *provider.Provider) {
			t.Helper()
			wantError(t, e.post("/oauth2/token", cc, c.ID, sec), 401, "invalid_client")
			wantError(t, e.exchange(c, sec, code, verifier), 401, "invalid_client")
			wantError(t, e.exchange(pub, "", pcode, verifier), 401, "invalid_client")
			wantError(t, e.refresh(c, sec, rt, ""), 401, "invalid_client")
			wantError(t, e.refresh(pub, "", prt, ""), 401, "invalid_client")
			wantError(t, e.post("/oauth2/revoke", url.Values{"token": {at}}, c.ID, sec), 401, "invalid_client")
			for _, client := range []*gatehouse.Client{c, pub} {
				var ae *provider.AuthorizeError
				if err := authorize(p, client); !errors.As(err, &ae) || !ae.Redirect || ae.Code != "access_denied" {
					t.Errorf("authorize %s of a disabled tenant: %v", client.ID, err)
				}
			}
		}

		if _, err := e.admin.SetTenantDisabled(e.ctx, e.tenant.Slug, true); err != nil {
			t.Fatal(err)
		}
		t.Run("this node", func(t *testing.T) {
			refused(t, e.p)
			e.wantCode(at, c.ID, gatehouse.CodeTenantDisabled)
		})
		t.Run("a node that missed the change, after the TTL", func(t *testing.T) {
			e.clock.Advance(verify.DefaultCacheTTL)
			onB(func() { refused(t, pb) })
		})

		if _, err := e.admin.SetTenantDisabled(e.ctx, e.tenant.Slug, false); err != nil {
			t.Fatal(err)
		}
		e.wantCode(at, c.ID, gatehouse.CodeValid)
		if err := authorize(e.p, c); err != nil {
			t.Fatalf("authorize after enabling: %v", err)
		}
		wantTokens(t, e.post("/oauth2/token", cc, c.ID, sec))
		wantTokens(t, e.refresh(c, sec, rt, ""))
		wantTokens(t, e.refresh(pub, "", prt, "")) // not spent by the refusals
		wantTokens(t, e.exchange(c, sec, code, verifier))
		wantTokens(t, e.exchange(pub, "", pcode, verifier))
	})
}
