package console_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestSettingsAskPassword holds hole 17's re-confirmation of the security
// settings: without the password or with a wrong one the form comes back
// with an error and nothing changes; with the right one it saves.
func TestSettingsAskPassword(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	page := b.get("/console/settings")
	wantBody(t, page, `name="password" type="password"`, "Your Password")

	change := func(pw string) url.Values {
		f := url.Values{"allow_anonymous_guest_access": {"1"}, "oauth1_tokens_as_bearer": {"1"}}
		if pw != "" {
			f.Set("password", pw)
		}
		return f
	}
	for _, tc := range []struct{ name, password, message string }{
		{"no password", "", "Enter your password to confirm this change."},
		{"wrong password", "wrong password", "Your password is incorrect. Nothing was saved."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.submit("/console/settings", "/console/settings", change(tc.password))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, tc.message, `name="allow_anonymous_guest_access" value="1" checked`)
			wantNoBody(t, res, "wrong password", "You saved the configuration.")
			if s, _ := e.store.Settings(e.ctx, e.tenantA.ID); s != gatehouse.DefaultSettings() {
				t.Fatalf("settings changed without the password: %+v", s)
			}
		})
	}
	res := b.submit("/console/settings", "/console/settings", change(password))
	wantRedirect(t, res, "/console/settings")
	want := gatehouse.Settings{AllowAnonymousGuestAccess: true, OAuth1TokensAsBearer: true}
	if s, _ := e.store.Settings(e.ctx, e.tenantA.ID); s != want {
		t.Fatalf("settings = %+v, want %+v", s, want)
	}
}

// TestAddOwnerAsksPassword: adding an owner asks the signed-in owner's
// password again; other roles do not need it.
func TestAddOwnerAsksPassword(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")
	wantBody(t, b.get("/console/users"), `name="current_password"`)

	add := func(current string) url.Values {
		f := url.Values{"email": {"second@acme.test"}, "role": {"owner"}, "password": {"new-user-pass"}}
		if current != "" {
			f.Set("current_password", current)
		}
		return f
	}
	for _, tc := range []struct{ name, current, message string }{
		{"no password", "", "Enter your password to confirm this change."},
		{"wrong password", "wrong password", "Your password is incorrect. Nothing was saved."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.submit("/console/users", "/console/users", add(tc.current))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, tc.message, `value="second@acme.test"`)
			wantNoBody(t, res, "new-user-pass", "wrong password")
			if _, err := e.store.FindUserByEmail(e.ctx, "second@acme.test"); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
				t.Fatalf("user created without the password: %v", err)
			}
		})
	}
	res := b.submit("/console/users", "/console/users", add(password))
	wantRedirect(t, res, "/console/users")
	u, err := e.store.FindUserByEmail(e.ctx, "second@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := e.store.FindMembership(e.ctx, e.tenantA.ID, u.ID); m == nil || m.Role != gatehouse.RoleOwner {
		t.Fatalf("membership = %+v", m)
	}
	// An admin needs no re-confirmation.
	res = b.submit("/console/users", "/console/users", url.Values{"email": {"admin@acme.test"}, "role": {"admin"}})
	wantRedirect(t, res, "/console/users")
}

// TestPromoteToOwnerAsksPassword: making a member an owner is creating an
// owner too; the role form goes through a password confirmation step.
func TestPromoteToOwnerAsksPassword(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	m := e.member(e.tenantA, "staff@acme.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("owner@acme.test")
	rolePath := "/console/users/" + m.UserID + "/role"
	role := func() gatehouse.Role {
		t.Helper()
		got, err := e.store.FindMembership(e.ctx, e.tenantA.ID, m.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Role
	}

	// The role form without a password shows the confirmation step.
	res := b.submit("/console/users", rolePath, url.Values{"role": {"owner"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Make staff@acme.test an owner", `name="current_password"`, `action="`+rolePath+`"`, `name="role" value="owner"`)
	if role() != gatehouse.RoleStaff {
		t.Fatal("the confirmation step changed the role")
	}
	res = b.submit("/console/users", rolePath, url.Values{"role": {"owner"}, "current_password": {"wrong password"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "Your password is incorrect. Nothing was saved.", `name="current_password"`)
	if role() != gatehouse.RoleStaff {
		t.Fatal("a wrong password changed the role")
	}
	res = b.submit("/console/users", rolePath, url.Values{"role": {"owner"}, "current_password": {password}})
	wantRedirect(t, res, "/console/users")
	if role() != gatehouse.RoleOwner {
		t.Fatalf("role = %s, want owner", role())
	}
	// Other role changes need no password.
	wantRedirect(t, b.submit("/console/users", rolePath, url.Values{"role": {"admin"}}), "/console/users")
	if role() != gatehouse.RoleAdmin {
		t.Fatalf("role = %s, want admin", role())
	}
}
