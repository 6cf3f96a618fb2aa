package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestE2EBrowserOAuthAppEdit edits an OAuth app and rotates its secret in
// a real headless Chromium: Activate a confidential app with the
// client_credentials grant, open Edit, change its name and redirect URIs,
// save and see the same Client ID; then Rotate secret… asks first, the
// 1 hour grace is chosen, and the new secret is shown once with the time
// the old one stops. Real token requests (golang.org/x/oauth2
// clientcredentials) show both secrets working during the grace.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes oauth-app-edit.png and
// oauth-app-rotate.png.
func TestE2EBrowserOAuthAppEdit(t *testing.T) {
	br := newBrowserRun(t, 90*time.Second)
	ctx, base := br.ctx, br.base
	do, navigateBy, eval, shot, location := br.do, br.navigateBy, br.eval, br.shot, br.location
	value := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("value of %s: %v", sel, err)
		}
		return v
	}
	// token asks the token endpoint for a client_credentials token.
	token := func(clientID, secret string) (*oauth2.Token, error) {
		conf := &clientcredentials.Config{
			ClientID: clientID, ClientSecret: secret, TokenURL: base + "/oauth2/token",
			Scopes: []string{"catalog"}, AuthStyle: oauth2.AuthStyleInHeader,
		}
		return conf.Token(ctx)
	}

	// Activate a confidential app that may use client_credentials.
	br.login()
	navigateBy("OAuth apps", http.StatusOK, chromedp.Navigate(base+"/console/oauth-apps"))
	do("fill activate",
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Warehouse sync"),
		chromedp.SendKeys(chromedp.CSS("#app-redirects"), "https://warehouse.example/cb"),
		chromedp.Click(chromedp.CSS(`#activate input[name=grant_types][value=client_credentials]`)),
	)
	navigateBy("Activate", http.StatusOK, chromedp.Click(chromedp.CSS(`#activate button[type=submit]`)))
	do("app created", chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	clientID, oldSecret := value("#client-id"), value("#client-secret")
	if !strings.HasPrefix(clientID, "APIK-") || len(oldSecret) < 43 {
		t.Fatalf("created app %q with secret %q", clientID, oldSecret)
	}
	if _, err := token(clientID, oldSecret); err != nil {
		t.Fatalf("client_credentials with the new app's secret: %v", err)
	}

	// Edit: the form holds the app as it is; change the name and the redirect URIs.
	page := "/console/oauth-apps/" + clientID
	navigateBy("open the app", http.StatusOK, chromedp.Navigate(base+page))
	navigateBy("Edit", http.StatusOK, chromedp.Click(chromedp.CSS("#edit-app")))
	if p := location(); p != page+"/edit" {
		t.Fatalf("Edit led to %s", p)
	}
	if got := value("#client-id"); got != clientID {
		t.Fatalf("edit form shows Client ID %q, want %q", got, clientID)
	}
	if got := value("#app-name") + "|" + value("#app-redirects"); got != "Warehouse sync|https://warehouse.example/cb" {
		t.Fatalf("edit form filled with %q", got)
	}
	// Clear the two fields, then type the new values.
	eval("clear fields", `document.querySelector("#app-name").value = ""; document.querySelector("#app-redirects").value = ""; ""`)
	do("edit",
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Warehouse sync v2"),
		chromedp.SendKeys(chromedp.CSS("#app-redirects"), "https://warehouse.example/v2/cb\nhttp://127.0.0.1:8765/cb"),
	)
	shot("oauth-app-edit")
	navigateBy("Save changes", http.StatusOK, chromedp.Click(chromedp.CSS(`#edit button[type=submit]`)))
	if p := location(); p != page {
		t.Fatalf("after saving at %s, want %s", p, page)
	}
	if got := value("#client-id"); got != clientID {
		t.Fatalf("after the edit the Client ID is %q, want %q", got, clientID)
	}
	text := eval("app page", `document.querySelector("main").innerText`)
	for _, want := range []string{"The app was saved", "Warehouse sync v2", "https://warehouse.example/v2/cb", "http://127.0.0.1:8765/cb"} {
		if !strings.Contains(text, want) {
			t.Errorf("app page after the edit lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "https://warehouse.example/cb\n") {
		t.Errorf("the removed redirect URI is still shown:\n%s", text)
	}
	// The secret did not change with the edit.
	if _, err := token(clientID, oldSecret); err != nil {
		t.Fatalf("client_credentials after the edit: %v", err)
	}

	// Rotate secret asks first, with the grace periods; none is preselected.
	navigateBy("Rotate secret…", http.StatusOK, chromedp.Click(chromedp.CSS("#rotate-secret")))
	if p := location(); p != page+"/rotate-secret" {
		t.Fatalf("Rotate secret led to %s", p)
	}
	if got := eval("grace choices", `[...document.querySelectorAll('input[name=grace_period]')].map(r => r.value + (r.checked ? "*" : "")).join(" ")`); got != "0* 1h 24h 168h" {
		t.Fatalf("grace choices = %q", got)
	}
	do("choose 1 hour", chromedp.Click(chromedp.CSS(`input[name=grace_period][value="1h"]`)))
	shot("oauth-app-rotate")
	navigateBy("Rotate now", http.StatusOK, chromedp.Click(chromedp.CSS(`#rotate button[type=submit]`)))
	do("rotated", chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	newSecret := value("#client-secret")
	if len(newSecret) < 43 || newSecret == oldSecret {
		t.Fatalf("new secret %q", newSecret)
	}
	if facts := eval("facts", `document.querySelector(".facts").innerText`); !strings.Contains(facts, clientID) || !strings.Contains(facts, "previous secret works until") {
		t.Fatalf("rotated page facts = %q", facts)
	}

	// During the grace both secrets get tokens; a wrong one does not.
	for name, sec := range map[string]string{"old": oldSecret, "new": newSecret} {
		tok, err := token(clientID, sec)
		if err != nil || tok.AccessToken == "" {
			t.Errorf("client_credentials with the %s secret during the grace: %v", name, err)
		}
	}
	if _, err := token(clientID, newSecret[:len(newSecret)-1]+"x"); err == nil {
		t.Error("a wrong secret got a token")
	}
	t.Logf("OAuth app edit walk done in %s", time.Since(br.start).Round(time.Millisecond))
}
