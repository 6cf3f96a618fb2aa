package verify_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// BenchmarkVerifyCachedPAT is the hot path: a known PAT, answered from the
// cache, with a resource check and metrics on. Target: < 400 ns/op, ≤ 2
// allocs/op.
func BenchmarkVerifyCachedPAT(b *testing.B) {
	e := verifytest.New(b)
	v := verify.New(e.DB, e.Tree, verify.Options{Metrics: metrics.New()})
	defer v.Close()
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"sales"}})
	ctx := context.Background()
	req := verify.Request{Credential: tok, Resource: "sales.orders", IP: netip.MustParseAddr("203.0.113.7")}
	if res, err := v.Verify(ctx, req); err != nil || !res.Valid() {
		b.Fatalf("Verify = %s, %v", res.Code, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Verify(ctx, req); res.Code != gatehouse.CodeValid {
			b.Fatal(res.Code)
		}
	}
}

// BenchmarkVerifyCachedPATParallel is the hot path on every core, where the
// sharded locks matter.
func BenchmarkVerifyCachedPATParallel(b *testing.B) {
	e := verifytest.New(b)
	v := verify.New(e.DB, e.Tree, verify.Options{Metrics: metrics.New()})
	defer v.Close()
	toks := make([]string, 64)
	for i := range toks {
		toks[i], _ = e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if res, _ := v.Verify(ctx, verify.Request{Credential: toks[i%len(toks)], Resource: "sales"}); res.Code != gatehouse.CodeValid {
				b.Error(res.Code)
				return
			}
		}
	})
}

// BenchmarkVerifyMissSQLite is a credential cache miss: every call reads
// the credential from SQLite (one query); the tenant snapshot comes from
// the cache, as it does on a busy node. Target: ≤ 40 µs.
func BenchmarkVerifyMissSQLite(b *testing.B) {
	e := verifytest.New(b)
	v := verify.New(e.DB, e.Tree, verify.Options{CacheSize: -1})
	defer v.Close()
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	ctx := context.Background()
	req := verify.Request{Credential: tok, Resource: "sales.orders"}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := v.Verify(ctx, req); err != nil || res.Code != gatehouse.CodeValid {
			b.Fatal(res.Code, err)
		}
	}
}

// BenchmarkVerifyMissSQLiteCold is a miss with nothing cached at all
// (CacheTTL < 0): the credential, its tenant and the tenant's settings are
// three SQLite queries.
func BenchmarkVerifyMissSQLiteCold(b *testing.B) {
	e := verifytest.New(b)
	v := verify.New(e.DB, e.Tree, verify.Options{CacheTTL: -1})
	defer v.Close()
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	ctx := context.Background()
	req := verify.Request{Credential: tok, Resource: "sales.orders"}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := v.Verify(ctx, req); err != nil || res.Code != gatehouse.CodeValid {
			b.Fatal(res.Code, err)
		}
	}
}

// BenchmarkVerifyMalformed is a typo'd token: refused on its checksum.
func BenchmarkVerifyMalformed(b *testing.B) {
	e := verifytest.New(b)
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	req := verify.Request{Credential: typo(secret.NewToken(gatehouse.KindPAT))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Verify(ctx, req); res.Code != gatehouse.CodeMalformed {
			b.Fatal(res.Code)
		}
	}
}
