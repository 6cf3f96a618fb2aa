package gatehouse

import (
	"context"
	"time"
)

// Store is Gatehouse's storage. Every backend (SQLite, PostgreSQL) implements
// it and passes the conformance suite in internal/store/storetest.
//
// Rules every implementation keeps:
//   - Objects that belong to a tenant are looked up by (tenantID, id); an
//     object of another tenant is ENOTFOUND, never returned.
//   - Create methods assign ID and CreatedAt when empty and write them back.
//   - Times are stored and returned in UTC, with at least microsecond precision.
//   - A uniqueness violation is ECONFLICT; a missing row is ENOTFOUND; a
//     database that cannot be reached is EUNAVAILABLE.
//   - Multi-row invariants live in one method each so they are atomic.
//   - A write whose ctx carries an audit event (WithAudit) appends it in the
//     same transaction as its change: both commit or neither does (an
//     event the database refuses fails the write, and nothing of it is
//     stored).
type Store interface {
	OAuth2Store
	DeviceStore
	IntegrationStore
	LoginStore
	PruneStore
	SigningKeyStore

	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error

	CreateTenant(ctx context.Context, t *Tenant) error
	FindTenantByID(ctx context.Context, id string) (*Tenant, error)
	FindTenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// UpdateTenant saves Name, Plan and Disabled.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// Settings returns the tenant's settings (DefaultSettings until saved).
	Settings(ctx context.Context, tenantID string) (Settings, error)
	SaveSettings(ctx context.Context, tenantID string, s Settings) error
	// PatchSettings sets the switches p names, and only those, in one
	// statement (concurrent patches of different switches all stick), and
	// returns the settings as they are after it.
	PatchSettings(ctx context.Context, tenantID string, p SettingsPatch) (Settings, error)

	CreateUser(ctx context.Context, u *User) error
	FindUserByID(ctx context.Context, id string) (*User, error)
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser saves PasswordHash, Locale and TimeZone.
	UpdateUser(ctx context.Context, u *User) error

	// AddMembership is ECONFLICT when the user is already a member.
	AddMembership(ctx context.Context, m *Membership) error
	FindMembership(ctx context.Context, tenantID, userID string) (*Membership, error)
	// ListMembers returns the tenant's members that f selects, newest first.
	ListMembers(ctx context.Context, tenantID string, f MemberFilter) ([]*Member, error)
	ListUserTenants(ctx context.Context, userID string) ([]*TenantMembership, error)
	SetMembershipRole(ctx context.Context, tenantID, userID string, role Role) error
	// RemoveMembership deletes the membership and, in the same transaction,
	// revokes every credential the user holds in that tenant (at now).
	RemoveMembership(ctx context.Context, tenantID, userID string, now time.Time) error

	// CreateCredential stores c and its AllowList.
	CreateCredential(ctx context.Context, c *Credential) error
	// CreateCredentialWithin stores c like CreateCredential unless the
	// tenant already holds limit live (not revoked, not expired at
	// c.CreatedAt) credentials of c.Kind for c.UserID — of any user when
	// c.UserID is "" — which is ECONFLICT; count and insert are atomic.
	CreateCredentialWithin(ctx context.Context, c *Credential, limit int) error
	// FindCredentialByHash is the verification lookup, across tenants.
	FindCredentialByHash(ctx context.Context, hash []byte) (*Credential, error)
	FindCredential(ctx context.Context, tenantID, id string) (*Credential, error)
	// ListCredentials returns the tenant's credentials, newest first.
	ListCredentials(ctx context.Context, tenantID string, f CredentialFilter) ([]*Credential, error)
	// RevokeCredential sets RevokedAt (idempotent: a revoked credential
	// keeps its first revocation time).
	RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error
	// RetireCredential revokes the credential (as RevokeCredential) and
	// removes its allowlist in one transaction: how a credential is
	// deleted, its row kept so that it answers REVOKED.
	RetireCredential(ctx context.Context, tenantID, id string, at time.Time) error
	// DeleteCredential removes the credential and its allowlist.
	DeleteCredential(ctx context.Context, tenantID, id string) error
	// TouchCredentials records last use times in one batch; later times win.
	TouchCredentials(ctx context.Context, used map[string]time.Time) error

	// AddAllowEntry appends to a credential's allowlist; the
	// MaxAllowEntries-th+1 entry is EINVALID, checked atomically.
	AddAllowEntry(ctx context.Context, tenantID, credentialID string, e *AllowEntry) error
	DeleteAllowEntry(ctx context.Context, tenantID, credentialID, entryID string) error

	AppendAudit(ctx context.Context, e *AuditEvent) error
	ListAudit(ctx context.Context, tenantID string, q AuditQuery) (AuditPage, error)

	// ConsumeOnce marks key in namespace used at now. It succeeds for
	// exactly one caller, however many race, and is ECONFLICT for every
	// other as long as the mark lives: through expires, inclusive. A mark
	// is forgotten (and the key usable once more) only at a now strictly
	// after its expires. For authorization codes, nonces, verifiers and
	// rotated refresh tokens; now is the caller's clock, so the edge is
	// exact and testable.
	ConsumeOnce(ctx context.Context, namespace, key string, now, expires time.Time) error

	CreateSession(ctx context.Context, s *Session) error
	FindSessionByHash(ctx context.Context, hash []byte) (*Session, error)
	// SetSessionTenant switches the session's current tenant.
	SetSessionTenant(ctx context.Context, id, tenantID string) error
	// TouchSession records activity on a session: last_seen_at becomes at
	// unless it is later already; a missing session is no error.
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) error

	// Subscribe registers fn to be called after every committed change that
	// can alter a verification answer (a credential's revocation, deletion,
	// scopes or allowlist; a membership removed; a tenant's settings or
	// disablement). fn must not block. The returned func unsubscribes.
	Subscribe(fn func(Change)) (unsubscribe func())
}

