package middleware

import (
	"crypto/sha256"
	"net/netip"
	"sync"
	"unsafe"
)

// numShards spreads the cache over independent locks; the shard is picked
// by the first byte of the credential's SHA-256, which is uniform.
const numShards = 32

// maxAnswersPerCredential bounds the questions kept per credential (a
// credential used from many addresses must not grow without limit).
const maxAnswersPerCredential = 32

// hash is a credential's SHA-256, what Gatehouse's invalidation events
// name (its lookup hash). The string is read in place: a cache hit
// allocates nothing.
func hash(cred string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(cred), len(cred))) // read only
}

// qkey is a question about a credential, without the credential.
// The address is kept as a netip.Addr (unmapped), so a cache hit formats
// nothing; it becomes a string only when Gatehouse is asked.
type qkey struct {
	resource string
	ip       netip.Addr
	client   string
}

// cached is one answer, immutable once stored.
type cached struct {
	qkey
	answer   Answer
	fetched  int64  // unix nanos
	expires  int64  // unix nanos of the credential's expiry; 0 = none
	conn     uint64 // stream connection it was fetched during; 0 = none
	negative bool   // UNKNOWN or MALFORMED: kept briefly
}

// cache maps a credential's SHA-256 to the answers about it. It is
// bounded: a full shard evicts an arbitrary credential (Go's randomised
// map iteration makes that a cheap random eviction).
type cache struct {
	shards   [numShards]shard
	perShard int
}

type shard struct {
	mu sync.RWMutex
	m  map[[32]byte][]*cached // copy-on-write slices: readers never see a write
	_  [40]byte               // keep hot shard locks on separate cache lines
}

func newCache(size int) *cache {
	c := &cache{perShard: max(size/numShards, 1)}
	for i := range c.shards {
		c.shards[i].m = map[[32]byte][]*cached{}
	}
	return c
}

func (c *cache) shard(h *[32]byte) *shard { return &c.shards[h[0]%numShards] }

// get returns the cached answer to question k about credential h, if any.
func (c *cache) get(h *[32]byte, k qkey) *cached {
	s := c.shard(h)
	s.mu.RLock()
	as := s.m[*h]
	s.mu.RUnlock()
	for _, a := range as {
		if a.qkey == k {
			return a
		}
	}
	return nil
}

// put stores a, replacing an earlier answer to the same question, if ok()
// still holds under the shard's lock (no event arrived meanwhile: events
// take the same locks, so one that ran after ok() returns true finds a
// stored and drops it).
func (c *cache) put(h *[32]byte, a *cached, ok func() bool) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok() {
		return
	}
	old, found := s.m[*h]
	if !found && len(s.m) >= c.perShard {
		for victim := range s.m {
			delete(s.m, victim)
			break
		}
	}
	next := make([]*cached, 0, min(len(old)+1, maxAnswersPerCredential))
	next = append(next, a)
	for _, o := range old {
		if o.qkey != a.qkey && len(next) < maxAnswersPerCredential {
			next = append(next, o)
		}
	}
	s.m[*h] = next
}

// drop forgets every answer about credential h.
func (c *cache) drop(h *[32]byte) {
	s := c.shard(h)
	s.mu.Lock()
	delete(s.m, *h)
	s.mu.Unlock()
}

// clear forgets everything.
func (c *cache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// len is the number of cached credentials.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
