package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EBrowserSettingsPassword drives the security settings' password
// re-confirmation (issue 11, hole 17) in a real headless Chromium: the demo
// owner turns on Allow Anonymous Guest Access, saves with a wrong password
// and sees the form come back with the error and the switch as they set
// it, while a fresh load of the page shows nothing was saved; then saves
// with the right password and sees it stored.
func TestE2EBrowserSettingsPassword(t *testing.T) {
	br := newBrowserRun(t, 60*time.Second)
	br.login()
	do, navigateBy, eval := br.do, br.navigateBy, br.eval
	const guest = "#set-allow_anonymous_guest_access"
	checked := func() bool {
		t.Helper()
		return eval("switch state", `String(document.querySelector("`+guest+`").checked)`) == "true"
	}
	open := func() {
		t.Helper()
		navigateBy("settings", http.StatusOK, chromedp.Navigate(br.base+"/console/settings"))
		do("settings form", chromedp.WaitVisible(chromedp.CSS(`form[action="/console/settings"] #settings-password`)))
	}
	save := func(step, password string, want int) {
		t.Helper()
		do(step+": fill", chromedp.SendKeys(chromedp.CSS("#settings-password"), password))
		navigateBy(step, want, chromedp.Click(chromedp.CSS(`form[action="/console/settings"] button[type=submit]`)))
	}

	open()
	if checked() {
		t.Fatal("guest access is on before the test turned it on")
	}
	do("turn on guest access", chromedp.Click(chromedp.CSS(`label[for="set-allow_anonymous_guest_access"]`)))
	if !checked() {
		t.Fatal("clicking the switch did not turn it on")
	}
	save("save with a wrong password", "not the password", http.StatusUnprocessableEntity)
	if msg := eval("error", `document.querySelector("main").innerText`); !strings.Contains(msg, "Your password is incorrect. Nothing was saved.") {
		t.Fatalf("no password error on the page: %q", msg)
	}
	if !checked() {
		t.Error("the form lost the switch the user set")
	}
	if v := eval("password field", `document.querySelector("#settings-password").value`); v != "" {
		t.Errorf("the page wrote the password back: %q", v)
	}
	open()
	if checked() {
		t.Fatal("a wrong password saved the settings")
	}

	do("turn on guest access again", chromedp.Click(chromedp.CSS(`label[for="set-allow_anonymous_guest_access"]`)))
	save("save with the password", br.creds.Password, http.StatusOK)
	if loc := br.location(); loc != "/console/settings" {
		t.Fatalf("after saving at %s", loc)
	}
	if msg := eval("flash", `document.querySelector("main").innerText`); !strings.Contains(msg, "You saved the configuration.") {
		t.Fatalf("no saved message: %q", msg)
	}
	open()
	if !checked() {
		t.Fatal("the right password did not save the settings")
	}
}
