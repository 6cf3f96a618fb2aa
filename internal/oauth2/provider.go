// Package oauth2 is Gatehouse's OAuth 2.0 authorization server (seed 002):
// the authorization endpoint's protocol logic (the console renders its
// login and consent pages), the token endpoint with one handler per grant
// type, revocation (RFC 7009), introspection (RFC 7662) and metadata
// (RFC 8414), and the device authorization grant (RFC 8628, device.go and
// grant_device.go; the console renders its verification page), following
// RFC 6749, RFC 6750, RFC 7636 and RFC 9700.
//
// # Tenant state
//
// Whether an app's tenant admits its requests — the tenant exists, is not
// disabled, is on the Enterprise plan — and its enhanced_security switch
// are read one way wherever a request is admitted: the authorization
// endpoint (ParseAuthorize), client authentication, which every grant
// passes first (authenticateClient), and the refresh grant's age limit
// all use the verifier's tenant snapshot (verify.Verifier.TenantState),
// the snapshot that refuses the tenant's tokens. Its staleness is
// verification's: a change invalidates it at once on this node and, with
// PostgreSQL's change feed, on every other; the cache TTL bounds a lost
// notification (SPEC §7). A request reads it once, so the steps of one
// flow and the verifier agree on a node: a tenant re-enabled is not
// offered a consent page whose code the token endpoint then refuses, nor
// is a disabled one admitted by one check and refused by the next.
//
// Security: the snapshot admits; it is not the last word. The store
// re-checks the tenant in the transaction that stores tokens
// (Store.IssueTokens refuses a disabled tenant), and introspection answers
// from the store alone — credential, tenant row and settings — because an
// RFC 7662 answer about a token is authoritative (introspect.go).
package oauth2

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// Lifetimes fixed by SPEC §2 and issue 4.
const (
	AccessTokenTTL  = time.Hour
	AuthCodeTTL     = 60 * time.Second
	EnhancedRefresh = 30 * 24 * time.Hour // refresh-token age limit under enhanced_security
	RotationGrace   = 30 * time.Second    // a rotated refresh token still works once within it
)

// Store is what the provider reads and changes: apps, consents and
// memberships, authorization codes, OAuth 2.0 tokens and grants, and, for
// the authorization page and introspection, tenant rows and settings.
// gatehouse.Store is one (its documentation gives each method's rules;
// the single-use and multi-row ones are atomic there).
type Store interface {
	FindClient(ctx context.Context, clientID string) (*gatehouse.Client, error)
	OriginAllowed(ctx context.Context, origin string) (bool, error)
	FindTenantByID(ctx context.Context, id string) (*gatehouse.Tenant, error)
	Settings(ctx context.Context, tenantID string) (gatehouse.Settings, error)
	FindMembership(ctx context.Context, tenantID, userID string) (*gatehouse.Membership, error)
	FindConsent(ctx context.Context, tenantID, userID, clientID string) (*gatehouse.Consent, error)
	SaveConsent(ctx context.Context, c *gatehouse.Consent) error
	CreateAuthCode(ctx context.Context, c *gatehouse.AuthCode) error
	RedeemAuthCode(ctx context.Context, r *gatehouse.CodeRedemption) (*gatehouse.AuthCode, error)
	IssueTokens(ctx context.Context, r *gatehouse.TokenIssue) error
	RotateRefreshToken(ctx context.Context, r *gatehouse.RefreshRotation) error
	FindCredentialByHash(ctx context.Context, hash []byte) (*gatehouse.Credential, error)
	RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error
	RevokeGrant(ctx context.Context, tenantID, grantID string, now time.Time) error
	gatehouse.DeviceStore
	// The login throttle's counters, for user code attempts (device.go).
	ReserveLoginAttempt(ctx context.Context, cs []gatehouse.LoginCounter, now time.Time, window time.Duration) (time.Duration, error)
	ReleaseLoginAttempt(ctx context.Context, keys, clear []string) error
	CreatePushedRequest(ctx context.Context, r *gatehouse.PushedRequest) error
	OpenPushedRequest(ctx context.Context, tenantID, clientID string, hash []byte, now, until time.Time) (*gatehouse.PushedRequest, error)
	ConsumePushedRequest(ctx context.Context, tenantID, clientID string, hash []byte, now time.Time) error
}

// Config configures a Provider.
type Config struct {
	Store Store
	Tree  *gatehouse.ResourceTree
	// Verifier (required) authenticates Bearer callers of
	// /oauth2/introspect and holds the tenant snapshot every request is
	// admitted with (see the package comment).
	Verifier *verify.Verifier
	// Issuer is the public URL (GATEHOUSE_PUBLIC_URL), without a trailing
	// slash: the metadata's issuer and the iss of authorization responses.
	Issuer         string
	TrustedProxies []netip.Prefix
	// SigningAlgs, when set, lists the algorithms of the issuer's signing
	// keys (signing.Signer.Algs): the metadata then names the JWKS and
	// the OpenID Connect discovery document is served.
	SigningAlgs func(ctx context.Context) []string
	Now         func() time.Time // default time.Now
	Log         *slog.Logger     // default slog.Default()
}

// Provider is the authorization server. It is safe for concurrent use.
type Provider struct {
	store   Store
	tree    *gatehouse.ResourceTree
	v       *verify.Verifier
	issuer  string
	trusted []netip.Prefix
	// signingAlgs: see Config.SigningAlgs.
	signingAlgs func(ctx context.Context) []string
	now         func() time.Time
	log         *slog.Logger
}

// New returns a Provider.
func New(cfg Config) *Provider {
	p := &Provider{store: cfg.Store, tree: cfg.Tree, v: cfg.Verifier, issuer: cfg.Issuer, trusted: cfg.TrustedProxies, signingAlgs: cfg.SigningAlgs, now: cfg.Now, log: cfg.Log}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// Issuer returns the issuer identifier.
func (p *Provider) Issuer() string { return p.issuer }

func (p *Provider) clock() time.Time { return p.now().UTC().Truncate(time.Microsecond) }
