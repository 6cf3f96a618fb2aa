package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// languagePages are the pages issue 14 asks to see in every language:
// personal access tokens (seed 002), integrations (seed 000), a staff
// user's API Auth tab (seed 001) and the audit log. Each names the element
// whose text is the page's title.
var languagePages = []struct {
	name  string // the screenshot's first word
	path  string // "{staff}" is replaced by the staff user's id
	ready string // a CSS selector that is visible once the page is drawn
}{
	{"tokens", "/console/tokens", "main h1"},
	{"integrations", "/console/integrations", "main h1"},
	{"staff-api-auth", "/console/users/{staff}/api-auth", "main h1"},
	{"audit", "/console/audit", "main table tbody tr"},
}

// seedNames are the console's words the seeds keep in English in every
// language, as names of a screen (seed 003's Chinese page says
// "[!UICONTROL API Portal]").
var seedNames = map[string]bool{"API Portal": true}

// consoleLanguages are the console's four languages, in the order of the
// README's table.
var consoleLanguages = []string{"en", "ru", "zh-Hans", "zh-Hant"}

// TestE2EBrowserLanguages opens the tokens, integrations, staff API Auth
// and audit pages in each of the four languages, switching the language
// with the top bar's form as a user does, at desktop size and at 390 px.
// Each page must be in the chosen language — <html lang> is the language,
// its title and every sidebar entry differ from the English ones — and
// fit the phone's width without a horizontal scroll bar.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes docs/screenshots/
// {page}-{language}-{desktop|phone}.png, the README's gallery.
func TestE2EBrowserLanguages(t *testing.T) {
	br := newBrowserRun(t, 120*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval := br.do, br.navigateBy, br.eval
	client := &http.Client{Timeout: 10 * time.Second}

	// The tenant gets what the pages show, through the management API:
	// three tokens (one expiring within the week), a staff user with an
	// API token and two whitelist entries, an active and an inactive
	// integration. Their audit events fill the audit page.
	api := func(method, path string, body, out any) {
		t.Helper()
		var answer json.RawMessage
		status, err := doJSON(ctx, client, method, base+path, creds.Token, body, &answer)
		if err != nil || status/100 != 2 {
			t.Fatalf("%s %s: %d %v %s", method, path, status, err, answer)
		}
		if out != nil {
			if err := json.Unmarshal(answer, out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	soon := time.Now().Add(3 * 24 * time.Hour).UTC().Format(time.RFC3339)
	later := time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for _, tok := range []map[string]any{
		{"name": "ERP nightly export", "scopes": []string{"catalog", "sales"}, "expires_at": later},
		{"name": "Warehouse scanner", "scopes": []string{"catalog.inventory"}, "expires_at": soon},
		{"name": "Reporting", "scopes": []string{"sales.orders"}},
	} {
		api("POST", "/api/v1/tokens", tok, nil)
	}
	var staff struct {
		ID string `json:"id"`
	}
	api("POST", "/api/v1/users", map[string]any{"email": "vendor@example.com", "role": "staff"}, &staff)
	api("POST", "/api/v1/users/"+staff.ID+"/api-token", map[string]any{"scopes": []string{"catalog.products", "sales.orders"}, "expires_at": later}, nil)
	api("POST", "/api/v1/users/"+staff.ID+"/api-token/ip-allowlist", map[string]any{"name": "Office", "cidr": "203.0.113.0/24"}, nil)
	api("POST", "/api/v1/users/"+staff.ID+"/api-token/ip-allowlist", map[string]any{"name": "VPN", "cidr": "2001:db8::/48"}, nil)
	var erp struct {
		ID string `json:"id"`
	}
	api("POST", "/api/v1/integrations", map[string]any{"name": "ERP connector", "email": "erp@example.com", "resource_access": "custom", "resources": []string{"catalog", "sales"}}, &erp)
	api("POST", "/api/v1/integrations/"+erp.ID+"/activate", nil, nil)
	api("POST", "/api/v1/integrations", map[string]any{"name": "Marketplace feed", "email": "feed@example.com", "resource_access": "custom", "resources": []string{"catalog"}}, nil)

	br.login()

	// setLanguage chooses lang in the top bar's language form and submits
	// it, as a user does with the select and its button.
	setLanguage := func(lang string) {
		t.Helper()
		navigateBy("open tokens", http.StatusOK, chromedp.Navigate(base+"/console/tokens"))
		do("choose "+lang, chromedp.WaitVisible(chromedp.CSS("#locale-select")), chromedp.SetValue(chromedp.CSS("#locale-select"), lang))
		navigateBy("apply "+lang, http.StatusOK, chromedp.Submit(chromedp.CSS("#locale-select")))
		do("page in "+lang, chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"] main h1`)))
	}
	// capture saves the viewport as name.png.
	capture := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(br.bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(br.shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	englishTitle, englishNav := map[string]string{}, map[string]string{}
	for _, lang := range consoleLanguages {
		setLanguage(lang)
		for _, p := range languagePages {
			url := base + strings.ReplaceAll(p.path, "{staff}", staff.ID)
			for _, size := range []struct {
				name string
				w, h int64
			}{{"desktop", viewW, viewH}, {"phone", phoneW, phoneH}} {
				step := fmt.Sprintf("%s in %s at %s", p.name, lang, size.name)
				do(step+": viewport", chromedp.EmulateViewport(size.w, size.h))
				navigateBy(step, http.StatusOK, chromedp.Navigate(url))
				do(step+": drawn", chromedp.WaitVisible(chromedp.CSS(p.ready)))
				if got := eval(step+": lang", `document.documentElement.lang`); got != lang {
					t.Errorf("%s: <html lang=%q>", step, got)
				}
				title := eval(step+": title", `document.querySelector("main h1").innerText.trim()`)
				switch {
				case title == "":
					t.Errorf("%s: the page has no title", step)
				case lang == "en":
					englishTitle[p.name] = title
				case title == englishTitle[p.name]:
					t.Errorf("%s: the title %q is the English one", step, title)
				}
				// The sidebar's entries are in the language too (at the
				// phone size they are in the closed menu, so read them at
				// the desktop size).
				if size.name == "desktop" {
					nav := eval(step+": nav", `[...document.querySelectorAll(".sidebar a")].map(a => a.getAttribute("href") + "=" + a.textContent.trim()).join("\n")`)
					for _, entry := range strings.Split(nav, "\n") {
						href, text, _ := strings.Cut(entry, "=")
						switch {
						case lang == "en":
							englishNav[href] = text
						case text == englishNav[href] && !seedNames[text]:
							t.Errorf("%s: the sidebar's %s entry is the English %q", step, href, text)
						}
					}
				}
				if size.name == "phone" {
					if over := eval(step+": width", `String(document.documentElement.scrollWidth - window.innerWidth)`); over != "0" && !strings.HasPrefix(over, "-") {
						t.Errorf("%s: the page is %s px wider than the phone", step, over)
					}
				}
				capture(p.name + "-" + lang + "-" + size.name)
			}
		}
	}
	do("viewport", chromedp.EmulateViewport(viewW, viewH))
	t.Logf("4 pages × %d languages × 2 sizes in %s; screenshots in %s", len(consoleLanguages), time.Since(br.start).Round(time.Millisecond), br.shots)
}
