// Package verify answers the question every API call asks: is this
// credential good for this resource, from this address, with this client
// header? It turns a presented secret into a gatehouse.Principal and one of
// the verification codes of SPEC §5, the same for /api/v1/verify, the
// gateway and the Go middleware.
//
// The hot path is a cache hit: a CRC-32 check of the token's shape, a
// SHA-256 of it, one read-locked map lookup in a sharded cache keyed by the
// hash, and a handful of comparisons. The cache is invalidated at once by
// the store's change notifications (gatehouse.Store.Subscribe) and, for
// changes made on other nodes, by a short TTL.
//
// Integration access tokens (OAuth 1.0a, seed 000) are 32 characters of
// [a-z0-9] without a checksum, looked up by SHA-256 like every other
// token. They are signing keys: the gateway checks the request's
// signature (internal/oauth1) and then asks with Request.Signed set. Sent
// as a plain Bearer token, or to /api/v1/verify, such a token answers
// UNKNOWN — the code a refresh token gets as a bearer credential, since it
// is a real token used where it does not belong, and UNKNOWN reveals
// nothing about its state — unless the tenant turned
// oauth1_tokens_as_bearer on (Magento 2.4.4+'s "Allow OAuth Access Tokens
// to be used as standalone Bearer tokens").
//
// Security: verification fails closed. When the store cannot be reached and
// the answer is not cached, Verify returns an error and callers answer 503;
// it never answers VALID from anything but a fresh store read or a live
// cache entry.
package verify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Defaults of Options.
const (
	// DefaultCacheTTL bounds how long a node may answer from its cache
	// after a change whose notification it missed. Changes invalidate at
	// once through Store.Subscribe, on this node and, with PostgreSQL's
	// LISTEN/NOTIFY (internal/store/sqlstore/listen.go), on every other
	// (SPEC §7: one second across nodes); the TTL is the safety net for a
	// lost notification, long enough to keep the database load of busy
	// credentials low.
	DefaultCacheTTL = 5 * time.Second
	// DefaultNegativeTTL is how long an UNKNOWN answer is remembered: long
	// enough to absorb a client retrying a bad token in a loop, short
	// enough not to matter.
	DefaultNegativeTTL = time.Second
	// DefaultCacheSize is the number of credentials kept. The cache is
	// sharded with random eviction per shard, so it must hold the whole
	// working set: one sized just at the working set keeps missing in the
	// shards that got more than their share. A million entries is about
	// 260 MiB of heap at most (TestCacheMemory), allocated only as used.
	DefaultCacheSize = 1_000_000
	// DefaultFlushInterval is how often last-use times are written.
	DefaultFlushInterval = 5 * time.Second
	// DefaultUsageResolution is the resolution of last_used_at: a use
	// within a minute of the recorded one is not written again.
	DefaultUsageResolution = time.Minute
	// DefaultLoadTimeout bounds one store read on a cache miss.
	DefaultLoadTimeout = 5 * time.Second
)

// Observer receives one call per verification; *metrics.Metrics is one.
// code is the verification code, or CodeError when the store could not
// answer.
type Observer interface {
	ObserveVerify(kind, code string)
}

// CodeError is the code an Observer gets for a verification that failed
// with an error (and was refused with 503).
const CodeError = "ERROR"

// Options configure a Verifier. The zero value is usable.
type Options struct {
	// Now is the clock; tests inject one to expire credentials without
	// sleeping. Default time.Now.
	Now func() time.Time
	// CacheTTL is how long a cached answer is used (default
	// DefaultCacheTTL). Negative disables the cache.
	CacheTTL time.Duration
	// NegativeTTL is how long an UNKNOWN answer is cached (default
	// DefaultNegativeTTL, never longer than CacheTTL).
	NegativeTTL time.Duration
	// CacheSize bounds the number of cached credentials (default
	// DefaultCacheSize). Negative disables the credential cache (tenant
	// snapshots stay cached; CacheTTL < 0 disables both).
	CacheSize int
	// FlushInterval is how often Run writes last-use times (default
	// DefaultFlushInterval).
	FlushInterval time.Duration
	// UsageResolution is the resolution of last_used_at (default
	// DefaultUsageResolution; negative records every use).
	UsageResolution time.Duration
	// LoadTimeout bounds the store reads of one cache miss (default
	// DefaultLoadTimeout).
	LoadTimeout time.Duration
	// Metrics, when set, counts every verification by kind and code.
	Metrics Observer
	// Logger for background failures (default slog.Default()).
	Logger *slog.Logger
}

