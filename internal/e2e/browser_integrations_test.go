package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EBrowserIntegrations walks seed 000 (Adobe Commerce, System ›
// Extensions › Integrations) in a real headless Chromium: Add New
// Integration with a name, an email, an http Identity Link URL (so the
// grid warns "Integration not secure") and no Callback URL, Your Password,
// API › Resource Access Custom › Catalog (its subtree follows); Save; the
// grid shows it Inactive and not secure; Activate › Allow shows Consumer
// Key, Consumer Secret, Access Token and Access Token Secret once; Done;
// the grid shows it Active; Reauthorize › Reauthorize gives a new access
// token; Done; Delete (trash icon) › OK removes it.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes integrations-grid.png,
// integration-new.png, integration-api.png, integration-allow.png,
// integration-tokens.png and integration-reauthorize.png.
func TestE2EBrowserIntegrations(t *testing.T) {
	br := newBrowserRun(t, 90*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval, shot, location := br.do, br.navigateBy, br.eval, br.shot, br.location
	client := &http.Client{Timeout: 10 * time.Second}

	// A second, secure integration made over the management API, so the
	// grid has more than one row. Its resources stay within the demo
	// token's own (catalog, sales): a credential creates nothing wider
	// than itself (SPEC §9).
	var erp struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	status, err := doJSON(ctx, client, "POST", base+"/api/v1/integrations", creds.Token, map[string]any{
		"name": "ERP connector", "email": "it@erp.example", "callback_url": "https://erp.example/magento/callback",
		"identity_link_url": "https://erp.example/magento/login", "resource_access": "custom",
		"resources": []string{"catalog", "sales"},
	}, &erp)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("POST /api/v1/integrations: %d %v", status, err)
	}

	// A third with an http:// callback URL: the grid must call it not secure.
	status, err = doJSON(ctx, client, "POST", base+"/api/v1/integrations", creds.Token, map[string]any{
		"name": "Legacy feed", "email": "ops@legacy.example", "callback_url": "http://legacy.example/callback",
		"resource_access": "custom", "resources": []string{"catalog.products"},
	}, nil)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("POST /api/v1/integrations (http callback): %d %v", status, err)
	}

	// rowOf runs js against the grid row of the integration named name.
	rowOf := func(name, js string) string {
		t.Helper()
		return eval("row "+name, fmt.Sprintf(`(() => { const tr = [...document.querySelectorAll("table.integrations tbody tr")].find(tr => tr.querySelector(".name").textContent === %q); return tr ? (%s) : "missing"; })()`, name, js))
	}

	// 1. System › Extensions › Integrations.
	br.login()
	navigateBy("integrations", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/integrations"]`)))
	if crumbs := eval("crumbs", `document.querySelector(".crumbs").innerText`); crumbs != "System › Extensions › Integrations" {
		t.Errorf("crumbs = %q", crumbs)
	}

	// 2. Add New Integration: Integration Info.
	const name = "Shipping Sync"
	navigateBy("add new", http.StatusOK, chromedp.Click(chromedp.CSS(`#add-integration`)))
	do("integration info", chromedp.WaitVisible(chromedp.CSS(`#integration-name`)))
	if hidden := eval("api tab hidden", `String(document.getElementById("integration-api").hidden)`); hidden != "true" {
		t.Errorf("the API tab shows before it is chosen (hidden = %s)", hidden)
	}
	do("fill integration info",
		chromedp.SendKeys(chromedp.CSS(`#integration-name`), name),
		chromedp.SendKeys(chromedp.CSS(`#integration-email`), "dev@shipping.example"),
		chromedp.SendKeys(chromedp.CSS(`#integration-identity`), "http://shipping.example/magento/login"),
		chromedp.SendKeys(chromedp.CSS(`#integration-password`), creds.Password),
	)
	if got := eval("https hint", `document.querySelector("#integration-info .hint").innerText`); !strings.Contains(got, "strongly recommended") {
		t.Errorf("no https recommendation: %q", got)
	}
	shot("integration-new")

	// 3. API: Resource Access Custom, tick Catalog; its subtree follows.
	do("API tab", chromedp.Click(chromedp.CSS(`#tab-api`)), chromedp.WaitVisible(chromedp.CSS(`#integration-api input[name=resources][value="catalog"]`)))
	do("custom", chromedp.Click(chromedp.CSS(`input[name=resource_access][value="custom"]`)))
	do("tick Catalog", chromedp.Click(chromedp.CSS(`input[name=resources][value="catalog"]`)))
	sub := eval("subtree", `(() => { const b = document.querySelector('input[name=resources][value="catalog.products"]'); return b.checked + " " + b.disabled; })()`)
	if sub != "true true" {
		t.Errorf("catalog.products after ticking Catalog: checked disabled = %s, want true true", sub)
	}
	do("All disables the tree", chromedp.Click(chromedp.CSS(`input[name=resource_access][value="all"]`)))
	if d := eval("tree disabled", `String(document.querySelector(".js-resource-tree").disabled)`); d != "true" {
		t.Errorf("Resource Access All leaves the tree enabled")
	}
	do("back to custom", chromedp.Click(chromedp.CSS(`input[name=resource_access][value="custom"]`)))
	shot("integration-api")

	// 4. Save: the grid shows it Inactive and not secure.
	navigateBy("save", http.StatusOK, chromedp.Click(chromedp.CSS(`#save-integration`)))
	if p := location(); p != "/console/integrations" {
		t.Fatalf("after Save at %s, want /console/integrations", p)
	}
	do("saved", chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := rowOf(name, `tr.querySelector(".status").textContent.trim() + "|" + (tr.querySelector(".insecure") ? tr.querySelector(".insecure").textContent : "")`); got != "Inactive|Integration not secure" {
		t.Fatalf("new row = %q, want Inactive|Integration not secure", got)
	}
	if got := rowOf("ERP connector", `tr.querySelector(".status").textContent.trim() + "|" + !!tr.querySelector(".insecure")`); got != "Inactive|false" {
		t.Errorf("ERP row = %q", got)
	}
	if got := rowOf("Legacy feed", `tr.querySelector(".status").textContent.trim() + "|" + (tr.querySelector(".insecure") ? tr.querySelector(".insecure").textContent : "")`); got != "Inactive|Integration not secure" {
		t.Errorf("http callback row = %q, want Inactive|Integration not secure", got)
	}
	shot("integrations-grid")

	// 5. Activate › Allow › the four tokens › Done.
	activate := rowOf(name, `tr.querySelector("a.activate").getAttribute("href")`)
	id := strings.TrimSuffix(strings.TrimPrefix(activate, "/console/integrations/"), "/activate")
	navigateBy("activate", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href=%q]`, activate))))
	do("allow page", chromedp.WaitVisible(chromedp.CSS(`#allow`)))
	if got := eval("requested resources", `document.querySelector(".consent-scopes").innerText`); !strings.Contains(got, "Catalog") {
		t.Errorf("the Allow page does not list Catalog: %q", got)
	}
	shot("integration-allow")
	navigateBy("allow", http.StatusOK, chromedp.Click(chromedp.CSS(`#allow`)))
	do("tokens", chromedp.WaitVisible(chromedp.CSS(`#access-token-secret`)))
	value := regexp.MustCompile(`^[a-z0-9]{32}$`)
	read := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, f := range []string{"consumer-key", "consumer-secret", "access-token", "access-token-secret"} {
			v, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS("#"+f)))
			if err != nil {
				t.Fatal(err)
			}
			if !value.MatchString(v) {
				t.Errorf("%s = %q, want 32 [a-z0-9]", f, v)
			}
			out[f] = v
		}
		return out
	}
	first := read()
	if w := eval("warning", `document.querySelector(".flash-warn").innerText`); !strings.Contains(w, "secure, encrypted location") {
		t.Errorf("no warning to store the tokens securely: %q", w)
	}
	if n := eval("copy buttons", `String(document.querySelectorAll(".tokens .js-copy").length)`); n != "4" {
		t.Errorf("%s Copy buttons, want 4", n)
	}
	shot("integration-tokens")
	navigateBy("done", http.StatusOK, chromedp.Click(chromedp.CSS(`#done`)))
	if got := rowOf(name, `tr.querySelector(".status").textContent.trim() + "|" + !!tr.querySelector("a.reauthorize")`); got != "Active|true" {
		t.Fatalf("after Done the row = %q, want Active with Reauthorize", got)
	}
	var one struct {
		Status      string `json:"status"`
		ConsumerKey string `json:"consumer_key"`
	}
	if status, err := doJSON(ctx, client, "GET", base+"/api/v1/integrations/"+id, creds.Token, nil, &one); err != nil || status != 200 ||
		one.Status != "active" || one.ConsumerKey != first["consumer-key"] {
		t.Fatalf("GET integration: %d %v %+v", status, err, one)
	}

	// 6. Reauthorize › Reauthorize › new tokens › Done.
	navigateBy("reauthorize", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/console/integrations/%s/reauthorize"]`, id))))
	do("reauthorize page", chromedp.WaitVisible(chromedp.CSS(`#reauthorize`)))
	if got := eval("consequence", `document.querySelector(".card-danger").innerText`); !strings.Contains(got, "stops working at once") {
		t.Errorf("reauthorize page lacks the consequence: %q", got)
	}
	shot("integration-reauthorize")
	navigateBy("confirm reauthorize", http.StatusOK, chromedp.Click(chromedp.CSS(`#reauthorize`)))
	do("new tokens", chromedp.WaitVisible(chromedp.CSS(`#access-token`)))
	second := read()
	if second["consumer-key"] != first["consumer-key"] || second["access-token"] == first["access-token"] || second["access-token-secret"] == first["access-token-secret"] {
		t.Errorf("reauthorize: consumer key must stay and the token change: %v → %v", first, second)
	}
	navigateBy("done again", http.StatusOK, chromedp.Click(chromedp.CSS(`#done`)))

	// 7. Delete (trash icon) › OK.
	// With JavaScript the trash link opens a dialog (TestE2EBrowserPhone);
	// this walk opens the full confirmation page it falls back to.
	do("trash link", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`a.delete[data-confirm-dialog][href="/console/integrations/%s/delete"]`, id))))
	navigateBy("delete", http.StatusOK, chromedp.Navigate(base+"/console/integrations/"+id+"/delete"))
	do("confirmation", chromedp.WaitVisible(chromedp.CSS(`#confirm-delete`)))
	if got := eval("question", `document.querySelector("#confirm-question").innerText`); !strings.Contains(got, name) {
		t.Errorf("confirmation does not name the integration: %q", got)
	}
	navigateBy("OK", http.StatusOK, chromedp.Click(chromedp.CSS(`#confirm-delete`)))
	if p := location(); p != "/console/integrations" {
		t.Fatalf("after OK at %s", p)
	}
	if got := rowOf(name, `"present"`); got != "missing" {
		t.Errorf("the deleted integration is still in the grid")
	}
	if got := rowOf("ERP connector", `"present"`); got != "present" {
		t.Errorf("the other integration went too")
	}
	if status, _ := doJSON(ctx, client, "GET", base+"/api/v1/integrations/"+id, creds.Token, nil, nil); status != http.StatusNotFound {
		t.Errorf("GET the deleted integration: %d, want 404", status)
	}
	t.Logf("integrations walk done in %s", time.Since(br.start).Round(time.Millisecond))
}
