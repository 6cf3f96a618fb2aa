// Package admin is the set of administrative operations that the console,
// the management API and the CLI share: each one checks the actor's role,
// validates input, changes the store and appends an audit event, so the
// three front ends stay thin and cannot drift apart.
package admin

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Store is what the administrative operations read and change: tenants
// and their settings, users and memberships, credentials and their
// allowlists, the audit log, OAuth apps and consents, integrations with
// their deliveries and notifications, and the login throttle's counters.
// gatehouse.Store is one (its documentation gives each method's rules).
type Store interface {
	gatehouse.LoginStore

	CreateTenant(ctx context.Context, t *gatehouse.Tenant) error
	FindTenantByID(ctx context.Context, id string) (*gatehouse.Tenant, error)
	FindTenantBySlug(ctx context.Context, slug string) (*gatehouse.Tenant, error)
	UpdateTenant(ctx context.Context, t *gatehouse.Tenant) error
	Settings(ctx context.Context, tenantID string) (gatehouse.Settings, error)
	PatchSettings(ctx context.Context, tenantID string, p gatehouse.SettingsPatch) (gatehouse.Settings, error)

	CreateUser(ctx context.Context, u *gatehouse.User) error
	FindUserByID(ctx context.Context, id string) (*gatehouse.User, error)
	FindUserByEmail(ctx context.Context, email string) (*gatehouse.User, error)

	AddMembership(ctx context.Context, m *gatehouse.Membership) error
	FindMembership(ctx context.Context, tenantID, userID string) (*gatehouse.Membership, error)
	ListUserTenants(ctx context.Context, userID string) ([]*gatehouse.TenantMembership, error)
	ListMembers(ctx context.Context, tenantID string, f gatehouse.MemberFilter) ([]*gatehouse.Member, error)
	SetMembershipRole(ctx context.Context, tenantID, userID string, role gatehouse.Role) error
	RemoveMembership(ctx context.Context, tenantID, userID string, now time.Time) error

	CreateCredential(ctx context.Context, c *gatehouse.Credential) error
	CreateCredentialWithin(ctx context.Context, c *gatehouse.Credential, limit int) error
	FindCredential(ctx context.Context, tenantID, id string) (*gatehouse.Credential, error)
	ListCredentials(ctx context.Context, tenantID string, f gatehouse.CredentialFilter) ([]*gatehouse.Credential, error)
	RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error
	RetireCredential(ctx context.Context, tenantID, id string, at time.Time) error
	AddAllowEntry(ctx context.Context, tenantID, credentialID string, e *gatehouse.AllowEntry) error
	DeleteAllowEntry(ctx context.Context, tenantID, credentialID, entryID string) error

	AppendAudit(ctx context.Context, e *gatehouse.AuditEvent) error
	ConsumeOnce(ctx context.Context, namespace, key string, now, expires time.Time) error
	ListAudit(ctx context.Context, tenantID string, q gatehouse.AuditQuery) (gatehouse.AuditPage, error)

	CreateClient(ctx context.Context, c *gatehouse.Client) error
	FindClient(ctx context.Context, clientID string) (*gatehouse.Client, error)
	ListClients(ctx context.Context, tenantID string, f gatehouse.ListFilter) ([]*gatehouse.Client, error)
	UpdateClientSecret(ctx context.Context, c *gatehouse.Client) error
	UpdateClient(ctx context.Context, c *gatehouse.Client) error
	DeleteClient(ctx context.Context, tenantID, clientID string, now time.Time) error
	ListConsents(ctx context.Context, tenantID, userID string) ([]*gatehouse.Consent, error)
	DeleteConsent(ctx context.Context, tenantID, userID, clientID string, now time.Time) error

	CreateIntegration(ctx context.Context, i *gatehouse.Integration) error
	FindIntegration(ctx context.Context, tenantID, id string) (*gatehouse.Integration, error)
	ListIntegrations(ctx context.Context, tenantID string, f gatehouse.ListFilter) ([]*gatehouse.Integration, error)
	UpdateIntegration(ctx context.Context, i *gatehouse.Integration) error
	DeleteIntegration(ctx context.Context, tenantID, id string, now time.Time) error
	IssueIntegrationToken(ctx context.Context, tenantID, integrationID string, c *gatehouse.Credential, now time.Time) error
	DeactivateIntegration(ctx context.Context, tenantID, integrationID string, now time.Time) error
	AddDelivery(ctx context.Context, d *gatehouse.Delivery) error
	ListDeliveries(ctx context.Context, tenantID, integrationID string, q gatehouse.PageQuery) ([]*gatehouse.Delivery, error)
	AddNotification(ctx context.Context, n *gatehouse.Notification) error
	ListNotifications(ctx context.Context, tenantID string, unreadOnly bool, limit int) ([]*gatehouse.Notification, error)
	MarkNotificationsRead(ctx context.Context, tenantID string, now time.Time) error
}

// Service performs administrative operations. It is safe for concurrent use.
type Service struct {
	store  Store
	tree   *gatehouse.ResourceTree
	now    func() time.Time
	log    *slog.Logger
	logins *loginThrottle // Login and ConfirmPassword
	// hashes holds one token per running password hash (hashSlot);
	// checkPassword is secret.CheckPassword (tests count calls).
	hashes        chan struct{}
	hashWait      time.Duration
	checkPassword func(hash, password string) bool
	maxTokens     int

	keys            *secret.Keyring
	deliver         Deliverer
	callbacks       CallbackPolicy
	publicURL       string
	handshakeExpiry time.Duration
	auditRetention  time.Duration
	// loginAudits holds one token per refused login whose events are
	// being written (auditLogin); pendingAudits counts them.
	loginAudits   chan struct{}
	pendingAudits sync.WaitGroup
}

