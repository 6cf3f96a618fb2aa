package gateway

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestPartitionedBounds: one transport per tenant, created once, each with
// the per-partition idle cap; beyond the bound the least recently used one
// goes.
func TestPartitionedBounds(t *testing.T) {
	p := NewPartitioned(NewTransport(), 3, 4)
	a, b := p.transport("a"), p.transport("b")
	if a == b || p.transport("a") != a {
		t.Fatal("want one transport per partition, the same one each time")
	}
	if a.MaxIdleConnsPerHost != 4 || a.MaxIdleConns != 4 || a.DialContext == nil {
		t.Fatalf("idle caps %d/%d, want 4/4 and a watching dialer", a.MaxIdleConns, a.MaxIdleConnsPerHost)
	}
	p.transport("")  // no tenant: a partition of its own
	p.transport("b") // a is now the least recently used
	p.transport("c") // evicts a
	if p.partitions() != 3 {
		t.Fatalf("%d partitions, want 3", p.partitions())
	}
	if p.transport("a") == a {
		t.Fatal("the least recently used partition was not evicted")
	}
	for i := range 100 {
		p.transport(fmt.Sprint(i))
	}
	if p.partitions() != 3 {
		t.Fatalf("%d partitions after 100 tenants, want 3", p.partitions())
	}
}

// TestPartitionKey: a call's partition is its principal's tenant; a call
// without one shares only with other such calls.
func TestPartitionKey(t *testing.T) {
	for _, tc := range []struct {
		p    *gatehouse.Principal
		want string
	}{
		{nil, ""},
		{&gatehouse.Principal{TenantID: "ten_1", Kind: gatehouse.KindPAT}, "ten_1"},
		{&gatehouse.Principal{TenantID: "ten_2", Kind: "guest"}, "ten_2"},
	} {
		ctx := context.Background()
		if tc.p != nil {
			ctx = context.WithValue(ctx, principalKey{}, &call{p: *tc.p})
		}
		r, _ := http.NewRequestWithContext(ctx, "GET", "http://upstream.test/", nil)
		key := ""
		if c := callFrom(r.Context()); c != nil {
			key = c.p.TenantID
		}
		if key != tc.want {
			t.Errorf("%+v: partition %q, want %q", tc.p, key, tc.want)
		}
	}
}

func BenchmarkPartitionLookup(b *testing.B) {
	p := NewPartitioned(NewTransport(), 0, 0)
	for i := range 1000 {
		p.transport(fmt.Sprint("ten_", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		p.transport("ten_500")
	}
}
