package oauth2

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// grantRefresh exchanges a refresh token (RFC 6749 §6).
//
// Confidential clients' refresh tokens do not rotate (SPEC §9, the seed's
// "indefinite" refresh token): the answer carries a new access token only
// and the same refresh token keeps working. Public clients' rotate (RFC
// 9700 §4.14.2): each use returns a new access and a new refresh token in
// the same grant and retires the one presented, in one store call
// (Store.RotateRefreshToken) that serialises racing refreshes of a grant.
// A retired token presented again within RotationGrace of its retirement
// while its successor has never been used — a response lost on the way —
// gets a new pair that replaces that successor, so the grant keeps exactly
// one live refresh token (docs/decisions.md: n parallel refreshes of one
// token all answer, and only the last successor lives). Any other reuse
// means the token leaked: the whole grant is revoked.
//
// With the tenant's enhanced_security on, a refresh token is refused once
// its grant's refresh authority is EnhancedRefresh old, also when it was
// issued before the switch was turned on. A rotated token inherits its
// predecessor's CreatedAt, so rotation does not extend the window: the
// user authorizes again every 30 days, as the seed says.
func (p *Provider) grantRefresh(ctx context.Context, client *gatehouse.Client, tenant verify.TenantState, form url.Values) (*tokenResponse, error) {
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
	// The switch as the snapshot that admitted the client has it (the
	// package comment's Tenant state): cred.TenantID is client.TenantID.
	if tenant.EnhancedSecurity && !now.Before(cred.CreatedAt.Add(EnhancedRefresh)) {
		return nil, invalidGrant("the refresh token is older than 30 days, the limit of the tenant's enhanced security; authorize the app again")
	}
	// RFC 6749 §6: the scope may narrow, never widen; omitted means the
	// scope originally granted.
	scopes, err := p.scopeParam(form)
	if err != nil {
		return nil, err
	}
	// SPEC §9: a token issued before apps were refused manage loses it.
	// An app an admin has narrowed since (admin.UpdateClient) gets only
	// what it may still have: the grant intersected with the app's scopes
	// as they are now (docs/decisions.md).
	granted := p.tree.Intersect(gatehouse.AppScopes(cred.Scopes), gatehouse.AppScopes(client.Scopes))
	if len(granted) == 0 {
		return nil, invalidScope("the app may no longer be granted any scope of this refresh token")
	}
	if scopes == nil {
		scopes = granted
	} else if !p.tree.Subset(scopes, granted) {
		return nil, invalidScope("the requested scope exceeds the scope originally granted")
	}

	if client.Confidential {
		if cred.RotatedAt != nil { // never happens: confidential tokens do not rotate
			return nil, invalidGrant("the refresh token has been replaced")
		}
		// The store checks, as it stores the token, that the user is
		// still a member and the app and consent still exist.
		access := p.newAccess(client, cred.UserID, cred.GrantID, scopes, now)
		if err := p.issueTokens(ctx, client, cred.UserID, access); err != nil {
			return nil, err
		}
		// RFC 6749 §5.1: refresh_token is optional; omitting it says
		// "keep using the one you have".
		return response(access, nil), nil
	}

	// RFC 9700 §4.14.2: one store call rotates the token, or replaces the
	// successor of a rotated one whose response was lost, or revokes the
	// grant on any other reuse; racing refreshes serialise in it.
	access, refresh := p.successors(client, cred, scopes, now)
	err = p.store.RotateRefreshToken(ctx, &gatehouse.RefreshRotation{
		TenantID: client.TenantID, ClientID: client.ID, ID: cred.ID, Now: now, Grace: RotationGrace,
		Next: []*gatehouse.Credential{access.cred, refresh.cred},
	})
	switch {
	case err == nil:
		return response(access, &refresh), nil
	case gatehouse.IsCode(err, gatehouse.ECONFLICT):
		p.log.WarnContext(ctx, "oauth2: rotated refresh token reused; grant revoked", "client", client.ID, "grant", cred.GrantID)
		return nil, invalidGrant("the refresh token was already used; the grant is revoked")
	case gatehouse.IsCode(err, gatehouse.EINVALID):
		return nil, invalidGrant(gatehouse.ErrorMessage(err))
	case gatehouse.IsCode(err, gatehouse.EFORBIDDEN), gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return nil, invalidGrant("the refresh token is not valid")
	}
	return nil, fmt.Errorf("rotate refresh token: %w", err)
}

// successors makes the access and refresh tokens that replace a public
// client's refresh token. The refresh token keeps the scope of the one it
// replaces (RFC 6749 §6; without manage, SPEC §9) and its CreatedAt (the
// enhanced-security window).
func (p *Provider) successors(client *gatehouse.Client, cred *gatehouse.Credential, scopes []string, now time.Time) (access, refresh issued) {
	access = p.newAccess(client, cred.UserID, cred.GrantID, scopes, now)
	refresh = p.newRefresh(client, cred.UserID, cred.GrantID, gatehouse.AppScopes(cred.Scopes), now)
	refresh.cred.CreatedAt = cred.CreatedAt
	return access, refresh
}
