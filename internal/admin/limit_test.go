package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// TestLiveCredentialCaps: with MaxTokensPerUser 2, a user holds at most 2
// live PATs per tenant and the tenant at most 20 live API keys; a revoked
// one frees its place.
func TestLiveCredentialCaps(t *testing.T) {
	st := sqlstoretest.SQLite(t)
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(st, tree, admin.Options{MaxTokensPerUser: 2})
	ctx := context.Background()
	ten, _ := svc.CreateTenant(ctx, "acme", "Acme", "")
	op := admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
	m, err := svc.AddMember(ctx, op, admin.NewMember{Email: "o@acme.test", Role: gatehouse.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := svc.ActorFor(ctx, ten.ID, m.UserID, "")
	pat := func() (*gatehouse.Credential, error) {
		c, _, err := svc.CreatePAT(ctx, owner, admin.PATInput{Name: "p", Scopes: []string{"sales"}})
		return c, err
	}
	first, err := pat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pat(); err != nil {
		t.Fatal(err)
	}
	_, err = pat()
	wantCode(t, err, gatehouse.ECONFLICT)
	if !strings.Contains(gatehouse.ErrorMessage(err), "2 live personal access tokens") {
		t.Errorf("message %q does not say the limit", gatehouse.ErrorMessage(err))
	}
	if err := svc.RevokePAT(ctx, owner, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pat(); err != nil {
		t.Fatalf("PAT after a revocation: %v", err)
	}
	for i := range 20 {
		if _, _, err := svc.CreateAPIKey(ctx, owner, admin.APIKeyInput{Description: fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = svc.CreateAPIKey(ctx, owner, admin.APIKeyInput{Description: "one too many"})
	wantCode(t, err, gatehouse.ECONFLICT)
}

// TestOwnersOnlyByPAT: an actor that authenticated with anything but a
// personal access token cannot make or promote owners; with a PAT or a
// session it can.
func TestOwnersOnlyByPAT(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	viaApp := f.owner
	viaApp.Via = &admin.Via{Kind: gatehouse.KindOAuth2Access, Scopes: []string{"manage", "all"}}
	_, err := f.svc.AddMember(ctx, viaApp, admin.NewMember{Email: "evil@acme.test", Role: gatehouse.RoleOwner})
	wantCode(t, err, gatehouse.EFORBIDDEN)
	_, err = f.svc.SetRole(ctx, viaApp, f.admin.UserID, gatehouse.RoleOwner)
	wantCode(t, err, gatehouse.EFORBIDDEN)
	if _, err := f.svc.AddMember(ctx, viaApp, admin.NewMember{Email: "staff2@acme.test", Role: gatehouse.RoleStaff}); err != nil {
		t.Fatalf("staff member via an app's token: %v", err)
	}
	viaPAT := f.owner
	viaPAT.Via = &admin.Via{Kind: gatehouse.KindPAT, Scopes: []string{"manage"}}
	if _, err := f.svc.SetRole(ctx, viaPAT, f.admin.UserID, gatehouse.RoleOwner); err != nil {
		t.Fatalf("promote with an owner's PAT: %v", err)
	}
}
