package e2e

// Issue 14, done-means 2: every role at home. A user of each role signs
// in to the console, lands on their role's home, and every entry of the
// sidebar they are shown answers 200; staff are shown exactly their own
// pages (their staff API token, connected apps, profile), read their own
// token and IP whitelist, never another member's.

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

var (
	sidebarRE = regexp.MustCompile(`(?s)<nav class="sidebar".*?</nav>`)
	hrefRE    = regexp.MustCompile(`href="([^"]+)"`)
)

// sidebarLinks are the hrefs of the page's sidebar, in order.
func sidebarLinks(t *testing.T, page string) []string {
	t.Helper()
	nav := sidebarRE.FindString(page)
	if nav == "" {
		t.Fatalf("the page has no sidebar:\n%s", page)
	}
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(nav, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// The sidebars each role is shown (issue 14: "navigation shows only what
// the role may open").
var (
	staffNav   = []string{"/console/api-token", "/console/connected-apps", "/console/profile"}
	managerNav = []string{"/console/tokens", "/console/api-keys", "/console/oauth-apps", "/console/integrations",
		"/console/api-token", "/console/connected-apps", "/console/profile", "/console/users", "/console/settings", "/console/audit"}
)

func TestConsoleRoleHome(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		e := testenv.New(t, testenv.Options{DatabaseURL: databaseURL})
		svc := e.Server.Admin
		// signIn logs in for subtest t: testenv fails e.T, so it is t
		// while the subtest runs.
		signIn := func(t *testing.T, email string) *testenv.Console {
			t.Helper()
			parent := e.T
			e.T = t
			t.Cleanup(func() { e.T = parent })
			return e.Console(email, testenv.Password)
		}
		e.AddMember(e.Tenant, "admin@acme.test", gatehouse.RoleAdmin)
		staff := e.AddMember(e.Tenant, "clerk@acme.test", gatehouse.RoleStaff)
		vendor := e.AddMember(e.Tenant, "vendor@partner.test", gatehouse.RoleStaff)
		e.AddMember(e.Tenant, "newbie@acme.test", gatehouse.RoleStaff)
		// A second tenant where the admin is staff: their profile lists
		// both, and switching there lands on the staff home.
		bolt, _ := e.NewTenant(testenv.Seed{Slug: "bolt", Name: "Bolt Shop", Email: "owner@bolt.test", Plan: gatehouse.PlanEnterprise})
		e.AddMember(bolt, "admin@acme.test", gatehouse.RoleStaff)

		// The owner generated staff tokens for the clerk (with an expiry and
		// a whitelist) and for the vendor.
		exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Minute)
		clerkTok, _, err := svc.CreateCredential(e.Ctx, e.Owner, gatehouse.KindStaff, admin.CredentialInput{UserID: staff.UserID, Scopes: []string{"catalog.products"}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddStaffAllowEntry(e.Ctx, e.Owner, staff.UserID, "office", "203.0.113.0/24"); err != nil {
			t.Fatal(err)
		}
		vendorTok, _, err := svc.CreateCredential(e.Ctx, e.Owner, gatehouse.KindStaff, admin.CredentialInput{UserID: vendor.UserID, Scopes: []string{"sales"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddStaffAllowEntry(e.Ctx, e.Owner, vendor.UserID, "vendor-net", "198.51.100.0/24"); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			email, home string
			nav         []string
		}{
			{e.OwnerEmail, "/console/tokens", managerNav},
			{"admin@acme.test", "/console/tokens", managerNav},
			{"clerk@acme.test", "/console/api-token", staffNav},
			{"newbie@acme.test", "/console/api-token", staffNav},
		} {
			t.Run(tc.email, func(t *testing.T) {
				c := signIn(t, tc.email) // fails unless the landing page is 200
				res, page := c.Get("/console/")
				if res.StatusCode != http.StatusOK || res.Request.URL.Path != tc.home {
					t.Fatalf("/console/ leads to %s (%d), want %s", res.Request.URL.Path, res.StatusCode, tc.home)
				}
				links := sidebarLinks(t, page)
				if !slices.Equal(links, tc.nav) {
					t.Fatalf("sidebar = %q, want %q", links, tc.nav)
				}
				for _, href := range links {
					res, body := c.Get(href)
					if res.StatusCode != http.StatusOK {
						t.Errorf("sidebar entry %s: %d, want 200", href, res.StatusCode)
						continue
					}
					// Every page shows the same sidebar, its own entry current.
					if got := sidebarLinks(t, body); !slices.Equal(got, tc.nav) {
						t.Errorf("%s: sidebar = %q", href, got)
					}
					if !strings.Contains(body, `href="`+href+`" aria-current="page"`) {
						t.Errorf("%s: its sidebar entry is not marked current", href)
					}
				}
			})
		}

		t.Run("staff reads only their own token", func(t *testing.T) {
			c := signIn(t, "clerk@acme.test")
			res, page := c.Get("/console/api-token")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("own token page: %d", res.StatusCode)
			}
			for _, want := range []string{clerkTok.Hint, "office", "203.0.113.0/24", exp.Format("2006-01-02 15:04"), "catalog.products",
				"An admin manages this token", "Acme Inc.", "Active", "Last used"} {
				if !strings.Contains(page, want) {
					t.Errorf("own token page lacks %q", want)
				}
			}
			// Read-only: no form, no generate, delete or whitelist link.
			for _, not := range []string{"<form method=\"post\" action=\"/console/users", "/ip-whitelist", "/api-token/delete", "api-auth", vendorTok.Hint, "vendor-net"} {
				if strings.Contains(page, not) {
					t.Errorf("own token page contains %q", not)
				}
			}
			// Another member's API Auth tab stays closed, as do their
			// whitelist pages and the clerk's own manager pages.
			for _, p := range []string{
				"/console/users/" + vendor.UserID + "/api-auth",
				"/console/users/" + vendor.UserID + "/ip-whitelist/new",
				"/console/users/" + vendor.UserID + "/api-token/delete",
				"/console/users/" + staff.UserID + "/api-auth",
				"/console/tokens", "/console/users",
			} {
				res, body := c.Get(p)
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("GET %s as staff: %d, want 403", p, res.StatusCode)
				}
				if strings.Contains(body, vendorTok.Hint) || strings.Contains(body, "vendor-net") {
					t.Errorf("GET %s as staff shows the vendor's token", p)
				}
				// The 403 page offers the way home, not to another 403.
				if !strings.Contains(body, `class="btn" href="/console/api-token"`) {
					t.Errorf("GET %s as staff: the error page does not lead home", p)
				}
			}
		})

		t.Run("tenant switch", func(t *testing.T) {
			// The admin of Acme is staff in Bolt: switching lands on each
			// role's home, and the sidebar follows the role.
			c := signIn(t, "admin@acme.test")
			res, page := c.Post("/console/tenant", url.Values{"tenant_id": {bolt.ID}})
			if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/console/api-token" {
				t.Fatalf("switch to Bolt: %s (%d), want /console/api-token", res.Request.URL.Path, res.StatusCode)
			}
			if got := sidebarLinks(t, page); !slices.Equal(got, staffNav) {
				t.Errorf("sidebar in Bolt = %q, want %q", got, staffNav)
			}
			res, page = c.Post("/console/tenant", url.Values{"tenant_id": {e.Tenant.ID}})
			if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/console/tokens" {
				t.Fatalf("switch back to Acme: %s (%d), want /console/tokens", res.Request.URL.Path, res.StatusCode)
			}
			if got := sidebarLinks(t, page); !slices.Equal(got, managerNav) {
				t.Errorf("sidebar in Acme = %q, want %q", got, managerNav)
			}
		})

		t.Run("staff without a token", func(t *testing.T) {
			c := signIn(t, "newbie@acme.test")
			res, page := c.Get("/console/api-token")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("own token page without a token: %d", res.StatusCode)
			}
			for _, want := range []string{"You have no API token in this tenant", "An owner or admin generates it for you"} {
				if !strings.Contains(page, want) {
					t.Errorf("empty state lacks %q\n%s", want, page)
				}
			}
			if strings.Contains(page, clerkTok.Hint) || strings.Contains(page, vendorTok.Hint) {
				t.Error("the empty state shows someone else's token")
			}
		})

		t.Run("profile", func(t *testing.T) {
			c := signIn(t, "admin@acme.test")
			res, page := c.Get("/console/profile")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("profile: %d", res.StatusCode)
			}
			for _, want := range []string{"admin@acme.test", "Role in Acme Inc.", "Admin", "Bolt Shop", "Staff", `action="/console/locale"`, `name="time_zone"`, `id="profile-locale"`} {
				if !strings.Contains(page, want) {
					t.Errorf("profile lacks %q", want)
				}
			}
			// The preferences form saves through /console/locale and comes back.
			res, page = c.Post("/console/locale", url.Values{"locale": {"ru"}, "time_zone": {"Asia/Taipei"}, "next": {"/console/profile"}})
			if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/console/profile" || !strings.Contains(page, `<html lang="ru"`) {
				t.Fatalf("save preferences: %s (%d)", res.Request.URL.Path, res.StatusCode)
			}
			if !strings.Contains(page, `<option value="Asia/Taipei" selected>`) || !strings.Contains(page, "Ваш профиль") {
				t.Errorf("profile after saving does not show the new preferences")
			}
		})

		t.Run("login next", func(t *testing.T) {
			// A staff user following a link to an admin page lands home,
			// not on a 403; a page they may open is kept.
			for next, want := range map[string]string{
				"/console/users?x=1":      "/console/api-token",
				"/console/settings":       "/console/api-token",
				"/console/profile":        "/console/profile",
				"/console/connected-apps": "/console/connected-apps",
				"":                        "/console/api-token",
			} {
				if got := loginLanding(t, e, "clerk@acme.test", next); got != want {
					t.Errorf("staff login with next=%q lands on %s, want %s", next, got, want)
				}
			}
			if got := loginLanding(t, e, "admin@acme.test", "/console/users?x=1"); got != "/console/users?x=1" {
				t.Errorf("admin login with next=/console/users?x=1 lands on %s", got)
			}
		})
	})
}

// loginLanding posts the login form with next and returns where the
// answer sends the browser (the Location of the 303).
func loginLanding(t *testing.T, e *testenv.Env, email, next string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(e.URL + "/console/login?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	res, err = client.PostForm(e.URL+"/console/login", url.Values{"csrf_token": {html.UnescapeString(m[1])}, "email": {email}, "password": {testenv.Password}, "next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: %d", email, res.StatusCode)
	}
	return res.Header.Get("Location")
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, res.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