// Change tells caches what a committed write may have invalidated. A
// Change with no TenantID means anything may have changed (a node lost its
// change feed and resynchronises): drop everything.
type Change struct {
	TenantID     string
	CredentialID string // "" means anything of the tenant
	Hash         []byte // the credential's hash, when known
}

// Session is a console login. Only the hash of its cookie value is stored.
type Session struct {
	ID        string
	Hash      []byte // SHA-256 of the cookie value
	UserID    string
	TenantID  string // the tenant the console currently shows
	CSRFKey   []byte // per-session secret that CSRF tokens are derived from
	CreatedAt time.Time
	ExpiresAt time.Time // absolute: activity does not extend it
	// LastSeenAt is the session's latest request as last recorded (the
	// console writes it at most once a minute); the idle timeout counts
	// from it. CreateSession sets it to CreatedAt when zero.
	LastSeenAt time.Time
}

// SettingsPatch names the switches to set; nil fields keep their value.
type SettingsPatch struct {
	AllowAnonymousGuestAccess *bool
	EnhancedSecurity          *bool
	OAuth1TokensAsBearer      *bool
	RequireClientHeader       *bool
}

// Empty reports whether p names no switch.
func (p SettingsPatch) Empty() bool {
	return p.AllowAnonymousGuestAccess == nil && p.EnhancedSecurity == nil &&
		p.OAuth1TokensAsBearer == nil && p.RequireClientHeader == nil
}

// auditKey is the context key of WithAudit.
type auditKey struct{}

// WithAudit returns ctx carrying the audit event of the store write ctx is
// then given to: the store appends event() in the write's own transaction
// (Store's rules), so a change and the event describing it commit together
// or not at all. event runs inside that transaction, after the write has
// assigned its IDs (so the event may name them); it must only build the
// event — no I/O — and may run more than once. Give the ctx to one write
// only. A nil event carries none (it hides an outer one).
func WithAudit(ctx context.Context, event func() *AuditEvent) context.Context {
	return context.WithValue(ctx, auditKey{}, event)
}

// AuditOf returns the event WithAudit put in ctx, nil when none.
func AuditOf(ctx context.Context) func() *AuditEvent {
	fn, _ := ctx.Value(auditKey{}).(func() *AuditEvent)
	return fn
}
