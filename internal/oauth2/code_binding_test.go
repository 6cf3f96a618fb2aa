package oauth2_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
)

// TestCodeBoundToClient: RFC 6749 §4.1.3, RFC 9700 §4.2.4 — only the
// client a code was issued to may consume it or, by replaying it, revoke
// what it issued. Another client presenting it is refused and changes
// nothing.
func TestCodeBoundToClient(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		victim, vsec := e.app(e.owner, true, []string{"catalog"})
		attacker, asec := e.app(e.owner, true, []string{"catalog"})
		public, _ := e.app(e.owner, false, []string{"catalog"})
		verifier, challenge := pkce("cb")

		t.Run("a used code replayed by another client", func(t *testing.T) {
			code := e.code(victim, e.owner.UserID, "catalog", challenge)
			at, rt := wantTokens(t, e.exchange(victim, vsec, code, verifier))
			// A leaked, used code: any public client_id, or another
			// confidential client, presents it.
			wantError(t, e.exchange(public, "", code, verifier), 400, "invalid_grant")
			wantError(t, e.exchange(attacker, asec, code, verifier), 400, "invalid_grant")
			e.wantCode(at, victim.ID, gatehouse.CodeValid)
			wantTokens(t, e.refresh(victim, vsec, rt, ""))
		})
		t.Run("an unused code presented by another client", func(t *testing.T) {
			code := e.code(victim, e.owner.UserID, "catalog", challenge)
			wantError(t, e.exchange(attacker, asec, code, verifier), 400, "invalid_grant")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}, "client_id": {public.ID}}
			wantError(t, e.post("/oauth2/token", form, "", ""), 400, "invalid_grant")
			// The code is not burnt: its own client still redeems it.
			at, _ := wantTokens(t, e.exchange(victim, vsec, code, verifier))
			e.wantCode(at, victim.ID, gatehouse.CodeValid)
		})
		t.Run("golang.org/x/oauth2 as the other client", func(t *testing.T) {
			ctx := context.WithValue(e.ctx, oauth2.HTTPClient, e.http)
			conf := func(id, sec string, style oauth2.AuthStyle) *oauth2.Config {
				return &oauth2.Config{ClientID: id, ClientSecret: sec, RedirectURL: redirectURI,
					Endpoint: oauth2.Endpoint{TokenURL: e.url + "/oauth2/token", AuthStyle: style}}
			}
			code := e.code(victim, e.owner.UserID, "catalog", challenge)
			for _, c := range []*oauth2.Config{conf(attacker.ID, asec, oauth2.AuthStyleInHeader), conf(public.ID, "", oauth2.AuthStyleInParams)} {
				_, err := c.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
					t.Fatalf("%s redeemed another client's code: %v", c.ClientID, err)
				}
			}
			tok, err := conf(victim.ID, vsec, oauth2.AuthStyleInHeader).Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("the code's own client: %v", err)
			}
			e.wantCode(tok.AccessToken, victim.ID, gatehouse.CodeValid)
		})
		t.Run("its own client's replay still revokes", func(t *testing.T) {
			code := e.code(victim, e.owner.UserID, "catalog", challenge)
			at, _ := wantTokens(t, e.exchange(victim, vsec, code, verifier))
			wantError(t, e.exchange(victim, vsec, code, verifier), 400, "invalid_grant")
			e.wantCode(at, victim.ID, gatehouse.CodeRevoked)
		})
	})
}
