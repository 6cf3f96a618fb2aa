package verify

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
)

// numShards spreads the cache over independent locks so that concurrent
// verifications on many cores rarely meet; the shard is picked by the first
// byte of the SHA-256, which is uniformly distributed.
const numShards = 64

// cache maps lookup hashes to credential snapshots. It is bounded: a full
// shard evicts an arbitrary entry (Go's randomised map iteration makes that
// a cheap random eviction), which keeps working memory flat however many
// distinct tokens callers present.
//
// Negative answers (UNKNOWN) live in their own, smaller maps so that a flood
// of made-up tokens cannot evict the real credentials.
//
// Tenant snapshots are cached even when the credential cache is off
// (Options.CacheSize < 0): they are few, change rarely, and are retired by
// the same store notifications, and with them a credential miss is one
// store read instead of three.
type cache struct {
	shards      [numShards]shard
	perShard    int // 0: credentials are not cached
	negPerShard int

	// epoch counts invalidations. A loader remembers it before reading the
	// store and inserts only if it has not moved, so a snapshot read just
	// before a revocation committed is never cached after the revocation's
	// invalidation ran.
	epoch atomic.Uint64

	tmu      sync.RWMutex
	tenants  map[string]*tenantSnap // by tenant id
	bySlug   map[string]*tenantSnap // for guest access
	tenantsN int

	// Interned values many entries share: scope lists and OAuth client
	// ids. Bounded; past the bound a value is simply not shared.
	imu     sync.Mutex
	scopes  map[string]*[]string
	clients map[string]string
}

// maxInterned bounds each intern table.
const maxInterned = 1 << 12

type shard struct {
	mu  sync.RWMutex
	pos map[[32]byte]*entry
	neg map[[32]byte]int64 // hash -> deadline (unix nanos)
	// Counters for CacheStats, beside the lock every lookup already
	// writes (RLock), so counting adds no cache line to the hit path.
	hits, negHits, misses, evicted, negEvicted atomic.Uint64
	_                                          [64]byte // keep hot shard locks on separate cache lines
}

// entry is a snapshot of one credential: only what the checks and the
// Principal need, about 110 bytes plus its ids (see TestCacheMemory), so a
// million of them fit in well under 300 MiB. The Principal is built per
// answer from these fields and the shared tenant snapshot; strings and the
// scope list are shared with it, never copied.
//
// All fields but last and queued are immutable once the entry is cached.
type entry struct {
	tenant    *tenantSnap
	credID    string
	subject   string
	clientID  string     // interned
	scopes    *[]string  // interned; never nil
	expiresAt *time.Time // nil: never expires
	allow     *[]gatehouse.AllowEntry
	deadline  int64 // unix nanos: after this the entry is not used
	kind      kindIndex
	revoked   bool
	queued    atomic.Bool  // in the usage log (see usage.go)
	last      atomic.Int64 // last VALID use queued, unix nanos
	recorded  atomic.Int64 // last use stored (or being stored), unix nanos
}

// kindIndex stores a credential kind in one byte; 0 is no known kind (a
// forged row), which matches no token prefix and so answers UNKNOWN.
type kindIndex uint8

func kindIndexOf(k gatehouse.Kind) kindIndex { return kindIndex(k.Index()) }

func (k kindIndex) Kind() gatehouse.Kind { return gatehouse.KindAt(int(k)) }

var noScopes = new([]string)

// principal builds the Principal of e. Subject is the user the credential
// acts for, else its OAuth client or integration, else (an API key of
// nobody in particular) the credential itself, so it is never empty.
func (e *entry) principal() gatehouse.Principal {
	return gatehouse.Principal{
		TenantID:     e.tenant.id,
		TenantSlug:   e.tenant.slug,
		Subject:      e.subject,
		Kind:         e.kind.Kind(),
		CredentialID: e.credID,
		ClientID:     e.clientID,
		Scopes:       *e.scopes,
		ExpiresAt:    e.expiresAt,
	}
}

// tenantSnap is what verification needs of a tenant. stale is set when the
// tenant changes, which also retires every credential entry that points at
// it without scanning the shards.
type tenantSnap struct {
	id       string
	slug     string
	disabled bool
	// oauthApps: the tenant's plan includes OAuth apps (Enterprise, seed
	// 002); without it its OAuth 2.0 access tokens answer TENANT_DISABLED.
	oauthApps bool
	settings  gatehouse.Settings
	deadline  int64
	stale     atomic.Bool
}

