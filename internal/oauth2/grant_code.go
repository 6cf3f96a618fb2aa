package oauth2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// codeVerifierRE is RFC 7636 §4.1's code_verifier: 43 to 128 unreserved
// characters.
var codeVerifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// grantCode redeems an authorization code (RFC 6749 §4.1.3) with one store
// call, Store.RedeemAuthCode, which does every check against the code in
// its own transaction:
//
//   - the code must have been issued to the authenticated client (RFC 6749
//     §4.1.3): another client presenting it — a leaked code, used or not —
//     is refused and changes nothing (RFC 9700 §4.2.4), so it can neither
//     burn the code nor revoke what it issued;
//   - presented again by its own client it is refused and revokes every
//     token its first redemption issued (RFC 6749 §4.1.2);
//   - otherwise it is consumed before its remaining checks (expiry,
//     redirect_uri, PKCE, the user's membership and consent), so a code is
//     good for one attempt, right or wrong: a wrong PKCE verifier burns it
//     too, which leaves nothing to brute-force. Its tokens are stored in
//     the same transaction, so of 20 concurrent redemptions exactly one
//     gets tokens.
func (p *Provider) grantCode(ctx context.Context, client *gatehouse.Client, form url.Values) (*tokenResponse, error) {
	if !client.AllowsGrant(gatehouse.GrantAuthorizationCode) {
		return nil, unauthorizedClient("the client may not use the authorization_code grant")
	}
	code := form.Get("code")
	if code == "" {
		return nil, invalidRequest("code is missing")
	}
	// RFC 6749 §4.1.3: redirect_uri must be identical to the authorization
	// request's. Gatehouse stores the URI the code was sent to; a client
	// with a single registered URI may omit it there (§3.1.2.3) and here.
	redirect := form.Get("redirect_uri")
	if redirect == "" && len(client.RedirectURIs) == 1 {
		redirect = client.RedirectURIs[0]
	}
	challenge, err := pkceChallenge(client, form.Get("code_verifier"))
	if err != nil {
		return nil, err
	}
	now := p.clock()
	access := p.newAccess(client, "", "", nil, now)
	r := &gatehouse.CodeRedemption{
		Hash: secret.HashBytes(code), TenantID: client.TenantID, ClientID: client.ID,
		RedirectURI: redirect, Challenge: challenge, Now: now,
		Issue: []*gatehouse.Credential{access.cred},
	}
	var refresh *issued
	if client.AllowsGrant(gatehouse.GrantRefreshToken) {
		rt := p.newRefresh(client, "", "", nil, now)
		refresh = &rt
		r.Issue = append(r.Issue, rt.cred)
	}
	ac, err := p.store.RedeemAuthCode(ctx, r)
	switch {
	case err == nil:
		// The store bound the tokens to the code: its user, grant and
		// scopes (without manage).
		return response(access, refresh), nil
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return nil, invalidGrant("the authorization code is not valid")
	case gatehouse.IsCode(err, gatehouse.EFORBIDDEN):
		p.log.WarnContext(ctx, "oauth2: authorization code presented by another client", "client", client.ID)
		return nil, invalidGrant("the authorization code was issued to another client")
	case gatehouse.IsCode(err, gatehouse.ECONFLICT) && ac != nil:
		p.log.WarnContext(ctx, "oauth2: authorization code replayed; grant revoked", "client", ac.ClientID, "grant", ac.GrantID)
		return nil, invalidGrant("the authorization code was already used; the tokens it issued are revoked")
	case gatehouse.IsCode(err, gatehouse.EINVALID) && ac != nil:
		return nil, invalidGrant(gatehouse.ErrorMessage(err)) // the code is spent
	}
	return nil, fmt.Errorf("redeem authorization code: %w", err)
}

// pkceChallenge checks the code_verifier's form (RFC 7636 §4.1) and
// returns BASE64URL(SHA256(verifier)) (§4.6), "" without a verifier; the
// store compares it with the code's challenge. A public client must send
// one (RFC 9700 §2.1.1: the authorization endpoint never issues it a code
// without a challenge).
func pkceChallenge(client *gatehouse.Client, verifier string) (string, error) {
	switch {
	case verifier == "" && !client.Confidential:
		return "", invalidGrant("a public client's code must be redeemed with PKCE: code_verifier is missing")
	case verifier == "":
		return "", nil
	case !codeVerifierRE.MatchString(verifier):
		return "", invalidGrant("code_verifier must be 43-128 unreserved characters (RFC 7636 section 4.1)")
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
