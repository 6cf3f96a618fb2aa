package verify

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestCacheBounded(t *testing.T) {
	c := newCache(numShards * 4)
	tenant := &tenantSnap{id: "t1", slug: "acme"}
	for i := range 10_000 {
		var h [32]byte
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		c.put(&h, &entry{credID: "c", tenant: tenant, deadline: 1 << 62}, c.epoch.Load())
		c.putNegative(&h, 1<<62, c.epoch.Load())
	}
	if n := c.len(); n > numShards*4 {
		t.Errorf("%d entries, bound %d", n, numShards*4)
	}
	neg := 0
	for i := range c.shards {
		neg += len(c.shards[i].neg)
	}
	if neg > numShards*c.negPerShard {
		t.Errorf("%d negative entries, bound %d", neg, numShards*c.negPerShard)
	}
	var evicted, negEvicted uint64
	for i := range c.shards {
		evicted += c.shards[i].evicted.Load()
		negEvicted += c.shards[i].negEvicted.Load()
	}
	if evicted != uint64(10_000-c.len()) || negEvicted != uint64(10_000-neg) {
		t.Errorf("evictions %d and %d, want %d and %d", evicted, negEvicted, 10_000-c.len(), 10_000-neg)
	}
}

func TestCacheEpochRefusesStaleInsert(t *testing.T) {
	// A snapshot read before an invalidation must not be cached after it.
	c := newCache(1000)
	var h [32]byte
	epoch := c.epoch.Load()
	c.invalidate(gatehouse.Change{TenantID: "t1", Hash: h[:]})
	c.put(&h, &entry{tenant: &tenantSnap{}, deadline: 1 << 62}, epoch)
	if e, _ := c.get(&h, 0); e != nil {
		t.Fatal("stale snapshot cached after its invalidation")
	}
}

func TestCacheInvalidateByIDAndTenant(t *testing.T) {
	c := newCache(1000)
	t1 := &tenantSnap{id: "t1", slug: "one", deadline: 1 << 62}
	t2 := &tenantSnap{id: "t2", slug: "two", deadline: 1 << 62}
	c.putTenant(t1, c.epoch.Load())
	c.putTenant(t2, c.epoch.Load())
	h1, h2, h3 := [32]byte{1}, [32]byte{2}, [32]byte{3}
	c.put(&h1, &entry{credID: "a", tenant: t1, deadline: 1 << 62}, c.epoch.Load())
	c.put(&h2, &entry{credID: "b", tenant: t1, deadline: 1 << 62}, c.epoch.Load())
	c.put(&h3, &entry{credID: "c", tenant: t2, deadline: 1 << 62}, c.epoch.Load())

	c.invalidate(gatehouse.Change{TenantID: "t1", CredentialID: "a"})
	if e, _ := c.get(&h1, 0); e != nil {
		t.Error("entry a survived its invalidation by id")
	}
	if e, _ := c.get(&h2, 0); e == nil {
		t.Error("entry b was dropped by a's invalidation")
	}
	c.invalidate(gatehouse.Change{TenantID: "t1"})
	if e, _ := c.get(&h2, 0); e != nil {
		t.Error("entry b survived its tenant's invalidation")
	}
	if c.tenant("t1", 0) != nil || c.tenantBySlug("one", 0) != nil {
		t.Error("tenant t1 still cached")
	}
	if e, _ := c.get(&h3, 0); e == nil || c.tenant("t2", 0) == nil {
		t.Error("tenant t2 was dropped by t1's invalidation")
	}
	c.invalidate(gatehouse.Change{})
	if e, _ := c.get(&h3, 0); e != nil {
		t.Error("an empty change must clear everything")
	}
}

// TestCacheMemory fills a cache with a million credentials, built through
// the same newEntry and put a store read uses, and measures the heap they
// take: issue 6 asks for at most 300 MiB. Every credential has its own id
// and user id (the worst case: nothing shared but the tenant and the scope
// lists); a quarter are OAuth 2.0 access tokens with an expiry and a client
// id, as a busy deployment's mix would be.
func TestCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 250 MiB")
	}
	const n = 1_000_000
	tenants := make([]*tenantSnap, 100)
	for i := range tenants {
		id := fmt.Sprintf("ten_%026d", i)
		tenants[i] = &tenantSnap{id: id, slug: fmt.Sprintf("tenant-%d", i), deadline: 1 << 62}
	}
	scopeSets := [][]string{nil, {"sales"}, {"catalog", "sales.orders"}, {"customers"}}
	expiry := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	c := newCache(n)
	for i := range n {
		cr := &gatehouse.Credential{
			ID:       fmt.Sprintf("cred_%026d", i),
			TenantID: tenants[i%len(tenants)].id,
			Kind:     gatehouse.KindPAT,
			UserID:   fmt.Sprintf("usr_%026d", i),
			// The store returns a fresh slice per read; interning shares it.
			Scopes: append([]string(nil), scopeSets[i%len(scopeSets)]...),
		}
		if i%4 == 3 {
			exp := expiry.Add(time.Duration(i) * time.Second)
			cr.Kind, cr.UserID, cr.ClientID, cr.ExpiresAt = gatehouse.KindOAuth2Access, "", fmt.Sprintf("APIK-%020d", i%50), &exp
		}
		h := sha256.Sum256(binary.AppendUvarint(nil, uint64(i)))
		c.put(&h, c.newEntry(cr, tenants[i%len(tenants)], 1<<62), c.epoch.Load())
	}
	after := heap()
	if got := c.len(); got < n*9/10 {
		t.Fatalf("%d entries cached, want about %d", got, n)
	}
	entries := c.len()
	used := after - before
	t.Logf("%d cached credentials: %.1f MiB of heap, %d bytes per entry", entries, float64(used)/(1<<20), used/uint64(entries))
	if used > 300<<20 {
		t.Errorf("%.1f MiB for %d cached credentials, want ≤ 300 MiB", float64(used)/(1<<20), entries)
	}
	runtime.KeepAlive(c)
}
