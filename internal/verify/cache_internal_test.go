package verify

import (
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestCacheBounded(t *testing.T) {
	c := newCache(numShards * 4)
	tenant := &tenantSnap{id: "t1", slug: "acme"}
	for i := range 10_000 {
		var h [32]byte
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		c.put(&h, &entry{cred: &gatehouse.Credential{ID: "c"}, tenant: tenant, deadline: 1 << 62}, c.epoch.Load())
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
}

func TestCacheEpochRefusesStaleInsert(t *testing.T) {
	// A snapshot read before an invalidation must not be cached after it.
	c := newCache(1000)
	var h [32]byte
	epoch := c.epoch.Load()
	c.invalidate(gatehouse.Change{TenantID: "t1", Hash: h[:]})
	c.put(&h, &entry{cred: &gatehouse.Credential{}, tenant: &tenantSnap{}, deadline: 1 << 62}, epoch)
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
	c.put(&h1, &entry{cred: &gatehouse.Credential{ID: "a"}, tenant: t1, deadline: 1 << 62}, c.epoch.Load())
	c.put(&h2, &entry{cred: &gatehouse.Credential{ID: "b"}, tenant: t1, deadline: 1 << 62}, c.epoch.Load())
	c.put(&h3, &entry{cred: &gatehouse.Credential{ID: "c"}, tenant: t2, deadline: 1 << 62}, c.epoch.Load())

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
