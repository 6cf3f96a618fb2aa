package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

var sortKeyRE = regexp.MustCompile(`key-(\d\d)`)

// keysOf returns the sort keys ("key-NN") of the rows of a page, in order.
func keysOf(res *response) []string {
	var keys []string
	for _, m := range sortKeyRE.FindAllStringSubmatch(res.body, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

// TestListSort: the toolbar's sort select orders the tokens list (by name
// here, created in another order), shows the order chosen, and the Next
// page and First page links and the filters keep it; a cursor of one
// order is refused in another and an unknown order is refused.
func TestListSort(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	a := e.actor(e.tenantA, owner)
	var want []string
	for i := range 55 {
		e.clock.Advance(time.Millisecond)
		k := fmt.Sprintf("%02d", i*7%55) // a name order unlike the creation order
		want = append(want, k)
		var exp *time.Time
		if i%2 == 0 {
			t := e.clock.Now().Add(time.Duration(60-i) * time.Hour)
			exp = &t
		}
		if _, _, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: "key-" + k, Scopes: []string{"all"}, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	b := e.browser()
	b.login("owner@acme.test")

	first := b.get("/console/tokens?sort=name")
	wantStatus(t, first, http.StatusOK)
	wantBody(t, first, `<select id="list-sort" name="sort">`, `<option value="name" selected>Name A–Z</option>`,
		`<option value="expires">Expiring soonest</option>`, `<option value="last_used">Recently used</option>`)
	if got := keysOf(first); !slices.Equal(got, want[:50]) {
		t.Errorf("first page by name: %v, want %v", got, want[:50])
	}
	next := link(first, nextLinkRE)
	if !strings.Contains(next, "sort=name") {
		t.Fatalf("next link %q drops the sort", next)
	}
	second := b.get(next)
	wantStatus(t, second, http.StatusOK)
	if got := keysOf(second); !slices.Equal(got, want[50:]) {
		t.Errorf("second page by name: %v, want %v", got, want[50:])
	}
	if f := link(second, firstLinkRE); f != "/console/tokens?sort=name" {
		t.Errorf("first page link %q", f)
	}

	// By expiry: the soonest (the last created with one) first, the 27
	// never expiring after the 28 that do.
	res := b.get("/console/tokens?sort=expires")
	got := keysOf(res)
	if len(got) != 50 || got[0] != fmt.Sprintf("%02d", 54*7%55) {
		t.Errorf("by expiry: %v", got)
	}
	wantBody(t, res, `<option value="expires" selected>`)

	// The default order is the select's first option, and the filters
	// keep the sort.
	wantBody(t, b.get("/console/tokens"), `<option value="newest" selected>Newest first</option>`)
	if n := link(b.get("/console/tokens?q=key&status=active&sort=oldest"), nextLinkRE); !strings.Contains(n, "sort=oldest") || !strings.Contains(n, "status=active") || !strings.Contains(n, "q=key") {
		t.Errorf("next link %q drops the sort, search or filter", n)
	}
	// Users sort by e-mail; integrations (and apps) by name.
	wantBody(t, b.get("/console/users?sort=email"), `<option value="email" selected>`)
	wantBody(t, b.get("/console/integrations?sort=oldest"), `<option value="oldest" selected>`)

	// Security: the user controls sort and next.
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	cursor := url.QueryEscape(u.Query().Get("next"))
	for _, bad := range []string{
		"sort=size",
		"sort=email",
		"sort=expires&next=" + cursor,
		"next=" + cursor,
	} {
		if res := b.get("/console/tokens?" + bad); res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("?%.40s: %d, want 422", bad, res.StatusCode)
		}
	}
	if res := b.get("/console/users?sort=expires"); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("users by expiry: %d, want 422", res.StatusCode)
	}
}

// TestAuditSort: the audit log's sort select shows the oldest events
// first, its Next page link keeps the order, and a cursor of the other
// order starts the list again rather than being read as its own.
func TestAuditSort(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	for i := range 60 {
		ev := &gatehouse.AuditEvent{TenantID: e.tenantA.ID, Time: e.clock.Now().Add(time.Duration(i) * time.Second), Actor: "owner@acme.test", Action: "test.event", Target: fmt.Sprintf("key-%02d", i)}
		if err := e.store.AppendAudit(e.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login("owner@acme.test")
	page := b.get("/console/audit?action=test.event&sort=oldest")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, `<option value="oldest" selected>Oldest first</option>`, "Next page")
	got := keysOf(page)
	if len(got) == 0 || got[0] != "00" || !slices.IsSorted(got) {
		t.Errorf("oldest first: %v", got)
	}
	next := regexp.MustCompile(`href="(/console/audit\?[^"]*next=[^"]+)"`).FindStringSubmatch(page.body)
	if next == nil || !strings.Contains(next[1], "sort=oldest") {
		t.Fatalf("next link %v", next)
	}
	page2 := b.get(html.UnescapeString(next[1]))
	if got := keysOf(page2); len(got) == 0 || got[0] <= keysOf(page)[len(keysOf(page))-1] || !slices.IsSorted(got) {
		t.Errorf("second page oldest first: %v", got)
	}
	// Newest first is the default; the oldest-first cursor there starts
	// from the newest.
	u, _ := url.Parse(html.UnescapeString(next[1]))
	page3 := b.get("/console/audit?action=test.event&next=" + url.QueryEscape(u.Query().Get("next")))
	if got := keysOf(page3); len(got) == 0 || got[0] != "59" {
		t.Errorf("newest first with an oldest-first cursor: %v", got)
	}
	if res := b.get("/console/audit?sort=name"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("audit by name: %d, want 400", res.StatusCode)
	}
}
