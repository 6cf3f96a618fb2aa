package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// phoneW×phoneH is a phone's viewport (issue 14: 390 px wide).
const phoneW, phoneH = 390, 844

// phoneChecks is the script that reports, as a JSON list of sentences,
// what is wrong with the page at a phone's width: a page that scrolls
// sideways, an element that sticks out of the viewport, a button, label,
// badge or cell whose text is clipped, a table row that is still a table
// row (not a card), a cell without its column's label, an action that is
// not visible inside the viewport.
const phoneChecks = `(() => {
	const W = window.innerWidth, out = [];
	const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + " «" + el.textContent.trim().replace(/\s+/g, " ").slice(0, 40) + "»";
	const shown = el => { const s = getComputedStyle(el); return el.getClientRects().length > 0 && s.visibility !== "hidden" && s.display !== "none"; };
	const skipped = el => el.closest(".sr-only, .skip, thead, dialog, option, select, pre");
	if (document.documentElement.scrollWidth > W) out.push("the page scrolls sideways: scrollWidth " + document.documentElement.scrollWidth + " > " + W);
	document.querySelectorAll("body *").forEach(el => {
		if (skipped(el) || !shown(el)) return;
		const r = el.getBoundingClientRect();
		if (r.width > 0 && (r.right > W + 0.5 || r.left < -0.5)) out.push("out of the viewport: " + name(el) + " [" + Math.round(r.left) + ", " + Math.round(r.right) + "]");
	});
	document.querySelectorAll(".btn, button, label, .badge, td, th, .nav-toggle, .tabs a").forEach(el => {
		if (skipped(el) || !shown(el)) return;
		if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== "inline") out.push("clipped: " + name(el) + " " + el.scrollWidth + " > " + el.clientWidth);
	});
	document.querySelectorAll("main .table-wrap tbody tr").forEach(tr => {
		const d = getComputedStyle(tr).display;
		if (d.startsWith("table")) out.push("a row is a table row, not a card: display " + d);
		[...tr.children].forEach(td => {
			const dd = getComputedStyle(td).display;
			if (dd.startsWith("table")) out.push("a cell is a table cell: display " + dd + " " + name(td));
			if (!td.classList.contains("actions")) {
				const label = td.getAttribute("data-label");
				const before = getComputedStyle(td, "::before").content;
				if (!label) out.push("a cell has no data-label: " + name(td));
				else if (before !== JSON.stringify(label)) out.push("a cell does not show its label " + label + ": ::before " + before);
			}
		});
		tr.querySelectorAll("a.btn, button").forEach(b => {
			const r = b.getBoundingClientRect();
			if (!shown(b) || r.width < 1 || r.left < 0 || r.right > W) out.push("an action is not visible in the viewport: " + name(b));
		});
	});
	return JSON.stringify(out);
})()`

