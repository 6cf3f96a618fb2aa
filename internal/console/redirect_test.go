package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/console"
)

// hostileNext are return addresses an attacker may put in a login link's
// next parameter: traversal out of /console/ (plain, percent-encoded,
// double-encoded, mixed case, with backslashes), scheme-relative and
// absolute URLs, schemes, control characters and look-alike prefixes.
var hostileNext = []string{
	"/console/../../evil",
	"/console/../evil",
	"/console/..",
	"/console/../",
	"/console/./../evil",
	"/console/users/../../evil",
	"/console/users/../../../../../evil?x=1",
	"/console/%2e%2e/evil",
	"/console/%2E%2E/evil",
	"/console/.%2e/evil",
	"/console/%2e./evil",
	"/console/%2e%2e%2fevil",
	"/console/..%2fevil",
	"/console/..%2Fevil",
	"/console/..%5cevil",
	"/console/..%5Cevil",
	"/console%2f..%2fevil",
	"/console%2F..%2Fevil",
	"/console/%252e%252e/evil",
	"/console/%25252e%25252e/evil",
	"/console/..;/evil",
	"/console/..\\evil",
	"/console\\..\\evil",
	"/console/\\evil.test",
	"/console/%5c%5cevil.test",
	"/console/%00/../evil",
	"/console/%0d%0aSet-Cookie:x=1",
	"/console/\r\nSet-Cookie:x=1",
	"/console/\tx",
	"/console/ x",
	"/console/\u2215..\u2215evil",
	"/console/\uff0e\uff0e/evil",
	"/oauth2/authorize/../../evil",
	"/oauth2/authorize/../evil",
	"/oauth2/%2e%2e/evil",
	"/oauth2/authorize%2f..%2f..%2fevil",
	"/oauth2/authorize/x",
	"/oauth2/authorizeX",
	"/oauth2/token",
	"/consoleevil",
	"/console.evil.test/",
	"/console@evil.test",
	"/api/v1/tokens",
	"/evil",
	"/",
	"//evil.test",
	"//evil.test/console/",
	"///evil.test/console/",
	"////evil.test",
	"/\\evil.test",
	"/\\/evil.test",
	"\\\\evil.test",
	"\\/evil.test",
	"/%2fevil.test",
	"/%2Fevil.test",
	"/%5cevil.test",
	"/%2f%2fevil.test/console/",
	"https://evil.test/console/",
	"http://evil.test",
	"http:/evil.test",
	"http:evil.test",
	"HTTPS://evil.test",
	"javascript:alert(1)",
	"JavaScript:alert(1)//console/",
	"data:text/html,<script>alert(1)</script>",
	"vbscript:msgbox(1)",
	" /console/users",
	"\t/console/users",
	"console/users",
	"evil.test/console/",
	"./console/users",
	"../console/users",
	"?next=/console/",
	"#/console/",
	"https:/console/users",
	"//console/users",
	"/console/users\x00",
	"/console/users\x7f",
	"/console/" + strings.Repeat("a", 5000),
}

// TestSafeRedirectHostile holds hole 16: whatever next is, what survives is
// a same-origin relative path whose cleaned form stays under /console/ or
// is the authorization endpoint, and a browser resolving the Location
// header lands there too.
func TestSafeRedirectHostile(t *testing.T) {
	for _, next := range hostileNext {
		got := console.SafeRedirect(next)
		if got != "/console/tokens" {
			t.Errorf("SafeRedirect(%q) = %q, want the start page", next, got)
		}
		checkRedirect(t, next, got)
	}
}

// TestSafeRedirectKeeps checks that the return addresses the console makes
// itself survive, cleaned where they had dot segments inside the prefix.
func TestSafeRedirectKeeps(t *testing.T) {
	for in, want := range map[string]string{
		"/console":                           "/console",
		"/console/":                          "/console/",
		"/console/users?x=1":                 "/console/users?x=1",
		"/console/users/usr_1/api-auth":      "/console/users/usr_1/api-auth",
		"/console/./users":                   "/console/users",
		"/console/a/../users":                "/console/users",
		"/console/audit?before=x&y=%2F..%2F": "/console/audit?before=x&y=%2F..%2F",
		"/console/users?next=//evil.test":    "/console/users?next=//evil.test",
		"/oauth2/authorize?client_id=APIK-1&scope=all&state=a%2Fb": "/oauth2/authorize?client_id=APIK-1&scope=all&state=a%2Fb",
	} {
		got := console.SafeRedirect(in)
		if got != want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", in, got, want)
		}
		checkRedirect(t, in, got)
	}
}

