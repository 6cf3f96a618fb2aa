package oauth2_test

import (
	"net/url"
	"testing"

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
		t.Run("its own client's replay still revokes", func(t *testing.T) {
			code := e.code(victim, e.owner.UserID, "catalog", challenge)
			at, _ := wantTokens(t, e.exchange(victim, vsec, code, verifier))
			wantError(t, e.exchange(victim, vsec, code, verifier), 400, "invalid_grant")
			e.wantCode(at, victim.ID, gatehouse.CodeRevoked)
		})
	})
}
