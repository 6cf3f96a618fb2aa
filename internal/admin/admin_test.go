package admin_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

type fixture struct {
	svc    *admin.Service
	st     *sqlstore.DB
	tenant *gatehouse.Tenant
	op     admin.Actor
	owner  admin.Actor
	admin  admin.Actor
	staff  admin.Actor
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, admin.Options{})
}

// setupWith is setup with a service configured by opts.
func setupWith(t *testing.T, opts admin.Options) *fixture {
	t.Helper()
	return setupOn(t, sqlstoretest.SQLiteURL(t), opts)
}

// setupOn is setupWith on the database at databaseURL (sqlstoretest.Each).
func setupOn(t *testing.T, databaseURL string, opts admin.Options) *fixture {
	t.Helper()
	st := sqlstoretest.Open(t, databaseURL)
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(st, tree, opts)
	ctx := context.Background()
	ten, err := svc.CreateTenant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{svc: svc, st: st, tenant: ten, op: admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}}
	actor := func(email string, role gatehouse.Role) admin.Actor {
		m, err := svc.AddMember(ctx, f.op, admin.NewMember{Email: email, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		a, err := svc.ActorFor(ctx, ten.ID, m.UserID, "203.0.113.1")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.owner = actor("owner@acme.test", gatehouse.RoleOwner)
	f.admin = actor("admin@acme.test", gatehouse.RoleAdmin)
	f.staff = actor("staff@acme.test", gatehouse.RoleStaff)
	return f
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func TestRoles(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, err := f.svc.AddMember(ctx, f.admin, admin.NewMember{Email: "new@acme.test", Role: gatehouse.RoleOwner})
	wantCode(t, err, gatehouse.EFORBIDDEN) // only owners make owners
	_, err = f.svc.AddMember(ctx, f.staff, admin.NewMember{Email: "new@acme.test", Role: gatehouse.RoleStaff})
	wantCode(t, err, gatehouse.EFORBIDDEN)
	_, err = f.svc.SetRole(ctx, f.admin, f.owner.UserID, gatehouse.RoleStaff)
	wantCode(t, err, gatehouse.EFORBIDDEN) // admins do not touch owners
	_, err = f.svc.SetRole(ctx, f.owner, f.owner.UserID, gatehouse.RoleAdmin)
	wantCode(t, err, gatehouse.ECONFLICT) // the last owner stays
	wantCode(t, f.svc.RemoveMember(ctx, f.owner, f.owner.UserID), gatehouse.ECONFLICT)
	_, err = f.svc.AddMember(ctx, f.owner, admin.NewMember{Email: "admin@acme.test", Role: gatehouse.RoleAdmin})
	wantCode(t, err, gatehouse.ECONFLICT)
	_, err = f.svc.AddMember(ctx, f.owner, admin.NewMember{Email: "x@acme.test", Role: gatehouse.RoleStaff, Password: "short"})
	wantCode(t, err, gatehouse.EINVALID)
	if _, err := f.svc.SetRole(ctx, f.owner, f.admin.UserID, gatehouse.RoleOwner); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveMember(ctx, f.owner, f.admin.UserID); err != nil { // two owners now
		t.Fatal(err)
	}
}

func TestPATRules(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, _, err := f.svc.CreateCredential(ctx, f.staff, gatehouse.KindPAT, admin.CredentialInput{Name: "x", Scopes: []string{"sales"}})
	wantCode(t, err, gatehouse.EFORBIDDEN)
	past := time.Now().Add(-time.Hour)
	_, _, err = f.svc.CreateCredential(ctx, f.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "x", Scopes: []string{"sales"}, ExpiresAt: &past})
	wantCode(t, err, gatehouse.EINVALID)
	_, _, err = f.svc.CreateCredential(ctx, f.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "x", Scopes: []string{"nope"}})
	wantCode(t, err, gatehouse.EINVALID)
	c, tok, err := f.svc.CreateCredential(ctx, f.admin, gatehouse.KindPAT, admin.CredentialInput{Name: "x", Scopes: []string{"sales", "manage"}})
	if err != nil || tok == "" || c.UserID != f.admin.UserID {
		t.Fatalf("CreatePAT = %+v, %q, %v", c, tok, err)
	}
	// Removing the admin revokes their token in the same transaction.
	if err := f.svc.RemoveMember(ctx, f.owner, f.admin.UserID); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.FindCredential(ctx, f.tenant.ID, c.ID)
	if err != nil || !got.Revoked() {
		t.Fatalf("PAT of a removed member not revoked: %+v, %v", got, err)
	}
	page, err := f.svc.Audit(ctx, f.owner, gatehouse.AuditQuery{})
	events := page.Events
	if err != nil || len(events) == 0 || events[0].Action != "user.remove" || events[0].IP != "203.0.113.1" {
		t.Fatalf("audit = %+v, %v", events, err)
	}
}

func TestStaffTokenRules(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	u := f.staff.UserID
	wantCode(t, func() error { _, err := f.svc.StaffAllowList(ctx, f.owner, u); return err }(), gatehouse.ECONFLICT)
	_, err := f.svc.AddStaffAllowEntry(ctx, f.owner, u, "office", "203.0.113.0/24")
	wantCode(t, err, gatehouse.ECONFLICT) // no token yet
	_, _, err = f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: u, Scopes: []string{"manage"}})
	wantCode(t, err, gatehouse.EINVALID)
	_, _, err = f.svc.CreateCredential(ctx, f.staff, gatehouse.KindStaff, admin.CredentialInput{UserID: u, Scopes: []string{"sales"}})
	wantCode(t, err, gatehouse.EFORBIDDEN)
	_, _, err = f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: "usr_nobody", Scopes: []string{"sales"}})
	wantCode(t, err, gatehouse.ENOTFOUND)
	if _, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: u, Scopes: []string{"sales"}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: u, Scopes: []string{"sales"}})
	wantCode(t, err, gatehouse.ECONFLICT)
	e, err := f.svc.AddStaffAllowEntry(ctx, f.owner, u, "office", "::ffff:203.0.113.0/120")
	if err != nil || e.Prefix.String() != "203.0.113.0/24" {
		t.Fatalf("AddStaffAllowEntry = %+v, %v", e, err)
	}
	for _, bad := range [][2]string{{"", "1.2.3.4"}, {"123456789012345678901", "1.2.3.4"}, {"x", "010.0.0.1"}, {"x", "1.2.3.4/33"}} {
		_, err := f.svc.AddStaffAllowEntry(ctx, f.owner, u, bad[0], bad[1])
		wantCode(t, err, gatehouse.EINVALID)
	}
	tok, err := f.svc.StaffToken(ctx, f.owner, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteCredential(ctx, f.owner, gatehouse.KindStaff, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: u, Scopes: []string{"sales"}}); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.StaffAllowList(ctx, f.owner, u)
	if err != nil || len(list) != 0 {
		t.Fatalf("regenerated token's whitelist = %v, %v; want empty", list, err)
	}
}

