package gatehouse

import (
	"context"
	"time"
)

// OAuth2Store is the part of Store behind the OAuth 2.0 provider. Its
// single-use and multi-row invariants each live in one method, so they are
// atomic and covered by the conformance suite.
type OAuth2Store interface {
	// CreateClient stores an app; a duplicate client id is ECONFLICT.
	CreateClient(ctx context.Context, c *Client) error
	// FindClient looks an app up by client id across tenants (the token
	// endpoint does not know the tenant until it has the client).
	FindClient(ctx context.Context, clientID string) (*Client, error)
	ListClients(ctx context.Context, tenantID string, f ListFilter) ([]*Client, error)
	// UpdateClientSecret saves SecretHash, SecretHint, PrevSecretHash and
	// PrevSecretExpiresAt of the tenant's client.
	UpdateClientSecret(ctx context.Context, c *Client) error
	// OriginAllowed reports whether some app, of any tenant, lets pages of
	// origin (NormalizeOrigin's form) read its answers
	// (Client.AllowsOrigin): CORS preflights name no client.
	OriginAllowed(ctx context.Context, origin string) (bool, error)
	// UpdateClient saves Name, RedirectURIs, AllowedOrigins, Scopes, GrantTypes and RequirePAR of the
	// tenant's client; its id, type, secrets and creation time never
	// change. Another tenant's client, or one deleted meanwhile, is
	// ENOTFOUND and nothing changes.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient deletes the app and its consents and, in the same
	// transaction, revokes every credential it issued (at now).
	DeleteClient(ctx context.Context, tenantID, clientID string, now time.Time) error

	// SaveConsent creates or replaces the user's consent for an app.
	SaveConsent(ctx context.Context, c *Consent) error
	FindConsent(ctx context.Context, tenantID, userID, clientID string) (*Consent, error)
	// ListConsents returns the apps a user has allowed in a tenant.
	ListConsents(ctx context.Context, tenantID, userID string) ([]*Consent, error)
	// DeleteConsent forgets the consent and, in the same transaction,
	// revokes every credential the app holds for the user (at now).
	DeleteConsent(ctx context.Context, tenantID, userID, clientID string, now time.Time) error

	// IssueTokens stores the tokens of one token response (r.Tokens, all
	// of r.ClientID's app, for r.UserID or for the app itself when "") in
	// one transaction whose checks are its own SQL: the tenant must exist
	// and be enabled, the app not deleted and, for a user's tokens, the
	// user still a member of the tenant who has not withdrawn the consent
	// — else EINVALID (its message says which) and nothing is stored. A
	// token of a grant revoked meanwhile is ECONFLICT. All the tokens are
	// stored or none is. A deletion of the app, the consent or the
	// membership racing it either sees (and revokes) the tokens or makes
	// it fail.
	IssueTokens(ctx context.Context, r *TokenIssue) error

	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode redeems an authorization code for r.Issue, in one
	// transaction whose checks are its own SQL (it calls nothing back).
	// In order:
	//   - an unknown (or pruned) code is ENOTFOUND;
	//   - a code issued to another client (or tenant) is EFORBIDDEN and
	//     nothing changes: it is neither consumed nor revoked (RFC 6749
	//     §4.1.3, RFC 9700 §4.2.4);
	//   - a code already used is ECONFLICT, and in the same transaction
	//     the grant its first redemption started is revoked (RFC 6749
	//     §4.1.2); the code is returned too, UsedAt its first use;
	//   - otherwise the code is marked used and, when it has expired, its
	//     redirect URI or challenge differs, its user is no longer a
	//     member of the tenant or has withdrawn the consent, the app has
	//     been deleted or the grant revoked, the consumption is committed
	//     and EINVALID (its message says which) is returned with the code,
	//     and nothing is issued: a code is good for one attempt;
	//   - else r.Issue, bound to the code, are stored with it.
	// Of concurrent redemptions of one code exactly one consumes it; the
	// others wait for it to commit and are replays.
	RedeemAuthCode(ctx context.Context, r *CodeRedemption) (*AuthCode, error)

	// RevokeGrant revokes every credential of the grant (at now) and
	// records the grant as revoked: a credential added to it afterwards
	// (CreateCredential, RotateRefreshToken, RedeemAuthCode) is ECONFLICT.
	RevokeGrant(ctx context.Context, tenantID, grantID string, now time.Time) error
	// RotateRefreshToken exchanges a public client's refresh token for
	// r.Next in one transaction whose checks are its own SQL. The grant
	// has one live refresh token at any moment:
	//   - a live token is marked rotated (RotatedAt = r.Now) and r.Next's
	//     refresh token becomes its successor;
	//   - a rotated token presented again within r.Grace of its rotation
	//     while its successor is unused (never presented, so its response
	//     was lost) replaces that successor: the successor is marked
	//     rotated and r.Next's refresh token becomes the token's new
	//     successor. Racing refreshes of one token thus serialise and end
	//     with exactly one live successor;
	//   - any other reuse (after the grace, or once the successor has been
	//     used) is ECONFLICT and revokes the whole grant in the same
	//     transaction (RFC 9700 §4.14.2).
	// An unknown ID is ENOTFOUND; a token of another client or tenant is
	// EFORBIDDEN; a revoked token, a revoked grant, a user no longer a
	// member or without the consent, or a deleted app is EINVALID. In
	// every refusal nothing is stored.
	RotateRefreshToken(ctx context.Context, r *RefreshRotation) error

	// CreatePushedRequest stores a pushed authorization request (RFC 9126
	// §2), assigning CreatedAt when zero. A hash already stored is
	// ECONFLICT; a missing app is ENOTFOUND.
	CreatePushedRequest(ctx context.Context, r *PushedRequest) error
	// OpenPushedRequest returns the tenant's app's pushed request for the
	// authorization endpoint, in one statement: the first time, it sets
	// OpenedAt = now and ExpiresAt = until (the login and consent round
	// trip that follows); later it changes nothing. An unknown hash, or
	// one of another app or tenant, is ENOTFOUND; a used one ECONFLICT; an
	// expired one (ExpiresAt not after now) EINVALID.
	OpenPushedRequest(ctx context.Context, tenantID, clientID string, hash []byte, now, until time.Time) (*PushedRequest, error)
	// ConsumePushedRequest marks the pushed request used at now, once
	// (RFC 9126 §4): of concurrent callers exactly one succeeds; the
	// refusals are OpenPushedRequest's.
	ConsumePushedRequest(ctx context.Context, tenantID, clientID string, hash []byte, now time.Time) error
}

// TokenIssue is a token response's tokens, for Store.IssueTokens (the
// client_credentials grant and a confidential client's refresh).
type TokenIssue struct {
	TenantID string
	ClientID string // the app the tokens are issued to
	UserID   string // the user they act for; "" for the app itself
	// Tokens are the credentials to store; each must carry TenantID,
	// ClientID and UserID as above.
	Tokens []*Credential
}
