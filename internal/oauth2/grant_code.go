package oauth2

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// codeVerifierRE is RFC 7636 §4.1's code_verifier: 43 to 128 unreserved
// characters.
var codeVerifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// grantCode redeems an authorization code (RFC 6749 §4.1.3).
//
// The code is consumed before anything else is checked, so a code is good
// for one attempt, right or wrong: a wrong PKCE verifier burns it too,
// which leaves nothing to brute-force. Its tokens are stored in the same
// transaction as the consumption, so of 20 concurrent redemptions exactly
// one gets tokens; a code presented again is refused and revokes every
// token its first redemption issued (RFC 6749 §4.1.2).
func (p *Provider) grantCode(ctx context.Context, client *gatehouse.Client, form url.Values) (*tokenResponse, error) {
	if !client.AllowsGrant(gatehouse.GrantAuthorizationCode) {
		return nil, unauthorizedClient("the client may not use the authorization_code grant")
	}
	code := form.Get("code")
	if code == "" {
		return nil, invalidRequest("code is missing")
	}
	now := p.clock()
	var resp *tokenResponse
	ac, err := p.store.ConsumeAuthCode(ctx, secret.HashBytes(code), now, func(ac *gatehouse.AuthCode) ([]*gatehouse.Credential, error) {
		if err := p.checkCode(ctx, client, ac, form, now); err != nil {
			return nil, err
		}
		scopes := gatehouse.AppScopes(ac.Scopes) // SPEC §9: never manage
		access := p.newAccess(client, ac.UserID, ac.GrantID, scopes, now)
		creds := []*gatehouse.Credential{access.cred}
		var refresh *issued
		if client.AllowsGrant(gatehouse.GrantRefreshToken) {
			rt := p.newRefresh(client, ac.UserID, ac.GrantID, scopes, now)
			refresh = &rt
			creds = append(creds, rt.cred)
		}
		resp = response(access, refresh)
		return creds, nil
	})
	var oe *Error
	switch {
	case err == nil:
		return resp, nil
	case errors.As(err, &oe):
		return nil, err // a refusal from checkCode; the code is spent
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return nil, invalidGrant("the authorization code is not valid")
	case gatehouse.IsCode(err, gatehouse.ECONFLICT) && ac != nil:
		if err := p.store.RevokeGrant(ctx, ac.TenantID, ac.GrantID, p.clock()); err != nil {
			return nil, fmt.Errorf("revoke replayed grant: %w", err)
		}
		p.log.WarnContext(ctx, "oauth2: authorization code replayed; grant revoked", "client", ac.ClientID, "grant", ac.GrantID)
		return nil, invalidGrant("the authorization code was already used; the tokens it issued are revoked")
	}
	return nil, fmt.Errorf("redeem authorization code: %w", err)
}

// checkCode checks a consumed code against the redeeming request.
func (p *Provider) checkCode(ctx context.Context, client *gatehouse.Client, ac *gatehouse.AuthCode, form url.Values, now time.Time) error {
	if !now.Before(ac.ExpiresAt) {
		return invalidGrant("the authorization code has expired")
	}
	if ac.ClientID != client.ID || ac.TenantID != client.TenantID {
		// RFC 6749 §4.1.3: the code must have been issued to this client.
		return invalidGrant("the authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: redirect_uri must be identical to the authorization
	// request's. Gatehouse stores the URI the code was sent to; a client
	// with a single registered URI may omit it there (§3.1.2.3) and here.
	switch ru := form.Get("redirect_uri"); {
	case ru == "" && !(len(client.RedirectURIs) == 1 && client.RedirectURIs[0] == ac.RedirectURI):
		return invalidGrant("redirect_uri is required and must equal the authorization request's")
	case ru != "" && ru != ac.RedirectURI:
		return invalidGrant("redirect_uri does not match the authorization request's")
	}
	if err := checkPKCE(client, ac, form.Get("code_verifier")); err != nil {
		return err
	}
	if _, err := p.store.FindMembership(ctx, ac.TenantID, ac.UserID); gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return invalidGrant("the user who approved the request is no longer a member of the tenant")
	} else if err != nil {
		return fmt.Errorf("find membership: %w", err)
	}
	return nil
}

// checkPKCE verifies the code_verifier (RFC 7636 §4.6): when the code
// carries a challenge, BASE64URL(SHA256(verifier)) must equal it. A
// verifier for a code without a challenge is refused too (RFC 9700 §2.1.1:
// a PKCE downgrade), and a public client's code without one cannot be
// redeemed (the authorization endpoint does not issue such a code).
func checkPKCE(client *gatehouse.Client, ac *gatehouse.AuthCode, verifier string) error {
	switch {
	case ac.CodeChallenge == "" && verifier != "":
		return invalidGrant("code_verifier was sent but the authorization request had no code_challenge")
	case ac.CodeChallenge == "" && !client.Confidential:
		return invalidGrant("a public client's code must be redeemed with PKCE")
	case ac.CodeChallenge == "":
		return nil
	case verifier == "":
		return invalidGrant("code_verifier is missing")
	case !codeVerifierRE.MatchString(verifier):
		return invalidGrant("code_verifier must be 43-128 unreserved characters (RFC 7636 section 4.1)")
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(ac.CodeChallenge)) != 1 {
		return invalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}
