package console_test

import (
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestDomainErrorsInReadersLanguage provokes errors of the domain in the
// console in Russian and Traditional Chinese: the form shows the message
// its ID names in the reader's language, not the English Message the API
// sends.
func TestDomainErrorsInReadersLanguage(t *testing.T) {
	e := newEnv(t)
	e.enterprise(e.tenantA)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	if _, _, err := e.admin.CreateCredential(e.ctx, e.actor(e.tenantA, owner), gatehouse.KindStaff, admin.CredentialInput{UserID: vendor.UserID, Scopes: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("owner@acme.test")
	userPath := "/console/users/" + vendor.UserID
	addIP := func(cidr string) *response {
		t.Helper()
		return b.submit(userPath+"/ip-whitelist/new", userPath+"/ip-whitelist", url.Values{"name": {"office"}, "cidr": {cidr}})
	}
	for _, tc := range []struct {
		name, lang  string
		do          func() *response
		status      int
		want, never string // never: the English Message
	}{
		{"http redirect URI, ru", "ru", func() *response {
			return b.register(appForm("Fax", "http://fax.example/cb", true, "authorization_code"))
		}, http.StatusUnprocessableEntity,
			"http://fax.example/cb: http:// допускается только для приложения на компьютере самого пользователя (localhost, 127.0.0.1). Используйте https://.",
			"http is allowed only for loopback hosts"},
		{"public client_credentials, zh-Hant", "zh-Hant", func() *response {
			return b.register(appForm("Fax", "https://fax.example/cb", false, "client_credentials"))
		}, http.StatusUnprocessableEntity,
			"Client Credentials 授權需要機密應用程式：公開應用程式沒有可用於驗證的 Client Secret。",
			"client_credentials needs a confidential client"},
		{"host bits, zh-Hant", "zh-Hant", func() *response { return addIP("203.0.113.7/24") }, http.StatusUnprocessableEntity,
			"「203.0.113.7/24」在前綴之後還有非零位元。您是想輸入 203.0.113.0/24 嗎？",
			"has host bits set"},
		{"every address, ru", "ru", func() *response { return addIP("0.0.0.0/0") }, http.StatusUnprocessableEntity,
			"0.0.0.0/0 разрешает любой адрес — так уже работает пустой белый список. Лучше удалите записи.",
			"which is what no allowlist means"},
		{"bad address, ru", "ru", func() *response { return addIP("010.0.0.1") }, http.StatusUnprocessableEntity,
			"«010.0.0.1» — неверный IP-адрес.",
			"is not a valid IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.header.Set("Accept-Language", tc.lang)
			defer b.header.Del("Accept-Language")
			res := tc.do()
			wantStatus(t, res, tc.status)
			wantBody(t, res, `<html lang="`+tc.lang+`">`, html.EscapeString(tc.want))
			wantNoBody(t, res, tc.never)
		})
	}
}

// TestErrorPageSaysTheReason: a refusal that is not a form's (the IP
// whitelist of a user without a token, 409) shows the domain's reason in
// the reader's language on the error page, under the generic text.
func TestErrorPageSaysTheReason(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("owner@acme.test")
	for lang, want := range map[string]string{
		"ru":      "У пользователя нет API-токена. Сначала создайте его.",
		"zh-Hant": "此使用者沒有 API Token。請先產生一個。",
	} {
		b.header.Set("Accept-Language", lang)
		res := b.get("/console/users/" + vendor.UserID + "/ip-whitelist/new")
		wantStatus(t, res, http.StatusConflict)
		wantBody(t, res, `<html lang="`+lang+`">`, `<p class="error-reason">`+html.EscapeString(want)+`</p>`)
		wantNoBody(t, res, "the user has no API token")
	}
}