// Request is one verification question.
type Request struct {
	// Credential is the presented secret (the Bearer token or API key).
	Credential string
	// Resource is the resource the call needs (a resource tree id, or
	// "verify"/"manage"); "" checks validity only.
	Resource string
	// IP is the client address. The zero Addr fails every non-empty
	// allowlist (fail closed); an empty allowlist accepts it.
	IP netip.Addr
	// ClientID is the X-Gatehouse-Client header, "" when absent.
	ClientID string
	// Signed says the request's OAuth 1.0a signature was already checked
	// with this credential as the access token (the gateway's OAuth
	// extractor, after oauth1.Provider.Authenticate). An integration
	// access token that is not signed is accepted only when its tenant's
	// oauth1_tokens_as_bearer setting is on.
	Signed bool
}

// Result is a verification answer.
type Result struct {
	Code gatehouse.Code
	// Kind is the credential's kind when the token's shape told it, even
	// when the credential is refused ("" for MISSING and MALFORMED).
	Kind gatehouse.Kind
	// Principal is set (Found) whenever the credential was found: for VALID
	// and for every refusal after the lookup (REVOKED, EXPIRED,
	// TENANT_DISABLED, IP_NOT_ALLOWED, CLIENT_MISMATCH,
	// INSUFFICIENT_SCOPE), so that callers can tell whose credential it is
	// — and keep tenants apart. It is a value, so that a cache hit
	// allocates nothing; its Scopes and ExpiresAt are shared with the
	// cache: treat them as read-only.
	Principal gatehouse.Principal
	// Detail, when set, explains the code better than Code.Message (a
	// constant: no allocation).
	Detail string
}

// DetailUnsignedIntegration explains the UNKNOWN answer for an integration
// access token sent without an OAuth 1.0a signature while the tenant's
// oauth1_tokens_as_bearer setting is off.
const DetailUnsignedIntegration = "integration access tokens must be sent OAuth 1.0a-signed (Authorization: OAuth); " +
	"the tenant does not allow them as Bearer tokens (setting oauth1_tokens_as_bearer)"

// DetailPlan explains the TENANT_DISABLED answer for an OAuth 2.0 access
// token of a tenant that is enabled but not on the Enterprise plan, which
// OAuth apps need (seed 002).
const DetailPlan = "the tenant's plan does not include OAuth apps (Enterprise plan); the token works again if the plan returns"

// Valid reports whether the code is VALID.
func (r Result) Valid() bool { return r.Code == gatehouse.CodeValid }

// Found reports whether Principal is set: the credential (or, for Guest,
// the tenant) was found. Every principal has a tenant.
func (r Result) Found() bool { return r.Principal.TenantID != "" }

// Store is what verification reads and writes: the credential lookup, its
// tenant's snapshot (row and settings), the batched last-use times, and the
// change feed that invalidates the cache. gatehouse.Store is one (its
// documentation gives each method's rules).
type Store interface {
	FindCredentialByHash(ctx context.Context, hash []byte) (*gatehouse.Credential, error)
	FindTenantByID(ctx context.Context, id string) (*gatehouse.Tenant, error)
	FindTenantBySlug(ctx context.Context, slug string) (*gatehouse.Tenant, error)
	Settings(ctx context.Context, tenantID string) (gatehouse.Settings, error)
	TouchCredentials(ctx context.Context, used map[string]time.Time) error
	Subscribe(fn func(gatehouse.Change)) (unsubscribe func())
}

