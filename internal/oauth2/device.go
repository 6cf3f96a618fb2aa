package oauth2

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// The device authorization grant's parameters (RFC 8628).
const (
	// DeviceCodeTTL is how long a device authorization request lives
	// (RFC 8628 §3.2 expires_in): time to walk to a computer and log in.
	DeviceCodeTTL = 10 * time.Minute
	// DeviceInterval is the polling interval a request starts with (RFC
	// 8628 §3.2 interval, its default of 5 s); slow_down adds 5 s (§3.5).
	DeviceInterval = 5 * time.Second
	// DevicePath is the console page where users enter the user code
	// (RFC 8628 §3.2 verification_uri; SPEC §11).
	DevicePath = "/console/device"
	// UserCodeAlphabet is RFC 8628 §6.1's example: 20 consonants, no
	// vowels (no words), no look-alikes; case-insensitive on entry.
	UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	// UserCodeLen characters give 20^8 ≈ 2^34.6 codes (§6.1's example);
	// the verification page's attempt limit makes guessing one of the
	// few live codes hopeless (docs/device-flow.md).
	UserCodeLen = 8
)

// deviceResponse is RFC 8628 §3.2's device authorization response.
type deviceResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// DeviceHandler serves POST /oauth2/device, the device authorization
// endpoint (RFC 8628 §3.1): the client authenticates as at the token
// endpoint (§3.1: confidential clients must), names the scope, and gets a
// device code to poll with and a user code for the user (§3.2). Errors
// are RFC 6749 §5.2's, as the token endpoint's.
func (p *Provider) DeviceHandler() http.Handler { return p.serve(p.device) }

func (p *Provider) device(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	client, _, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return err
	}
	if !client.AllowsGrant(gatehouse.GrantDeviceCode) {
		return unauthorizedClient("the client may not use the device authorization grant")
	}
	scopes, err := p.deviceScopes(client, form.Get("scope"))
	if err != nil {
		return err
	}
	now := p.clock()
	deviceCode := secret.RandomString(secret.RandomLen, secret.Alphabet62)
	d := &gatehouse.DeviceAuthorization{
		DeviceHash: secret.HashBytes(deviceCode),
		TenantID:   client.TenantID, ClientID: client.ID, Scopes: scopes,
		Interval: DeviceInterval, ExpiresAt: now.Add(DeviceCodeTTL), CreatedAt: now,
	}
	var userCode string
	for attempt := 0; ; attempt++ {
		userCode = secret.RandomString(UserCodeLen, UserCodeAlphabet)
		d.UserHash = secret.HashBytes(userCode)
		err = p.store.CreateDeviceAuthorization(r.Context(), d)
		// A live request holding the same user code: draw another.
		if !gatehouse.IsCode(err, gatehouse.ECONFLICT) || attempt == 4 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create device authorization: %w", err)
	}
	shown := FormatUserCode(userCode)
	writeJSON(w, http.StatusOK, deviceResponse{
		DeviceCode:              deviceCode,
		UserCode:                shown,
		VerificationURI:         p.issuer + DevicePath,
		VerificationURIComplete: p.issuer + DevicePath + "?" + url.Values{"user_code": {shown}}.Encode(),
		ExpiresIn:               int64(DeviceCodeTTL / time.Second),
		Interval:                int64(DeviceInterval / time.Second),
	})
	return nil
}

// deviceScopes is the scope of a device authorization request: as at the
// authorization endpoint, and, when omitted (RFC 6749 §3.3 lets the
// server default), every resource-tree scope the app may have.
func (p *Provider) deviceScopes(client *gatehouse.Client, param string) ([]string, error) {
	if strings.TrimSpace(param) == "" {
		param = gatehouse.ScopeAll
	}
	scopes, err := p.requestedScopes(client, param)
	if err != nil {
		return nil, invalidScope(gatehouse.ErrorMessage(err))
	}
	if len(scopes) == 0 {
		return nil, invalidScope("the app may not be granted any scope")
	}
	return scopes, nil
}

