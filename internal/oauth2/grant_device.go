package oauth2

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// RFC 8628 §3.5's error codes of the token endpoint.
const (
	errAuthorizationPending = "authorization_pending"
	errSlowDown             = "slow_down"
	errAccessDenied         = "access_denied"
	errExpiredToken         = "expired_token"
)

// grantDevice answers a device access token request (RFC 8628 §3.4) with
// one store call, Store.PollDeviceAuthorization, which does the interval
// bookkeeping and the single-use consumption in its own transaction:
//
//   - while the user has not decided: authorization_pending, or slow_down
//     when the client polls sooner than the interval, which then grows by
//     5 s for this device code (§3.5);
//   - after Deny: access_denied; after expiry: expired_token;
//   - after Allow: the tokens, once. Of concurrent polls exactly one gets
//     them; a device code presented again is invalid_grant (RFC 6749
//     §5.2), and so is one of another client, which changes nothing.
//
// The tokens are those of the authorization code flow: an access token
// and, when the app may use the refresh_token grant, a refresh token, in
// a grant of their own.
func (p *Provider) grantDevice(ctx context.Context, client *gatehouse.Client, form url.Values) (*tokenResponse, error) {
	if !client.AllowsGrant(gatehouse.GrantDeviceCode) {
		return nil, unauthorizedClient("the client may not use the device authorization grant")
	}
	code := form.Get("device_code")
	if code == "" {
		return nil, invalidRequest("device_code is missing")
	}
	now := p.clock()
	access := p.newAccess(client, "", "", nil, now)
	r := &gatehouse.DevicePoll{DeviceHash: secret.HashBytes(code), TenantID: client.TenantID, ClientID: client.ID, Now: now,
		Issue: []*gatehouse.Credential{access.cred}}
	var refresh *issued
	if client.AllowsGrant(gatehouse.GrantRefreshToken) {
		rt := p.newRefresh(client, "", "", nil, now)
		refresh = &rt
		r.Issue = append(r.Issue, rt.cred)
	}
	res, err := p.store.PollDeviceAuthorization(ctx, r)
	switch {
	case err == nil:
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return nil, invalidGrant("the device code is not valid")
	case gatehouse.IsCode(err, gatehouse.EFORBIDDEN):
		p.log.WarnContext(ctx, "oauth2: device code presented by another client", "client", client.ID)
		return nil, invalidGrant("the device code was issued to another client")
	case gatehouse.IsCode(err, gatehouse.ECONFLICT):
		return nil, invalidGrant("the device code was already used")
	case gatehouse.IsCode(err, gatehouse.EINVALID):
		return nil, invalidGrant(gatehouse.ErrorMessage(err)) // the device code is spent
	default:
		return nil, fmt.Errorf("poll device authorization: %w", err)
	}
	bad := func(code, desc string) (*tokenResponse, error) {
		return nil, &Error{Status: http.StatusBadRequest, Code: code, Description: desc}
	}
	switch res {
	case gatehouse.DevicePollIssued:
		return response(access, refresh), nil
	case gatehouse.DevicePollPending:
		return bad(errAuthorizationPending, "the user has not yet approved the request")
	case gatehouse.DevicePollSlowDown:
		return bad(errSlowDown, "polling too fast: wait 5 seconds longer between requests")
	case gatehouse.DevicePollDenied:
		return bad(errAccessDenied, "the user denied the request")
	case gatehouse.DevicePollExpired:
		return bad(errExpiredToken, "the device code has expired; start again")
	}
	return nil, fmt.Errorf("poll device authorization: unexpected result %q", res)
}
