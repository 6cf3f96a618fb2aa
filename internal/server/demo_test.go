package server_test

import (
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// TestSeedDemoRevokesItsPreviousToken: every `serve --demo` start mints a
// fresh demo token and revokes the one the previous start printed (and
// the "demo <time>" tokens of releases that kept them all), so restarts
// do not pile up never-expiring manage tokens; tokens the owner made
// themselves are kept.
func TestSeedDemoRevokesItsPreviousToken(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, db string) {
		e := testenv.New(t, testenv.Options{DatabaseURL: db, NoTenant: true})
		first, err := e.Server.SeedDemo(e.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		tenant, err := e.Server.Store.FindTenantBySlug(e.Ctx, server.DemoTenant)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.Server.Store.FindUserByEmail(e.Ctx, server.DemoOwner)
		if err != nil {
			t.Fatal(err)
		}
		owner, err := e.Server.Admin.ActorFor(e.Ctx, tenant.ID, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		mine, _, err := e.Server.Admin.CreateCredential(e.Ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "my token", Scopes: []string{"sales"}})
		if err != nil {
			t.Fatal(err)
		}
		_, legacy, err := e.Server.Admin.CreateCredential(e.Ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "demo 2026-01-02 03:04:05", Scopes: []string{"sales"}})
		if err != nil {
			t.Fatal(err)
		}

		second, err := e.Server.SeedDemo(e.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if second.Token == first.Token {
			t.Fatal("the second start printed the first start's token")
		}
		for tok, want := range map[string]gatehouse.Code{first.Token: gatehouse.CodeRevoked, legacy: gatehouse.CodeRevoked, second.Token: gatehouse.CodeValid} {
			res, err := e.Server.Verifier.Verify(e.Ctx, verify.Request{Credential: tok, Resource: gatehouse.ScopeManage})
			if want == gatehouse.CodeRevoked {
				res, err = e.Server.Verifier.Verify(e.Ctx, verify.Request{Credential: tok})
			}
			if err != nil || res.Code != want {
				t.Errorf("verify %s… = %v, %v; want %s", tok[:12], res.Code, err, want)
			}
		}
		live, err := gatehouse.Collect(func(q gatehouse.PageQuery) (gatehouse.Page[*gatehouse.Credential], error) {
			return e.Server.Admin.Credentials(e.Ctx, owner, gatehouse.KindPAT, gatehouse.CredentialFilter{Page: q})
		})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range live {
			names = append(names, c.Name)
		}
		if len(live) != 2 || (live[0].ID != mine.ID && live[1].ID != mine.ID) {
			t.Fatalf("live PATs after two starts = %q, want the owner's own and one demo token", names)
		}
	})
}
