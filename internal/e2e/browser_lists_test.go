package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EBrowserLists walks the tokens list as an owner with 57 tokens
// would (issue 14): the first page shows 50 with "Next page", which
// leads to the other 7 and "First page"; the search box and the status
// filter narrow the list when submitted, and the page links keep them; a
// token expiring within a week carries its badge.
func TestE2EBrowserLists(t *testing.T) {
	br := newBrowserRun(t, 60*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval, location := br.do, br.navigateBy, br.eval, br.location
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 55 {
		body := map[string]any{"name": fmt.Sprintf("tok %02d", i), "scopes": []string{"catalog"}}
		if i == 0 {
			body["expires_at"] = time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
		}
		if status, err := doJSON(ctx, client, "POST", base+"/api/v1/tokens", creds.Token, body, nil); err != nil || status != http.StatusCreated {
			t.Fatalf("create token %d: %d %v", i, status, err)
		}
	}
	// 55 + the demo's own tokens.
	br.login()
	rows := func() int {
		t.Helper()
		var n int
		fmt.Sscan(eval("count rows", `String(document.querySelectorAll('a[href$="/revoke"]').length)`), &n)
		return n
	}
	navigateBy("open tokens", http.StatusOK, chromedp.Navigate(base+"/console/tokens"))
	if n := rows(); n != 50 {
		t.Errorf("first page: %d rows, want 50", n)
	}
	if eval("first link", `String(!!document.querySelector('a[rel="first"]'))`) != "false" {
		t.Error("the first page links to the first page")
	}
	navigateBy("next page", http.StatusOK, chromedp.Click(chromedp.CSS(`a[rel="next"]`)))
	if n := rows(); n < 5 || n > 10 {
		t.Errorf("second page: %d rows", n)
	}
	if !strings.Contains(eval("body", `document.body.innerText`), "Expires in ≤ 7 days") {
		t.Error("the token expiring in 3 days has no badge on the last page (it is the oldest)")
	}
	navigateBy("first page", http.StatusOK, chromedp.Click(chromedp.CSS(`a[rel="first"]`)))
	if n := rows(); n != 50 || location() != "/console/tokens" {
		t.Errorf("back to the first page: %d rows at %s", n, location())
	}

	// Search: typing changes nothing until the form is submitted.
	do("type a search", chromedp.SendKeys(chromedp.CSS(`#list-q`), "tok 0"))
	if n := rows(); n != 50 {
		t.Errorf("typing alone changed the list: %d rows", n)
	}
	navigateBy("search", http.StatusOK, chromedp.Click(chromedp.CSS(`form.list-search button[type=submit]`)))
	if n := rows(); n != 10 {
		t.Errorf("q=tok 0: %d rows, want 10", n)
	}
	// The status filter, with the search kept.
	do("choose revoked", chromedp.SetValue(chromedp.CSS(`#list-status`), "revoked"))
	navigateBy("filter", http.StatusOK, chromedp.Click(chromedp.CSS(`form.list-search button[type=submit]`)))
	if n := rows(); n != 0 {
		t.Errorf("status=revoked: %d revocable rows", n)
	}
	if got := eval("search kept", `document.querySelector('#list-q').value`); got != "tok 0" {
		t.Errorf("search box = %q after filtering", got)
	}
	if !strings.Contains(eval("body", `document.body.innerText`), "Nothing matches the search or the filter.") {
		t.Error("an empty filtered list does not say so")
	}
	navigateBy("clear", http.StatusOK, chromedp.Click(chromedp.CSS(`form.list-search a.btn`)))
	if n := rows(); n != 50 {
		t.Errorf("cleared: %d rows", n)
	}
}
