package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// TestMyStaffToken: a member reads their own staff API token and its IP
// whitelist, whatever their role; no one reads another member's through
// it, and holding none is ENOTFOUND (the console's empty state), not a
// refusal.
func TestMyStaffToken(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		clk := testclock.New(time.Now().UTC().Truncate(time.Second))
		f := setupOn(t, databaseURL, admin.Options{Now: clk.Now})
		ctx := context.Background()

		// No token yet: ENOTFOUND for staff and admins alike.
		for _, a := range []admin.Actor{f.staff, f.admin, f.owner} {
			_, err := f.svc.MyStaffToken(ctx, a)
			wantCode(t, err, gatehouse.ENOTFOUND)
		}

		// The owner generates one for the staff user, with an expiry and
		// a whitelist entry; another for the admin.
		exp := clk.Now().Add(72 * time.Hour)
		mine, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: f.staff.UserID, Scopes: []string{"sales"}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddStaffAllowEntry(ctx, f.owner, f.staff.UserID, "office", "203.0.113.0/24"); err != nil {
			t.Fatal(err)
		}
		theirs, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: f.admin.UserID, Scopes: []string{"catalog"}})
		if err != nil {
			t.Fatal(err)
		}

		got, err := f.svc.MyStaffToken(ctx, f.staff)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != mine.ID || got.UserID != f.staff.UserID || got.Hint == "" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
			t.Fatalf("staff's own token = %+v, want %s expiring %s", got, mine.ID, exp)
		}
		if len(got.AllowList) != 1 || got.AllowList[0].Name != "office" || got.AllowList[0].Prefix.String() != "203.0.113.0/24" {
			t.Fatalf("staff's own whitelist = %+v", got.AllowList)
		}
		if got, err := f.svc.MyStaffToken(ctx, f.admin); err != nil || got.ID != theirs.ID {
			t.Fatalf("admin's own token = %+v, %v, want %s", got, err, theirs.ID)
		}
		// The owner holds none, however many others hold.
		_, err = f.svc.MyStaffToken(ctx, f.owner)
		wantCode(t, err, gatehouse.ENOTFOUND)

		// Staff still cannot read another member's token, nor its whitelist.
		_, err = f.svc.StaffToken(ctx, f.staff, f.admin.UserID)
		wantCode(t, err, gatehouse.EFORBIDDEN)
		_, err = f.svc.StaffToken(ctx, f.staff, f.staff.UserID) // not even their own, by the manager path
		wantCode(t, err, gatehouse.EFORBIDDEN)
		_, err = f.svc.StaffAllowList(ctx, f.staff, f.admin.UserID)
		wantCode(t, err, gatehouse.EFORBIDDEN)
		// An actor naming another user in another tenant finds nothing there.
		other, err := f.svc.CreateTenant(ctx, "bolt", "Bolt", "")
		if err != nil {
			t.Fatal(err)
		}
		elsewhere := f.staff
		elsewhere.TenantID = other.ID
		_, err = f.svc.MyStaffToken(ctx, elsewhere)
		wantCode(t, err, gatehouse.EFORBIDDEN)
		// The operator is no user and holds no token.
		_, err = f.svc.MyStaffToken(ctx, f.op)
		wantCode(t, err, gatehouse.EFORBIDDEN)

		// An expired token is still shown to its holder, as expired.
		clk.Advance(73 * time.Hour)
		if got, err := f.svc.MyStaffToken(ctx, f.staff); err != nil || got.ID != mine.ID || !got.Expired(clk.Now()) {
			t.Fatalf("expired own token = %+v, %v, want %s, expired", got, err, mine.ID)
		}
		// Deleted: none again.
		if err := f.svc.DeleteCredential(ctx, f.owner, gatehouse.KindStaff, mine.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.MyStaffToken(ctx, f.staff)
		wantCode(t, err, gatehouse.ENOTFOUND)

		// Removed from the tenant: the actor built before is refused.
		if err := f.svc.RemoveMember(ctx, f.owner, f.admin.UserID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.MyStaffToken(ctx, f.admin)
		wantCode(t, err, gatehouse.EFORBIDDEN)
	})
}