// FuzzSafeRedirect checks the property of TestSafeRedirectHostile on any
// input.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range hostileNext {
		f.Add(s)
	}
	f.Add("/console/users?x=1")
	f.Add("/oauth2/authorize?client_id=APIK-1")
	f.Fuzz(func(t *testing.T, next string) {
		checkRedirect(t, next, console.SafeRedirect(next))
	})
}

// checkRedirect fails unless out, the answer for in, is a safe return
// address: as written, after http.Redirect writes it into Location, and
// after a browser resolves that (WHATWG: %2e counts as a dot segment).
func checkRedirect(t *testing.T, in, out string) {
	t.Helper()
	if !safePath(out) {
		t.Fatalf("SafeRedirect(%q) = %q: not a path under /console/ or the authorization endpoint", in, out)
	}
	rec := httptest.NewRecorder()
	http.Redirect(rec, httptest.NewRequest(http.MethodGet, "/console/login", nil), out, http.StatusSeeOther)
	loc := rec.Header().Get("Location")
	if !safePath(loc) {
		t.Fatalf("SafeRedirect(%q) = %q: Location %q leaves the console", in, out, loc)
	}
	base, _ := url.Parse("http://gatehouse.test/console/login")
	ref, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q does not parse: %v", loc, err)
	}
	u := base.ResolveReference(ref)
	if u.Host != "gatehouse.test" || u.Scheme != "http" || u.User != nil {
		t.Fatalf("SafeRedirect(%q): Location %q resolves to another origin: %s", in, loc, u)
	}
	// A browser also treats %2e as a dot and may treat \ as /.
	p := strings.NewReplacer("%2e", ".", "%2E", ".", "\\", "/").Replace(u.EscapedPath())
	if !underPrefix(path.Clean(p)) {
		t.Fatalf("SafeRedirect(%q): Location %q resolves to %s", in, loc, p)
	}
}

func safePath(s string) bool {
	if s == "" || s[0] != '/' || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t #") {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	raw := strings.ToLower(u.EscapedPath())
	if strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") || strings.Contains(raw, "%2e") {
		return false
	}
	clean := path.Clean(u.Path)
	if clean != strings.TrimSuffix(u.Path, "/") && clean != u.Path {
		return false
	}
	return underPrefix(clean)
}

func underPrefix(p string) bool {
	return p == console.Prefix || strings.HasPrefix(p, console.Prefix+"/") || p == console.AuthorizePath
}

// TestLoginNextTraversal is hole 16 through the login form: a login link
// with next=/console/../../evil used to answer Location: /evil.
func TestLoginNextTraversal(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	// Logging in costs a password hash: the form gets a sample of each
	// kind, the signed-in login page (the same rule) gets them all.
	for _, next := range []string{
		"/console/../../evil", "/console/%2e%2e/evil", "/console/..%2fevil", "/console%2f..%2fevil",
		"/console/%252e%252e/evil", "/console/..\\evil", "/oauth2/authorize/../../evil", "//evil.test/console/",
		"/\\evil.test", "https://evil.test/console/", "javascript:alert(1)", "/consoleevil",
	} {
		b := e.browser()
		form := url.Values{"email": {"owner@acme.test"}, "password": {password}, "next": {next}}
		form.Set("csrf_token", b.csrf("/console/login?next="+url.QueryEscape(next)))
		res := b.post("/console/login", form)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/console/tokens" {
			t.Errorf("login with next=%q: %d Location %q, want /console/tokens", next, res.StatusCode, loc)
		}
	}
	b := e.browser()
	b.login("owner@acme.test")
	for _, next := range hostileNext {
		res := b.get("/console/login?next=" + url.QueryEscape(next))
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/console/tokens" {
			t.Errorf("signed-in login page with next=%q: %d Location %q, want /console/tokens", next, res.StatusCode, loc)
		}
	}
}
