package oauth2

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// RevokeHandler serves POST /oauth2/revoke (RFC 7009).
//
// The client authenticates as at the token endpoint (public clients name
// themselves with client_id). Revoking an access token revokes that token;
// revoking a refresh token revokes its whole grant, access tokens included
// (RFC 7009 §2.1: "SHOULD also invalidate all access tokens based on the
// same authorization grant"). token_type_hint is optional and not needed:
// the token's prefix tells its kind.
//
// A token that is unknown, malformed, already revoked or of another kind
// (a PAT, an API key) is answered 200 and left alone (RFC 7009 §2.2). A
// token issued to another client is refused with unauthorized_client and
// left alone (RFC 7009 §2.1: the server "verifies whether the token was
// issued to the client making the revocation request. If this validation
// fails, the request is refused"; Hydra answers the same): one client
// cannot revoke another's tokens, and a client that tries learns that it
// holds a token that is not its own, which it knew.
func (p *Provider) RevokeHandler() http.Handler { return p.serve(p.revoke) }

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	client, _, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return err
	}
	allowOrigin(w, r, client)
	tok := form.Get("token")
	if tok == "" {
		return invalidRequest("token is missing")
	}
	if err := p.revokeToken(r.Context(), client, tok); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *Provider) revokeToken(ctx context.Context, client *gatehouse.Client, tok string) error {
	kind, ok := secret.ParseToken(tok)
	if !ok || (kind != gatehouse.KindOAuth2Access && kind != gatehouse.KindOAuth2Refresh) {
		return nil
	}
	cred, err := p.store.FindCredentialByHash(ctx, secret.HashBytes(tok))
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil
	} else if err != nil {
		return fmt.Errorf("find token: %w", err)
	}
	if cred.Kind != kind {
		return nil
	}
	if cred.ClientID != client.ID || cred.TenantID != client.TenantID {
		return unauthorizedClient("the token was not issued to this client")
	}
	if cred.Revoked() {
		return nil
	}
	now := p.clock()
	if kind == gatehouse.KindOAuth2Refresh && cred.GrantID != "" {
		if err := p.store.RevokeGrant(ctx, cred.TenantID, cred.GrantID, now); err != nil {
			return fmt.Errorf("revoke grant: %w", err)
		}
		return nil
	}
	if err := p.store.RevokeCredential(ctx, cred.TenantID, cred.ID, now); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}
