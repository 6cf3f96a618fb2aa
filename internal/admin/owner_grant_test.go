package admin_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

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