// Verifier checks credentials against a store, with a cache in front. It is
// safe for concurrent use. Create it with New, run Run in the background to
// record last-use times, and Close it when done.
type Verifier struct {
	store  Store
	tree   *gatehouse.ResourceTree
	now    func() time.Time
	ttl    int64 // nanos
	negTTL int64
	cache  *cache // nil when disabled
	loads  flights
	obs    Observer
	log    *slog.Logger

	flushEvery  time.Duration
	loadTimeout time.Duration
	usage       usageLog
	unsubscribe func()
}

// New returns a Verifier over store that checks scopes against tree. It
// subscribes to the store's changes at once; Close unsubscribes.
func New(store Store, tree *gatehouse.ResourceTree, opts Options) *Verifier {
	v := &Verifier{
		store:       store,
		tree:        tree,
		now:         opts.Now,
		obs:         opts.Metrics,
		log:         cmp.Or(opts.Logger, slog.Default()),
		flushEvery:  positive(opts.FlushInterval, DefaultFlushInterval),
		loadTimeout: positive(opts.LoadTimeout, DefaultLoadTimeout),
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.usage.resolution = int64(max(opts.UsageResolution, 0))
	if opts.UsageResolution == 0 {
		v.usage.resolution = int64(DefaultUsageResolution)
	}
	ttl, size := cmp.Or(opts.CacheTTL, DefaultCacheTTL), cmp.Or(opts.CacheSize, DefaultCacheSize)
	neg := min(positive(opts.NegativeTTL, DefaultNegativeTTL), ttl)
	if ttl > 0 {
		// CacheSize < 0 turns the credential cache off but keeps tenant
		// snapshots (see cache).
		v.ttl, v.negTTL = int64(ttl), int64(neg)
		v.cache = newCache(size)
		v.unsubscribe = store.Subscribe(v.cache.invalidate)
	}
	return v
}

// positive is d, or def when d is not positive.
func positive[T int | time.Duration](d, def T) T {
	if d <= 0 {
		return def
	}
	return d
}

// Close stops listening to store changes. It does not flush last-use
// times: Run does that when its context ends, or call Flush.
func (v *Verifier) Close() error {
	if v.unsubscribe != nil {
		v.unsubscribe()
		v.unsubscribe = nil
	}
	return nil
}

// Tree returns the resource tree scopes are checked against.
func (v *Verifier) Tree() *gatehouse.ResourceTree { return v.tree }

// Verify answers req. The error is non-nil only when the store failed
// (EUNAVAILABLE, EINTERNAL, a timeout) and the answer was not cached; the
// caller must then refuse the call with 503 — fail closed, SPEC §9.
//
// Checks run in this order, and the first that fails gives the code:
// empty → MISSING; neither a gate_ token with a good checksum nor 32
// characters of [a-z0-9] (an integration access token) → MALFORMED (no
// store access); refresh token → UNKNOWN (no store access); not found →
// UNKNOWN; an integration access token without an OAuth 1.0a signature
// (Request.Signed) while the tenant's oauth1_tokens_as_bearer is off →
// UNKNOWN (Result.Detail says why); revoked → REVOKED; expired → EXPIRED; tenant disabled, or an OAuth 2.0
// access token of a tenant not on the Enterprise plan → TENANT_DISABLED (Result.Detail says which); address
// not on a non-empty allowlist → IP_NOT_ALLOWED; OAuth 2.0 client header →
// CLIENT_MISMATCH; resource not granted → INSUFFICIENT_SCOPE.
func (v *Verifier) Verify(ctx context.Context, req Request) (Result, error) {
	res, err := v.verify(ctx, req)
	if v.obs != nil {
		code := string(res.Code)
		if err != nil {
			code = CodeError
		}
		v.obs.ObserveVerify(string(res.Kind), code)
	}
	return res, err
}

func (v *Verifier) verify(ctx context.Context, req Request) (Result, error) {
	if req.Credential == "" {
		return Result{Code: gatehouse.CodeMissing}, nil
	}
	kind, ok := secret.ParseToken(req.Credential)
	if !ok {
		if !gatehouse.IsOAuth1Value(req.Credential) {
			// A typo, a truncated paste or a foreign secret: refused on
			// the checksum alone, so guessing costs the database nothing.
			return Result{Code: gatehouse.CodeMalformed}, nil
		}
		// 32 characters of [a-z0-9]: the Magento-compatible shape of an
		// integration's OAuth 1.0a access token (SPEC §2), which has no
		// checksum, so only the lookup can tell.
		kind = gatehouse.KindIntegration
	}
	if kind == gatehouse.KindOAuth2Refresh {
		// RFC 6749 §1.5: a refresh token is only ever presented to the
		// authorization server's token endpoint, never to a resource
		// server. It is well-formed, so not MALFORMED; as a bearer
		// credential it is UNKNOWN, and answering that needs no lookup.
		return Result{Code: gatehouse.CodeUnknown, Kind: kind}, nil
	}
	h := secret.Hash(req.Credential)
	now := v.now()
	e, err := v.lookup(ctx, &h, now.UnixNano())
	if err != nil {
		return Result{Kind: kind}, err
	}
	if e == nil || e.kind.Kind() != kind {
		// Not found, or a prefix that lies about the kind (which only a
		// forged row could produce): either way nobody issued this token.
		return Result{Code: gatehouse.CodeUnknown, Kind: kind}, nil
	}
	if kind == gatehouse.KindIntegration && !req.Signed && !e.tenant.settings.OAuth1TokensAsBearer {
		// Magento 2.4.4+: an integration's access token is a signing key,
		// not a bearer credential, unless the tenant switched
		// oauth1_tokens_as_bearer on. Unsigned it is UNKNOWN, like a
		// refresh token presented as a bearer credential, and says
		// nothing more about the token (not even REVOKED).
		return Result{Code: gatehouse.CodeUnknown, Kind: kind, Detail: DetailUnsignedIntegration}, nil
	}
	// The Principal is copied from the entry's fields per answer (a value:
	// no allocation) rather than kept in every cache entry: that halves
	// the entry.
	res := Result{Kind: kind, Code: v.check(e, &req, now), Principal: e.principal()}
	if res.Code == gatehouse.CodeTenantDisabled && !e.tenant.disabled {
		res.Detail = DetailPlan
	}
	if res.Code == gatehouse.CodeValid {
		v.usage.touch(e, now.UnixNano())
	}
	return res, nil
}

// check applies the per-request checks to a found credential.
func (v *Verifier) check(e *entry, req *Request, now time.Time) gatehouse.Code {
	switch {
	case e.revoked:
		return gatehouse.CodeRevoked
	case e.expiresAt != nil && !now.Before(*e.expiresAt):
		// Checked against the clock on every hit, never cached: a cached
		// credential answers EXPIRED the moment it expires.
		return gatehouse.CodeExpired
	case e.tenant.disabled:
		return gatehouse.CodeTenantDisabled
	case !e.tenant.oauthApps && e.kind.Kind() == gatehouse.KindOAuth2Access:
		// Seed 002: OAuth apps are available on the Enterprise plan. The
		// answer comes from the tenant snapshot (no store read), which a
		// plan change invalidates on every node like disabling does; the
		// tokens work again when the plan returns, so not REVOKED.
		return gatehouse.CodeTenantDisabled
	case e.allow != nil && !gatehouse.AllowListPermits(*e.allow, req.IP):
		// SPEC §9: an empty list allows all; IPv4-mapped IPv6 is unmapped.
		return gatehouse.CodeIPNotAllowed
	}
	if e.kind.Kind() == gatehouse.KindOAuth2Access &&
		(e.tenant.settings.RequireClientHeader || req.ClientID != "") &&
		req.ClientID != e.clientID {
		// Seed 002's client header: required when the tenant says so, and
		// when sent it must match whether required or not — a mismatched
		// header means the token travels with someone else's client.
		return gatehouse.CodeClientMismatch
	}
	if req.Resource != "" && !v.tree.Grants(*e.scopes, req.Resource) {
		return gatehouse.CodeInsufficientScope
	}
	if req.Resource == gatehouse.ScopeManage && e.kind.Kind() == gatehouse.KindOAuth2Access {
		// SPEC §9: an OAuth app is never granted manage, not even by a
		// token issued before the rule whose scopes still name it.
		return gatehouse.CodeInsufficientScope
	}
	return gatehouse.CodeValid
}

// lookup returns the snapshot for hash h, from the cache or the store; nil
// when no such credential (or its tenant) exists.
func (v *Verifier) lookup(ctx context.Context, h *[32]byte, now int64) (*entry, error) {
	if v.cache != nil && v.cache.perShard > 0 {
		e, unknown := v.cache.get(h, now)
		if e != nil {
			return e, nil
		}
		if unknown {
			return nil, nil
		}
	}
	return v.loads.do(ctx, h, v.load)
}

// flights makes sure there is one store read per hash at a time, however
// many requests carry the token when its entry expires.
//
// The first caller (the leader) reads in its own goroutine: unlike
// singleflight.DoChan there is no goroutine to start and no fresh stack to
// grow through the SQLite driver on every miss, which a CPU profile showed
// at about a tenth of the miss. The read runs detached from the leader's
// context, bounded by LoadTimeout, so that one impatient client cannot
// fail the others; the others stop waiting when their own context ends.
type flights struct {
	mu sync.Mutex
	m  map[[32]byte]*flight
}

type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

func (fs *flights) do(ctx context.Context, h *[32]byte, load func(context.Context, [32]byte) (*entry, error)) (*entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	fs.mu.Lock()
	if f := fs.m[*h]; f != nil {
		fs.mu.Unlock()
		select {
		case <-f.done:
			return f.e, f.err
		case <-ctx.Done():
			return nil, fmt.Errorf("verify: %w", ctx.Err())
		}
	}
	if fs.m == nil {
		fs.m = map[[32]byte]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	fs.m[*h] = f
	fs.mu.Unlock()
	defer func() {
		fs.mu.Lock()
		delete(fs.m, *h)
		fs.mu.Unlock()
		close(f.done)
	}()
	f.err = errLoadPanicked // replaced unless load panics
	f.e, f.err = load(ctx, *h)
	return f.e, f.err
}

var errLoadPanicked = gatehouse.Errorf(gatehouse.EINTERNAL, "verify: credential load failed")

// load reads a credential from the store, with its tenant (from the cache
// when it can: a credential miss is then a single store read), and caches
// it.
func (v *Verifier) load(ctx context.Context, h [32]byte) (*entry, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.loadTimeout)
	defer cancel()
	var epoch uint64
	if v.cache != nil {
		epoch = v.cache.epoch.Load()
	}
	now := v.now().UnixNano()
	c, err := v.store.FindCredentialByHash(ctx, h[:])
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		if v.cache != nil {
			v.cache.putNegative(&h, now+v.negTTL, epoch)
		}
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("verify: find credential: %w", err)
	}
	t, err := v.tenantByID(ctx, c.TenantID, now)
	if err != nil {
		return nil, err
	}
	if t == nil {
		// A credential whose tenant is gone is nobody's credential.
		return nil, nil
	}
	if v.cache == nil || v.cache.perShard == 0 {
		// Credentials are not cached: the entry serves this answer only,
		// so it is built without interning.
		return (*cache)(nil).newEntry(c, t, 0), nil
	}
	e := v.cache.newEntry(c, t, now+v.ttl)
	v.cache.put(&h, e, epoch)
	return e, nil
}

