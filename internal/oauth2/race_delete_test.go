package oauth2_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// racingStore is the real store with one deletion run at the worst moment
// for a token request: after every check the token endpoint makes itself,
// just before it stores the tokens.
type racingStore struct {
	*sqlstore.DB
	once   sync.Once
	delete func()
}

func (s *racingStore) IssueTokens(ctx context.Context, r *gatehouse.TokenIssue) error {
	s.once.Do(s.delete)
	return s.DB.IssueTokens(ctx, r)
}

// serveRacing points e's requests at a provider over a racingStore that
// runs del before the first token is stored.
func (e *env) serveRacing(t *testing.T, del func()) {
	rs := &racingStore{DB: e.store, delete: del}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	p := provider.New(provider.Config{Store: rs, Tree: e.tree, Verifier: e.v, Issuer: "http://gatehouse.test", Now: e.clock.Now, Log: log})
	mux := http.NewServeMux()
	mux.Handle("POST /oauth2/token", p.TokenHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	orig, client := e.url, e.http
	t.Cleanup(func() { e.url, e.http = orig, client })
	e.url, e.http = srv.URL, srv.Client()
}

// liveTokens counts the tenant's live OAuth 2.0 credentials of app.
func (e *env) liveTokens(t *testing.T, clientID string) int {
	list, err := e.store.ListCredentials(e.ctx, e.tenant.ID, gatehouse.CredentialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range list {
		if c.ClientID == clientID && !c.Expired(e.clock.Now()) {
			n++
		}
	}
	return n
}

// TestTokenRacingDeletion: a token request racing the deletion of its app,
// or the removal of its user's membership, cannot store a token for a
// deleted app or a removed member: the store checks both in the
// transaction that stores the token (issue 12).
func TestTokenRacingDeletion(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		t.Run("client_credentials, app deleted", func(t *testing.T) {
			c, sec := e.app(e.owner, true, []string{"catalog"}, gatehouse.GrantClientCredentials)
			e.serveRacing(t, func() {
				if err := e.admin.DeleteClient(e.ctx, e.owner, c.ID); err != nil {
					t.Errorf("delete app: %v", err)
				}
			})
			a := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ID, sec)
			if a.Status == http.StatusOK {
				t.Errorf("token request racing its app's deletion answered 200: %s", a.Raw)
			}
			if n := e.liveTokens(t, c.ID); n != 0 {
				t.Errorf("%d live tokens stored for the deleted app", n)
			}
		})
		t.Run("confidential refresh, member removed", func(t *testing.T) {
			op := admin.Actor{TenantID: e.tenant.ID, Name: admin.OperatorName, Operator: true}
			m, err := e.admin.AddMember(e.ctx, op, admin.NewMember{Email: "leaving@acme.test", Role: gatehouse.RoleAdmin})
			if err != nil {
				t.Fatal(err)
			}
			c, sec := e.app(e.owner, true, []string{"catalog"})
			verifier, challenge := pkce("rm")
			tok := e.exchange(c, sec, e.code(c, m.UserID, "catalog", challenge), verifier)
			if tok.Status != http.StatusOK {
				t.Fatalf("exchange: %d %s", tok.Status, tok.Raw)
			}
			e.serveRacing(t, func() {
				if err := e.admin.RemoveMember(e.ctx, e.owner, m.UserID); err != nil {
					t.Errorf("remove member: %v", err)
				}
			})
			a := e.refresh(c, sec, tok.str("refresh_token"), "")
			if a.Status != http.StatusBadRequest || a.str("error") != "invalid_grant" {
				t.Errorf("refresh racing the user's removal answered %d %s, want 400 invalid_grant", a.Status, a.Raw)
			}
			if n := e.liveTokens(t, c.ID); n != 0 {
				t.Errorf("%d live tokens stored for the removed member", n)
			}
		})
	})
}
