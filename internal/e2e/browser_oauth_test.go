package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestE2EBrowserOAuthApp walks seed 002 (Fax.Plus, OAuth 2.0) in a real
// headless Chromium: Integrations › API › Activate an app whose redirect
// URI is a loopback server of this test, copy the Client ID and the Client
// Secret, log out, open the authorize link as a client would (with state
// and PKCE), log in, Allow on the consent page, and land on the redirect
// URI with a code and the state. Then golang.org/x/oauth2 exchanges the
// code (HTTP Basic, PKCE verifier) and the access token calls the demo
// store API through the gateway; the app shows under Connected apps.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes oauth-apps.png,
// oauth-app-created.png, oauth-consent.png and connected-apps.png.
func TestE2EBrowserOAuthApp(t *testing.T) {
	br := newBrowserRun(t, 90*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval, shot, location := br.do, br.navigateBy, br.eval, br.shot, br.location

	// The app's redirect URI: a loopback server that records what arrives.
	var (
		mu       sync.Mutex
		received []url.Values
	)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" { // the browser also asks for /favicon.ico
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		received = append(received, r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Fax sender</title><h1 id=done>Authorized</h1>")
	}))
	t.Cleanup(callback.Close)
	redirectURI := callback.URL + "/callback"

	// copySecret clicks a Copy button and checks that the clipboard then
	// holds the value of input #id.
	copySecret := func(button, id string) string {
		t.Helper()
		value, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS("#"+id)))
		if err != nil {
			t.Fatal(err)
		}
		sel := "#" + button
		do("click "+button,
			chromedp.Click(chromedp.CSS(sel)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const b = document.querySelector(%q); return b.textContent.trim() === b.getAttribute("data-copied"); })()`, sel),
				chromedp.WithPollingTimeout(5*time.Second)),
		)
		clip, err := chromedp.Run(br.bctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("read the clipboard: %v", err)
		}
		if clip != value {
			t.Fatalf("clipboard holds %q, want the %s shown on the page", clip, id)
		}
		return value
	}

	// Step 1–3: Integrations › API → Activate.
	br.login()
	navigateBy("OAuth apps", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/oauth-apps"]`)))
	do("activate form", chromedp.WaitVisible(chromedp.CSS(`#activate button[type=submit]`)))
	if crumbs := eval("crumbs", `document.querySelector(".crumbs").innerText`); crumbs != "Integrations › API" {
		t.Fatalf("crumbs = %q", crumbs)
	}
	do("fill activate",
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Fax sender"),
		chromedp.SendKeys(chromedp.CSS("#app-redirects"), redirectURI),
	)
	if got := eval("form choices", `[document.querySelector('input[name=client_type]:checked').value,
		...[...document.querySelectorAll('input[name=grant_types]:checked')].map(b => b.value),
		...[...document.querySelectorAll('input[name=scopes]:checked:not(:disabled)')].map(b => b.value)].join(" ")`); got != "confidential authorization_code refresh_token all" {
		t.Fatalf("default choices = %q", got)
	}
	shot("oauth-apps")
	navigateBy("Activate", http.StatusOK, chromedp.Click(chromedp.CSS(`#activate button[type=submit]`)))

	// Collect the Client ID (APIK-…), the Client Secret and the redirect URI.
	do("app created", chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	clientID := copySecret("copy-client-id", "client-id")
	if !strings.HasPrefix(clientID, "APIK-") {
		t.Fatalf("client ID = %q", clientID)
	}
	clientSecret := copySecret("copy-client-secret", "client-secret")
	if len(clientSecret) < 43 {
		t.Fatalf("client secret = %q", clientSecret)
	}
	link, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS("#authorize-link-0")))
	if err != nil {
		t.Fatal(err)
	}
	wantLink := base + "/oauth2/authorize?response_type=code&client_id=" + clientID + "&redirect_uri=" + url.QueryEscape(redirectURI) + "&scope=all"
	if link != wantLink {
		t.Fatalf("authorize link = %q, want %q", link, wantLink)
	}
	if got := eval("facts", `document.querySelector(".facts").innerText`); !strings.Contains(got, redirectURI) {
		t.Fatalf("created page does not show the redirect URI: %q", got)
	}
	shot("oauth-app-created")

	// Step 4: open the authorize link as a client would (state, PKCE), in
	// a browser that is not signed in.
	navigateBy("log out", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/logout"] button`)))
	verifier := oauth2.GenerateVerifier()
	authorize := link + "&state=xyz&code_challenge=" + oauth2.S256ChallengeFromVerifier(verifier) + "&code_challenge_method=S256"
	navigateBy("open the authorize link", http.StatusOK, chromedp.Navigate(authorize))
	do("login form", chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	if p := location(); p != "/console/login" {
		t.Fatalf("authorize link without a session at %s, want the login page", p)
	}
	do("fill login",
		chromedp.SendKeys(chromedp.CSS("#email"), creds.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), creds.Password),
	)
	navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))

	// The consent page: the app, the tenant, the scopes, Allow / Deny.
	allow := chromedp.CSS(`form[action="/oauth2/authorize"] button[name=decision][value=allow]`)
	do("consent page", chromedp.WaitVisible(allow))
	if p := location(); p != "/oauth2/authorize" {
		t.Fatalf("after login at %s, want the consent page", p)
	}
	page := eval("consent text", `document.querySelector(".consent").innerText`)
	for _, want := range []string{"Fax sender wants to access your account", "Demo Store", creds.Email, "Everything", "127.0.0.1"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q:\n%s", want, page)
		}
	}
	if n := eval("sidebar", `String(document.querySelectorAll(".sidebar").length)`); n != "0" {
		t.Error("the consent page shows the console's sidebar")
	}
	shot("oauth-consent")

	// Step 5: Allow → the redirect URI with a code and the state.
	navigateBy("Allow", http.StatusOK, chromedp.Click(allow))
	do("redirect URI", chromedp.WaitVisible(chromedp.CSS("#done")))
	mu.Lock()
	got := append([]url.Values(nil), received...)
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the redirect URI received %d requests: %v", len(got), got)
	}
	q := got[0]
	code := q.Get("code")
	if code == "" || q.Get("state") != "xyz" || q.Get("error") != "" || q.Get("iss") != base {
		t.Fatalf("the redirect URI received %v", q)
	}
	landed, err := chromedp.Run(br.bctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(landed, redirectURI+"?") {
		t.Fatalf("browser at %q, want the redirect URI", landed)
	}

	// The code works: golang.org/x/oauth2 exchanges it with the verifier.
	conf := &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURL:  redirectURI,
		Scopes:       []string{"all"},
		Endpoint:     oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || !strings.EqualFold(tok.TokenType, "bearer") || time.Until(tok.Expiry) < 50*time.Minute {
		t.Fatalf("token = %+v", tok)
	}
	// The access token calls the demo store API through the gateway, with
	// the client header (seed 002's x-fax-client analogue).
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rest/V1/products", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("X-Gatehouse-Client", clientID)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("gateway with the access token: %d", res.StatusCode)
	}

	// Connected apps shows the app the owner allowed.
	navigateBy("console", http.StatusOK, chromedp.Navigate(base+"/console/connected-apps"))
	do("connected apps", chromedp.WaitVisible(chromedp.CSS("table tbody tr")))
	if row := eval("connected row", `document.querySelector("table tbody tr").innerText`); !strings.Contains(row, "Fax sender") || !strings.Contains(row, clientID) {
		t.Fatalf("connected apps row = %q", row)
	}
	shot("connected-apps")

	t.Logf("OAuth app walk done in %s; screenshots in %s", time.Since(br.start).Round(time.Millisecond), br.shots)
}
