package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EBrowserStaffAndAPIPortal walks seeds 001 and 003 in a real
// headless Chromium, as an owner would:
//
//   - seed 001 (SHOPLINE staff API Auth): Users → add a staff user with a
//     vendor's email and no password, open it, API Auth, choose two APIs,
//     set Expired At, Generate, Copy; add two IP whitelist entries with
//     +New IP Whitelist, delete one after "Are you sure you want to delete
//     this? …", delete the token after "Are you sure?" and see the
//     whitelist gone with it;
//   - seed 003 (API Portal): a description "Amazon Sales Channel", Add New,
//     Copy, use the key at the gateway (X-Api-Key) and at /api/v1/verify,
//     Revoke after confirmation, and see it refused as REVOKED.
//
// With GATEHOUSE_SCREENSHOTS=1 it refreshes the staff-*.png and api-*.png
// pictures of docs/screenshots/.
func TestE2EBrowserStaffAndAPIPortal(t *testing.T) {
	br := newBrowserRun(t, 60*time.Second)
	ctx, base, creds := br.ctx, br.base, br.creds
	do, navigateBy, eval, shot, location := br.do, br.navigateBy, br.eval, br.shot, br.location
	client := &http.Client{Timeout: 10 * time.Second}

	// call sends a request with a credential header and returns the status
	// and the error code of a refusal.
	call := func(method, path, header, value string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(header, value)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&body) // a 200 from the demo API is no error body
		return res.StatusCode, body.Error.Code
	}
	verify := func(credential string) verifyAnswer {
		t.Helper()
		var ans verifyAnswer
		status, err := doJSON(ctx, client, "POST", base+"/api/v1/verify", creds.Token, map[string]string{"credential": credential}, &ans)
		if err != nil || status != 200 {
			t.Fatalf("verify: %d %v", status, err)
		}
		return ans
	}
	// copySecret clicks the page's Copy button and checks that the
	// clipboard then holds the value of input #id.
	copySecret := func(id string) string {
		t.Helper()
		secret, err := chromedp.Run(br.bctx, chromedp.Value(chromedp.CSS("#"+id)))
		if err != nil {
			t.Fatal(err)
		}
		if target := eval("copy target", `document.querySelector(".js-copy").getAttribute("data-copy-target")`); target != id {
			t.Fatalf("Copy button targets %q, want %s", target, id)
		}
		do("click Copy",
			chromedp.Click(chromedp.CSS(".js-copy")),
			chromedp.Poll[chromedp.Void](`(() => { const b = document.querySelector(".js-copy"); return b.textContent.trim() === b.getAttribute("data-copied"); })()`,
				chromedp.WithPollingTimeout(5*time.Second)),
		)
		clip, err := chromedp.Run(br.bctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("read the clipboard: %v", err)
		}
		if clip != secret {
			t.Fatalf("clipboard holds %q, want the secret shown on the page", clip)
		}
		return secret
	}
	text := func(step, selector string) string {
		t.Helper()
		return eval(step, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, selector))
	}

	do("viewport", chromedp.EmulateViewport(viewW, viewH))
	br.login()

	// Seed 001, steps 1–2: Users → add a staff user for the vendor, no password.
	const vendor = "erp-vendor@partner.example"
	navigateBy("users", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/users"]`)))
	do("add user form", chromedp.WaitVisible(chromedp.CSS(`#add form[action="/console/users"]`)))
	if hint := text("vendor hint", ".hint"); !strings.Contains(hint, "different administrator emails for different partners") {
		t.Fatalf("Users page lacks the one-user-per-vendor hint: %q", hint)
	}
	do("fill add user",
		chromedp.SendKeys(chromedp.CSS("#user-email"), vendor),
		chromedp.SetValue(chromedp.CSS("#user-role"), "staff"),
	)
	navigateBy("add user", http.StatusOK, chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	do("user added", chromedp.WaitVisible(chromedp.CSS(".flash-success")))

	// Step 3: click the new user.
	userPath := eval("user link", fmt.Sprintf(`[...document.querySelectorAll("table tbody a")].find(a => a.textContent.trim() === %q).getAttribute("href")`, vendor))
	if !strings.HasPrefix(userPath, "/console/users/usr_") {
		t.Fatalf("user link = %q", userPath)
	}
	navigateBy("open user", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`table a[href=%q]`, userPath))))
	do("user page", chromedp.WaitVisible(chromedp.CSS(".tabs")))
	if got := text("user heading", "h1"); !strings.Contains(got, vendor) || !strings.Contains(got, "Staff") {
		t.Fatalf("user page heading = %q", got)
	}
	shot("staff-user")

	// Step 4: the API Auth tab; choose two APIs. Step 5: Expired At.
	authPath := userPath + "/api-auth"
	navigateBy("API Auth tab", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`.tabs a[href=%q]`, authPath))))
	do("generate form", chromedp.WaitVisible(chromedp.CSS(`#generate button[type=submit]`)))
	if n := eval("manage offered", `String(document.querySelectorAll('#generate input[value="manage"]').length)`); n != "0" {
		t.Fatal("the API Auth tab offers the manage resource")
	}
	if n := eval("whitelist button", `String(document.querySelectorAll("#new-ip").length)`); n != "0" {
		t.Fatal("+New IP Whitelist is shown before a token exists")
	}
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Minute)
	do("choose APIs and Expired At",
		chromedp.Click(chromedp.CSS(`#generate input[name=scopes][value="catalog.products"]`)),
		chromedp.Click(chromedp.CSS(`#generate input[name=scopes][value="sales.orders"]`)),
		chromedp.SetValue(chromedp.CSS("#staff-expires"), expires.Format("2006-01-02T15:04")),
	)
	if got := eval("checked APIs", `[...document.querySelectorAll("#generate input[name=scopes]:checked")].map(b => b.value).sort().join(" ")`); got != "catalog.products sales.orders" {
		t.Fatalf("checked APIs = %q", got)
	}
	shot("staff-api-auth")
	navigateBy("Generate", http.StatusOK, chromedp.Click(chromedp.CSS(`#generate button[type=submit]`)))

	// Step 6: copy the token, shown once.
	do("token created", chromedp.WaitVisible(chromedp.CSS("#new-token")))
	token := copySecret("new-token")
	if !strings.HasPrefix(token, "gate_stf_") {
		t.Fatalf("staff token = %q", token)
	}
	// The page shows times in the reader's zone; the UTC time is the tooltip.
	if got := eval("token facts", `[...document.querySelectorAll(".facts time")].map(e => e.title).join(" ")`); !strings.Contains(got, expires.Format("2006-01-02 15:04")) {
		t.Fatalf("created page does not show Expired At %s: %q", expires.Format("2006-01-02 15:04"), got)
	}
	shot("staff-token-created")
	if status, code := call("GET", "/rest/V1/products", "Authorization", "Bearer "+token); status != 200 {
		t.Fatalf("staff token at the gateway: %d %s, want 200", status, code)
	}
	if status, code := call("GET", "/rest/V1/customers", "Authorization", "Bearer "+token); status != 403 || code != "INSUFFICIENT_SCOPE" {
		t.Fatalf("staff token outside its APIs: %d %s, want 403 INSUFFICIENT_SCOPE", status, code)
	}

	// IP whitelist: two entries through +New IP Whitelist.
	navigateBy("back to API Auth", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.btn[href=%q]`, authPath))))
	addEntry := func(name, cidr string) {
		t.Helper()
		do("whitelist card", chromedp.WaitVisible(chromedp.CSS("#new-ip")))
		navigateBy("+New IP Whitelist", http.StatusOK, chromedp.Click(chromedp.CSS("#new-ip")))
		do("fill entry "+name,
			chromedp.WaitVisible(chromedp.CSS("#ip-form")),
			chromedp.SendKeys(chromedp.CSS("#ip-name"), name),
			chromedp.SendKeys(chromedp.CSS("#ip-cidr"), cidr),
		)
		navigateBy("add entry "+name, http.StatusOK, chromedp.Click(chromedp.CSS(`#ip-form button[type=submit]`)))
		do("entry added", chromedp.WaitVisible(chromedp.CSS("#ip-whitelist table")))
		if p := location(); p != authPath {
			t.Fatalf("after adding %s at %s, want %s", name, p, authPath)
		}
	}
	addEntry("office", "127.0.0.1")
	addEntry("vendor-net", "203.0.113.0/24")
	rows := func() []string {
		t.Helper()
		out := eval("whitelist rows", `[...document.querySelectorAll("#ip-whitelist tbody tr")].map(tr => tr.cells[0].innerText.trim() + " " + tr.cells[1].innerText.trim()).join("\n")`)
		if out == "" {
			return nil
		}
		return strings.Split(out, "\n")
	}
	if got := rows(); !slices.Equal(got, []string{"office 127.0.0.1", "vendor-net 203.0.113.0/24"}) {
		t.Fatalf("whitelist = %q", got)
	}
	shot("staff-whitelist")
	// This test's client connects from 127.0.0.1: "office" lets it in.
	if status, code := call("GET", "/rest/V1/products", "Authorization", "Bearer "+token); status != 200 {
		t.Fatalf("staff token from a whitelisted address: %d %s, want 200", status, code)
	}

	// Delete "office" with the trash action, after the seed's confirmation.
	officeDelete := eval("office trash link", `[...document.querySelectorAll("#ip-whitelist tbody tr")].find(tr => tr.cells[0].innerText.trim() === "office").querySelector("a").getAttribute("href")`)
	// With JavaScript the trash link opens a dialog (TestE2EBrowserPhone);
	// this walk opens the full confirmation page it falls back to.
	navigateBy("trash office", http.StatusOK, chromedp.Navigate(base+officeDelete))
	do("entry confirmation", chromedp.WaitVisible(chromedp.CSS(`.card-danger button[type=submit]`)))
	if q := text("entry question", ".confirm-question"); q != "Are you sure you want to delete this? Once it is deleted, it cannot be restored." {
		t.Fatalf("entry confirmation = %q", q)
	}
	shot("staff-ip-delete-confirm")
	navigateBy("confirm entry delete", http.StatusOK, chromedp.Click(chromedp.CSS(`.card-danger button[type=submit]`)))
	do("entry deleted", chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := rows(); !slices.Equal(got, []string{"vendor-net 203.0.113.0/24"}) {
		t.Fatalf("whitelist after deleting office = %q", got)
	}
	// Now 127.0.0.1 is not on the list.
	if status, code := call("GET", "/rest/V1/products", "Authorization", "Bearer "+token); status != 403 || code != "IP_NOT_ALLOWED" {
		t.Fatalf("staff token from an address off the whitelist: %d %s, want 403 IP_NOT_ALLOWED", status, code)
	}

	// Delete the token after "Are you sure?": the whitelist goes with it.
	navigateBy("Delete token", http.StatusOK, chromedp.Navigate(base+eval("delete link", `document.getElementById("delete-token").getAttribute("href")`)))
	do("token confirmation", chromedp.WaitVisible(chromedp.CSS(`.card-danger button[type=submit]`)))
	if q := text("token question", ".confirm-question"); q != "Are you sure?" {
		t.Fatalf("token confirmation = %q", q)
	}
	shot("staff-delete-confirm")
	navigateBy("confirm token delete", http.StatusOK, chromedp.Click(chromedp.CSS(`.card-danger button[type=submit]`)))
	do("token deleted", chromedp.WaitVisible(chromedp.CSS(`#generate button[type=submit]`)))
	if p := location(); p != authPath {
		t.Fatalf("after deleting the token at %s, want %s", p, authPath)
	}
	if got := rows(); got != nil {
		t.Fatalf("whitelist after deleting the token = %q, want none", got)
	}
	if n := eval("whitelist button", `String(document.querySelectorAll("#new-ip").length)`); n != "0" {
		t.Fatal("+New IP Whitelist is shown after the token was deleted")
	}
	// Deleted answers REVOKED, like every ended credential (issue 14).
	if status, code := call("GET", "/rest/V1/products", "Authorization", "Bearer "+token); status != 401 || code != "REVOKED" {
		t.Fatalf("deleted staff token: %d %s, want 401 REVOKED", status, code)
	}

	// Seed 003: API Portal → description → Add New → Copy.
	navigateBy("API Portal", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/api-keys"]`)))
	do("API Portal form", chromedp.WaitVisible(chromedp.CSS(`#key-description`)))
	if ph := eval("placeholder", `document.getElementById("key-description").placeholder`); ph != "Amazon Sales Channel" {
		t.Fatalf("description placeholder = %q", ph)
	}
	do("describe", chromedp.SendKeys(chromedp.CSS("#key-description"), "Amazon Sales Channel"))
	navigateBy("Add New", http.StatusOK, chromedp.Click(chromedp.CSS(`#add button[type=submit]`)))
	do("key created", chromedp.WaitVisible(chromedp.CSS("#new-key")))
	if got := text("key label", `label[for="new-key"]`); !strings.Contains(got, "Amazon Sales Channel") {
		t.Fatalf("created key is labelled %q", got)
	}
	key := copySecret("new-key")
	if !strings.HasPrefix(key, "gate_key_") {
		t.Fatalf("API key = %q", key)
	}
	shot("api-key-created")

	// The application uses the key, and verifies it each time it opens.
	if status, code := call("GET", "/rest/V1/products", "X-Api-Key", key); status != 200 {
		t.Fatalf("API key at the gateway: %d %s, want 200", status, code)
	}
	if ans := verify(key); !ans.Valid || ans.Code != "VALID" || ans.Kind != "apikey" {
		t.Fatalf("verify the new key: %+v, want VALID apikey", ans)
	}

	// The list shows it; Revoke asks first.
	navigateBy("back to API Portal", http.StatusOK, chromedp.Click(chromedp.CSS(`a.btn[href="/console/api-keys"]`)))
	do("key list", chromedp.WaitVisible(chromedp.CSS("table tbody tr")))
	row := eval("key row", `[...document.querySelectorAll("table tbody tr")].map(tr => tr.innerText).join("\n")`)
	if !strings.Contains(row, "Amazon Sales Channel") || !strings.Contains(row, key[:13]) || strings.Contains(row, key) {
		t.Fatalf("key list = %q, want the description and the hint, never the key", row)
	}
	shot("api-portal")
	navigateBy("Revoke", http.StatusOK, chromedp.Navigate(base+eval("revoke link", `document.querySelector('table a[href$="/revoke"]').getAttribute("href")`)))
	do("revoke confirmation", chromedp.WaitVisible(chromedp.CSS(`.card-danger button[type=submit]`)))
	if q := text("revoke question", ".confirm-question"); !strings.Contains(q, "Amazon Sales Channel") {
		t.Fatalf("revoke confirmation = %q", q)
	}
	navigateBy("confirm revoke", http.StatusOK, chromedp.Click(chromedp.CSS(`.card-danger button[type=submit]`)))
	do("key revoked", chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if p := location(); p != "/console/api-keys" {
		t.Fatalf("after revoke at %s", p)
	}
	if status, code := call("GET", "/rest/V1/products", "X-Api-Key", key); status != 401 || code != "REVOKED" {
		t.Fatalf("revoked key at the gateway: %d %s, want 401 REVOKED", status, code)
	}
	if ans := verify(key); ans.Valid || ans.Code != "REVOKED" {
		t.Fatalf("verify the revoked key: %+v, want REVOKED", ans)
	}

	t.Logf("staff and API Portal walk done in %s; screenshots in %s", time.Since(br.start).Round(time.Millisecond), br.shots)
}
