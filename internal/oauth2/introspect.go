package oauth2

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// IntrospectHandler serves POST /oauth2/introspect (RFC 7662).
//
// Callers (RFC 7662 §2.1 requires authorization) are either a confidential
// OAuth client of a tenant, with its credentials (Basic or in the body), or
// a Bearer token that verifies for the reserved resource "verify". Either
// way the caller belongs to one tenant and only that tenant's credentials
// are described; a caller that is not authenticated gets 401 (RFC 7662
// §2.3): invalid_client with a Basic challenge, or invalid_token /
// insufficient_scope with a Bearer challenge.
//
// Every credential kind is answered, not only OAuth 2.0 tokens. The token,
// its tenant and the tenant's settings are read from the store, not from
// the verifier's cache: an answer here is authoritative (the caller is
// admitted with the snapshot, like every request: package comment). It is active only if it belongs to the caller's
// tenant, is not revoked, not rotated (refresh tokens), not expired, its
// tenant is enabled (and, for an app's tokens, on the Enterprise plan), and
// — for refresh tokens under enhanced security —
// its 30-day window has not passed. Anything else, another tenant's token
// included, is exactly {"active":false} (RFC 7662 §2.2).
func (p *Provider) IntrospectHandler() http.Handler { return p.serve(p.introspect) }

// introspection is RFC 7662 §2.2's response plus Gatehouse's tenant and
// kind.
type introspection struct {
	Active    bool           `json:"active"`
	Scope     string         `json:"scope,omitempty"`
	ClientID  string         `json:"client_id,omitempty"`
	Subject   string         `json:"sub,omitempty"`
	Exp       int64          `json:"exp,omitempty"`
	Iat       int64          `json:"iat,omitempty"`
	TokenType string         `json:"token_type,omitempty"`
	Issuer    string         `json:"iss,omitempty"`
	Tenant    string         `json:"tenant,omitempty"`
	Kind      gatehouse.Kind `json:"kind,omitempty"`
}

func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	tenantID, err := p.introspectionCaller(r, form)
	if err != nil {
		return err
	}
	tok := form.Get("token")
	if tok == "" {
		return invalidRequest("token is missing")
	}
	ans, err := p.describe(r.Context(), tenantID, tok)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// introspectionCaller authenticates the caller and returns its tenant.
func (p *Provider) introspectionCaller(r *http.Request, form url.Values) (string, error) {
	auth := r.Header.Get("Authorization")
	if bearer, ok := httpx.BearerToken(auth); ok {
		if form.Has("client_secret") {
			return "", invalidRequest("use either a Bearer token or client credentials, not both")
		}
		return p.bearerCaller(r, bearer)
	}
	if auth == "" && form.Get("client_id") == "" {
		return "", &Error{Status: http.StatusUnauthorized, Code: errInvalidClient,
			Description: "authenticate as a confidential OAuth client of the tenant, or with a Bearer token holding the verify resource",
			Challenge:   basicChallenge + `, Bearer realm="gatehouse"`}
	}
	client, _, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return "", err
	}
	if !client.Confidential {
		// Security: a public client's id is no secret; letting it
		// introspect would let anyone read the tenant's tokens.
		return "", invalidClient("introspection needs a confidential client (or a Bearer token with the verify resource)")
	}
	return client.TenantID, nil
}

// bearerCaller checks a Bearer caller with the verifier, as
// /api/v1/verify does: the token must be VALID for "verify" from this
// address and with this client header.
func (p *Provider) bearerCaller(r *http.Request, tok string) (string, error) {
	res, err := p.v.Verify(r.Context(), verify.Request{
		Credential: tok,
		Resource:   gatehouse.ScopeVerify,
		IP:         httpx.ClientIP(r, p.trusted),
		ClientID:   r.Header.Get("X-Gatehouse-Client"),
	})
	if err != nil {
		return "", fmt.Errorf("verify introspection caller: %w", err)
	}
	if res.Valid() {
		return res.Principal.TenantID, nil
	}
	code, desc := errInvalidToken, "the caller's token: "+res.Code.Message()
	if httpx.CodeStatus(res.Code) == http.StatusForbidden {
		code = errInsufficientScope
	}
	// RFC 7662 §2.3: a Bearer caller without sufficient privileges gets
	// 401 with an RFC 6750 §3 challenge.
	return "", &Error{Status: http.StatusUnauthorized, Code: code, Description: desc,
		Challenge: httpx.BearerChallenge(res.Code, gatehouse.ScopeVerify)}
}

var inactive = &introspection{Active: false}

// describe answers for tok as seen by a caller of tenantID.
func (p *Provider) describe(ctx context.Context, tenantID, tok string) (*introspection, error) {
	kind, ok := secret.ParseToken(tok)
	switch {
	case ok:
	case gatehouse.IsOAuth1Value(tok):
		kind = gatehouse.KindIntegration
	default:
		return inactive, nil
	}
	cred, err := p.store.FindCredentialByHash(ctx, secret.HashBytes(tok))
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return inactive, nil
	} else if err != nil {
		return nil, fmt.Errorf("find credential: %w", err)
	}
	now := p.clock()
	if cred.Kind != kind || cred.TenantID != tenantID || cred.Revoked() || cred.RotatedAt != nil || cred.Expired(now) {
		return inactive, nil
	}
	t, err := p.store.FindTenantByID(ctx, cred.TenantID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return inactive, nil
	} else if err != nil {
		return nil, fmt.Errorf("find tenant: %w", err)
	}
	if t.Disabled {
		return inactive, nil
	}
	if (cred.Kind == gatehouse.KindOAuth2Access || cred.Kind == gatehouse.KindOAuth2Refresh) && t.Plan != gatehouse.PlanEnterprise {
		// Seed 002: an app's tokens work only on the Enterprise plan.
		return inactive, nil
	}
	exp := cred.ExpiresAt
	tokenType := "Bearer"
	if cred.Kind == gatehouse.KindOAuth2Refresh {
		tokenType = "refresh_token"
		s, err := p.store.Settings(ctx, cred.TenantID)
		if err != nil {
			return nil, fmt.Errorf("tenant settings: %w", err)
		}
		if s.EnhancedSecurity {
			limit := cred.CreatedAt.Add(EnhancedRefresh)
			if !now.Before(limit) {
				return inactive, nil
			}
			if exp == nil || limit.Before(*exp) {
				exp = &limit
			}
		}
	}
	subject := cred.UserID
	if subject == "" {
		subject = cred.ClientID
	}
	if subject == "" {
		subject = cred.ID
	}
	return &introspection{
		Active:    true,
		Scope:     strings.Join(cred.Scopes, " "),
		ClientID:  cred.ClientID,
		Subject:   subject,
		Exp:       unix(exp),
		Iat:       cred.CreatedAt.Unix(),
		TokenType: tokenType,
		Issuer:    p.issuer,
		Tenant:    t.Slug,
		Kind:      cred.Kind,
	}, nil
}

func unix(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}
