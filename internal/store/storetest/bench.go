package storetest

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Bench measures the store on the verification hot path
// (FindCredentialByHash, what a cache miss costs) and on issuing
// (CreateCredential, alone and as many concurrent token requests make
// it). newStore returns an empty, migrated store.
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
	b.Run("CreateCredentialParallel", func(b *testing.B) {
		// client_credentials issuance: access tokens of an app (of no
		// grant), from benchClients concurrent requests.
		s := newStore(b)
		ctx := context.Background()
		tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanEnterprise}
		if err := s.CreateTenant(ctx, tn); err != nil {
			b.Fatal(err)
		}
		app := &gatehouse.Client{TenantID: tn.ID, Name: "ERP", Confidential: true,
			Scopes: []string{"catalog"}, GrantTypes: []string{gatehouse.GrantClientCredentials}}
		if err := s.CreateClient(ctx, app); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetParallelism(max(1, benchClients/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				exp := time.Now().Add(time.Hour)
				c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindOAuth2Access, Name: app.Name,
					Hash: randomHash(), ClientID: app.ID, Scopes: app.Scopes, ExpiresAt: &exp}
				if err := s.CreateCredential(ctx, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("IssueTokensParallel", func(b *testing.B) {
		// The same issuance through IssueTokens, which checks the tenant
		// and the app in the transaction that stores the token.
		s := newStore(b)
		ctx := context.Background()
		tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanEnterprise}
		if err := s.CreateTenant(ctx, tn); err != nil {
			b.Fatal(err)
		}
		app := &gatehouse.Client{TenantID: tn.ID, Name: "ERP", Confidential: true,
			Scopes: []string{"catalog"}, GrantTypes: []string{gatehouse.GrantClientCredentials}}
		if err := s.CreateClient(ctx, app); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetParallelism(max(1, benchClients/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				exp := time.Now().Add(time.Hour)
				c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindOAuth2Access, Name: app.Name,
					Hash: randomHash(), ClientID: app.ID, Scopes: app.Scopes, ExpiresAt: &exp}
				err := s.IssueTokens(ctx, &gatehouse.TokenIssue{TenantID: tn.ID, ClientID: app.ID, Tokens: []*gatehouse.Credential{c}})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("CreateAuditedParallel", func(b *testing.B) {
		// PAT creation with its audit event in the same transaction.
		s := newStore(b)
		ctx := context.Background()
		tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
		if err := s.CreateTenant(ctx, tn); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetParallelism(max(1, benchClients/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: randomHash(), Scopes: []string{"all"}}
				actx := gatehouse.WithAudit(ctx, func() *gatehouse.AuditEvent {
					return &gatehouse.AuditEvent{TenantID: tn.ID, Actor: "bench", Action: "pat.create", Target: c.ID}
				})
				if err := s.CreateCredential(actx, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}

// benchClients is the concurrency of CreateCredentialParallel: the load
// generator of `gatehouse bench` runs 64 clients.
const benchClients = 64
