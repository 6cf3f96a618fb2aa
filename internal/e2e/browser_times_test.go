package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestE2EBrowserLocalTimes: the console writes times in UTC; in a browser
// at UTC+8 (seed 001's admins) the page shows them in the reader's time
// zone and language, with the UTC time it means in the tooltip.
func TestE2EBrowserLocalTimes(t *testing.T) {
	br := newBrowserRun(t, 40*time.Second)
	if _, err := chromedp.Call(br.bctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Taipei"}); err != nil {
		t.Fatal(err)
	}
	br.login()
	br.navigateBy("tokens", http.StatusOK, chromedp.Navigate(br.base+"/console/tokens"))
	var got struct{ Text, Title, Datetime string }
	raw := br.eval("created time", `(function () {
		var el = document.querySelector("main table time[datetime]");
		return JSON.stringify({Text: el.textContent, Title: el.title, Datetime: el.getAttribute("datetime")});
	})()`)
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	at, err := time.Parse(time.RFC3339, got.Datetime)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.UTC().Format("2006-01-02 15:04 UTC"); got.Title != want {
		t.Errorf("title = %q, want the UTC time %q", got.Title, want)
	}
	if !strings.Contains(got.Text, "GMT+8") || !strings.Contains(got.Text, at.In(time.FixedZone("", 8*3600)).Format("2006")) {
		t.Errorf("text = %q, want the time at UTC+8", got.Text)
	}

	// Seed 001: Expired At is entered in UTC; the form says what local time
	// that is as the admin types it.
	br.navigateBy("users", http.StatusOK, chromedp.Navigate(br.base+"/console/users"))
	br.do("add staff user",
		chromedp.SendKeys(chromedp.CSS("#user-email"), "vendor@partner.example"),
		chromedp.SetValue(chromedp.CSS("#user-role"), "staff"),
	)
	br.navigateBy("add user", http.StatusOK, chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	path := br.eval("user link", `[...document.querySelectorAll("table tbody a")].find(a => a.textContent.trim() === "vendor@partner.example").getAttribute("href")`)
	br.navigateBy("API Auth", http.StatusOK, chromedp.Navigate(br.base+path+"/api-auth"))
	br.do("Expired At", chromedp.SetValue(chromedp.CSS("#staff-expires"), "2030-03-01T12:00"))
	local := br.eval("local time", `(function () {
		var input = document.querySelector("#staff-expires");
		input.dispatchEvent(new Event("input"));
		return input.parentElement.querySelector(".js-local-time").textContent;
	})()`)
	if !strings.Contains(local, "Mar 1, 2030") || !strings.Contains(local, "08:00") || !strings.Contains(local, "GMT+8") {
		t.Errorf("local time of 2030-03-01 12:00 UTC at UTC+8 = %q", local)
	}

	// A browser elsewhere (UTC) shows the user's chosen time zone.
	if _, err := chromedp.Call(br.bctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"}); err != nil {
		t.Fatal(err)
	}
	br.navigateBy("tokens", http.StatusOK, chromedp.Navigate(br.base+"/console/tokens"))
	first := func() string {
		t.Helper()
		return br.eval("created time", `document.querySelector("main table time[datetime]").textContent`)
	}
	if text := first(); strings.Contains(text, "GMT+8") {
		t.Fatalf("at UTC, before choosing a time zone: %q", text)
	}
	br.do("choose Asia/Taipei", chromedp.SetValue(chromedp.CSS("#time-zone-select"), "Asia/Taipei"))
	br.navigateBy("save time zone", http.StatusOK, chromedp.Submit(chromedp.CSS("#time-zone-select")))
	// The form's answer is a redirect, and the page's script localizes
	// its times after the page loads: on a slow machine the first read can
	// land before either, so read until the page has settled.
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		text, _ = chromedp.Run(br.bctx, chromedp.Evaluate[string](`(function () {
			var el = document.querySelector("main table time[datetime]");
			return el ? el.textContent : "";
		})()`))
		if strings.Contains(text, "GMT+8") {
			break
		}
	}
	if !strings.Contains(text, "GMT+8") {
		t.Errorf("with the time zone Asia/Taipei: %q", text)
	}
}
