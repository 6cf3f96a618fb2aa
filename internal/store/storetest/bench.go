package storetest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// Bench measures the store on the verification hot path
// (FindCredentialByHash, what a cache miss costs) and on issuing
// (CreateCredential). newStore returns an empty, migrated store.
func Bench(b *testing.B, newStore func(b *testing.B) gatehouse.Store) {
	b.Run("FindCredentialByHash", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
		if err := s.CreateTenant(ctx, tn); err != nil {
			b.Fatal(err)
		}
		// Enough rows that the lookup must use the index.
		var hashes [][]byte
		for range 500 {
			c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindStaff, Hash: randomHash(),
				Scopes:    []string{"catalog", "sales"},
				AllowList: []gatehouse.AllowEntry{{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}}}
			if err := s.CreateCredential(ctx, c); err != nil {
				b.Fatal(err)
			}
			hashes = append(hashes, c.Hash)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.FindCredentialByHash(ctx, hashes[i%len(hashes)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("CreateCredential", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
		if err := s.CreateTenant(ctx, tn); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash(), Scopes: []string{"all"}}
			if err := s.CreateCredential(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