// TenantState is what the OAuth 2.0 endpoints need to know of an app's
// tenant.
type TenantState struct {
	Found    bool
	Disabled bool
	// OAuthApps: the tenant's plan includes OAuth apps (Enterprise).
	OAuthApps bool
	// EnhancedSecurity is the tenant's enhanced_security setting (the
	// refresh-token age limit).
	EnhancedSecurity bool
}

// TenantState reports whether the tenant exists, whether it is disabled,
// whether its plan includes OAuth apps and whether enhanced security is
// on, from the same cached snapshot verification uses (invalidated by
// tenant and settings changes on every node, like credentials): the OAuth
// 2.0 endpoints admit an app's requests with it instead of reading the
// tenant row on every request.
func (v *Verifier) TenantState(ctx context.Context, id string) (TenantState, error) {
	t, err := v.tenantByID(ctx, id, v.now().UnixNano())
	if err != nil || t == nil {
		return TenantState{}, err
	}
	return TenantState{Found: true, Disabled: t.disabled, OAuthApps: t.oauthApps, EnhancedSecurity: t.settings.EnhancedSecurity}, nil
}

// tenantByID returns the tenant's snapshot, cached; nil when it does not
// exist.
func (v *Verifier) tenantByID(ctx context.Context, id string, now int64) (*tenantSnap, error) {
	var epoch uint64
	if v.cache != nil {
		if t := v.cache.tenant(id, now); t != nil {
			return t, nil
		}
		epoch = v.cache.epoch.Load()
	}
	t, err := v.store.FindTenantByID(ctx, id)
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("verify: find tenant: %w", err)
	}
	return v.snapTenant(ctx, t, now, epoch)
}

