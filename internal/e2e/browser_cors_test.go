package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// jsDir holds the pinned npm clients (package-lock.json; .ci/run runs
// npm ci there) and the pages that use them.
const jsDir = "js"

// TestE2EBrowserSPA: a browser app as a public client (issue 15, CORS,
// docs/cors.md). The admin registers a public OAuth app in the console
// with the app's page as redirect URI and no allowed origins (so the
// default applies: that page's origin); the page, on another origin than
// Gatehouse (a second loopback server, another port), uses npm's
// oauth4webapi to discover Gatehouse, authorize with PKCE (the login and
// the consent in the console, same browser), exchange the code at the
// token endpoint and revoke the refresh token — cross-origin fetches, the
// revocation with a header that needs a preflight. The access token then
// fails at the gateway. Introspection stays unreadable from the page, and
// on a third origin (the same server as localhost) the metadata is
// readable but the app's token answer is not.
func TestE2EBrowserSPA(t *testing.T) {
	br := newBrowserRun(t, 90*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval := br.do, br.navigateBy, br.eval

	lib := filepath.Join(jsDir, "node_modules", "oauth4webapi", "build", "index.js")
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("oauth4webapi is not installed (%v): run `npm ci --no-audit --no-fund` in internal/e2e/js (.ci/run does)", err)
	}
	// The app's own server: its page, its script and the library (ESM).
	spa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/callback", "/probe":
			http.ServeFile(w, r, filepath.Join(jsDir, "spa.html"))
		case "/spa.js":
			http.ServeFile(w, r, filepath.Join(jsDir, "spa.js"))
		case "/oauth4webapi.js":
			http.ServeFile(w, r, lib)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(spa.Close)
	appOrigin := spa.URL // http://127.0.0.1:port, not Gatehouse's port
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(appOrigin, "http://"))
	otherOrigin := "http://localhost:" + port // the same server, another origin

	// The admin registers the public app; the facts show the default origin.
	br.login()
	navigateBy("OAuth apps", http.StatusOK, chromedp.Navigate(base+"/console/oauth-apps"))
	do("fill activate",
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Browser app"),
		chromedp.SendKeys(chromedp.CSS("#app-redirects"), appOrigin+"/callback"),
		chromedp.Click(chromedp.CSS(`input[name=client_type][value=public]`)),
	)
	navigateBy("Activate", http.StatusOK, chromedp.Click(chromedp.CSS(`#activate button[type=submit]`)))
	do("app created", chromedp.WaitVisible(chromedp.CSS("#client-id")))
	clientID, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS("#client-id")))
	if err != nil || !strings.HasPrefix(clientID, "APIK-") {
		t.Fatalf("client id %q: %v", clientID, err)
	}
	if got := eval("origins fact", `document.querySelector("#app-origins").innerText`); !strings.Contains(got, appOrigin) || !strings.Contains(got, "redirect URIs") {
		t.Fatalf("the app's facts show origins %q, want %s as the default", got, appOrigin)
	}
	navigateBy("log out", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/logout"] button`)))

	// The app's page starts the flow; Gatehouse asks the user to log in.
	start := appOrigin + "/?" + url.Values{"issuer": {base}, "client_id": {clientID}}.Encode()
	do("open the app", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	do("fill login",
		chromedp.SendKeys(chromedp.CSS("#email"), creds.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), creds.Password),
	)
	navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))
	allow := chromedp.CSS(`form[action="/oauth2/authorize"] button[name=decision][value=allow]`)
	do("consent page", chromedp.WaitVisible(allow))
	if page := eval("consent text", `document.querySelector(".consent").innerText`); !strings.Contains(page, "Browser app") {
		t.Fatalf("consent page:\n%s", page)
	}
	navigateBy("Allow", http.StatusOK, chromedp.Click(allow))

	result := func(step string) map[string]any {
		t.Helper()
		do(step, chromedp.Poll[chromedp.Void](`document.querySelector("#result") && document.querySelector("#result").dataset.done === "1"`,
			chromedp.WithPollingTimeout(20*time.Second)))
		raw := eval(step, `document.querySelector("#result").textContent`)
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("%s: result %q: %v", step, raw, err)
		}
		return m
	}
	got := result("the app's result")
	if got["ok"] != true {
		t.Fatalf("the browser app failed: %v\n%v", got["error"], got["cause"])
	}
	if landed := eval("location", `location.origin + location.pathname`); landed != appOrigin+"/callback" {
		t.Fatalf("the app ran at %s, want its callback", landed)
	}
	access, _ := got["accessToken"].(string)
	if got["issuer"] != base || !strings.HasPrefix(access, "gate_at_") || !strings.EqualFold(got["tokenType"].(string), "bearer") ||
		got["hasRefresh"] != true || got["scope"] != "all" {
		t.Fatalf("the app's tokens: %v", got)
	}
	if got["introspectionReadable"] != false {
		t.Error("the page could read the introspection endpoint's answer; it has no CORS")
	}
	// The revocation (of the refresh token, so of the grant) took effect.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rest/V1/products", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("X-Gatehouse-Client", clientID)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("gateway with the revoked access token: %d, want 401", res.StatusCode)
	}

	// Another origin: discovery works (public metadata), the app's token
	// answer is not readable there.
	probe := otherOrigin + "/probe?" + url.Values{"issuer": {base}, "client_id": {clientID}}.Encode()
	do("open the probe", chromedp.Navigate(probe))
	got = result("the probe's result")
	if got["discovered"] != true || got["tokenReadable"] != false {
		t.Fatalf("from %s: %v; want the metadata readable and the token answer not", otherOrigin, got)
	}
}
