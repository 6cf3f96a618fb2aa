package admin_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestClientNeverManage: SPEC §9 — an OAuth app's scopes cannot include
// manage (EINVALID: 422 on the API and a field message in the console).
func TestClientNeverManage(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.tenant.Plan = gatehouse.PlanEnterprise
	if err := f.st.UpdateTenant(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	for _, scopes := range [][]string{{"manage"}, {"all", "manage"}, {"catalog", "manage", "verify"}} {
		_, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
			Name: "App", Scopes: scopes, RedirectURIs: []string{"https://app.example/cb"}, Confidential: true,
		})
		wantCode(t, err, gatehouse.EINVALID)
	}
	c, _, err := f.svc.CreateClient(ctx, f.owner, admin.ClientInput{
		Name: "App", Scopes: []string{"all", "verify"}, RedirectURIs: []string{"https://app.example/cb"}, Confidential: true,
	})
	if err != nil || len(c.Scopes) != 2 {
		t.Fatalf("all verify: %v %v", c, err)
	}
}