func (v *Verifier) snapTenant(ctx context.Context, t *gatehouse.Tenant, now int64, epoch uint64) (*tenantSnap, error) {
	s, err := v.store.Settings(ctx, t.ID)
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("verify: tenant settings: %w", err)
	}
	snap := &tenantSnap{
		id:        t.ID,
		slug:      t.Slug,
		disabled:  t.Disabled,
		oauthApps: t.Plan == gatehouse.PlanEnterprise,
		settings:  s,
		deadline:  now + v.ttl,
	}
	if v.cache != nil {
		v.cache.putTenant(snap, epoch)
	}
	return snap, nil
}

// Guest answers an anonymous call to a guest route of the tenant with the
// given slug (SPEC §4 allow_anonymous_guest_access): VALID with a
// KindGuest Principal when the tenant exists, is enabled and allows it;
// TENANT_DISABLED for a disabled tenant; MISSING otherwise, as a credential
// is then required. Like Verify, it fails closed with an error when the
// store cannot answer.
func (v *Verifier) Guest(ctx context.Context, slug string) (Result, error) {
	res, err := v.guest(ctx, slug)
	if v.obs != nil {
		code := string(res.Code)
		if err != nil {
			code = CodeError
		}
		v.obs.ObserveVerify(string(gatehouse.KindGuest), code)
	}
	return res, err
}

func (v *Verifier) guest(ctx context.Context, slug string) (Result, error) {
	res := Result{Code: gatehouse.CodeMissing, Kind: gatehouse.KindGuest}
	if slug == "" {
		return res, nil
	}
	now := v.now().UnixNano()
	var t *tenantSnap
	if v.cache != nil {
		t = v.cache.tenantBySlug(slug, now)
	}
	if t == nil {
		var epoch uint64
		if v.cache != nil {
			epoch = v.cache.epoch.Load()
		}
		lctx, cancel := context.WithTimeout(ctx, v.loadTimeout)
		defer cancel()
		tenant, err := v.store.FindTenantBySlug(lctx, slug)
		switch {
		case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
			return res, nil
		case err != nil:
			return res, fmt.Errorf("verify: find tenant: %w", err)
		}
		if t, err = v.snapTenant(lctx, tenant, now, epoch); err != nil || t == nil {
			return res, err
		}
	}
	switch {
	case t.disabled:
		res.Code = gatehouse.CodeTenantDisabled
		res.Principal = t.guestPrincipal()
	case t.settings.AllowAnonymousGuestAccess:
		res.Code = gatehouse.CodeValid
		res.Principal = t.guestPrincipal()
	}
	return res, nil
}
