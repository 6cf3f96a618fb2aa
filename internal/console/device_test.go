package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// deviceFixture is an enterprise tenant with an owner and a device app,
// and a way to start device authorization requests as /oauth2/device does.
type deviceFixture struct {
	e     *env
	owner *gatehouse.Member
	app   *gatehouse.Client
}

func newDeviceFixture(t *testing.T) *deviceFixture {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	app, _ := e.newApp(e.tenantA, owner, admin.ClientInput{Name: "TV app", Scopes: []string{"sales", "catalog.products"},
		GrantTypes: []string{gatehouse.GrantDeviceCode, gatehouse.GrantRefreshToken}})
	return &deviceFixture{e: e, owner: owner, app: app}
}

// request stores a pending request with the user code code (normalised).
func (f *deviceFixture) request(code string) []byte {
	f.e.t.Helper()
	dh := secret.HashBytes("device-" + code)
	now := f.e.clock.Now()
	if err := f.e.store.CreateDeviceAuthorization(f.e.ctx, &gatehouse.DeviceAuthorization{
		DeviceHash: dh, UserHash: secret.HashBytes(code), TenantID: f.e.tenantA.ID, ClientID: f.app.ID,
		Scopes: []string{"catalog.products"}, Interval: 5 * time.Second, ExpiresAt: now.Add(10 * time.Minute), CreatedAt: now,
	}); err != nil {
		f.e.t.Fatal(err)
	}
	return dh
}

func (f *deviceFixture) poll(dh []byte) (gatehouse.DevicePollResult, error) {
	return f.e.store.PollDeviceAuthorization(f.e.ctx, &gatehouse.DevicePoll{DeviceHash: dh, TenantID: f.e.tenantA.ID, ClientID: f.app.ID,
		Now:   f.e.clock.Now().Add(time.Minute),
		Issue: []*gatehouse.Credential{{TenantID: f.e.tenantA.ID, Kind: gatehouse.KindOAuth2Access, Hash: secret.HashBytes("tok-" + string(dh)), ClientID: f.app.ID}}})
}

// TestDevicePageAllow: the verification page asks for login, shows the app
// and its scopes for a code typed any which way, and Allow (CSRF-checked)
// approves the request, saves the consent and records oauth_consent.allow.
func TestDevicePageAllow(t *testing.T) {
	f := newDeviceFixture(t)
	dh := f.request("BCDFGHJK")
	b := f.e.browser()
	res := b.get("/console/device?user_code=BCDF-GHJK")
	wantRedirect(t, res, "/console/login?next="+url.QueryEscape("/console/device?user_code=BCDF-GHJK"))
	b.login("owner@acme.test")

	res = b.get("/console/device")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `name="user_code"`, `method="get" action="/console/device"`)
	res = b.get("/console/device?user_code=" + url.QueryEscape(" bcdf ghjk "))
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "TV app", "Acme Store", "owner@acme.test", "BCDF-GHJK", `name="decision" value="allow"`, `action="/console/device"`)

	// Without a CSRF token nothing is decided.
	wantStatus(t, b.post("/console/device", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"allow"}}), http.StatusForbidden)
	if r, err := f.poll(dh); err != nil || r != gatehouse.DevicePollPending {
		t.Fatalf("after a forged POST: %v %v, want pending", r, err)
	}
	res = b.submit("/console/device?user_code=BCDF-GHJK", "/console/device", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"allow"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Your device is connected")
	if r, err := f.poll(dh); err != nil || r != gatehouse.DevicePollIssued {
		t.Fatalf("after Allow: %v %v, want issued", r, err)
	}
	if c, err := f.e.store.FindConsent(f.e.ctx, f.e.tenantA.ID, f.owner.UserID, f.app.ID); err != nil || strings.Join(c.Scopes, " ") != "catalog.products" {
		t.Fatalf("consent %+v %v", c, err)
	}
	audit, err := f.e.store.ListAudit(f.e.ctx, f.e.tenantA.ID, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: admin.ActionConsentAllow}})
	if err != nil || len(audit.Events) != 1 || audit.Events[0].Actor != "owner@acme.test" {
		t.Fatalf("audit %+v %v", audit.Events, err)
	}
	// The code is spent: entering it again is "not valid".
	res = b.get("/console/device?user_code=BCDF-GHJK")
	wantStatus(t, res, http.StatusNotFound)
	wantBody(t, res, "This code is not valid or has expired")
}

