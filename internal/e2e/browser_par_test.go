package e2e

import (
	"encoding/json"
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

// TestE2EBrowserPAR walks a pushed authorization request (RFC 9126) in a
// real headless Chromium: the owner registers an app with "Require pushed
// authorization requests" ticked and logs out; the app's plain
// authorization link is refused (redirected with invalid_request); the
// app pushes its request to /oauth2/par with HTTP Basic; the browser opens
// /oauth2/authorize with client_id and request_uri only, logs in (the
// login round trip presents the request_uri a second time), allows, and
// lands on the redirect URI with a code and the pushed state, which
// golang.org/x/oauth2 exchanges with the PKCE verifier. Opening the same
// request_uri again is refused: one-time use.
func TestE2EBrowserPAR(t *testing.T) {
	br := newBrowserRun(t, 90*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval, location := br.do, br.navigateBy, br.eval, br.location

	var (
		mu       sync.Mutex
		received []url.Values
	)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		received = append(received, r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Strict app</title><h1 id=done>Back at the app</h1>")
	}))
	t.Cleanup(callback.Close)
	redirectURI := callback.URL + "/callback"
	last := func() url.Values {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(received) == 0 {
			t.Fatal("the redirect URI received nothing")
		}
		return received[len(received)-1]
	}

	// Register the app with the checkbox ticked.
	br.login()
	navigateBy("OAuth apps", http.StatusOK, chromedp.Navigate(base+"/console/oauth-apps"))
	do("fill activate",
		chromedp.WaitVisible(chromedp.CSS(`#activate button[type=submit]`)),
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Strict app"),
		chromedp.SendKeys(chromedp.CSS("#app-redirects"), redirectURI),
		chromedp.Click(chromedp.CSS(`input[name=require_par]`)),
	)
	navigateBy("Activate", http.StatusOK, chromedp.Click(chromedp.CSS(`#activate button[type=submit]`)))
	do("app created", chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	clientID := eval("client id", `document.querySelector("#client-id").value`)
	clientSecret := eval("client secret", `document.querySelector("#client-secret").value`)
	if facts := eval("facts", `document.querySelector(".facts").innerText`); !strings.Contains(facts, "Pushed authorization requests\tRequired") &&
		!strings.Contains(facts, "Pushed authorization requests\nRequired") {
		t.Fatalf("created page facts lack the PAR switch: %q", facts)
	}
	link := eval("authorize link", `document.querySelector("#authorize-link-0").value`)
	navigateBy("log out", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/logout"] button`)))

	// The plain link is refused with a redirect (RFC 9126 §6).
	navigateBy("plain authorize link", http.StatusOK, chromedp.Navigate(link+"&state=plain"))
	do("refused", chromedp.WaitVisible(chromedp.CSS("#done")))
	if q := last(); q.Get("error") != "invalid_request" || q.Get("error_description") != "pushed authorization request required" || q.Get("state") != "plain" {
		t.Fatalf("plain request to a PAR-only app: the redirect URI received %v", q)
	}

	// The app pushes its request.
	verifier := oauth2.GenerateVerifier()
	form := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "scope": {"all"},
		"state": {"pushed"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth2/par", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	err = json.NewDecoder(res.Body).Decode(&pushed)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusCreated || !strings.HasPrefix(pushed.RequestURI, "urn:ietf:params:oauth:request_uri:") || pushed.ExpiresIn != 90 {
		t.Fatalf("push = %d %+v %v", res.StatusCode, pushed, err)
	}

	// The browser brings only client_id and request_uri; login first.
	authorize := base + "/oauth2/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {pushed.RequestURI}}.Encode()
	navigateBy("open the pushed request", http.StatusOK, chromedp.Navigate(authorize))
	do("login form", chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	do("fill login",
		chromedp.SendKeys(chromedp.CSS("#email"), creds.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), creds.Password),
	)
	navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))
	allow := chromedp.CSS(`form[action="/oauth2/authorize"] button[name=decision][value=allow]`)
	do("consent page", chromedp.WaitVisible(allow))
	if p := location(); p != "/oauth2/authorize" {
		t.Fatalf("after login at %s, want the consent page", p)
	}
	if page := eval("consent text", `document.querySelector(".consent").innerText`); !strings.Contains(page, "Strict app") {
		t.Errorf("consent page lacks the app:\n%s", page)
	}
	// The form carries the request_uri, not the pushed parameters.
	if fields := eval("hidden fields", `[...document.querySelectorAll('form[action="/oauth2/authorize"] input[type=hidden]')].map(i => i.name).sort().join(" ")`); !strings.Contains(fields, "client_id") ||
		!strings.Contains(fields, "request_uri") || strings.Contains(fields, "scope") || strings.Contains(fields, "redirect_uri") {
		t.Errorf("consent form fields = %q", fields)
	}
	navigateBy("Allow", http.StatusOK, chromedp.Click(allow))
	do("redirect URI", chromedp.WaitVisible(chromedp.CSS("#done")))
	q := last()
	if q.Get("code") == "" || q.Get("state") != "pushed" || q.Get("iss") != base {
		t.Fatalf("the redirect URI received %v", q)
	}
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("exchange the code: %v", err)
	}

	// One-time use: the same request_uri again is a 400 page, no redirect.
	navigateBy("replay the request_uri", http.StatusBadRequest, chromedp.Navigate(authorize))
	if p := location(); p != "/oauth2/authorize" {
		t.Fatalf("replay at %s", p)
	}
	if body := eval("replay page", `document.body.innerText`); !strings.Contains(body, "invalid_request_uri") {
		t.Errorf("replay page lacks the reason:\n%s", body)
	}
	mu.Lock()
	n := len(received)
	mu.Unlock()
	if n != 2 {
		t.Errorf("the redirect URI received %d requests, want 2 (the refusal and the code)", n)
	}
}