// guestPrincipal is the Principal of an anonymous guest call to t.
func (t *tenantSnap) guestPrincipal() gatehouse.Principal {
	return gatehouse.Principal{TenantID: t.id, TenantSlug: t.slug, Kind: gatehouse.KindGuest}
}

// newCache returns a cache of size credentials; size < 0 caches tenant
// snapshots only.
func newCache(size int) *cache {
	per := 0
	if size > 0 {
		per = max(size/numShards, 1)
	}
	c := &cache{
		perShard:    per,
		negPerShard: max(per/4, 1),
		tenants:     map[string]*tenantSnap{},
		bySlug:      map[string]*tenantSnap{},
		tenantsN:    max(size/16, 64),
		scopes:      map[string]*[]string{},
		clients:     map[string]string{},
	}
	for i := range c.shards {
		c.shards[i].pos = map[[32]byte]*entry{}
		c.shards[i].neg = map[[32]byte]int64{}
	}
	return c
}

// newEntry builds the cache entry of cr, sharing what can be shared; c
// may be nil (no cache).
func (c *cache) newEntry(cr *gatehouse.Credential, t *tenantSnap, deadline int64) *entry {
	e := &entry{
		tenant:    t,
		credID:    cr.ID,
		subject:   cr.UserID,
		expiresAt: cr.ExpiresAt,
		deadline:  deadline,
		kind:      kindIndexOf(cr.Kind),
		revoked:   cr.RevokedAt != nil,
		scopes:    noScopes,
	}
	if len(cr.AllowList) > 0 {
		e.allow = &cr.AllowList
	}
	if cr.LastUsedAt != nil {
		e.recorded.Store(cr.LastUsedAt.UnixNano())
	}
	if e.subject == "" {
		e.subject = cr.ClientID
	}
	if e.subject == "" {
		e.subject = cr.ID
	}
	if c == nil {
		// No cache: nothing to share with.
		e.clientID = cr.ClientID
		if len(cr.Scopes) > 0 {
			e.scopes = &cr.Scopes
		}
		return e
	}
	if cr.ClientID != "" || len(cr.Scopes) > 0 {
		c.imu.Lock()
		if cr.ClientID != "" {
			e.clientID = c.internClient(cr.ClientID)
			if e.subject == cr.ClientID {
				e.subject = e.clientID
			}
		}
		if len(cr.Scopes) > 0 {
			e.scopes = c.internScopes(cr.Scopes)
		}
		c.imu.Unlock()
	}
	return e
}

func (c *cache) internClient(id string) string {
	if s, ok := c.clients[id]; ok {
		return s
	}
	if len(c.clients) < maxInterned {
		c.clients[id] = id
	}
	return id
}

func (c *cache) internScopes(scopes []string) *[]string {
	key := strings.Join(scopes, " ")
	if p := c.scopes[key]; p != nil {
		return p
	}
	p := &scopes
	if len(c.scopes) < maxInterned {
		c.scopes[key] = p
	}
	return p
}

func (c *cache) shard(h *[32]byte) *shard { return &c.shards[h[0]%numShards] }

// get returns the live entry for h, or whether a live negative entry says
// the credential does not exist.
func (c *cache) get(h *[32]byte, now int64) (e *entry, unknown bool) {
	s := c.shard(h)
	s.mu.RLock()
	e = s.pos[*h]
	var negDeadline int64
	if e == nil {
		negDeadline = s.neg[*h]
	}
	s.mu.RUnlock()
	if e != nil {
		if now < e.deadline && !e.tenant.stale.Load() {
			s.hits.Add(1)
			return e, false
		}
		s.misses.Add(1)
		return nil, false
	}
	if now < negDeadline {
		s.negHits.Add(1)
		return nil, true
	}
	s.misses.Add(1)
	return nil, false
}

// put caches e; the caller checked that credentials are cached at all
// (perShard > 0).
func (c *cache) put(h *[32]byte, e *entry, epoch uint64) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if _, ok := s.pos[*h]; !ok && len(s.pos) >= c.perShard {
		for k := range s.pos {
			delete(s.pos, k)
			s.evicted.Add(1)
			break
		}
	}
	delete(s.neg, *h)
	s.pos[*h] = e
}