// TestDevicePageDeny: Deny makes the device's poll access_denied and is
// recorded as oauth_consent.deny; no consent is saved.
func TestDevicePageDeny(t *testing.T) {
	f := newDeviceFixture(t)
	dh := f.request("ZXWVTSRQ")
	b := f.e.browser()
	b.login("owner@acme.test")
	res := b.submit("/console/device?user_code=ZXWV-TSRQ", "/console/device", url.Values{"user_code": {"ZXWV-TSRQ"}, "decision": {"deny"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Access denied")
	if r, err := f.poll(dh); err != nil || r != gatehouse.DevicePollDenied {
		t.Fatalf("after Deny: %v %v", r, err)
	}
	if _, err := f.e.store.FindConsent(f.e.ctx, f.e.tenantA.ID, f.owner.UserID, f.app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("Deny saved a consent: %v", err)
	}
	audit, err := f.e.store.ListAudit(f.e.ctx, f.e.tenantA.ID, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: "oauth_consent.deny"}})
	if err != nil || len(audit.Events) != 1 {
		t.Fatalf("audit %+v %v", audit.Events, err)
	}
}

// TestDevicePageWrongCode: a wrong code is refused in the reader's
// language (all four), and past the attempt limit the page answers 429
// with Retry-After, even for the right code. A member of another tenant
// does not find the code.
func TestDevicePageWrongCode(t *testing.T) {
	f := newDeviceFixture(t)
	f.request("BCDFGHJK")
	for lang, want := range map[string]string{
		"en":    "This code is not valid or has expired",
		"ru":    "Код неверен или срок его действия истёк",
		"zh-CN": "此代码无效或已过期",
		"zh-TW": "此代碼無效或已過期",
	} {
		f.e.member(f.e.tenantA, "u-"+lang+"@acme.test", gatehouse.RoleStaff)
		b := f.e.browser()
		b.header.Set("Accept-Language", lang)
		b.login("u-" + lang + "@acme.test")
		res := b.get("/console/device?user_code=GGGG-GGGG")
		wantStatus(t, res, http.StatusNotFound)
		wantBody(t, res, want, `value="GGGG-GGGG"`)
	}

	b := f.e.browser()
	b.login("owner@acme.test")
	for i := range oauth2.UserCodeAttempts - 1 {
		wantStatus(t, b.get("/console/device?user_code=HHHH-HHH"+string(rune('B'+i))), http.StatusNotFound)
	}
	// The last try is a POST, which counts too.
	res := b.submit("/console/device", "/console/device", url.Values{"user_code": {"JJJJ-JJJJ"}, "decision": {"allow"}})
	wantStatus(t, res, http.StatusNotFound)
	res = b.get("/console/device?user_code=BCDF-GHJK")
	wantStatus(t, res, http.StatusTooManyRequests)
	wantBody(t, res, "Too many wrong codes")
	if res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	f.e.clock.Advance(oauth2.UserCodeWindow)
	wantStatus(t, b.get("/console/device?user_code=BCDF-GHJK"), http.StatusOK)

	other := f.e.member(f.e.tenantB, "eve@bolt.test", gatehouse.RoleOwner)
	_ = other
	ob := f.e.browser()
	ob.login("eve@bolt.test")
	res = ob.get("/console/device?user_code=BCDF-GHJK")
	wantStatus(t, res, http.StatusNotFound)
	wantNoBody(t, res, "TV app", "Acme Store")
}

// TestOAuthAppFormDeviceGrant: the app form offers the device grant, and
// a CLI app with it alone needs no redirect URI.
func TestOAuthAppFormDeviceGrant(t *testing.T) {
	f := newDeviceFixture(t)
	b := f.e.browser()
	b.login("owner@acme.test")
	wantBody(t, b.get("/console/oauth-apps"), `value="`+gatehouse.GrantDeviceCode+`"`, "Device code")
	wantBody(t, b.get("/console/oauth-apps/"+f.app.ID+"/edit"), `value="`+gatehouse.GrantDeviceCode+`" checked`)
	res := b.register(appForm("CLI", "", false, gatehouse.GrantDeviceCode))
	wantStatus(t, res, http.StatusOK)
	apps, err := f.e.store.ListClients(f.e.ctx, f.e.tenantA.ID, gatehouse.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range apps {
		found = found || (a.Name == "CLI" && a.AllowsGrant(gatehouse.GrantDeviceCode) && len(a.RedirectURIs) == 0)
	}
	if !found {
		t.Fatalf("no CLI app with the device grant among %d apps\n%s", len(apps), res.body)
	}
}
