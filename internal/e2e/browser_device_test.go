package e2e

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestE2EBrowserDeviceFlow walks the device authorization grant (RFC 8628)
// in a real headless Chromium: the demo owner registers a public app with
// the Device code grant only (no redirect URI) in the console;
// golang.org/x/oauth2 starts the flow like a CLI and polls; the browser
// opens verification_uri_complete, logs in, sees the app and the scopes,
// and Allows; the polling client gets a token that calls the demo store
// API through the gateway. Then a second request is Denied and the
// client's poll ends in access_denied; polling too fast is slow_down; a
// used device code is refused.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes device-consent.png.
func TestE2EBrowserDeviceFlow(t *testing.T) {
	br := newBrowserRun(t, 120*time.Second)
	ctx, base := br.ctx, br.base
	do, navigateBy, eval, location := br.do, br.navigateBy, br.eval, br.location

	// Register the app: public, Device code only.
	br.login()
	navigateBy("OAuth apps", http.StatusOK, chromedp.Navigate(base+"/console/oauth-apps"))
	do("fill activate",
		chromedp.WaitVisible(chromedp.CSS(`#activate button[type=submit]`)),
		chromedp.SendKeys(chromedp.CSS("#app-name"), "TV app"),
		chromedp.Click(chromedp.CSS(`input[name=client_type][value=public]`)),
		chromedp.Click(chromedp.CSS(`input[name=grant_types][value=authorization_code]`)),
		chromedp.Click(chromedp.CSS(`input[name=grant_types][value="urn:ietf:params:oauth:grant-type:device_code"]`)),
	)
	if got := eval("grants", `[...document.querySelectorAll('input[name=grant_types]:checked')].map(b => b.value).join(" ")`); got != "refresh_token urn:ietf:params:oauth:grant-type:device_code" {
		t.Fatalf("checked grants = %q", got)
	}
	navigateBy("Activate", http.StatusOK, chromedp.Click(chromedp.CSS(`#activate button[type=submit]`)))
	do("app created", chromedp.WaitVisible(chromedp.CSS("#client-id")))
	clientID, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS("#client-id")))
	if err != nil || !strings.HasPrefix(clientID, "APIK-") {
		t.Fatalf("client ID %q (%v)", clientID, err)
	}
	navigateBy("log out", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/logout"] button`)))

	// The CLI: golang.org/x/oauth2's device flow.
	conf := &oauth2.Config{ClientID: clientID, Scopes: []string{"catalog"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: base + "/oauth2/device", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if da.VerificationURI != base+"/console/device" || !strings.HasPrefix(da.VerificationURIComplete, da.VerificationURI+"?user_code=") {
		t.Fatalf("device authorization %+v", da)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		polled <- result{tok, err}
	}()

	// Polling faster than the interval is slow_down (RFC 8628 §3.5).
	poll := func(code string) string {
		t.Helper()
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {code}, "client_id": {clientID}}
		res, err := http.PostForm(base+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if got := poll(da.DeviceCode) + poll(da.DeviceCode); !strings.Contains(got, `"slow_down"`) {
		t.Fatalf("two polls at once answered %s, want slow_down", got)
	}

	// The user: verification_uri_complete, login, consent, Allow.
	navigateBy("open the verification link", http.StatusOK, chromedp.Navigate(da.VerificationURIComplete))
	do("login form", chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	do("fill login",
		chromedp.SendKeys(chromedp.CSS("#email"), br.creds.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), br.creds.Password),
	)
	navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))
	allow := chromedp.CSS(`form[action="/console/device"] button[name=decision][value=allow]`)
	do("consent", chromedp.WaitVisible(allow))
	if p := location(); p != "/console/device" {
		t.Fatalf("after login at %s, want the device page", p)
	}
	page := eval("consent text", `document.querySelector(".consent").innerText`)
	for _, want := range []string{"TV app wants to access your account", "Demo Store", br.creds.Email, da.UserCode, "Catalog"} {
		if !strings.Contains(page, want) {
			t.Errorf("device consent lacks %q:\n%s", want, page)
		}
	}
	br.shot("device-consent")
	navigateBy("Allow", http.StatusOK, chromedp.Click(allow))
	if got := eval("done", `document.querySelector(".consent h1").innerText`); got != "Your device is connected" {
		t.Fatalf("after Allow: %q", got)
	}

	var r result
	select {
	case r = <-polled:
	case <-ctx.Done():
		t.Fatal("the polling client got no answer")
	}
	if r.err != nil || r.tok.AccessToken == "" || r.tok.RefreshToken == "" {
		t.Fatalf("DeviceAccessToken: %+v %v", r.tok, r.err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rest/V1/products", nil)
	req.Header.Set("Authorization", "Bearer "+r.tok.AccessToken)
	req.Header.Set("X-Gatehouse-Client", clientID)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("gateway with the device's access token: %d", res.StatusCode)
	}
	// The device code is single use.
	if got := poll(da.DeviceCode); !strings.Contains(got, `"invalid_grant"`) {
		t.Fatalf("a used device code answered %s", got)
	}

	// Deny: the client's poll ends in access_denied.
	da2, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da2)
		polled <- result{tok, err}
	}()
	navigateBy("enter the code", http.StatusOK, chromedp.Navigate(base+"/console/device"))
	do("type the code",
		chromedp.SendKeys(chromedp.CSS("#user_code"), strings.ToLower(strings.ReplaceAll(da2.UserCode, "-", ""))),
	)
	navigateBy("Continue", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/device"] button[type=submit]`)))
	deny := chromedp.CSS(`form[action="/console/device"] button[name=decision][value=deny]`)
	do("consent", chromedp.WaitVisible(deny))
	navigateBy("Deny", http.StatusOK, chromedp.Click(deny))
	select {
	case r = <-polled:
	case <-ctx.Done():
		t.Fatal("the polling client got no answer")
	}
	var re *oauth2.RetrieveError
	if !errors.As(r.err, &re) || re.ErrorCode != "access_denied" {
		t.Fatalf("after Deny: %+v %v, want access_denied", r.tok, r.err)
	}

	// A wrong code is refused on the page.
	navigateBy("enter the code", http.StatusOK, chromedp.Navigate(base+"/console/device"))
	do("type a wrong code", chromedp.SendKeys(chromedp.CSS("#user_code"), "BBBB-BBBB"))
	navigateBy("Continue", http.StatusNotFound, chromedp.Click(chromedp.CSS(`form[action="/console/device"] button[type=submit]`)))
	if got := eval("error", `document.querySelector(".field-error").innerText`); !strings.Contains(got, "not valid") {
		t.Fatalf("wrong code: %q", got)
	}
}