// TestE2EBrowserPhone opens the console at 390×844 in each of the four
// languages (issue 14, "Phone and keyboard"): on the tokens, API Portal,
// OAuth apps, integrations, users, a staff user's API Auth, audit and
// settings pages nothing scrolls sideways or is clipped, the navigation is
// folded behind the Menu button until it is pressed, and tables are cards
// whose actions are in view. The language selector waits for its button
// (an arrow key changes nothing, WCAG 3.2.2); a Revoke link opens its
// confirmation in a dialog (Cancel and Esc close it, the focus returns,
// confirming revokes), and the full confirmation page still works. At
// 1280×800 the sidebar and the tables are as they were.
func TestE2EBrowserPhone(t *testing.T) {
	br := newBrowserRun(t, 240*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval := br.do, br.navigateBy, br.eval
	client := &http.Client{Timeout: 10 * time.Second}

	// Something in every list: a token with a long name, an API key, an
	// OAuth app, an integration, a staff user with a token and a whitelist.
	post := func(path string, body, out any) {
		t.Helper()
		if status, err := doJSON(ctx, client, "POST", base+"/api/v1"+path, creds.Token, body, out); err != nil || status != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", path, status, err)
		}
	}
	var pat, key struct{ ID, Token, Key string }
	post("/tokens", map[string]any{"name": "Синхронизация-каталога-и-остатков-склада-ежечасно", "scopes": []string{"catalog"}}, &pat)
	post("/api-keys", map[string]any{"description": "Amazon Sales Channel", "scopes": []string{"catalog"}}, &key)
	post("/oauth-clients", map[string]any{"name": "Warehouse dashboard", "redirect_uris": []string{"https://dashboard.warehouse.example/oauth/callback/very/long/path"},
		"scopes": []string{"catalog"}, "confidential": true}, nil)
	post("/integrations", map[string]any{"name": "ERP connector", "email": "it@erp.example", "callback_url": "https://erp.example/magento/callback",
		"resource_access": "custom", "resources": []string{"catalog"}}, nil)
	var staff struct{ ID string }
	post("/users", map[string]any{"email": "erp-vendor@partner.example", "role": "staff"}, &staff)
	post("/users/"+staff.ID+"/api-token", map[string]any{"scopes": []string{"catalog"}}, nil)
	post("/users/"+staff.ID+"/api-token/ip-allowlist", map[string]any{"name": "office", "cidr": "203.0.113.0/24"}, nil)
	verify := func(credential string) string {
		t.Helper()
		var ans verifyAnswer
		if status, err := doJSON(ctx, client, "POST", base+"/api/v1/verify", creds.Token, map[string]string{"credential": credential}, &ans); err != nil || status != 200 {
			t.Fatalf("verify: %d %v", status, err)
		}
		return ans.Code
	}

	br.login()
	do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	open := func(path string) {
		t.Helper()
		navigateBy("open "+path, http.StatusOK, chromedp.Navigate(base+path))
		do("page "+path, chromedp.WaitReady(chromedp.CSS("main")))
	}
	isTrue := func(step, js string) bool {
		t.Helper()
		return eval(step, "String(!!("+js+"))") == "true"
	}
	navShown := `[...document.querySelectorAll(".sidebar ul")].every(ul => ul.getClientRects().length > 0)`
	navHidden := `[...document.querySelectorAll(".sidebar ul")].every(ul => ul.getClientRects().length === 0)`

	pages := []string{"/console/tokens", "/console/api-keys", "/console/oauth-apps", "/console/integrations",
		"/console/users", "/console/users/" + staff.ID + "/api-auth", "/console/audit", "/console/settings"}
	for _, lang := range []string{"en", "ru", "zh-Hans", "zh-Hant"} {
		// The user's language, chosen in the top bar.
		open("/console/tokens")
		do("choose "+lang, chromedp.SetValue(chromedp.CSS("#locale-select"), lang))
		navigateBy("apply "+lang, http.StatusOK, chromedp.Click(chromedp.CSS("#locale-save")))
		for _, path := range pages {
			open(path)
			if got := eval("lang", `document.documentElement.lang`); got != lang {
				t.Fatalf("%s: page language %q, want %s", path, got, lang)
			}
			if path != "/console/settings" && !isTrue("rows", `document.querySelector("main .table-wrap tbody tr")`) {
				t.Errorf("%s [%s]: no table rows to check", path, lang)
			}
			// The navigation is folded; the Menu button opens and closes it.
			if !isTrue("menu closed", navHidden+` && document.querySelector(".nav-toggle").getAttribute("aria-expanded") === "false"`) {
				t.Errorf("%s [%s]: the navigation is open before the Menu button is pressed", path, lang)
			}
			var problems []string
			if err := json.Unmarshal([]byte(eval("phone checks", phoneChecks)), &problems); err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s [%s]: %s", path, lang, p)
			}
			do("open menu", chromedp.Click(chromedp.CSS(".nav-toggle")))
			if !isTrue("menu open", navShown+` && document.querySelector(".nav-toggle").getAttribute("aria-expanded") === "true"`) {
				t.Errorf("%s [%s]: the Menu button did not open the navigation", path, lang)
			}
			if err := json.Unmarshal([]byte(eval("phone checks, menu open", phoneChecks)), &problems); err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s [%s], menu open: %s", path, lang, p)
			}
			do("close menu", chromedp.Click(chromedp.CSS(".nav-toggle")))
			if !isTrue("menu closed again", navHidden) {
				t.Errorf("%s [%s]: the Menu button did not close the navigation", path, lang)
			}
		}
	}

	// WCAG 3.2.2: an arrow key on the language selector changes the
	// selection only; the language changes when its button is pressed.
	open("/console/tokens")
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.phoneMark = 1`))
	before := eval("selected", `document.getElementById("locale-select").value`)
	arrow := kb.ArrowDown // ArrowUp when zh-Hant is the last option
	if isTrue("last option", `(s => s.selectedIndex === s.options.length - 1)(document.getElementById("locale-select"))`) {
		arrow = kb.ArrowUp
	}
	do("arrow key", chromedp.Focus(chromedp.CSS("#locale-select")), chromedp.KeyEvent(arrow))
	time.Sleep(700 * time.Millisecond) // a submit on change would be under way by now
	after := eval("selected", `document.getElementById("locale-select").value`)
	if after == before {
		t.Fatalf("the arrow key did not move the selection (%q)", before)
	}
	if !isTrue("same page", `window.phoneMark === 1 && document.documentElement.lang === "zh-Hant"`) {
		t.Fatalf("an arrow key on the language selector changed the page (now %s, lang %s)", br.location(), eval("lang", `document.documentElement.lang`))
	}
	navigateBy("apply", http.StatusOK, chromedp.Click(chromedp.CSS("#locale-save")))
	want := after
	if want == "" {
		want = "en" // the browser's language
	}
	if got := eval("lang", `document.documentElement.lang`); got != want {
		t.Fatalf("after Apply: language %q, want %q", got, want)
	}
	do("back to English", chromedp.SetValue(chromedp.CSS("#locale-select"), "en"))
	navigateBy("apply en", http.StatusOK, chromedp.Click(chromedp.CSS("#locale-save")))

	// A confirmation as a dialog: Revoke opens it with the page's form.
	open("/console/tokens")
	revoke := fmt.Sprintf(`a[data-confirm-dialog][href="/console/tokens/%s/revoke"]`, pat.ID)
	openDialog := func() {
		t.Helper()
		do("click Revoke", chromedp.Click(chromedp.CSS(revoke)), chromedp.WaitVisible(chromedp.CSS(`dialog[open] form[method=post] button[type=submit]`)))
	}
	openDialog()
	if got := eval("dialog", `document.querySelector("dialog[open]").innerText`); !strings.Contains(got, "Синхронизация-каталога") {
		t.Errorf("the dialog does not name the token: %q", got)
	}
	if !isTrue("modal", `document.querySelector("dialog[open]").matches(":modal") && document.querySelector("dialog[open] form input[type=hidden][value]")`) {
		t.Error("the dialog is not modal or its form has no CSRF token")
	}
	if !isTrue("focus", `document.activeElement.classList.contains("js-dialog-cancel")`) {
		t.Errorf("focus in the dialog on %q, want Cancel", eval("focus", `document.activeElement.outerHTML`))
	}
	if br.location() != "/console/tokens" {
		t.Fatalf("the Revoke link left the page: %s", br.location())
	}
	var problems []string
	if err := json.Unmarshal([]byte(eval("phone checks, dialog", phoneChecks)), &problems); err == nil {
		for _, p := range problems {
			t.Errorf("tokens with the dialog: %s", p)
		}
	}
	do("Cancel", chromedp.Click(chromedp.CSS(`dialog[open] .js-dialog-cancel`)), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
	if !isTrue("focus back", `document.activeElement.matches(`+jsString(revoke)+`)`) {
		t.Error("Cancel did not return the focus to the Revoke link")
	}
	openDialog()
	do("Esc", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
	if !isTrue("focus back", `document.activeElement.matches(`+jsString(revoke)+`)`) {
		t.Error("Esc did not return the focus to the Revoke link")
	}
	if code := verify(pat.Token); code != "VALID" {
		t.Fatalf("before confirming: the token is %s", code)
	}
	openDialog()
	navigateBy("confirm in the dialog", http.StatusOK, chromedp.Click(chromedp.CSS(`dialog[open] form button[type=submit]`)))
	if p := br.location(); p != "/console/tokens" {
		t.Errorf("after confirming at %s", p)
	}
	if code := verify(pat.Token); code != "REVOKED" {
		t.Errorf("after confirming in the dialog: the token is %s, want REVOKED", code)
	}

	// Without the dialog: the confirmation page opened directly.
	open("/console/api-keys/" + key.ID + "/revoke")
	navigateBy("confirm on the page", http.StatusOK, chromedp.Click(chromedp.CSS(`main .card-danger form button[type=submit]`)))
	if code := verify(key.Key); code != "REVOKED" {
		t.Errorf("after confirming on the page: the key is %s, want REVOKED", code)
	}

	// Desktop is as it was: the sidebar open, no Menu button, tables.
	do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	for _, path := range pages[:6] {
		if path == "/console/api-keys" {
			continue // its one key is revoked: the list is empty
		}
		open(path)
		if !isTrue("desktop", navShown+` && document.querySelector(".nav-toggle").getClientRects().length === 0`) {
			t.Errorf("desktop %s: the sidebar is folded or the Menu button shows", path)
		}
		if !isTrue("table", `getComputedStyle(document.querySelector("main .table-wrap tbody tr")).display === "table-row" && getComputedStyle(document.querySelector("main .table-wrap thead")).position !== "absolute"`) {
			t.Errorf("desktop %s: the table is not a table", path)
		}
		if !isTrue("no sideways scroll", `document.documentElement.scrollWidth <= innerWidth`) {
			t.Errorf("desktop %s: the page scrolls sideways", path)
		}
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
