package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// viewW×viewH is the browser window (and the width of every screenshot).
const viewW, viewH = 1280, 860

// browserRun is one browser test's world: a fully wired in-process
// Gatehouse (SQLite, the demo store API behind its gateway, the demo
// tenant seeded), a headless Chromium with clipboard access, and the
// helpers the walks use.
type browserRun struct {
	t     *testing.T
	ctx   context.Context // bounds the whole test
	bctx  context.Context // the browser tab
	base  string          // http://127.0.0.1:port
	creds *server.DemoCredentials
	shots string // where screenshots go
	start time.Time

	do         func(step string, actions ...chromedp.Action[chromedp.Void])
	navigateBy func(step string, want int, actions ...chromedp.Action[chromedp.Void])
	eval       func(step, js string) string
	shot       func(name string)
	location   func() string
}

// newBrowserRun starts Gatehouse and Chromium for t, bounded by timeout.
// It runs only with GATEHOUSE_E2E=1; then a missing Chromium is a failure.
func newBrowserRun(t *testing.T, timeout time.Duration) *browserRun {
	t.Helper()
	if os.Getenv("GATEHOUSE_E2E") != "1" {
		t.Skip("set GATEHOUSE_E2E=1 to run the headless Chromium test")
	}
	chromium := chromiumPath(t)
	shots := screenshotDir(t)
	start := time.Now()

	// The whole test, browser included, is bounded.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)

	// A real Gatehouse with the demo store API behind its gateway (http:
	// the console's cookies are not Secure).
	te := testenv.New(t, testenv.Options{Demo: true, NoTenant: true})
	s, base := te.Server, te.URL
	creds, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Headless Chromium with exactly the flags below, a fresh profile and a
	// 1280×860 window.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewW, viewH),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium %s: %v", chromium, err)
	}
	// The Copy button writes to the clipboard; let the page read it back.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(bctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted,
			Origin:     base,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// navigateBy runs a click that leads to a new page and checks its status.
	navigateBy := func(step string, want int, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		resp, err := chromedp.RunResponse(bctx, actions...)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if resp == nil || resp.Status != int64(want) {
			status := int64(0)
			if resp != nil {
				status = resp.Status
			}
			t.Fatalf("%s: HTTP %d, want %d", step, status, want)
		}
	}
	eval := func(step, js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
	// shot saves a full-page PNG: the viewport grows to the page's height
	// for the capture (a 1280-wide image with no scrollbar), then returns
	// to 1280×860.
	shot := func(name string) {
		t.Helper()
		height := func() int64 {
			t.Helper()
			h, err := chromedp.Run(bctx, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			return max(h, viewH)
		}
		h := height()
		do("grow viewport", chromedp.EmulateViewport(viewW, h))
		if h2 := height(); h2 != h {
			do("grow viewport", chromedp.EmulateViewport(viewW, h2))
		}
		buf, err := chromedp.Run(bctx, chromedp.CaptureScreenshot()) // PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		do("restore viewport", chromedp.EmulateViewport(viewW, viewH))
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(loc)
		return u.Path
	}

	// Headless Chromium keeps part of the window for its (invisible) frame;
	// pin the page's viewport to the window size.
	do("viewport", chromedp.EmulateViewport(viewW, viewH))
	return &browserRun{
		t: t, ctx: ctx, bctx: bctx, base: base, creds: creds, shots: shots, start: start,
		do: do, navigateBy: navigateBy, eval: eval, shot: shot, location: location,
	}
}

// login signs the demo owner in through the login form.
func (br *browserRun) login() {
	br.t.Helper()
	br.do("open console", chromedp.Navigate(br.base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	br.do("fill login",
		chromedp.SendKeys(chromedp.CSS("#email"), br.creds.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), br.creds.Password),
	)
	br.navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))
}