func TestAPIKeyDefaults(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c, key, err := f.svc.CreateCredential(ctx, f.admin, gatehouse.KindAPIKey, admin.CredentialInput{Name: "Amazon Sales Channel"})
	if err != nil || len(c.Scopes) != 1 || c.Scopes[0] != "all" || c.UserID != "" || key == "" {
		t.Fatalf("CreateAPIKey = %+v, %v", c, err)
	}
	_, _, err = f.svc.CreateCredential(ctx, f.admin, gatehouse.KindAPIKey, admin.CredentialInput{Name: " "})
	wantCode(t, err, gatehouse.EINVALID)
	// The key belongs to the tenant: its creator leaving does not revoke it.
	if err := f.svc.RemoveMember(ctx, f.owner, f.admin.UserID); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Credential(ctx, f.owner, gatehouse.KindAPIKey, c.ID)
	if err != nil || got.Revoked() {
		t.Fatalf("API key after its creator left: %+v, %v", got, err)
	}
	wantCode(t, f.svc.RevokeCredential(ctx, f.owner, gatehouse.KindPAT, c.ID), gatehouse.ENOTFOUND) // kinds stay apart
	if err := f.svc.RevokeCredential(ctx, f.owner, gatehouse.KindAPIKey, c.ID); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationLifecycle(t *testing.T) {
	st := sqlstoretest.SQLite(t)
	tree, _ := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	keys, err := secret.NewKeyring(make([]byte, secret.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	var delivered []url.Values
	failing := false
	deliver := func(_ context.Context, _ string, form url.Values) (int, error) {
		if failing {
			return 0, errors.New("connection refused")
		}
		delivered = append(delivered, form)
		return 200, nil
	}
	svc := admin.New(st, tree, admin.Options{Keys: keys, Deliver: deliver, PublicURL: "https://gate.example"})
	ctx := context.Background()
	ten, _ := svc.CreateTenant(ctx, "shop", "Shop", "")
	op := admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
	m, err := svc.AddMember(ctx, op, admin.NewMember{Email: "o@shop.test", Role: gatehouse.RoleOwner, Password: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := svc.ActorFor(ctx, ten.ID, m.UserID, "")

	// Wrong passwords are throttled like logins.
	for range 5 {
		wantCode(t, svc.ConfirmPassword(ctx, owner, "wrong"), gatehouse.EINVALID)
	}
	wantCode(t, svc.ConfirmPassword(ctx, owner, "long enough pw"), gatehouse.ETOOMANY)

	i, err := svc.CreateIntegration(ctx, owner, admin.IntegrationInput{Name: "ERP", CallbackURL: "https://erp.example/cb", Resources: []string{"catalog"}})
	if err != nil || i.Status != gatehouse.IntegrationInactive || len(i.ConsumerKey) != 32 {
		t.Fatalf("CreateIntegration = %+v, %v", i, err)
	}
	act, err := svc.ActivateIntegration(ctx, owner, i.ID)
	if err != nil || !act.Delivered() || act.Integration.Status != gatehouse.IntegrationPending {
		t.Fatalf("ActivateIntegration = %+v, %v", act, err)
	}
	f := delivered[0]
	if len(f) != 4 || f.Get("store_base_url") != "https://gate.example/" || len(f.Get("oauth_verifier")) != 32 || f.Get("oauth_consumer_key") != i.ConsumerKey {
		t.Fatalf("delivered form %v", f)
	}
	if _, _, err := svc.IssueIntegrationAccess(ctx, act.Integration, "consumer", ""); err != nil {
		t.Fatal(err)
	}
	_, err = svc.ActivateIntegration(ctx, owner, i.ID)
	wantCode(t, err, gatehouse.ECONFLICT) // active: reauthorize instead

	// A reauthorization whose callback fails leaves no live token and an
	// inactive integration, so Activate (a fresh handshake) is offered.
	failing = true
	act, err = svc.ReauthorizeIntegration(ctx, owner, i.ID)
	if err != nil || act.Delivered() {
		t.Fatalf("ReauthorizeIntegration = %+v, %v", act, err)
	}
	cur, _ := st.FindIntegration(ctx, ten.ID, i.ID)
	if cur.Status != gatehouse.IntegrationInactive {
		t.Fatalf("status after a failed reauthorization: %s", cur.Status)
	}
	live, _ := st.ListCredentials(ctx, ten.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindIntegration})
	if len(live) != 0 {
		t.Fatalf("%d live integration tokens after reauthorize", len(live))
	}
	page, err := svc.Deliveries(ctx, owner, i.ID, gatehouse.PageQuery{})
	ds := page.Items
	if err != nil || len(ds) != 2 || ds[0].Error == "" || ds[1].Error != "" {
		t.Fatalf("deliveries = %+v, %v", ds, err)
	}
}

// TestAuditedChangeFailsWithItsEvent: a change and its audit event commit
// together. With the audit log refusing an action's events, the change is
// refused too and nothing of it is stored: no live PAT whose secret was
// never shown, no revocation or removal that the log does not record.
func TestAuditedChangeFailsWithItsEvent(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "keep", Scopes: []string{"catalog"}})
	if err != nil {
		t.Fatal(err)
	}
	pats := func() []*gatehouse.Credential {
		t.Helper()
		list, err := f.st.ListCredentials(ctx, f.tenant.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	keep := pats()[0]
	for _, action := range []string{"pat.create", "pat.revoke", "user.remove", "settings.update"} {
		sqlstoretest.RefuseAudit(t, f.st, action)
	}

	if _, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "lost", Scopes: []string{"catalog"}}); err == nil {
		t.Error("CreatePAT succeeded though its audit event was refused")
	}
	if list := pats(); len(list) != 1 || list[0].ID != keep.ID {
		t.Errorf("after a CreatePAT whose audit event failed, live PATs = %d (want only %s): a token stored whose secret was never shown", len(list), keep.ID)
	}

	if err := f.svc.RevokeCredential(ctx, f.owner, gatehouse.KindPAT, keep.ID); err == nil {
		t.Error("RevokePAT succeeded though its audit event was refused")
	}
	if c, err := f.st.FindCredential(ctx, f.tenant.ID, keep.ID); err != nil || c.RevokedAt != nil {
		t.Errorf("after a RevokePAT whose audit event failed: revoked at %v (%v), want the revocation not to have happened", c.RevokedAt, err)
	}

	if err := f.svc.RemoveMember(ctx, f.owner, f.staff.UserID); err == nil {
		t.Error("RemoveMember succeeded though its audit event was refused")
	}
	if _, err := f.st.FindMembership(ctx, f.tenant.ID, f.staff.UserID); err != nil {
		t.Errorf("after a RemoveMember whose audit event failed: %v, want the member kept", err)
	}

	if err := f.svc.UpdateSettings(ctx, f.owner, gatehouse.Settings{EnhancedSecurity: true, RequireClientHeader: true}); err == nil {
		t.Error("PatchSettings succeeded though its audit event was refused")
	}
	if s, err := f.st.Settings(ctx, f.tenant.ID); err != nil || s.EnhancedSecurity {
		t.Errorf("after a settings change whose audit event failed: %+v (%v), want it unchanged", s, err)
	}
}
