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
// Integration with a name, an email, an http Identity Link URL and no
// Callback URL, Your Password, API › Resource Access Custom › Catalog
// (its subtree follows); Save is refused with the reason under the
// Identity Link URL (issue 14: http is refused when saved, not at
// Activate); with an https URL Save keeps it Inactive; Activate › Allow
// shows Consumer Key, Consumer Secret, Access Token and Access Token
// Secret once, saying the integration is Active; Done; the grid shows it
// Active and notifies "authorized"; saving it again says it stays Active;
// Reauthorize › Reauthorize gives a new access token and its own
// notification; Done; Delete (trash icon) › OK removes it.
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

	// An http:// callback URL is refused at once, on its field, in the
	// admin's words.
	var refused struct {
		Error struct{ Field, Message string } `json:"error"`
	}
	status, err = doJSON(ctx, client, "POST", base+"/api/v1/integrations", creds.Token, map[string]any{
		"name": "Legacy feed", "email": "ops@legacy.example", "callback_url": "http://legacy.example/callback",
		"resource_access": "custom", "resources": []string{"catalog.products"},
	}, &refused)
	if err != nil || status != http.StatusUnprocessableEntity || refused.Error.Field != "callback_url" ||
		refused.Error.Message != "the callback URL must start with https://" {
		t.Fatalf("POST /api/v1/integrations (http callback): %d %v %+v, want 422 on callback_url", status, err, refused)
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
	if got := eval("https hint", `document.querySelector("#integration-info .hint").innerText`); !strings.Contains(got, "must start with https://") {
		t.Errorf("no https rule: %q", got)
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

	// 4. Save with the http Identity Link URL: refused, the reason shown
	// under that field (the Integration Info tab open), nothing saved;
	// what was typed is kept but the password.
	navigateBy("save http", http.StatusUnprocessableEntity, chromedp.Click(chromedp.CSS(`#save-integration`)))
	do("field error", chromedp.WaitVisible(chromedp.CSS(`#integration-identity ~ .field-error`)))
	if got := eval("identity link error", `document.querySelector("#integration-identity ~ .field-error").innerText`); got != "The Identity Link URL must start with https://." {
		t.Errorf("identity link field error = %q", got)
	}
	if got := eval("errors", `[...document.querySelectorAll(".field-error")].map(e => e.innerText).join("|")`); strings.Contains(got, "GATEHOUSE_") || strings.Count(got, "|") != 0 {
		t.Errorf("field errors = %q, want the identity link's only", got)
	}
	if got := eval("kept", `document.getElementById("integration-name").value + "|" + document.getElementById("integration-password").value + "|" + document.querySelector('input[name=resources][value="catalog"]').checked`); got != name+"||true" {
		t.Errorf("after the refusal name|password|catalog = %q, want %s||true", got, name)
	}
	do("https identity link",
		chromedp.SetValue(chromedp.CSS(`#integration-identity`), "https://shipping.example/magento/login"),
		chromedp.SendKeys(chromedp.CSS(`#integration-password`), creds.Password),
	)

	// 5. Save: the grid shows it Inactive.
	navigateBy("save", http.StatusOK, chromedp.Click(chromedp.CSS(`#save-integration`)))
	if p := location(); p != "/console/integrations" {
		t.Fatalf("after Save at %s, want /console/integrations", p)
	}
	do("saved", chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := eval("saved flash", `document.querySelector(".flash-success").innerText`); !strings.Contains(got, "It is Inactive until you activate it") {
		t.Errorf("flash after saving a new integration = %q", got)
	}
	if got := rowOf(name, `tr.querySelector(".status").textContent.trim() + "|" + !!tr.querySelector(".insecure")`); got != "Inactive|false" {
		t.Fatalf("new row = %q, want Inactive|false", got)
	}
	if got := rowOf("ERP connector", `tr.querySelector(".status").textContent.trim() + "|" + !!tr.querySelector(".insecure")`); got != "Inactive|false" {
		t.Errorf("ERP row = %q", got)
	}
	if got := rowOf("Legacy feed", `"present"`); got != "missing" {
		t.Errorf("the refused http integration is in the grid")
	}
	shot("integrations-grid")

	// 6. Activate › Allow › the four tokens, "Active" › Done.
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
	if got := eval("tokens intro", `document.querySelector(".page-head .muted").innerText`); !strings.Contains(got, "The integration is Active.") || strings.Contains(got, "Inactive") {
		t.Errorf("the tokens page says %q, want Active", got)
	}
	shot("integration-tokens")
	navigateBy("done", http.StatusOK, chromedp.Click(chromedp.CSS(`#done`)))
	if got := rowOf(name, `tr.querySelector(".status").textContent.trim() + "|" + !!tr.querySelector("a.reauthorize")`); got != "Active|true" {
		t.Fatalf("after Done the row = %q, want Active with Reauthorize", got)
	}
	notices := func() string {
		t.Helper()
		return eval("notifications", `[...document.querySelectorAll(".notifications li")].map(li => li.innerText).join("\n")`)
	}
	if got := notices(); !strings.Contains(got, `Integration "`+name+`" has been authorized.`) {
		t.Errorf("notifications after Allow = %q", got)
	}
	navigateBy("mark as read", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/integrations/notifications/dismiss"] button`)))

	// 7. Edit › Save the Active integration: the message says it stays
	// Active, not "Inactive until you activate it".
	navigateBy("edit", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.edit[href="/console/integrations/%s/edit"]`, id))))
	do("edit password", chromedp.WaitVisible(chromedp.CSS(`#integration-password`)), chromedp.SendKeys(chromedp.CSS(`#integration-password`), creds.Password))
	navigateBy("save active", http.StatusOK, chromedp.Click(chromedp.CSS(`#save-integration`)))
	do("saved active", chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := eval("saved flash", `document.querySelector(".flash-success").innerText`); !strings.Contains(got, "It stays Active") || strings.Contains(got, "Inactive") {
		t.Errorf("flash after saving an Active integration = %q, want it to say Active", got)
	}
	if got := rowOf(name, `tr.querySelector(".status").textContent.trim()`); got != "Active" {
		t.Errorf("after saving, the row = %q, want Active", got)
	}
	var one struct {
		Status      string `json:"status"`
		ConsumerKey string `json:"consumer_key"`
	}
	if status, err := doJSON(ctx, client, "GET", base+"/api/v1/integrations/"+id, creds.Token, nil, &one); err != nil || status != 200 ||
		one.Status != "active" || one.ConsumerKey != first["consumer-key"] {
		t.Fatalf("GET integration: %d %v %+v", status, err, one)
	}

	// 8. Reauthorize › Reauthorize › new tokens › Done: its own
	// notification.
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
	if got := notices(); !strings.Contains(got, `Integration "`+name+`" has been reauthorized; its previous access token no longer works.`) ||
		strings.Contains(got, "has been authorized") {
		t.Errorf("notifications after Reauthorize = %q, want the reauthorization's own", got)
	}

	// 9. Delete (trash icon) › OK.
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
