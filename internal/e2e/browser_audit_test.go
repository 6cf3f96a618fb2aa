package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EBrowserAuditFilter drives the audit page (issue 14) in a real
// headless Chromium: the signed-in owner's login is in the log, the filter
// form narrows it to one kind of action and keeps its value, the download
// links carry the filter, and the retention is stated.
func TestE2EBrowserAuditFilter(t *testing.T) {
	br := newBrowserRun(t, 60*time.Second)
	br.login()
	do, navigateBy, eval, shot := br.do, br.navigateBy, br.eval, br.shot

	navigateBy("audit log", http.StatusOK, chromedp.Navigate(br.base+"/console/audit"))
	do("audit table", chromedp.WaitVisible(chromedp.CSS("table tbody tr")))
	if rows := eval("actions", `[...document.querySelectorAll("table tbody tr td:nth-child(3)")].map(td => td.innerText.trim()).join(" ")`); !strings.Contains(rows, "login.success") {
		t.Fatalf("the log lacks the login: %s", rows)
	}
	if got := eval("retention", `document.getElementById("audit-retention").innerText`); got == "" {
		t.Error("no retention statement")
	}

	do("filter", chromedp.SendKeys(chromedp.CSS("#audit-action"), "login.*"))
	navigateBy("apply filter", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/audit"] button[type=submit]`)))
	do("filtered table", chromedp.WaitVisible(chromedp.CSS("table tbody tr")))
	for _, a := range strings.Fields(eval("filtered actions", `[...document.querySelectorAll("table tbody tr td:nth-child(3)")].map(td => td.innerText.trim()).join(" ")`)) {
		if !strings.HasPrefix(a, "login.") {
			t.Errorf("the filtered log lists %s", a)
		}
	}
	if v := eval("kept value", `document.getElementById("audit-action").value`); v != "login.*" {
		t.Errorf("the filter field shows %q after applying", v)
	}
	if href := eval("csv link", `document.getElementById("audit-export-csv").getAttribute("href")`); !strings.Contains(href, "format=csv") || !strings.Contains(href, "action=login.%2A") {
		t.Errorf("CSV link %q does not keep the filter", href)
	}
	shot("audit-filter")
}
