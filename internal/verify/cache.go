package verify

import (
	"sync"
	"sync/atomic"

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
type cache struct {
	shards      [numShards]shard
	perShard    int
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
}

type shard struct {
	mu  sync.RWMutex
	pos map[[32]byte]*entry
	neg map[[32]byte]int64 // hash -> deadline (unix nanos)
	_   [64]byte           // keep hot shard locks on separate cache lines
}

// entry is an immutable snapshot of one credential and its tenant, with the
// Principal precomputed so that a cache hit allocates nothing for it.
type entry struct {
	cred      *gatehouse.Credential
	tenant    *tenantSnap
	principal *gatehouse.Principal
	deadline  int64 // unix nanos: after this the entry is not used
	use       *usage
}

// tenantSnap is what verification needs of a tenant. stale is set when the
// tenant changes, which also retires every credential entry that points at
// it without scanning the shards.
type tenantSnap struct {
	id       string
	slug     string
	disabled bool
	settings gatehouse.Settings
	deadline int64
	stale    atomic.Bool
	guest    *gatehouse.Principal // the Principal of an anonymous guest call
}

func newCache(size int) *cache {
	per := max(size/numShards, 1)
	c := &cache{
		perShard:    per,
		negPerShard: max(per/4, 1),
		tenants:     map[string]*tenantSnap{},
		bySlug:      map[string]*tenantSnap{},
		tenantsN:    max(size/16, 64),
	}
	for i := range c.shards {
		c.shards[i].pos = map[[32]byte]*entry{}
		c.shards[i].neg = map[[32]byte]int64{}
	}
	return c
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
			return e, false
		}
		return nil, false
	}
	return nil, now < negDeadline
}

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
			break
		}
	}
	delete(s.neg, *h)
	s.pos[*h] = e
}

func (c *cache) putNegative(h *[32]byte, deadline int64, epoch uint64) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if _, ok := s.neg[*h]; !ok && len(s.neg) >= c.negPerShard {
		for k := range s.neg {
			delete(s.neg, k)
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
				if e.cred.ID == ch.CredentialID {
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

// len reports the number of positive entries, for tests.
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
