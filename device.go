package gatehouse

import (
	"context"
	"time"
)

// GrantDeviceCode is the device authorization grant's grant type (RFC
// 8628 §3.4), which an app must be allowed to use the device flow.
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Device authorization states (RFC 8628 §3.3: the user approves or denies
// on a second device while the first polls).
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceAuthorization is one device authorization request (RFC 8628
// §3.1–3.2). The device code is stored only as its SHA-256, the user code
// (normalised: upper case, no dash) only as its SHA-256 too.
type DeviceAuthorization struct {
	DeviceHash   []byte // SHA-256 of device_code; the row's key
	UserHash     []byte // SHA-256 of the normalised user_code; unique while live
	TenantID     string
	ClientID     string
	Scopes       []string
	Interval     time.Duration // the polling interval now (RFC 8628 §3.5: slow_down adds 5 s)
	Status       string        // DevicePending, DeviceApproved or DeviceDenied
	UserID       string        // who decided; "" while pending
	GrantID      string        // the grant the tokens will belong to, set on approval
	ExpiresAt    time.Time
	CreatedAt    time.Time
	LastPolledAt *time.Time
	DecidedAt    *time.Time
	UsedAt       *time.Time // when the tokens were issued (single use)
}

// DeviceDecision is a user's Allow or Deny on the verification page (RFC
// 8628 §3.3), for Store.DecideDeviceAuthorization.
type DeviceDecision struct {
	TenantID string // the tenant the user decides in; the request's must match
	UserHash []byte
	UserID   string
	Allow    bool
	// Scopes is what the user allowed (the request's); GrantID names the
	// grant of the tokens to come. Both only for Allow.
	Scopes  []string
	GrantID string
	Now     time.Time
}

// DevicePoll is a token request of the device_code grant (RFC 8628 §3.4),
// for Store.PollDeviceAuthorization.
type DevicePoll struct {
	DeviceHash []byte
	TenantID   string // the authenticated client's tenant
	ClientID   string // the authenticated client
	Now        time.Time
	// Issue are the credentials to store once the request is approved; the
	// store binds each to it (UserID, GrantID, Scopes without manage).
	Issue []*Credential
}

// DevicePollResult is what a poll found (RFC 8628 §3.5).
type DevicePollResult string

// Poll results; each but DeviceIssued is the token endpoint's error code.
const (
	DevicePollPending  DevicePollResult = "authorization_pending"
	DevicePollSlowDown DevicePollResult = "slow_down"
	DevicePollDenied   DevicePollResult = "access_denied"
	DevicePollExpired  DevicePollResult = "expired_token"
	DevicePollIssued   DevicePollResult = "issued"
)

// DeviceStore keeps device authorization requests (RFC 8628). Every
// decision about one request happens inside one method, atomically.
type DeviceStore interface {
	// CreateDeviceAuthorization stores a pending request, assigning
	// CreatedAt when zero. A device hash already stored, or a user code
	// of a request that has not expired, is ECONFLICT (the caller draws
	// another code); a request that has expired holding the same user
	// code is replaced.
	CreateDeviceAuthorization(ctx context.Context, d *DeviceAuthorization) error
	// FindDeviceAuthorizationByUserCode returns the request of a user code
	// that has not expired at now and is still pending; anything else is
	// ENOTFOUND. The caller checks the tenant.
	FindDeviceAuthorizationByUserCode(ctx context.Context, userHash []byte, now time.Time) (*DeviceAuthorization, error)
	// DecideDeviceAuthorization approves or denies a pending request of
	// d.TenantID that has not expired, in one conditional statement: an
	// unknown or expired code, or one of another tenant, is ENOTFOUND; a
	// request decided already is ECONFLICT. Approval binds the request to
	// d.UserID, d.Scopes and d.GrantID.
	DecideDeviceAuthorization(ctx context.Context, d *DeviceDecision) error
	// PollDeviceAuthorization answers a poll in one transaction whose
	// checks are its own SQL. In order: an unknown device code is
	// ENOTFOUND; one of another client or tenant is EFORBIDDEN and nothing
	// changes; an expired one is DevicePollExpired; one already used is
	// ECONFLICT. A pending request polled sooner than Interval after the
	// previous poll is DevicePollSlowDown and its Interval grows by 5 s
	// (RFC 8628 §3.5); otherwise the poll is recorded and it is
	// DevicePollPending. A denied request is DevicePollDenied. An
	// approved one is marked used and r.Issue stored with it — unless the
	// app has been deleted, the user is no longer a member or withdrew
	// the consent, or the grant was revoked: then it is EINVALID (its
	// message says which), the request stays spent, and nothing is
	// issued. Of concurrent polls of an approved request exactly one gets
	// DevicePollIssued; the others see it used.
	PollDeviceAuthorization(ctx context.Context, r *DevicePoll) (DevicePollResult, error)
}
