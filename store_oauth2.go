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
	ListClients(ctx context.Context, tenantID string) ([]*Client, error)
	// UpdateClientSecret saves SecretHash, SecretHint, PrevSecretHash and
	// PrevSecretExpiresAt of the tenant's client.
	UpdateClientSecret(ctx context.Context, c *Client) error
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

	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// ConsumeAuthCode marks the code used and, in the same transaction,
	// stores the credentials issue returns for it (issue may be nil). Of
	// any number of concurrent callers exactly one consumes the code; the
	// others wait for it to commit, so its tokens exist before they learn
	// of the replay. A code already used is ECONFLICT and is returned too
	// (with its GrantID, so the caller can revoke what the first redemption
	// issued — RFC 6749 §4.1.2); an unknown code is ENOTFOUND. When issue
	// refuses (an expired code, a wrong PKCE verifier), the consumption is
	// still committed — a code is good for one attempt — and issue's error
	// is returned with the code. A credential of a revoked grant is
	// ECONFLICT (see RevokeGrant).
	ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time, issue func(*AuthCode) ([]*Credential, error)) (*AuthCode, error)
	// PruneAuthCodes deletes codes that expired before now.
	PruneAuthCodes(ctx context.Context, now time.Time) error

	// RevokeGrant revokes every credential of the grant (at now) and
	// records the grant as revoked: a credential added to it afterwards
	// (CreateCredential, RotateRefreshToken, ConsumeAuthCode) is ECONFLICT.
	RevokeGrant(ctx context.Context, tenantID, grantID string, now time.Time) error
	// RotateRefreshToken marks the refresh token oldID rotated (RotatedAt =
	// now) and stores the credentials that replace it, in one transaction.
	// A token already rotated or revoked is ECONFLICT and nothing is stored.
	RotateRefreshToken(ctx context.Context, tenantID, oldID string, now time.Time, next []*Credential) error
}