// Options configure a Service.
type Options struct {
	Now func() time.Time // default time.Now
	Log *slog.Logger     // default slog.Default()
	// LoginFailures is how many failed logins per email and client
	// address are allowed within LoginWindow before logins are refused
	// with ETOOMANY (defaults 5 and 15 minutes); per client address over
	// all emails 4 times as many, per email over all addresses 10 times
	// as many (then only from addresses the account logged in from).
	// Wrong password re-confirmations (ConfirmPassword) are limited to
	// LoginFailures per user in LoginWindow.
	// The counters live in the store, so the limits hold across nodes.
	LoginFailures int
	LoginWindow   time.Duration
	// PasswordHashes is how many argon2id password hashes may run at once
	// (default GOMAXPROCS); a login waits at most PasswordHashWait
	// (default 2 s) for one before it is ETOOMANY.
	PasswordHashes   int
	PasswordHashWait time.Duration
	// MaxTokensPerUser is how many live personal access tokens a user may
	// hold in a tenant (default DefaultMaxTokensPerUser); a kind's
	// KindSpec.LiveLimit is the multiple of it its holder may keep (the
	// tenant's live API keys: 10 times as many).
	MaxTokensPerUser int
	// Integrations (seed 000): Keys seals OAuth 1.0a secrets; Deliver POSTs
	// activation credentials to callback URLs; PublicURL is store_base_url
	// (with a trailing slash) and the base of console links;
	// HandshakeExpiry is how long after an activation POST the consumer may
	// start the token exchange (default 300 s, Magento's).
	Keys            *secret.Keyring
	Deliver         Deliverer
	PublicURL       string
	HandshakeExpiry time.Duration
	// AuditRetention is GATEHOUSE_AUDIT_RETENTION, the age past which the
	// janitor deletes audit events (0: kept for ever); admin only reports
	// it (AuditRetention).
	AuditRetention time.Duration
	// Callbacks is which hosts callback and identity link URLs may name
	// when saved (the Deliverer checks again when dialling).
	Callbacks CallbackPolicy
}

// New returns a Service over store and the resource tree.
func New(store Store, tree *gatehouse.ResourceTree, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.LoginFailures <= 0 {
		opts.LoginFailures = 5
	}
	if opts.LoginWindow <= 0 {
		opts.LoginWindow = 15 * time.Minute
	}
	if opts.PasswordHashes <= 0 {
		opts.PasswordHashes = runtime.GOMAXPROCS(0)
	}
	if opts.PasswordHashWait <= 0 {
		opts.PasswordHashWait = 2 * time.Second
	}
	if opts.MaxTokensPerUser <= 0 {
		opts.MaxTokensPerUser = DefaultMaxTokensPerUser
	}
	if opts.HandshakeExpiry <= 0 {
		opts.HandshakeExpiry = DefaultHandshakeExpiry
	}
	return &Service{
		store:           store,
		tree:            tree,
		now:             opts.Now,
		log:             opts.Log,
		logins:          newLoginThrottle(store, opts.LoginFailures, opts.LoginWindow, opts.Log),
		hashes:          make(chan struct{}, opts.PasswordHashes),
		hashWait:        opts.PasswordHashWait,
		checkPassword:   secret.CheckPassword,
		maxTokens:       opts.MaxTokensPerUser,
		keys:            opts.Keys,
		deliver:         opts.Deliver,
		callbacks:       opts.Callbacks,
		publicURL:       strings.TrimRight(opts.PublicURL, "/"),
		handshakeExpiry: opts.HandshakeExpiry,
		auditRetention:  opts.AuditRetention,
		loginAudits:     make(chan struct{}, maxPendingLoginAudits),
	}
}

// Tree returns the resource tree.
func (s *Service) Tree() *gatehouse.ResourceTree { return s.tree }

// Now returns the service clock's time in UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Actor is who performs an operation, in which tenant.
type Actor struct {
	TenantID string
	UserID   string         // "" for the operator acting without a user
	Name     string         // what the audit log shows: an email or "operator"
	Role     gatehouse.Role // the user's role in TenantID
	IP       string         // client address, "" outside HTTP
	Operator bool           // the platform operator (CLI): every right in every tenant
	// Via is the credential the actor authenticated with (the management
	// API's bearer token); nil for a console session or the operator. What
	// such an actor creates is bounded by it (see delegate.go).
	Via *Via
}

// OperatorName is the audit actor of operations run from the command line.
const OperatorName = "operator"

// ActorFor returns the actor for a user acting in a tenant with their
// current role. A user who is not (or no longer) a member is EFORBIDDEN.
func (s *Service) ActorFor(ctx context.Context, tenantID, userID, ip string) (Actor, error) {
	u, err := s.store.FindUserByID(ctx, userID)
	if err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return Actor{}, gatehouse.Errorf(gatehouse.EFORBIDDEN, "the user no longer exists").WithID("error.user_gone")
		}
		return Actor{}, err
	}
	m, err := s.store.FindMembership(ctx, tenantID, userID)
	if err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return Actor{}, gatehouse.Errorf(gatehouse.EFORBIDDEN, "the user is not a member of this tenant").WithID("error.not_member")
		}
		return Actor{}, err
	}
	return Actor{TenantID: tenantID, UserID: userID, Name: u.Email, Role: m.Role, IP: ip}, nil
}

// requireManager refuses actors that may not manage the tenant.
func requireManager(a Actor) error {
	if a.Operator || a.Role.CanManage() {
		return nil
	}
	return gatehouse.Errorf(gatehouse.EFORBIDDEN, "only owners and admins may do this").WithID("error.managers_only")
}