// TestE2EBrowser drives the console with a real headless Chromium against a
// fully wired in-process Gatehouse (SQLite, demo store API behind the
// gateway): log in through the login form, generate a personal access token
// with a name, an expiration date and two scopes, copy it, use it at the
// gateway, revoke it through the confirmation page, see it refused, and find
// both actions in the audit log. It also opens Users and Settings, and saves
// a screenshot of every page to docs/screenshots/ for the README.
//
// It runs only with GATEHOUSE_E2E=1; then a missing Chromium is a failure.
func TestE2EBrowser(t *testing.T) {
	br := newBrowserRun(t, 50*time.Second)
	ctx, bctx, base, creds, shots, start := br.ctx, br.bctx, br.base, br.creds, br.shots, br.start
	do, navigateBy, eval, shot, location := br.do, br.navigateBy, br.eval, br.shot, br.location

	// 1. An anonymous visit lands on the login form; log in through it.
	do("open console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/login"] #email`)))
	if p := location(); p != "/console/login" {
		t.Fatalf("anonymous /console/ ended at %s, want /console/login", p)
	}
	shot("login")
	do("fill login",
		chromedp.SendKeys(chromedp.CSS("#email"), creds.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), creds.Password),
	)
	navigateBy("log in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)))

	// 2. Personal access tokens: the list and the "Generate Token" form.
	do("token list", chromedp.WaitVisible(chromedp.CSS(`#generate form[action="/console/tokens"]`)))
	if p := location(); p != "/console/tokens" {
		t.Fatalf("after login at %s, want /console/tokens", p)
	}
	if got := eval("signed in as", `document.querySelector(".user-email").textContent`); !strings.Contains(got, creds.Email) {
		t.Fatalf("top bar shows %q, want %s", got, creds.Email)
	}
	shot("tokens")

	// 3. Generate Token: a name, an expiration date and two scopes.
	const tokenName = "browser e2e export"
	expiry := time.Now().UTC().AddDate(0, 0, 45).Format(time.DateOnly)
	scopeBox := func(id string) chromedp.CSS {
		return chromedp.CSS(fmt.Sprintf(`#generate input[name=scopes][value=%q]`, id))
	}
	do("fill generate form",
		chromedp.SendKeys(chromedp.CSS("#pat-name"), tokenName),
		chromedp.SetValue(chromedp.CSS("#pat-expires"), expiry),
		chromedp.Click(scopeBox("catalog.products")),
		chromedp.Click(scopeBox("sales.orders")),
	)
	checked := eval("checked scopes", `[...document.querySelectorAll("#generate input[name=scopes]:checked")].map(b => b.value).sort().join(" ")`)
	if checked != "catalog.products sales.orders" {
		t.Fatalf("checked scopes = %q, want catalog.products sales.orders", checked)
	}
	if got := eval("expiry", `document.getElementById("pat-expires").value`); got != expiry {
		t.Fatalf("expiry input = %q, want %s", got, expiry)
	}
	shot("token-generate")
	navigateBy("generate token", http.StatusOK, chromedp.Click(chromedp.CSS(`#generate button[type=submit]`)))

	// 4. The token is shown once; read it and Copy it.
	do("token created", chromedp.WaitVisible(chromedp.CSS("#new-token")))
	token, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS("#new-token")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "gate_pat_") {
		t.Fatalf("token on the page = %q, want gate_pat_…", token)
	}
	if target := eval("copy target", `document.querySelector(".js-copy").getAttribute("data-copy-target")`); target != "new-token" {
		t.Fatalf("Copy button targets %q, want new-token", target)
	}
	shot("token-created")
	do("click Copy",
		chromedp.Click(chromedp.CSS(".js-copy")),
		// console.js relabels the button once the clipboard write resolved.
		chromedp.Poll[chromedp.Void](`(() => { const b = document.querySelector(".js-copy"); return b.textContent.trim() === b.getAttribute("data-copied"); })()`,
			chromedp.WithPollingTimeout(5*time.Second)),
	)
	clip, err := chromedp.Run(bctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if clip != token {
		t.Fatalf("clipboard holds %q, want the token shown on the page", clip)
	}

	// The management API agrees on name, scopes and expiry (end of the day, UTC).
	client := &http.Client{Timeout: 10 * time.Second}
	var list struct {
		Items []struct {
			ID        string   `json:"id"`
			Name      string   `json:"name"`
			Scopes    []string `json:"scopes"`
			ExpiresAt *string  `json:"expires_at"`
		} `json:"items"`
	}
	if status, err := doJSON(ctx, client, "GET", base+"/api/v1/tokens", creds.Token, nil, &list); err != nil || status != 200 {
		t.Fatalf("GET /api/v1/tokens: %d %v", status, err)
	}
	var tokenID string
	for _, it := range list.Items {
		if it.Name != tokenName {
			continue
		}
		tokenID = it.ID
		scopes := slices.Sorted(slices.Values(it.Scopes))
		if !slices.Equal(scopes, []string{"catalog.products", "sales.orders"}) {
			t.Errorf("token scopes = %v", it.Scopes)
		}
		d, _ := time.Parse(time.DateOnly, expiry)
		if it.ExpiresAt == nil {
			t.Errorf("token has no expiry, want the end of %s", expiry)
		} else if got, err := time.Parse(time.RFC3339, *it.ExpiresAt); err != nil || !got.Equal(d.AddDate(0, 0, 1).Add(-time.Second)) {
			t.Errorf("token expires at %s, want %s", *it.ExpiresAt, d.AddDate(0, 0, 1).Add(-time.Second).Format(time.RFC3339))
		}
	}
	if tokenID == "" {
		t.Fatalf("token %q not in GET /api/v1/tokens", tokenName)
	}

	// 5. The token works at the gateway within its scopes only.
	gateway := func(path string) (int, string) {
		t.Helper()
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		status, err := doJSON(ctx, client, "GET", base+path, token, nil, &body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return status, body.Error.Code
	}
	for _, path := range []string{"/rest/V1/products", "/rest/V1/orders"} {
		if status, code := gateway(path); status != 200 {
			t.Fatalf("GET %s with the new token: %d %s, want 200", path, status, code)
		}
	}
	if status, code := gateway("/rest/V1/customers"); status != 403 || code != "INSUFFICIENT_SCOPE" {
		t.Fatalf("GET /rest/V1/customers with the new token: %d %s, want 403 INSUFFICIENT_SCOPE", status, code)
	}

	// 6. Revoke it in the console, through the confirmation page.
	navigateBy("back to tokens", http.StatusOK, chromedp.Click(chromedp.CSS(`a[href="/console/tokens"].btn`)))
	revokeLink := chromedp.CSS(fmt.Sprintf(`a[href="/console/tokens/%s/revoke"]`, tokenID))
	do("token in list", chromedp.WaitVisible(revokeLink))
	// With JavaScript the link opens a dialog (TestE2EBrowserPhone); its
	// full confirmation page is the one without.
	navigateBy("open revoke", http.StatusOK, chromedp.Navigate(base+fmt.Sprintf("/console/tokens/%s/revoke", tokenID)))
	revokeForm := fmt.Sprintf(`form[action="/console/tokens/%s/revoke"]`, tokenID)
	do("revoke confirmation", chromedp.WaitVisible(chromedp.CSS(revokeForm+" button[type=submit]")))
	if got := eval("revoke question", `document.querySelector(".card-danger").textContent`); !strings.Contains(got, tokenName) {
		t.Fatalf("revoke page does not name the token: %q", got)
	}
	shot("token-revoke")
	navigateBy("confirm revoke", http.StatusOK, chromedp.Click(chromedp.CSS(revokeForm+" button[type=submit]")))
	do("token list after revoke", chromedp.WaitVisible(chromedp.CSS("#generate")))
	if p := location(); p != "/console/tokens" {
		t.Fatalf("after revoke at %s, want /console/tokens", p)
	}
	do("revoked token gone", chromedp.WaitVisible(chromedp.CSS(".flash")), chromedp.WaitNotPresent(revokeLink))

	// 7. The revoked token is refused by the gateway and by /api/v1/verify.
	if status, code := gateway("/rest/V1/products"); status != 401 || code != "REVOKED" {
		t.Fatalf("gateway after revoke: %d %s, want 401 REVOKED", status, code)
	}
	var ans verifyAnswer
	status, err := doJSON(ctx, client, "POST", base+"/api/v1/verify", creds.Token,
		map[string]string{"credential": token, "resource": "catalog.products"}, &ans)
	if err != nil || status != 200 || ans.Valid || ans.Code != "REVOKED" {
		t.Fatalf("verify after revoke: %d %v %+v, want 200 REVOKED", status, err, ans)
	}

	// 8. The audit log names both actions and the actor, the token by its
	// name with its id.
	navigateBy("audit log", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/audit"]`)))
	do("audit table", chromedp.WaitVisible(chromedp.CSS("table tbody tr")))
	rows := eval("audit rows", `[...document.querySelectorAll("table tbody tr")].map(tr => [...tr.cells].slice(1, 4).map(td => td.innerText.trim()).join("|")).join("\n")`)
	for _, action := range []string{"pat.create", "pat.revoke"} {
		want := creds.Email + "|" + action + "|" + tokenName + " " + tokenID
		if !slices.Contains(strings.Split(rows, "\n"), want) {
			t.Errorf("audit log has no row %q; rows:\n%s", want, rows)
		}
	}
	shot("audit")

	// 9. Users and Settings.
	navigateBy("users", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/users"]`)))
	do("users page", chromedp.WaitVisible(chromedp.CSS(`form[action="/console/users"]`)))
	if got := eval("users table", `document.querySelector("table tbody").innerText`); !strings.Contains(got, creds.Email) {
		t.Errorf("users page does not list %s: %q", creds.Email, got)
	}
	shot("users")
	navigateBy("settings", http.StatusOK, chromedp.Click(chromedp.CSS(`.sidebar a[href="/console/settings"]`)))
	do("settings page", chromedp.WaitVisible(chromedp.CSS(`form[action="/console/settings"] input[type=checkbox]`)))
	shot("settings")

	t.Logf("browser walk done in %s; screenshots in %s", time.Since(start).Round(time.Millisecond), shots)
}

// chromiumPath finds Chromium: Debian's /usr/bin/chromium, else chromium or
// chromium-browser on PATH. Missing, the test fails: GATEHOUSE_E2E=1 asked
// for it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("GATEHOUSE_E2E=1 but Chromium is missing: no %s and no chromium or chromium-browser on PATH (apt-get install chromium)", debian)
	return ""
}

// screenshotDir is where screenshots go: docs/screenshots/ of the
// repository when GATEHOUSE_SCREENSHOTS=1 (`make screenshots`, to refresh
// the README's pictures), else a temporary directory, so that test runs do
// not rewrite tracked files.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("GATEHOUSE_SCREENSHOTS") != "1" {
		return t.TempDir()
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal(errors.New("runtime.Caller failed"))
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
