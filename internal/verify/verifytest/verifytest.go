// Package verifytest builds the fixtures the verify and gateway tests
// share: a real SQLite store with tenants, users and credentials made
// directly through the store, a stopped clock, and Spy, a store wrapper
// that counts lookups and injects failures.
package verifytest

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// Spy wraps a real store, counting the reads verification makes and, when
// told to, failing them — the way tests show that nothing touched the
// database (MALFORMED, cache hits) and that outages fail closed.
type Spy struct {
	gatehouse.Store

	// Reads counts FindCredentialByHash, FindTenantByID, FindTenantBySlug
	// and Settings calls.
	Reads atomic.Int64
	// Touches counts TouchCredentials calls.
	Touches atomic.Int64

	mu  sync.Mutex
	err error
}

// SetErr makes every counted call fail with err (nil: pass through).
func (s *Spy) SetErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *Spy) fail() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// FindCredentialByHash counts and forwards.
func (s *Spy) FindCredentialByHash(ctx context.Context, hash []byte) (*gatehouse.Credential, error) {
	s.Reads.Add(1)
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.FindCredentialByHash(ctx, hash)
}

// FindTenantByID counts and forwards.
func (s *Spy) FindTenantByID(ctx context.Context, id string) (*gatehouse.Tenant, error) {
	s.Reads.Add(1)
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.FindTenantByID(ctx, id)
}

// FindTenantBySlug counts and forwards.
func (s *Spy) FindTenantBySlug(ctx context.Context, slug string) (*gatehouse.Tenant, error) {
	s.Reads.Add(1)
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.FindTenantBySlug(ctx, slug)
}

// Settings counts and forwards.
func (s *Spy) Settings(ctx context.Context, tenantID string) (gatehouse.Settings, error) {
	s.Reads.Add(1)
	if err := s.fail(); err != nil {
		return gatehouse.Settings{}, err
	}
	return s.Store.Settings(ctx, tenantID)
}

// TouchCredentials counts and forwards.
func (s *Spy) TouchCredentials(ctx context.Context, used map[string]time.Time) error {
	s.Touches.Add(1)
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.TouchCredentials(ctx, used)
}

// ErrUnavailable is what a store answers when its database is down.
var ErrUnavailable = gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unreachable")

// Env is a populated store: tenant "acme" (with Alice, a member) and tenant
// "globex" (with Bob), both enabled with default settings.
type Env struct {
	T     testing.TB
	DB    *sqlstore.DB
	Spy   *Spy
	Tree  *gatehouse.ResourceTree
	Clock *testclock.Clock

	Acme, Globex *gatehouse.Tenant
	Alice, Bob   *gatehouse.User
}

// Start is the clock's starting time.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// New opens a fresh SQLite store in a temporary directory and populates it.
func New(t testing.TB) *Env {
	t.Helper()
	db := sqlstoretest.SQLite(t)
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, DB: db, Spy: &Spy{Store: db}, Tree: tree, Clock: testclock.New(Start)}
	e.Acme = e.Tenant("acme")
	e.Globex = e.Tenant("globex")
	e.Alice = e.Member(e.Acme, "alice@acme.test")
	e.Bob = e.Member(e.Globex, "bob@globex.test")
	return e
}

// Tenant creates an enabled tenant with default settings.
func (e *Env) Tenant(slug string) *gatehouse.Tenant {
	e.T.Helper()
	t := &gatehouse.Tenant{Slug: slug, Name: slug + " Inc.", Plan: gatehouse.PlanEnterprise}
	if err := e.DB.CreateTenant(context.Background(), t); err != nil {
		e.T.Fatalf("create tenant: %v", err)
	}
	return t
}

// Member creates a user with a staff membership in t.
func (e *Env) Member(t *gatehouse.Tenant, email string) *gatehouse.User {
	e.T.Helper()
	ctx := context.Background()
	u := &gatehouse.User{Email: email}
	if err := e.DB.CreateUser(ctx, u); err != nil {
		e.T.Fatalf("create user: %v", err)
	}
	if err := e.DB.AddMembership(ctx, &gatehouse.Membership{TenantID: t.ID, UserID: u.ID, Role: gatehouse.RoleStaff}); err != nil {
		e.T.Fatalf("add membership: %v", err)
	}
	return u
}

// SetSettings saves a tenant's settings.
func (e *Env) SetSettings(t *gatehouse.Tenant, s gatehouse.Settings) {
	e.T.Helper()
	if err := e.DB.SaveSettings(context.Background(), t.ID, s); err != nil {
		e.T.Fatalf("save settings: %v", err)
	}
}

// Disable disables a tenant.
func (e *Env) Disable(t *gatehouse.Tenant) {
	e.T.Helper()
	cp := *t
	cp.Disabled = true
	if err := e.DB.UpdateTenant(context.Background(), &cp); err != nil {
		e.T.Fatalf("disable tenant: %v", err)
	}
}

// Cred describes a credential to create.
type Cred struct {
	Tenant    *gatehouse.Tenant
	Kind      gatehouse.Kind // default KindPAT
	User      *gatehouse.User
	ClientID  string
	Scopes    []string // default [all]
	ExpiresIn time.Duration
	Expired   bool // expired an hour before Start
	Revoked   bool
	Allow     []string // CIDRs or addresses
}

// Credential creates a credential directly through the store (the way the
// admin service will) and returns its plaintext token.
func (e *Env) Credential(c Cred) (token string, cred *gatehouse.Credential) {
	e.T.Helper()
	if c.Kind == "" {
		c.Kind = gatehouse.KindPAT
	}
	if c.Scopes == nil {
		c.Scopes = []string{gatehouse.ScopeAll}
	}
	token = secret.NewToken(c.Kind)
	cred = &gatehouse.Credential{
		TenantID: c.Tenant.ID,
		Kind:     c.Kind,
		Name:     "test " + string(c.Kind),
		Hash:     secret.HashBytes(token),
		Hint:     secret.Hint(token),
		ClientID: c.ClientID,
		Scopes:   c.Scopes,
	}
	if c.User != nil {
		cred.UserID = c.User.ID
	}
	switch {
	case c.Expired:
		t := Start.Add(-time.Hour)
		cred.ExpiresAt = &t
	case c.ExpiresIn > 0:
		t := Start.Add(c.ExpiresIn)
		cred.ExpiresAt = &t
	}
	if c.Revoked {
		t := Start.Add(-time.Minute)
		cred.RevokedAt = &t
	}
	for i, a := range c.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, err2 := netip.ParseAddr(a)
			if err2 != nil {
				e.T.Fatalf("allow %q: %v", a, err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		cred.AllowList = append(cred.AllowList, gatehouse.AllowEntry{Name: "entry " + string(rune('a'+i)), Prefix: p})
	}
	if err := e.DB.CreateCredential(context.Background(), cred); err != nil {
		e.T.Fatalf("create credential: %v", err)
	}
	return token, cred
}
