package oauth2

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// graceNamespace marks, in Store.ConsumeOnce, the rotated refresh tokens
// that have used their one grace reuse.
const graceNamespace = "refresh-grace"

// grantRefresh exchanges a refresh token (RFC 6749 §6).
//
// Confidential clients' refresh tokens do not rotate (SPEC §9, the seed's
// "indefinite" refresh token): the answer carries a new access token only
// and the same refresh token keeps working. Public clients' rotate (RFC
// 9700 §4.14.2): each use returns a new access and a new refresh token in
// the same grant and retires the one presented. A retired token presented
// again within RotationGrace of its retirement — a response lost on the
// way — gets one more pair, once; the successor issued the first time
// stays valid, so the grant then has two live refresh tokens. Any other
// reuse means the token leaked: the whole grant is revoked.
//
// With the tenant's enhanced_security on, a refresh token is refused once
// its grant's refresh authority is EnhancedRefresh old, also when it was
// issued before the switch was turned on. A rotated token inherits its
// predecessor's CreatedAt, so rotation does not extend the window: the
// user authorizes again every 30 days, as the seed says.
func (p *Provider) grantRefresh(ctx context.Context, client *gatehouse.Client, form url.Values) (*tokenResponse, error) {
	if !client.AllowsGrant(gatehouse.GrantRefreshToken) {
		return nil, unauthorizedClient("the client may not use the refresh_token grant")
	}
	tok := form.Get("refresh_token")
	if tok == "" {
		return nil, invalidRequest("refresh_token is missing")
	}
	if kind, ok := secret.ParseToken(tok); !ok || kind != gatehouse.KindOAuth2Refresh {
		return nil, invalidGrant("the refresh token is not valid")
	}
	cred, err := p.store.FindCredentialByHash(ctx, secret.HashBytes(tok))
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, invalidGrant("the refresh token is not valid")
	} else if err != nil {
		return nil, fmt.Errorf("find refresh token: %w", err)
	}
	if cred.Kind != gatehouse.KindOAuth2Refresh || cred.ClientID != client.ID || cred.TenantID != client.TenantID {
		// RFC 6749 §6: the token must have been issued to this client.
		return nil, invalidGrant("the refresh token is not valid")
	}
	now := p.clock()
	if cred.Revoked() {
		return nil, invalidGrant("the refresh token has been revoked")
	}
	if cred.Expired(now) {
		return nil, invalidGrant("the refresh token has expired")
	}
	settings, err := p.store.Settings(ctx, cred.TenantID)
	if err != nil {
		return nil, fmt.Errorf("tenant settings: %w", err)
	}
	if settings.EnhancedSecurity && !now.Before(cred.CreatedAt.Add(EnhancedRefresh)) {
		return nil, invalidGrant("the refresh token is older than 30 days, the limit of the tenant's enhanced security; authorize the app again")
	}
	if cred.UserID != "" {
		if _, err := p.store.FindMembership(ctx, cred.TenantID, cred.UserID); gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return nil, invalidGrant("the user who authorized the app is no longer a member of the tenant")
		} else if err != nil {
			return nil, fmt.Errorf("find membership: %w", err)
		}
	}
	// RFC 6749 §6: the scope may narrow, never widen; omitted means the
	// scope originally granted.
	scopes, err := p.scopeParam(form)
	if err != nil {
		return nil, err
	}
	// SPEC §9: a token issued before apps were refused manage loses it.
	granted := gatehouse.AppScopes(cred.Scopes)
	if scopes == nil {
		scopes = granted
	} else if !p.tree.Subset(scopes, granted) {
		return nil, invalidScope("the requested scope exceeds the scope originally granted")
	}

	if client.Confidential {
		if cred.RotatedAt != nil { // never happens: confidential tokens do not rotate
			return nil, invalidGrant("the refresh token has been replaced")
		}
		access := p.newAccess(client, cred.UserID, cred.GrantID, scopes, now)
		if err := p.storeTokens(ctx, access); err != nil {
			return nil, err
		}
		// RFC 6749 §5.1: refresh_token is optional; omitting it says
		// "keep using the one you have".
		return response(access, nil), nil
	}

	if cred.RotatedAt == nil {
		access, refresh := p.successors(client, cred, scopes, now)
		err := p.store.RotateRefreshToken(ctx, cred.TenantID, cred.ID, now, []*gatehouse.Credential{access.cred, refresh.cred})
		if err == nil {
			return response(access, &refresh), nil
		}
		if !gatehouse.IsCode(err, gatehouse.ECONFLICT) {
			return nil, fmt.Errorf("rotate refresh token: %w", err)
		}
		// A concurrent request rotated (or revoked) it first: this one is
		// a reuse, judged on the stored state.
		if cred, err = p.store.FindCredential(ctx, cred.TenantID, cred.ID); err != nil {
			return nil, fmt.Errorf("reread refresh token: %w", err)
		}
		if cred.Revoked() || cred.RotatedAt == nil {
			return nil, invalidGrant("the refresh token has been revoked")
		}
	}
	return p.reuse(ctx, client, cred, scopes, now)
}

// successors makes the access and refresh tokens that replace a public
// client's refresh token. The refresh token keeps the scope of the one it
// replaces (RFC 6749 §6) and its CreatedAt (the enhanced-security window).
func (p *Provider) successors(client *gatehouse.Client, cred *gatehouse.Credential, scopes []string, now time.Time) (access, refresh issued) {
	access = p.newAccess(client, cred.UserID, cred.GrantID, scopes, now)
	refresh = p.newRefresh(client, cred.UserID, cred.GrantID, gatehouse.AppScopes(cred.Scopes), now)
	refresh.cred.CreatedAt = cred.CreatedAt
	return access, refresh
}

// reuse handles a rotated refresh token presented again: one more pair
// within the grace period, once; otherwise the grant is revoked.
func (p *Provider) reuse(ctx context.Context, client *gatehouse.Client, cred *gatehouse.Credential, scopes []string, now time.Time) (*tokenResponse, error) {
	graceEnd := cred.RotatedAt.Add(RotationGrace)
	if now.Before(graceEnd) {
		err := p.store.ConsumeOnce(ctx, graceNamespace, cred.ID, graceEnd)
		if err == nil {
			access, refresh := p.successors(client, cred, scopes, now)
			if err := p.storeTokens(ctx, access, refresh); err != nil {
				return nil, err
			}
			return response(access, &refresh), nil
		}
		if !gatehouse.IsCode(err, gatehouse.ECONFLICT) {
			return nil, fmt.Errorf("consume refresh grace: %w", err)
		}
	}
	// Security: RFC 9700 §4.14.2 — reuse of a rotated refresh token means
	// it was stolen (or the client is broken); nobody can tell which copy
	// is legitimate, so the whole grant goes.
	if err := p.store.RevokeGrant(ctx, cred.TenantID, cred.GrantID, now); err != nil {
		return nil, fmt.Errorf("revoke grant: %w", err)
	}
	p.log.WarnContext(ctx, "oauth2: rotated refresh token reused; grant revoked", "client", client.ID, "grant", cred.GrantID)
	return nil, invalidGrant("the refresh token was already used; the grant is revoked")
}