// FormatUserCode shows a normalised user code as XXXX-XXXX (RFC 8628
// §6.1: a separator helps people read it).
func FormatUserCode(code string) string {
	if len(code) != UserCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NormalizeUserCode turns what a user typed into the stored form: upper
// case, without dashes and spaces (RFC 8628 §6.1: case-insensitive,
// punctuation ignored). ok is false when the result cannot be a user code.
func NormalizeUserCode(typed string) (string, bool) {
	if len(typed) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case strings.ContainsRune(UserCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != UserCodeLen {
		return "", false
	}
	return b.String(), true
}

// DeviceRequest is a pending device authorization request found by its
// user code, for the verification page (RFC 8628 §3.3).
type DeviceRequest struct {
	Client   *gatehouse.Client
	Tenant   *gatehouse.Tenant
	Scopes   []string
	UserCode string // as shown: XXXX-XXXX
	userHash []byte
}

// errUserCode is a user code that names no pending request (unknown,
// mistyped, expired or decided already): ENOTFOUND, message
// error.device.code.
func errUserCode() error {
	return gatehouse.Errorf(gatehouse.ENOTFOUND, "the code is not valid or has expired").WithID("error.device.code")
}

// User code attempts (RFC 8628 §5.1: user codes are guessable by design,
// so the verification page rate-limits them): at most UserCodeAttempts
// failed entries per user in UserCodeWindow, counted in the database every
// node shares (the login throttle's counters).
const (
	UserCodeAttempts = 5
	UserCodeWindow   = time.Minute
)

// FindDeviceRequest looks up a user code typed by the signed-in user
// userID. A code that names no live, pending request of a tenant the user
// is a member of — or whose tenant no longer admits the app's requests —
// is ENOTFOUND (error.device.code), told apart from nothing else, so a
// guess learns only "no". Each such failure counts against the user's
// UserCodeAttempts; past them every entry, right or wrong, is ETOOMANY
// (error.device.too_many, RetryAfter set) until the window ends.
func (p *Provider) FindDeviceRequest(ctx context.Context, userID, typed string) (*DeviceRequest, error) {
	key := "device:" + userID
	wait, err := p.store.ReserveLoginAttempt(ctx, []gatehouse.LoginCounter{{Key: key, Limit: UserCodeAttempts}}, p.clock(), UserCodeWindow)
	if err != nil {
		return nil, fmt.Errorf("reserve user code attempt: %w", err)
	}
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		e := gatehouse.Errorf(gatehouse.ETOOMANY, "too many wrong codes; try again in %d seconds", secs).WithID("error.device.too_many", "Seconds", secs)
		e.RetryAfter = wait
		return nil, e
	}
	req, err := p.findDeviceRequest(ctx, userID, typed)
	if err == nil || !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		// Not a failed guess: the attempt does not count.
		if rerr := p.store.ReleaseLoginAttempt(ctx, []string{key}, nil); rerr != nil {
			p.log.WarnContext(ctx, "oauth2: release user code attempt", "err", rerr)
		}
	}
	return req, err
}

func (p *Provider) findDeviceRequest(ctx context.Context, userID, typed string) (*DeviceRequest, error) {
	code, ok := NormalizeUserCode(typed)
	if !ok {
		return nil, errUserCode()
	}
	d, err := p.store.FindDeviceAuthorizationByUserCode(ctx, secret.HashBytes(code), p.clock())
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, errUserCode()
	} else if err != nil {
		return nil, err
	}
	// Security: a request of a tenant the user is not a member of is "not
	// found" too: it tells a guesser nothing, and no one decides for
	// another tenant's app.
	if err := p.memberOf(ctx, &gatehouse.Tenant{ID: d.TenantID}, userID); gatehouse.IsCode(err, gatehouse.EFORBIDDEN) {
		return nil, errUserCode()
	} else if err != nil {
		return nil, err
	}
	client, err := p.store.FindClient(ctx, d.ClientID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, errUserCode()
	} else if err != nil {
		return nil, err
	}
	ts, err := p.v.TenantState(ctx, client.TenantID)
	if err != nil {
		return nil, err
	}
	if !ts.Found || ts.Disabled || !ts.OAuthApps || !client.AllowsGrant(gatehouse.GrantDeviceCode) {
		return nil, errUserCode()
	}
	tenant, err := p.store.FindTenantByID(ctx, client.TenantID)
	if err != nil {
		return nil, err
	}
	return &DeviceRequest{Client: client, Tenant: tenant, Scopes: d.Scopes, UserCode: FormatUserCode(code), userHash: d.UserHash}, nil
}

// ApproveDevice records the user's consent (with the audit event ctx
// carries, as Approve) and approves the request for them: the device's
// next poll gets the tokens. The user must be a member of the app's
// tenant (EFORBIDDEN otherwise); a request decided or expired meanwhile
// is ENOTFOUND (error.device.code).
func (p *Provider) ApproveDevice(ctx context.Context, req *DeviceRequest, userID string) error {
	if err := p.memberOf(ctx, req.Tenant, userID); err != nil {
		return err
	}
	consent := &gatehouse.Consent{TenantID: req.Tenant.ID, UserID: userID, ClientID: req.Client.ID, Scopes: req.Scopes}
	if prev, err := p.store.FindConsent(ctx, req.Tenant.ID, userID, req.Client.ID); err == nil {
		if merged, err := p.tree.NormalizeScopes(append(append([]string{}, prev.Scopes...), req.Scopes...)); err == nil {
			consent.Scopes = merged
		}
	}
	if err := p.store.SaveConsent(ctx, consent); err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	return p.decideDevice(gatehouse.WithAudit(ctx, nil), req, userID, true)
}

// DenyDevice denies the request: the device's next poll is access_denied.
func (p *Provider) DenyDevice(ctx context.Context, req *DeviceRequest, userID string) error {
	if err := p.memberOf(ctx, req.Tenant, userID); err != nil {
		return err
	}
	return p.decideDevice(ctx, req, userID, false)
}

func (p *Provider) decideDevice(ctx context.Context, req *DeviceRequest, userID string, allow bool) error {
	d := &gatehouse.DeviceDecision{TenantID: req.Tenant.ID, UserHash: req.userHash, UserID: userID, Allow: allow, Now: p.clock()}
	if allow {
		d.Scopes, d.GrantID = req.Scopes, newGrantID()
	}
	err := p.store.DecideDeviceAuthorization(ctx, d)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) || gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		return errUserCode()
	}
	return err
}

func (p *Provider) memberOf(ctx context.Context, t *gatehouse.Tenant, userID string) error {
	if _, err := p.store.FindMembership(ctx, t.ID, userID); err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return gatehouse.Errorf(gatehouse.EFORBIDDEN, "your account is not a member of %s", t.Name)
		}
		return err
	}
	return nil
}