func (c *cache) putNegative(h *[32]byte, deadline int64, epoch uint64) {
	if c.perShard == 0 {
		return
	}
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if _, ok := s.neg[*h]; !ok && len(s.neg) >= c.negPerShard {
		for k := range s.neg {
			delete(s.neg, k)
			s.negEvicted.Add(1)
			break
		}
	}
	s.neg[*h] = deadline
}

func (c *cache) tenant(id string, now int64) *tenantSnap {
	c.tmu.RLock()
	t := c.tenants[id]
	c.tmu.RUnlock()
	if t != nil && now < t.deadline && !t.stale.Load() {
		return t
	}
	return nil
}

func (c *cache) tenantBySlug(slug string, now int64) *tenantSnap {
	c.tmu.RLock()
	t := c.bySlug[slug]
	c.tmu.RUnlock()
	if t != nil && now < t.deadline && !t.stale.Load() {
		return t
	}
	return nil
}

func (c *cache) putTenant(t *tenantSnap, epoch uint64) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if len(c.tenants) >= c.tenantsN {
		// Tenants change rarely and are few; starting over is simpler than
		// an eviction policy and costs one lookup per tenant.
		clear(c.tenants)
		clear(c.bySlug)
	}
	if old := c.tenants[t.id]; old != nil {
		delete(c.bySlug, old.slug)
	}
	c.tenants[t.id] = t
	c.bySlug[t.slug] = t
}

// invalidate applies one store Change (see gatehouse.Store.Subscribe).
func (c *cache) invalidate(ch gatehouse.Change) {
	c.epoch.Add(1)
	switch {
	case len(ch.Hash) == 32:
		h := [32]byte(ch.Hash)
		s := c.shard(&h)
		s.mu.Lock()
		delete(s.pos, h)
		delete(s.neg, h)
		s.mu.Unlock()
	case ch.CredentialID != "":
		// No hash: find the entry by id. Changes are rare (an admin action),
		// so a scan is cheaper than maintaining a second index on every miss.
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			for k, e := range s.pos {
				if e.credID == ch.CredentialID {
					delete(s.pos, k)
				}
			}
			s.mu.Unlock()
		}
	case ch.TenantID != "":
		// "Anything of the tenant": retiring the tenant snapshot retires
		// every credential entry of the tenant with it (entries check
		// tenant.stale on every hit).
		c.tmu.Lock()
		if t := c.tenants[ch.TenantID]; t != nil {
			t.stale.Store(true)
			delete(c.tenants, t.id)
			delete(c.bySlug, t.slug)
		}
		c.tmu.Unlock()
	default:
		c.clear()
	}
}

// clear drops everything.
func (c *cache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.pos)
		clear(s.neg)
		s.mu.Unlock()
	}
	c.tmu.Lock()
	for _, t := range c.tenants {
		t.stale.Store(true)
	}
	clear(c.tenants)
	clear(c.bySlug)
	c.tmu.Unlock()
}

// CacheStats are the credential cache's counters since the start.
// Lookups are hits (a live snapshot), negative hits (a live "no such
// credential") and misses (read from the store); an eviction makes room
// in a full shard for a new entry. Invalidations are not evictions.
type CacheStats struct {
	Hits, NegativeHits, Misses   uint64
	Evictions, NegativeEvictions uint64
	Entries                      int // live and expired snapshots held now
}

// CacheStats sums the counters of every shard (for the metrics, read at
// each scrape). A verifier without a credential cache reports zeros.
func (v *Verifier) CacheStats() CacheStats {
	var st CacheStats
	if v.cache == nil || v.cache.perShard == 0 {
		return st
	}
	for i := range v.cache.shards {
		s := &v.cache.shards[i]
		st.Hits += s.hits.Load()
		st.NegativeHits += s.negHits.Load()
		st.Misses += s.misses.Load()
		st.Evictions += s.evicted.Load()
		st.NegativeEvictions += s.negEvicted.Load()
	}
	st.Entries = v.cache.len()
	return st
}

// len reports the number of positive entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.pos)
		s.mu.RUnlock()
	}
	return n
}
