package admin_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// The rules of the generic credential path (credentials.go), once, for
// every kind the management path creates; the API and the console only
// translate them into statuses and form messages.

// start is when the tests with a clock begin.
var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// after returns the time d after clk's.
func after(clk *testclock.Clock, d time.Duration) *time.Time {
	t := clk.Now().Add(d)
	return &t
}

// input is a valid create of kind for holder (the member a staff token is
// for), with scopes.
func input(kind gatehouse.Kind, holder string, scopes ...string) admin.CredentialInput {
	in := admin.CredentialInput{Scopes: scopes}
	if spec, _ := kind.Spec(); spec.NameField != "" {
		in.Name = "n"
	}
	if kind == gatehouse.KindStaff {
		in.UserID = holder
	}
	return in
}

// managed are the kinds the management path creates.
func managed(t *testing.T) []gatehouse.KindSpec {
	t.Helper()
	var out []gatehouse.KindSpec
	for _, s := range gatehouse.Kinds() {
		if s.Created != "" {
			out = append(out, s)
		}
	}
	if len(out) != 3 {
		t.Fatalf("the management path creates %d kinds; the tables below know PAT, staff and API key", len(out))
	}
	return out
}

// TestCredentialLifecycle walks the table of kinds: each kind the
// management path creates is created, found, listed and ended (revoked,
// or deleted for a kind that is deleted), and is then gone from the list.
func TestCredentialLifecycle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, spec := range managed(t) {
		t.Run(string(spec.Kind), func(t *testing.T) {
			c, tok, err := f.svc.CreateCredential(ctx, f.owner, spec.Kind, input(spec.Kind, f.staff.UserID, "sales"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != spec.Kind || !strings.HasPrefix(tok, "gate_"+spec.Prefix+"_") || c.Hint == "" || c.Hash == nil {
				t.Fatalf("created %+v with token %q", c, tok)
			}
			got, err := f.svc.Credential(ctx, f.owner, spec.Kind, c.ID)
			if err != nil || got.ID != c.ID {
				t.Fatalf("Credential = %+v, %v", got, err)
			}
			list, err := f.svc.Credentials(ctx, f.admin, spec.Kind, gatehouse.CredentialFilter{})
			if err != nil || !slices.ContainsFunc(list.Items, func(x *gatehouse.Credential) bool { return x.ID == c.ID }) {
				t.Fatalf("Credentials = %v, %v; want it listed", list, err)
			}
			switch {
			case spec.Revoked != "":
				wantCode(t, f.svc.DeleteCredential(ctx, f.owner, spec.Kind, c.ID), gatehouse.EINVALID)
				if err := f.svc.RevokeCredential(ctx, f.owner, spec.Kind, c.ID); err != nil {
					t.Fatal(err)
				}
				if got, err := f.svc.Credential(ctx, f.owner, spec.Kind, c.ID); err != nil || !got.Revoked() {
					t.Fatalf("after revoke: %+v, %v", got, err)
				}
				if err := f.svc.RevokeCredential(ctx, f.owner, spec.Kind, c.ID); err != nil {
					t.Errorf("revoking again: %v, want a no-op", err)
				}
			case spec.Deleted != "":
				wantCode(t, f.svc.RevokeCredential(ctx, f.owner, spec.Kind, c.ID), gatehouse.EINVALID)
				if err := f.svc.DeleteCredential(ctx, f.owner, spec.Kind, c.ID); err != nil {
					t.Fatal(err)
				}
				// Ended like a revoked one (verification answers REVOKED).
				if got, err := f.svc.Credential(ctx, f.owner, spec.Kind, c.ID); err != nil || !got.Revoked() {
					t.Fatalf("after delete: %+v, %v", got, err)
				}
				if err := f.svc.DeleteCredential(ctx, f.owner, spec.Kind, c.ID); err != nil {
					t.Errorf("deleting again: %v, want a no-op", err)
				}
			default:
				t.Fatalf("%s is created here but neither revoked nor deleted", spec.Kind)
			}
			if list, _ := f.svc.Credentials(ctx, f.owner, spec.Kind, gatehouse.CredentialFilter{}); slices.ContainsFunc(list.Items, func(x *gatehouse.Credential) bool { return x.ID == c.ID }) {
				t.Error("ended credential still listed")
			}
		})
	}
	for _, k := range []gatehouse.Kind{gatehouse.KindOAuth2Access, gatehouse.KindOAuth2Refresh, gatehouse.KindIntegration, gatehouse.KindGuest, ""} {
		_, _, err := f.svc.CreateCredential(ctx, f.op, k, admin.CredentialInput{Name: "n", Scopes: []string{"sales"}})
		wantCode(t, err, gatehouse.EINVALID)
	}
}

// TestCredentialRoles: who may create, read and end each kind, and whose
// the credential is. A PAT is its creator's own and only owners and admins
// hold one (not staff, not the operator, who is no user); a staff token is
// the named member's, and only an owner (or the operator) makes one for an
// owner; an API key is the tenant's. Staff members manage none.
func TestCredentialRoles(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		actor  admin.Actor
		kind   gatehouse.Kind
		holder string // the member of a staff token
		want   string // error code, "" for success
		owner  string // the credential's UserID on success
	}{
		{"owner's PAT", f.owner, gatehouse.KindPAT, "", "", f.owner.UserID},
		{"admin's PAT", f.admin, gatehouse.KindPAT, "", "", f.admin.UserID},
		{"staff's PAT", f.staff, gatehouse.KindPAT, "", gatehouse.EFORBIDDEN, ""},
		{"operator's PAT", f.op, gatehouse.KindPAT, "", gatehouse.EFORBIDDEN, ""},
		{"owner makes a staff token", f.owner, gatehouse.KindStaff, f.staff.UserID, "", f.staff.UserID},
		{"admin makes a staff token", f.admin, gatehouse.KindStaff, f.staff.UserID, "", f.staff.UserID},
		{"operator makes a staff token", f.op, gatehouse.KindStaff, f.staff.UserID, "", f.staff.UserID},
		{"staff makes a staff token", f.staff, gatehouse.KindStaff, f.staff.UserID, gatehouse.EFORBIDDEN, ""},
		{"admin makes an admin's", f.admin, gatehouse.KindStaff, f.admin.UserID, "", f.admin.UserID},
		{"admin makes an owner's", f.admin, gatehouse.KindStaff, f.owner.UserID, gatehouse.EFORBIDDEN, ""},
		{"owner makes an owner's", f.owner, gatehouse.KindStaff, f.owner.UserID, "", f.owner.UserID},
		{"operator makes an owner's", f.op, gatehouse.KindStaff, f.owner.UserID, "", f.owner.UserID},
		{"for no member", f.owner, gatehouse.KindStaff, "usr_nobody", gatehouse.ENOTFOUND, ""},
		{"for no one named", f.owner, gatehouse.KindStaff, "", gatehouse.ENOTFOUND, ""},
		{"owner's API key", f.owner, gatehouse.KindAPIKey, "", "", ""},
		{"admin's API key", f.admin, gatehouse.KindAPIKey, "", "", ""},
		{"operator's API key", f.op, gatehouse.KindAPIKey, "", "", ""},
		{"staff's API key", f.staff, gatehouse.KindAPIKey, "", gatehouse.EFORBIDDEN, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := f.svc.CreateCredential(ctx, tt.actor, tt.kind, input(tt.kind, tt.holder, "sales"))
			if tt.want != "" {
				wantCode(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.UserID != tt.owner || c.TenantID != f.tenant.ID {
				t.Errorf("credential of user %q in %q, want user %q in %q", c.UserID, c.TenantID, tt.owner, f.tenant.ID)
			}
			// Staff members read and end none of them.
			_, err = f.svc.Credential(ctx, f.staff, tt.kind, c.ID)
			wantCode(t, err, gatehouse.EFORBIDDEN)
			_, err = f.svc.Credentials(ctx, f.staff, tt.kind, gatehouse.CredentialFilter{})
			wantCode(t, err, gatehouse.EFORBIDDEN)
			spec, _ := tt.kind.Spec()
			if spec.Deleted != "" {
				wantCode(t, f.svc.DeleteCredential(ctx, f.staff, tt.kind, c.ID), gatehouse.EFORBIDDEN)
				if err := f.svc.DeleteCredential(ctx, f.op, tt.kind, c.ID); err != nil { // room for the next
					t.Fatal(err)
				}
				return
			}
			wantCode(t, f.svc.RevokeCredential(ctx, f.staff, tt.kind, c.ID), gatehouse.EFORBIDDEN)
			if got, _ := f.svc.Credential(ctx, f.op, tt.kind, c.ID); got.Revoked() {
				t.Error("a staff member's revocation revoked it")
			}
		})
	}
}

// TestCredentialScopes: what a credential may hold. Scopes are resources
// of the tree, "all", or the reserved "manage" and "verify"; only a PAT
// may hold "manage" (SPEC §9); an API key without scopes gets "all", the
// others must name theirs; and an actor that authenticated with a
// credential (Via) creates nothing wider than it, nor longer-lived.
func TestCredentialScopes(t *testing.T) {
	clk := testclock.New(start)
	f := setupWith(t, admin.Options{Now: clk.Now})
	ctx := context.Background()
	via := func(exp *time.Time, scopes ...string) admin.Actor {
		a := f.owner
		a.Via = &admin.Via{CredentialID: "cred_caller", Kind: gatehouse.KindPAT, Scopes: scopes, ExpiresAt: exp}
		return a
	}
	hour := after(clk, time.Hour)
	tests := []struct {
		name   string
		actor  admin.Actor
		kind   gatehouse.Kind
		scopes []string
		exp    *time.Time
		field  string   // of the EINVALID error, "" for success
		want   []string // the stored scopes on success
	}{
		{"PAT with manage", f.owner, gatehouse.KindPAT, []string{"manage", "sales"}, nil, "", []string{"sales", "manage"}},
		{"staff token with manage", f.owner, gatehouse.KindStaff, []string{"manage"}, nil, "scopes", nil},
		{"API key with manage", f.owner, gatehouse.KindAPIKey, []string{"manage"}, nil, "scopes", nil},
		{"API key with all and manage", f.owner, gatehouse.KindAPIKey, []string{"all", "manage"}, nil, "scopes", nil},
		{"API key with verify", f.owner, gatehouse.KindAPIKey, []string{"all", "verify"}, nil, "", []string{"all", "verify"}},
		{"API key without scopes", f.owner, gatehouse.KindAPIKey, nil, nil, "", []string{"all"}},
		{"PAT without scopes", f.owner, gatehouse.KindPAT, nil, nil, "scopes", nil},
		{"staff token without scopes", f.owner, gatehouse.KindStaff, nil, nil, "scopes", nil},
		{"unknown resource", f.owner, gatehouse.KindPAT, []string{"sales", "warp.drive"}, nil, "scopes", nil},
		{"all swallows the rest", f.owner, gatehouse.KindStaff, []string{"sales", "all"}, nil, "", []string{"all"}},
		{"expiry in the past", f.owner, gatehouse.KindAPIKey, nil, after(clk, -time.Second), "expires_at", nil},
		{"expiry now", f.owner, gatehouse.KindPAT, []string{"sales"}, after(clk, 0), "expires_at", nil},

		// Delegation: within the caller's credential.
		{"within the caller's", via(nil, "manage", "sales"), gatehouse.KindPAT, []string{"sales.orders"}, nil, "", []string{"sales.orders"}},
		{"manage within the caller's", via(nil, "manage", "sales"), gatehouse.KindPAT, []string{"manage"}, nil, "", []string{"manage"}},
		{"beyond the caller's", via(nil, "manage", "sales"), gatehouse.KindStaff, []string{"catalog"}, nil, "scopes", nil},
		{"API key's default all beyond the caller's", via(nil, "manage", "sales"), gatehouse.KindAPIKey, nil, nil, "scopes", nil},
		{"all within all", via(nil, "manage", "all"), gatehouse.KindAPIKey, nil, nil, "", []string{"all"}},
		{"verify is not in all", via(nil, "manage", "all"), gatehouse.KindAPIKey, []string{"verify"}, nil, "scopes", nil},
		{"never past the caller's expiry", via(hour, "manage", "all"), gatehouse.KindPAT, []string{"sales"}, nil, "expires_at", nil},
		{"later than the caller's expiry", via(hour, "manage", "all"), gatehouse.KindStaff, []string{"sales"}, after(clk, 2*time.Hour), "expires_at", nil},
		{"before the caller's expiry", via(hour, "manage", "all"), gatehouse.KindAPIKey, nil, after(clk, 30*time.Minute), "", []string{"all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.kind, f.staff.UserID, tt.scopes...)
			in.ExpiresAt = tt.exp
			c, _, err := f.svc.CreateCredential(ctx, tt.actor, tt.kind, in)
			if tt.field != "" {
				wantCode(t, err, gatehouse.EINVALID)
				var ge *gatehouse.Error
				if !errors.As(err, &ge) || ge.Field != tt.field {
					t.Fatalf("error %v names field %q, want %q", err, ge.Field, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Scopes, tt.want) {
				t.Errorf("scopes %q, want %q", c.Scopes, tt.want)
			}
			if tt.kind == gatehouse.KindStaff {
				if err := f.svc.DeleteCredential(ctx, f.op, tt.kind, c.ID); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestCredentialNames: a kind whose holder names it takes 1 to NameLimit
// characters (runes, after trimming) of text under its NameField; a kind
// with a FixedName carries that name whatever the input says.
func TestCredentialNames(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		kind       gatehouse.Kind
		name, want string // want "" = refused (EINVALID on the kind's field)
	}{
		{gatehouse.KindPAT, "  reporting  ", "reporting"},
		{gatehouse.KindPAT, strings.Repeat("键", 100), strings.Repeat("键", 100)},
		{gatehouse.KindPAT, strings.Repeat("键", 101), ""},
		{gatehouse.KindPAT, "   ", ""},
		{gatehouse.KindPAT, "a\tb", ""},
		{gatehouse.KindAPIKey, " Amazon Sales Channel ", "Amazon Sales Channel"},
		{gatehouse.KindAPIKey, strings.Repeat("k", 200), strings.Repeat("k", 200)},
		{gatehouse.KindAPIKey, strings.Repeat("k", 201), ""},
		{gatehouse.KindAPIKey, "", ""},
		{gatehouse.KindAPIKey, "a\x00b", ""},
		{gatehouse.KindStaff, "ignored", "API Auth"},
		{gatehouse.KindStaff, "", "API Auth"},
	}
	for _, tt := range tests {
		spec, _ := tt.kind.Spec()
		t.Run(fmt.Sprintf("%s %.12q", tt.kind, tt.name), func(t *testing.T) {
			in := input(tt.kind, f.staff.UserID, "sales")
			in.Name = tt.name
			c, _, err := f.svc.CreateCredential(ctx, f.owner, tt.kind, in)
			if tt.want == "" {
				var ge *gatehouse.Error
				if !errors.As(err, &ge) || ge.Code != gatehouse.EINVALID || ge.Field != spec.NameField {
					t.Fatalf("error %v, want EINVALID on %q", err, spec.NameField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tt.want {
				t.Errorf("name %q, want %q", c.Name, tt.want)
			}
			if spec.Deleted != "" {
				if err := f.svc.DeleteCredential(ctx, f.op, tt.kind, c.ID); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestCredentialCaps: the live caps. With MaxTokensPerUser 2, a user holds
// at most 2 live PATs in a tenant and the tenant at most 20 live API keys
// (LiveLimit 10), whoever made them; a revoked or an expired one frees its
// place. A member holds one staff token, expired or not, until it is
// deleted. The refusals are ECONFLICT and say the limit.
func TestCredentialCaps(t *testing.T) {
	clk := testclock.New(start)
	f := setupWith(t, admin.Options{Now: clk.Now, MaxTokensPerUser: 2})
	ctx := context.Background()
	create := func(a admin.Actor, kind gatehouse.Kind, exp *time.Time) (*gatehouse.Credential, error) {
		in := input(kind, f.staff.UserID, "sales")
		in.ExpiresAt = exp
		c, _, err := f.svc.CreateCredential(ctx, a, kind, in)
		return c, err
	}
	full := func(t *testing.T, err error, msg string) {
		t.Helper()
		wantCode(t, err, gatehouse.ECONFLICT)
		if !strings.Contains(gatehouse.ErrorMessage(err), msg) {
			t.Errorf("message %q does not say %q", gatehouse.ErrorMessage(err), msg)
		}
	}
	must := func(t *testing.T, a admin.Actor, kind gatehouse.Kind, exp *time.Time) *gatehouse.Credential {
		t.Helper()
		c, err := create(a, kind, exp)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("PAT per user", func(t *testing.T) {
		first := must(t, f.owner, gatehouse.KindPAT, nil)
		must(t, f.owner, gatehouse.KindPAT, after(clk, time.Minute))
		_, err := create(f.owner, gatehouse.KindPAT, nil)
		full(t, err, "you already hold 2 live personal access tokens in this tenant")
		must(t, f.admin, gatehouse.KindPAT, nil) // another user's own cap
		clk.Advance(2 * time.Minute)             // the second expires
		must(t, f.owner, gatehouse.KindPAT, nil)
		_, err = create(f.owner, gatehouse.KindPAT, nil)
		full(t, err, "2 live personal access tokens")
		if err := f.svc.RevokeCredential(ctx, f.owner, gatehouse.KindPAT, first.ID); err != nil {
			t.Fatal(err)
		}
		must(t, f.owner, gatehouse.KindPAT, nil)
	})
	t.Run("API key per tenant", func(t *testing.T) {
		var first *gatehouse.Credential
		for i := range 20 {
			by := f.owner
			if i%2 == 1 {
				by = f.admin
			}
			c := must(t, by, gatehouse.KindAPIKey, nil)
			if i == 0 {
				first = c
			}
		}
		_, err := create(f.op, gatehouse.KindAPIKey, nil)
		full(t, err, "the tenant already holds 20 live API keys")
		if err := f.svc.RevokeCredential(ctx, f.owner, gatehouse.KindAPIKey, first.ID); err != nil {
			t.Fatal(err)
		}
		must(t, f.op, gatehouse.KindAPIKey, nil)
	})
	t.Run("staff token per member", func(t *testing.T) {
		c := must(t, f.owner, gatehouse.KindStaff, after(clk, time.Minute))
		_, err := create(f.admin, gatehouse.KindStaff, nil)
		full(t, err, "the user already has an API token")
		clk.Advance(2 * time.Minute) // expired, but it keeps its place (seed 001)
		_, err = create(f.owner, gatehouse.KindStaff, nil)
		full(t, err, "delete it before generating a new one")
		in := input(gatehouse.KindStaff, f.admin.UserID, "sales") // another member
		if _, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, in); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteCredential(ctx, f.owner, gatehouse.KindStaff, c.ID); err != nil {
			t.Fatal(err)
		}
		must(t, f.owner, gatehouse.KindStaff, nil)
	})
}

// TestCredentialKindsApart: a credential is found, revoked or deleted only
// as its own kind and in its own tenant; anything else is ENOTFOUND and
// changes nothing.
func TestCredentialKindsApart(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	other, err := f.svc.CreateTenant(ctx, "other", "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	stranger := admin.Actor{TenantID: other.ID, Name: admin.OperatorName, Operator: true}
	made := map[gatehouse.Kind]*gatehouse.Credential{}
	for _, spec := range managed(t) {
		c, _, err := f.svc.CreateCredential(ctx, f.owner, spec.Kind, input(spec.Kind, f.staff.UserID, "sales"))
		if err != nil {
			t.Fatal(err)
		}
		made[spec.Kind] = c
	}
	end := func(a admin.Actor, kind gatehouse.Kind, id string) error {
		if spec, _ := kind.Spec(); spec.Deleted != "" {
			return f.svc.DeleteCredential(ctx, a, kind, id)
		}
		return f.svc.RevokeCredential(ctx, a, kind, id)
	}
	for kind, c := range made {
		for as := range made {
			if as == kind {
				continue
			}
			_, err := f.svc.Credential(ctx, f.owner, as, c.ID)
			wantCode(t, err, gatehouse.ENOTFOUND)
			wantCode(t, end(f.owner, as, c.ID), gatehouse.ENOTFOUND)
		}
		_, err := f.svc.Credential(ctx, stranger, kind, c.ID)
		wantCode(t, err, gatehouse.ENOTFOUND)
		wantCode(t, end(stranger, kind, c.ID), gatehouse.ENOTFOUND)
		if list, _ := f.svc.Credentials(ctx, stranger, kind, gatehouse.CredentialFilter{}); len(list.Items) != 0 {
			t.Errorf("another tenant lists %d of %s", len(list.Items), kind)
		}
		got, err := f.st.FindCredential(ctx, f.tenant.ID, c.ID)
		if err != nil || got.Revoked() {
			t.Errorf("%s after refused ends: %+v, %v", kind, got, err)
		}
	}
}

// TestCredentialAudit: creating and ending each kind appends the event its
// row names, with the actor, the address and a target that says which
// credential (and whose, for a member's token): its id and name as
// structured fields (TargetID, TargetName: a member's token by the
// member's email) and the summary "id name", the same for create, revoke
// and delete. Ending an ended one appends nothing.
func TestCredentialAudit(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) { testCredentialAudit(t, databaseURL) })
}

func testCredentialAudit(t *testing.T, databaseURL string) {
	f := setupOn(t, databaseURL, admin.Options{})
	ctx := context.Background()
	last := func(t *testing.T) *gatehouse.AuditEvent {
		t.Helper()
		page, err := f.svc.Audit(ctx, f.owner, gatehouse.AuditQuery{})
		if err != nil || len(page.Events) == 0 {
			t.Fatalf("audit = %v, %v", page.Events, err)
		}
		return page.Events[0]
	}
	for _, spec := range managed(t) {
		t.Run(string(spec.Kind), func(t *testing.T) {
			c, _, err := f.svc.CreateCredential(ctx, f.admin, spec.Kind, input(spec.Kind, f.staff.UserID, "sales"))
			if err != nil {
				t.Fatal(err)
			}
			name := c.Name
			if spec.Holder == gatehouse.HolderMember {
				name = "staff@acme.test"
			}
			want := gatehouse.AuditEvent{Actor: "admin@acme.test", Action: spec.Created, Target: c.ID + " " + name,
				TargetID: c.ID, TargetName: name, IP: "203.0.113.1"}
			same := func(e *gatehouse.AuditEvent) bool {
				return e.Actor == want.Actor && e.Action == want.Action && e.Target == want.Target &&
					e.TargetID == want.TargetID && e.TargetName == want.TargetName && e.IP == want.IP
			}
			if e := last(t); !same(e) {
				t.Errorf("create: event %+v, want %+v", e, want)
			}
			end := func() error {
				if spec.Deleted != "" {
					return f.svc.DeleteCredential(ctx, f.admin, spec.Kind, c.ID)
				}
				return f.svc.RevokeCredential(ctx, f.admin, spec.Kind, c.ID)
			}
			want.Action = cmp.Or(spec.Deleted, spec.Revoked)
			if err := end(); err != nil {
				t.Fatal(err)
			}
			e := last(t)
			if !same(e) {
				t.Errorf("end: event %+v, want %+v", e, want)
			}
			if err := end(); err != nil {
				t.Fatal(err)
			}
			if again := last(t); again.ID != e.ID {
				t.Errorf("ending it again appended %+v", again)
			}
		})
	}
}

// TestOAuthAppsNeedEnterprise: the one plan check of admin — OAuth apps
// are an Enterprise feature (seed 002); a Standard tenant's owner is
// refused, an Enterprise tenant's admin is not.
func TestOAuthAppsNeedEnterprise(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	in := admin.ClientInput{Name: "App", Scopes: []string{"sales"}, RedirectURIs: []string{"https://app.example/cb"}, Confidential: true}
	for _, tt := range []struct {
		plan  string
		actor admin.Actor
		want  string
	}{
		{gatehouse.PlanStandard, f.owner, gatehouse.EFORBIDDEN},
		{gatehouse.PlanStandard, f.op, gatehouse.EFORBIDDEN},
		{gatehouse.PlanEnterprise, f.staff, gatehouse.EFORBIDDEN},
		{gatehouse.PlanEnterprise, f.admin, ""},
	} {
		f.tenant.Plan = tt.plan
		if err := f.st.UpdateTenant(ctx, f.tenant); err != nil {
			t.Fatal(err)
		}
		_, _, err := f.svc.CreateClient(ctx, tt.actor, in)
		if tt.want == "" && err != nil {
			t.Errorf("%s, %s: %v", tt.plan, tt.actor.Name, err)
		} else if tt.want != "" {
			wantCode(t, err, tt.want)
		}
	}
}

// TestStaffTokenDeleteRevokes: deleting a staff API token (seed 001) ends
// it as every ended credential ends, revoked rather than erased, so the
// verifier answers REVOKED for it, not UNKNOWN (issue 14); its whitelist
// goes with it, the member no longer holds it and may be given a new one.
func TestStaffTokenDeleteRevokes(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		f := setupOn(t, databaseURL, admin.Options{})
		ctx := context.Background()
		u := f.staff.UserID
		c, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, input(gatehouse.KindStaff, u, "sales"))
		if err != nil {
			t.Fatal(err)
		}
		for _, cidr := range []string{"203.0.113.0/24", "198.51.100.7"} {
			if _, err := f.svc.AddStaffAllowEntry(ctx, f.owner, u, "office", cidr); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.DeleteCredential(ctx, f.owner, gatehouse.KindStaff, c.ID); err != nil {
			t.Fatal(err)
		}
		// The verifier's lookup finds it, revoked, with no whitelist.
		got, err := f.st.FindCredentialByHash(ctx, c.Hash)
		if err != nil || !got.Revoked() || len(got.AllowList) != 0 {
			t.Fatalf("deleted token as the verifier finds it: %+v, %v; want revoked without a whitelist", got, err)
		}
		_, err = f.svc.StaffToken(ctx, f.owner, u)
		wantCode(t, err, gatehouse.ENOTFOUND)
		_, err = f.svc.StaffAllowList(ctx, f.owner, u)
		wantCode(t, err, gatehouse.ECONFLICT)
		fresh, _, err := f.svc.CreateCredential(ctx, f.owner, gatehouse.KindStaff, input(gatehouse.KindStaff, u, "sales"))
		if err != nil || fresh.ID == c.ID || len(fresh.AllowList) != 0 {
			t.Fatalf("new token after delete: %+v, %v", fresh, err)
		}
	})
}
