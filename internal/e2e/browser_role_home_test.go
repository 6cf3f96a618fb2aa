package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EBrowserStaffHome is issue 14's done-means 2 in a real headless
// Chromium: a staff user with a password (made, with their staff API
// token and its IP whitelist, over the management API as an admin's
// integration would) signs in, lands on their own API token page — its
// hint, expiry and the whitelist, read-only, with the sentence that an
// admin manages it — and opens every entry of their sidebar, each
// answering 200 and none an error page. A typed admin address is still
// 403, and that page leads home.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes staff-home-*.png in
// docs/screenshots/.
func TestE2EBrowserStaffHome(t *testing.T) {
	br := newBrowserRun(t, 60*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval, shot, location := br.do, br.navigateBy, br.eval, br.shot, br.location
	client := &http.Client{Timeout: 10 * time.Second}
	api := func(method, path string, body, out any) {
		t.Helper()
		status, err := doJSON(ctx, client, method, base+path, creds.Token, body, out)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("%s %s: %d %v", method, path, status, err)
		}
	}

	// The owner's side, over the API: a staff user with a password, their
	// token (Expired At in 30 days) and two whitelist entries.
	const email, password = "clerk@demo.example", "clerk's long password"
	var user struct{ ID string }
	api("POST", "/api/v1/users", map[string]string{"email": email, "role": "staff", "password": password}, &user)
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Minute)
	var tok struct{ Token string }
	api("POST", "/api/v1/users/"+user.ID+"/api-token", map[string]any{"scopes": []string{"catalog.products"}, "expires_at": expires.Format(time.RFC3339)}, &tok)
	api("POST", "/api/v1/users/"+user.ID+"/api-token/ip-allowlist", map[string]string{"name": "office", "cidr": "203.0.113.7"}, nil)
	api("POST", "/api/v1/users/"+user.ID+"/api-token/ip-allowlist", map[string]string{"name": "warehouse", "cidr": "198.51.100.0/24"}, nil)

	// Sign in as the staff user.
	do("open console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	do("fill login", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))
	if p := location(); p != "/console/api-token" {
		t.Fatalf("staff landed on %s, want /console/api-token", p)
	}
	do("token card", chromedp.WaitVisible(chromedp.CSS("#api-token")))

	// The token: its hint (never the token), status, Expired At; the
	// whitelist, read-only; who manages it.
	hint := strings.TrimSuffix(eval("hint", `document.querySelector("#api-token code").innerText.trim()`), "…")
	if len(hint) < len("gate_stf_") || !strings.HasPrefix(tok.Token, hint) {
		t.Fatalf("hint %q is not the start of the token", hint)
	}
	if body := eval("body", `document.body.innerText`); strings.Contains(body, tok.Token) {
		t.Fatal("the page shows the token itself")
	}
	if s := eval("status", `document.getElementById("token-status").innerText.trim()`); s != "Active" {
		t.Fatalf("status = %q, want Active", s)
	}
	if got := eval("expiry", `[...document.querySelectorAll("#api-token time")].map(e => e.title + " " + e.getAttribute("datetime")).join(" ")`); !strings.Contains(got, expires.Format("2006-01-02T15:04")) {
		t.Fatalf("the token card does not show Expired At %s: %q", expires.Format(time.RFC3339), got)
	}
	rows := eval("whitelist", `[...document.querySelectorAll("#ip-whitelist tbody tr")].map(tr => tr.cells[0].innerText.trim() + " " + tr.cells[1].innerText.trim()).join("\n")`)
	if got := strings.Split(rows, "\n"); !slices.Equal(got, []string{"office 203.0.113.7", "warehouse 198.51.100.0/24"}) {
		t.Fatalf("whitelist = %q", got)
	}
	if n := eval("controls", `String(document.querySelectorAll("main form, main button, #new-ip, #delete-token, main a[href*='/users/']").length)`); n != "0" {
		t.Fatalf("the read-only page has %s forms, buttons or management links", n)
	}
	if note := eval("note", `document.getElementById("managed-by-admin").innerText`); !strings.Contains(note, "An admin manages this token") {
		t.Fatalf("managed-by note = %q", note)
	}
	shot("staff-home-token")

	// Every sidebar entry answers 200 and is no error page.
	links := strings.Split(eval("sidebar", `[...document.querySelectorAll(".sidebar a")].map(a => a.getAttribute("href")).join(" ")`), " ")
	if want := []string{"/console/api-token", "/console/connected-apps", "/console/profile"}; !slices.Equal(links, want) {
		t.Fatalf("staff sidebar = %q, want %q", links, want)
	}
	for _, href := range links {
		navigateBy("open "+href, http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`.sidebar a[href=%q]`, href))))
		do("wait for "+href, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`.sidebar a[href=%q][aria-current="page"]`, href))))
		if p := location(); p != href {
			t.Fatalf("clicked %s, at %s", href, p)
		}
		if n := eval("error page", `String(document.querySelectorAll(".error-page").length)`); n != "0" {
			t.Fatalf("%s shows an error page", href)
		}
		if href == "/console/profile" {
			if got := eval("profile", `document.getElementById("profile-email").innerText + " " + document.getElementById("profile-role").innerText`); got != email+" Staff" {
				t.Fatalf("profile shows %q", got)
			}
			shot("staff-home-profile")
		}
	}

	// An admin page typed by hand is refused; the error page offers home.
	navigateBy("type /console/users", http.StatusForbidden, chromedp.Navigate(base+"/console/users"))
	if got := eval("sidebar on 403", `[...document.querySelectorAll(".sidebar a")].length + ""`); got != "3" {
		t.Fatalf("the 403 page's sidebar has %s entries, want the staff's 3", got)
	}
	navigateBy("back home", http.StatusOK, chromedp.Click(chromedp.CSS(".error-page a.btn")))
	if p := location(); p != "/console/api-token" {
		t.Fatalf("the 403 page leads to %s, want /console/api-token", p)
	}
	t.Logf("staff home walk done in %s", time.Since(br.start).Round(time.Millisecond))
}
