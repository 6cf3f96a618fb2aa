package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

var (
	nextLinkRE  = regexp.MustCompile(`href="([^"]+)" rel="next"`)
	firstLinkRE = regexp.MustCompile(`href="([^"]+)" rel="first"`)
	revokeRE    = regexp.MustCompile(`href="/console/tokens/[^"/]+/revoke"`)
)

// link returns the href of re in the page, unescaped, or "".
func link(res *response, re *regexp.Regexp) string {
	if m := re.FindStringSubmatch(res.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// TestCredentialListPages: the tokens page shows a page at a time with
// "Next page" and "First page" links that keep the search and the status
// filter; searching, filtering and the badges; and a cursor that is not
// this list's is refused.
func TestCredentialListPages(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	a := e.actor(e.tenantA, owner)
	for i := range 57 {
		e.clock.Advance(time.Millisecond)
		e.createPAT(e.tenantA, owner, fmt.Sprintf("tok %02d", i))
	}
	soon := e.clock.Now().Add(3 * 24 * time.Hour)
	if _, _, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: "soon", Scopes: []string{"all"}, ExpiresAt: &soon}); err != nil {
		t.Fatal(err)
	}
	gone := e.createPAT(e.tenantA, owner, "gone")
	if err := e.admin.RevokeCredential(e.ctx, a, gatehouse.KindPAT, gone.ID); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("owner@acme.test")

	// 58 live tokens: 50, then 8.
	first := b.get("/console/tokens")
	wantStatus(t, first, http.StatusOK)
	wantBody(t, first, `type="search"`, "Expires in ≤ 7 days")
	if n := len(revokeRE.FindAllString(first.body, -1)); n != 50 {
		t.Errorf("first page: %d rows, want 50", n)
	}
	next := link(first, nextLinkRE)
	if next == "" || link(first, firstLinkRE) != "" {
		t.Fatalf("first page: next %q, first %q", next, link(first, firstLinkRE))
	}
	second := b.get(next)
	wantStatus(t, second, http.StatusOK)
	if n := len(revokeRE.FindAllString(second.body, -1)); n != 8 {
		t.Errorf("second page: %d rows, want 8", n)
	}
	if link(second, nextLinkRE) != "" || link(second, firstLinkRE) != "/console/tokens" {
		t.Errorf("second page: next %q, first %q", link(second, nextLinkRE), link(second, firstLinkRE))
	}
	wantNoBody(t, second, "tok 56", ">gone<")
	wantBody(t, second, "tok 00")

	// Search and filter; the page links keep both.
	res := b.get("/console/tokens?q=TOK+0")
	if n := len(revokeRE.FindAllString(res.body, -1)); n != 10 {
		t.Errorf("q=TOK 0: %d rows, want 10", n)
	}
	wantBody(t, res, `value="TOK 0"`)
	res = b.get("/console/tokens?q=tok&status=active")
	if n := link(res, nextLinkRE); !strings.Contains(n, "q=tok") || !strings.Contains(n, "status=active") {
		t.Errorf("next link %q drops the search or the filter", n)
	}
	res = b.get("/console/tokens?status=revoked")
	wantBody(t, res, ">gone<", `<span class="badge">Revoked</span>`)
	if n := len(revokeRE.FindAllString(res.body, -1)); n != 0 {
		t.Errorf("status=revoked offers %d revocations", n)
	}
	wantBody(t, b.get("/console/tokens?q=nothing-like-it"), "Nothing matches the search or the filter.")

	// Security: the user controls q, status and next.
	for _, bad := range []string{
		"next=garbage",
		"next=" + url.QueryEscape(strings.TrimPrefix(next, "/console/tokens?next=")+"x"),
		"status=gone",
		"q=" + strings.Repeat("x", gatehouse.MaxQueryLen+1),
	} {
		if res := b.get("/console/tokens?" + bad); res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("?%.40s: %d, want 422", bad, res.StatusCode)
		}
	}
	// A cursor of another list (API keys) or another tenant is refused.
	cursor, _ := url.ParseQuery(strings.SplitN(next, "?", 2)[1])
	if res := b.get("/console/api-keys?next=" + url.QueryEscape(cursor.Get("next"))); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("the tokens cursor on API keys: %d, want 422", res.StatusCode)
	}
	e.member(e.tenantB, "owner@acme.test", gatehouse.RoleOwner)
	wantStatus(t, b.submit("/console/tokens", "/console/tenant", url.Values{"tenant_id": {e.tenantB.ID}}), http.StatusSeeOther)
	if res := b.get(next); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("tenant A's cursor in tenant B: %d, want 422", res.StatusCode)
	}
}

// TestUserListSearch: the users page searches by email.
func TestUserListSearch(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("owner@acme.test")
	res := b.get("/console/users?q=PARTNER")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "vendor@partner.test")
	wantNoBody(t, res, ">owner@acme.test<")
	wantBody(t, b.get("/console/users?q=nobody"), "Nothing matches the search or the filter.")
}

// TestCredentialListOwner: the Owner cell links to the list of that
// owner's tokens; another tenant's user lists nothing.
func TestCredentialListOwner(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	other := e.member(e.tenantA, "dev@acme.test", gatehouse.RoleAdmin)
	stranger := e.member(e.tenantB, "stranger@bolt.test", gatehouse.RoleOwner)
	e.createPAT(e.tenantA, owner, "mine")
	e.createPAT(e.tenantA, other, "theirs")
	e.createPAT(e.tenantB, stranger, "elsewhere")
	b := e.browser()
	b.login("owner@acme.test")
	all := b.get("/console/tokens")
	wantBody(t, all, `href="/console/tokens?user_id=`+other.UserID+`"`)
	res := b.get("/console/tokens?user_id=" + other.UserID)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "theirs", "Owner: dev@acme.test", `name="user_id" value="`+other.UserID+`"`)
	wantNoBody(t, res, ">mine<")
	res = b.get("/console/tokens?user_id=" + stranger.UserID)
	wantStatus(t, res, http.StatusOK)
	wantNoBody(t, res, "elsewhere", "stranger@bolt.test")
	wantBody(t, res, "Nothing matches the search or the filter.")
}
