package console

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/web"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// englishIDs returns the message IDs of the English catalogue.
func englishIDs(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, m := range parseLocale(t, "active.en.toml").Messages {
		ids[m.ID] = true
	}
	if len(ids) == 0 {
		t.Fatal("empty English catalogue")
	}
	return ids
}

func parseLocale(t *testing.T, name string) *i18n.MessageFile {
	t.Helper()
	data, err := fs.ReadFile(web.Locales(), name)
	if err != nil {
		t.Fatal(err)
	}
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	mf, err := b.ParseMessageFileBytes(data, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return mf
}

var (
	tCallRE   = regexp.MustCompile(`\bT\s+"([^"]+)"`)
	msgCallRE = regexp.MustCompile(`\bmsg\("([^"]+)"\)`)
	withIDRE  = regexp.MustCompile(`\.WithID\("([^"]+)"`)
)

// TestCatalogueComplete checks that every message ID the templates (T
// "…"), the Go code (msg("…")), the kind table (DisplayKey), the
// notifications (noticeMessages) and the domain's errors (WithID("…"))
// use exists in English, and that every
// other language only translates IDs English has.
func TestCatalogueComplete(t *testing.T) {
	en := englishIDs(t)
	used := map[string]string{}
	err := fs.WalkDir(web.Templates(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Templates(), p)
		if err != nil {
			return err
		}
		for _, m := range tCallRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgCallRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	// The kinds' names, which lists and filters show (KindSpec.DisplayKey).
	for _, k := range gatehouse.Kinds() {
		used[k.DisplayKey] = "kinds.go (" + string(k.Kind) + ")"
	}
	for id := range noticeMessages {
		used[id] = "noticeMessages"
	}
	// The message ids of the domain's errors the console shows
	// (gatehouse.Error.WithID), made in the admin service and the root.
	domainFiles, _ := filepath.Glob("../admin/*.go")
	rootFiles, _ := filepath.Glob("../../*.go")
	withIDs := 0
	for _, f := range append(domainFiles, rootFiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range withIDRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
			withIDs++
		}
	}
	if withIDs < 5 {
		t.Fatalf("found only %d WithID message ids; is the scan broken?", withIDs)
	}
	if len(used) < 100 {
		t.Fatalf("found only %d message uses; is the scan broken?", len(used))
	}
	for id, where := range used {
		if !en[id] {
			t.Errorf("%s uses message %q, which active.en.toml lacks", where, id)
		}
	}

	files, _ := fs.Glob(web.Locales(), "*.toml")
	if len(files) < 4 {
		t.Fatalf("locale files: %v", files)
	}
	for _, f := range files {
		mf := parseLocale(t, f)
		if mf.Tag == language.Und {
			t.Errorf("%s: no language tag in the file name", f)
		}
		for _, m := range mf.Messages {
			if !en[m.ID] {
				t.Errorf("%s translates %q, which English lacks", f, m.ID)
			}
		}
	}
	if _, err := loadCatalog(web.Locales()); err != nil {
		t.Fatal(err)
	}
}

// pluralForms are the CLDR plural categories each catalogue language
// needs for a message English writes with plural forms (CLDR plural rules:
// English one/other, Russian one/few/many/other, Chinese other only).
var pluralForms = map[string][]string{
	"en":      {"one", "other"},
	"ru":      {"one", "few", "many", "other"},
	"zh-Hans": {"other"},
	"zh-Hant": {"other"},
}

// placeholderRE finds a message's template actions ({{.Name}}).
var placeholderRE = regexp.MustCompile(`\{\{-?\s*(.*?)\s*-?\}\}`)

// forms returns a message's non-empty plural forms by CLDR category.
func forms(m *i18n.Message) map[string]string {
	f := map[string]string{}
	for k, v := range map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

// placeholders returns the set of template actions of all of a message's
// forms.
func placeholders(m *i18n.Message) map[string]bool {
	p := map[string]bool{}
	for _, v := range forms(m) {
		for _, a := range placeholderRE.FindAllStringSubmatch(v, -1) {
			p[a[1]] = true
		}
	}
	return p
}

func sortedKeys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// TestEveryLanguageWhole checks that every language translates every
// English message, with the same placeholders as English in every form,
// and with each plural form the language's CLDR rule needs: a reader of
// ru, zh-Hans or zh-Hant never sees English.
func TestEveryLanguageWhole(t *testing.T) {
	en := map[string]*i18n.Message{}
	for _, m := range parseLocale(t, "active.en.toml").Messages {
		en[m.ID] = m
	}
	files, _ := fs.Glob(web.Locales(), "*.toml")
	for _, f := range files {
		mf := parseLocale(t, f)
		tag := mf.Tag.String()
		need, ok := pluralForms[tag]
		if !ok {
			t.Errorf("%s: add %s's CLDR plural forms to pluralForms", f, tag)
			continue
		}
		got := map[string]*i18n.Message{}
		for _, m := range mf.Messages {
			got[m.ID] = m
		}
		var missing []string
		for id, em := range en {
			m := got[id]
			if m == nil {
				missing = append(missing, id)
				continue
			}
			fm := forms(m)
			plural := em.One != "" || em.Few != "" || em.Many != ""
			if plural {
				for _, form := range need {
					if fm[form] == "" {
						t.Errorf("%s: %q lacks the plural form %q", f, id, form)
					}
				}
			} else if len(fm) != 1 || fm["other"] == "" {
				t.Errorf("%s: %q has plural forms, English has none", f, id)
			}
			want := placeholders(em)
			for form, text := range fm {
				have := placeholders(&i18n.Message{Other: text})
				if strings.Join(sortedKeys(have), " ") != strings.Join(sortedKeys(want), " ") {
					t.Errorf("%s: %q (%s) has placeholders %v, English %v", f, id, form, sortedKeys(have), sortedKeys(want))
				}
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s lacks %d of English's %d messages:\n%s", f, len(missing), len(en), strings.Join(missing, "\n"))
		}
	}
}

func TestPickLanguage(t *testing.T) {
	cat, err := loadCatalog(web.Locales())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ user, accept, want string }{
		{"", "", "en"},
		{"", "ru", "ru"},
		{"", "ru-RU,ru;q=0.9,en-US;q=0.8", "ru"},
		{"", "de-DE,ru;q=0.5", "ru"},
		{"", "de-DE", "en"},
		{"", "zh-TW", "zh-Hant"},
		{"", "zh-HK", "zh-Hant"},
		{"", "zh-CN", "zh-Hans"},
		{"", "zh", "zh-Hans"},
		{"ru", "zh-TW", "ru"},
		{"bogus!!", "ru", "ru"},
		{"", "garbage;;;q=x", "en"},
	} {
		if got := cat.pick(tc.user, tc.accept).String(); got != tc.want {
			t.Errorf("pick(%q, %q) = %s, want %s", tc.user, tc.accept, got, tc.want)
		}
	}
	loc := cat.localizer(language.Russian, nil)
	if got := loc.T("pat.form.expires.days", "Count", 5); got != "5 дней" {
		t.Errorf("plural = %q", got)
	}
	if got := loc.T("settings.save"); got != "Сохранить конфигурацию" {
		t.Errorf("settings.save = %q", got)
	}
	// A message a language lacks (only in a catalogue the test builds: the
	// shipped ones are whole) falls back to English.
	partial, err := loadCatalog(fstest.MapFS{
		"active.en.toml": {Data: []byte(`"a" = "A"` + "\n" + `"b" = "B"`)},
		"active.ru.toml": {Data: []byte(`"a" = "А"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := partial.localizer(language.Russian, nil).T("b"); got != "B" {
		t.Errorf("fallback = %q", got)
	}
	if got := loc.T("no.such.message"); got != "no.such.message" {
		t.Errorf("missing = %q", got)
	}
}

// sampleViews is a filled view model for every page.
func sampleViews() map[string]viewModel {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := now.AddDate(0, 1, 0)
	user := &gatehouse.User{ID: "usr_1", Email: "owner@acme.test"}
	base := func(title, nav string) Base {
		return Base{
			Title: title, Nav: nav, User: user, Role: gatehouse.RoleOwner, TenantID: "ten_1",
			Tenants: []TenantOption{{ID: "ten_1", Name: "Acme", Slug: "acme", Role: gatehouse.RoleOwner}, {ID: "ten_2", Name: "Bolt", Slug: "bolt", Role: gatehouse.RoleStaff}},
			Flash:   &Flash{Kind: "success", Message: "flash.settings_saved"},
			Path:    "/console/tokens",
		}
	}
	tree, _ := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	res := func(id string) *gatehouse.Resource { r, _ := tree.Find(id); return r }
	row := credentialRow{ID: "crd_1", Name: "Export <script>", Hint: "gate_pat_AbCd…", Holder: "owner@acme.test", Scopes: []string{"sales", "verify"}, CreatedAt: now, ExpiresAt: &later, LastUsedAt: &now, Expired: true}
	row2 := credentialRow{ID: "crd_2", Name: "Forever", Hint: "gate_pat_XyZw…", Scopes: []string{"all"}, CreatedAt: now}
	keyRow := credentialRow{ID: "crd_3", Name: "Amazon Sales Channel", Hint: "gate_key_AbCd…", Scopes: []string{"all"}, CreatedAt: now, LastUsedAt: &now, ExpiresAt: &later, Expired: true}
	staffRow := credentialRow{ID: "crd_4", Name: "API Auth", Hint: "gate_stf_AbCd…", Holder: "vendor@partner.test", Scopes: []string{"catalog.products", "verify"}, CreatedAt: now, ExpiresAt: &now, Expired: true, AllowEntries: 2}
	form := func(p *credentialPage, action string, v credentialValues, fe *FormErrors) credentialForm {
		return credentialForm{credentialValues: v, Page: p, Action: action, Nonce: "n", Errors: fe, Min: "2026-03-01",
			Picker: pickerOf(tree, v.Scopes, fe, p.MayManage), Advanced: p.Form.Advanced != ""}
	}
	staffMember := memberRow{UserID: "usr_3", Email: "vendor@partner.test", Role: gatehouse.RoleStaff, CreatedAt: now}
	app := oauthAppRow{ID: "APIK-1", Name: "Fax <b>", Confidential: true, RedirectURIs: []string{"https://a.test/cb"}, Scopes: []string{"all"}, GrantTypes: []string{"authorization_code", "refresh_token"}, SecretHint: "AbCd…", PrevSecretExpiresAt: &later, CreatedAt: now}
	publicApp := oauthAppRow{ID: "APIK-2", Name: "SPA", RedirectURIs: []string{"http://127.0.0.1:8/cb"}, Scopes: []string{"sales"}, GrantTypes: []string{"authorization_code"}, CreatedAt: now}
	integ := integrationRow{ID: "int_1", Name: "Shop <b>", Email: "a@b.test", CallbackURL: "http://x.test/cb", IdentityLinkURL: "http://x.test/login", Status: "pending", Insecure: true, ConsumerKey: "ck", CreatedAt: now}
	activeInteg := integrationRow{ID: "int_2", Name: "ERP", Status: "active", ConsumerKey: "ck2", CreatedAt: now}
	fe := &FormErrors{Fields: map[string]string{"grant_types": "bad grants", "redirect_uris": "bad uris", "grace_period": "bad grace", "cidr": "bad cidr", "description": "bad description", "name": "bad name", "scopes": "bad scopes", "expires_at": "bad date", "email": "bad email", "role": "bad role", "password": "bad password"}, Form: "form problem"}
	// A later page of a search (both page links) and a first page.
	laterPage := func(path, placeholder string, statuses []statusOption) *listNav {
		return &listNav{URL: path, Placeholder: placeholder, Query: "ci <b>", Status: "expired", Statuses: statuses,
			Next: path + "?next=abc&q=ci", First: path + "?q=ci"}
	}
	first := func(path, placeholder string) *listNav { return &listNav{URL: path, Placeholder: placeholder} }
	return map[string]viewModel{
		"login": &loginView{Base: Base{Title: "login.title"}, Email: "a@b.test", Next: "/console/users", Errors: &FormErrors{Form: "wrong"}},
		"error": &errorView{Base: base("error.forbidden.title", ""), Status: 403, Heading: "error.forbidden.title", Message: "error.forbidden.message"},
		"credentials/pat": &credentialsView{
			Base: base("pat.title", "tokens"), Page: &patPage, Rows: []credentialRow{row, row2},
			List: laterPage("/console/tokens", "list.search.credentials", credentialStatuses),
			Form: form(&patPage, "/console/tokens", credentialValues{Name: "x", ExpiresAt: "2026-04-01", Scopes: map[string]bool{"sales": true, "manage": true}}, fe),
		},
		"credentials/apikey": &credentialsView{
			Base: base("apikey.title", "api-keys"), Page: &apiKeyPage, Rows: []credentialRow{keyRow},
			List: first("/console/api-keys", "list.search.credentials"),
			Form: form(&apiKeyPage, "/console/api-keys", credentialValues{Name: "x", Scopes: map[string]bool{"all": true}}, fe),
		},
		"credentials/empty": &credentialsView{Base: base("apikey.title", "api-keys"), Page: &apiKeyPage,
			List: laterPage("/console/api-keys", "list.search.credentials", credentialStatuses),
			Form: form(&apiKeyPage, "/console/api-keys", credentialValues{}, nil)},
		"credential_created/pat":    &credentialCreatedView{Base: base("pat.created.title", "tokens"), Page: &patPage, Secret: "gate_pat_secret", Row: credentialRow{Name: "Export", Scopes: []string{"all"}, ExpiresAt: &later}, Back: "/console/tokens"},
		"credential_created/apikey": &credentialCreatedView{Base: base("apikey.created.title", "api-keys"), Page: &apiKeyPage, Crumbs: apiKeyPage.Crumbs, Secret: "gate_key_secret", Row: credentialRow{Name: "Amazon", Scopes: []string{"all"}}, Back: "/console/api-keys"},
		"credential_created/staff": &credentialCreatedView{Base: base("staff.created.title", "users"), Page: &staffPage, Secret: "gate_stf_secret", Row: credentialRow{Name: "API Auth", Holder: staffMember.Email, Scopes: []string{"sales"}},
			Crumbs: []crumb{{Href: "/console/users", Label: "users.heading"}, {Href: "/console/users/usr_3", Text: staffMember.Email}, {Label: "user.tab.api_auth"}}, Back: "/console/users/usr_3/api-auth"},
		"credential_revoke/pat":    &credentialRevokeView{Base: base("pat.revoke.title", "tokens"), Page: &patPage, Row: row, Action: "/console/tokens/crd_1/revoke", Back: "/console/tokens"},
		"credential_revoke/apikey": &credentialRevokeView{Base: base("apikey.revoke.title", "api-keys"), Page: &apiKeyPage, Crumbs: apiKeyPage.Crumbs, Row: keyRow, Action: "/console/api-keys/crd_3/revoke", Back: "/console/api-keys"},
		"credential_revoke/staff": &credentialRevokeView{Base: base("staff.delete.title", "users"), Page: &staffPage, Row: staffRow,
			Crumbs: []crumb{{Href: "/console/users", Label: "users.heading"}, {Href: "/console/users/usr_3/api-auth", Text: staffMember.Email}},
			Action: "/console/users/usr_3/api-token/delete", Back: "/console/users/usr_3/api-auth"},
		"users": &usersView{
			Base:    base("users.title", "users"),
			Members: []memberRow{{UserID: "usr_1", Email: "owner@acme.test", Role: gatehouse.RoleOwner, CreatedAt: now, Self: true}, {UserID: "usr_2", Email: "s@acme.test", Role: gatehouse.RoleStaff, CreatedAt: now}},
			Roles:   roleOptions, Form: userForm{Email: "n@acme.test", Role: gatehouse.RoleAdmin}, Errors: fe,
			RowErrors: map[string]string{"usr_1": "a tenant must keep at least one owner"},
			List:      laterPage("/console/users", "list.search.users", nil),
		},
		"user_remove": &userRemoveView{Base: base("users.remove.title", "users"), Member: memberRow{UserID: "usr_2", Email: "s@acme.test", Role: gatehouse.RoleStaff, CreatedAt: now, Self: true}},
		"user":        &userView{Base: base("user.title", "users"), Member: staffMember, Roles: roleOptions, Tab: "profile"},
		"user_owner":  &userOwnerView{Base: base("users.owner.title", "users"), Member: staffMember, Errors: fieldError("current_password", "wrong")},
		"user_api_auth": &apiAuthView{
			Base: base("staff.title", "users"), Member: staffMember, Tab: "api-auth", Page: &staffPage, Token: &staffRow,
			Entries: []allowRow{{ID: "ip_1", Name: "office <b>", CIDR: "203.0.113.0/24", CreatedAt: now}}, MaxEntries: 20,
			Form: form(&staffPage, "/console/users/usr_3/api-token", credentialValues{Scopes: map[string]bool{"sales": true}}, fe),
		},
		"user_api_auth/generate": &apiAuthView{
			Base: base("staff.title", "users"), Member: staffMember, Tab: "api-auth", Page: &staffPage, MaxEntries: 20,
			Form: form(&staffPage, "/console/users/usr_3/api-token", credentialValues{ExpiresAt: "2026-04-01T10:00", Scopes: map[string]bool{"sales": true}}, fe),
		},
		"ip_whitelist_new":    &ipWhitelistView{Base: base("staff.ip.new.title", "users"), Member: staffMember, Name: "办公室", CIDR: "10.0.0.1/8", Errors: fe, MaxEntries: 20, MaxName: 20},
		"ip_whitelist_delete": &ipWhitelistDeleteView{Base: base("staff.ip.delete.title", "users"), Member: staffMember, Entry: allowRow{ID: "ip_1", Name: "office", CIDR: "127.0.0.1/32"}},
		"oauth_apps": &oauthAppsView{
			Base: base("oauthapp.title", "oauth-apps"), Apps: []oauthAppRow{app, publicApp}, Enterprise: true,
			List:   first("/console/oauth-apps", "list.search.apps"),
			Form:   oauthAppForm{Name: "Fax <b>", RedirectURIs: "https://a.test/cb\nhttp://127.0.0.1:9/cb", Confidential: true, Grants: map[string]bool{"authorization_code": true}, Scopes: map[string]bool{"all": true}, Nonce: "n"},
			Errors: fe, Picker: pickerOf(tree, map[string]bool{"all": true}, fe, false),
			Grants: []grantOption{{Value: "authorization_code", Label: "oauthapp.grant.authorization_code", Help: "oauthapp.grant.authorization_code.help", Checked: true}},
		},
		"oauth_app_created": &oauthAppCreatedView{Base: base("oauthapp.created.title", "oauth-apps"), App: app, Secret: "s3cret", Links: []authorizeLink{{RedirectURI: "https://a.test/cb", URL: "http://gh.test/oauth2/authorize?response_type=code&client_id=APIK-1&redirect_uri=https%3A%2F%2Fa.test%2Fcb&scope=all"}}},
		"oauth_app":         &oauthAppView{Base: base("oauthapp.app.title", "oauth-apps"), App: app, Links: []authorizeLink{{RedirectURI: "https://a.test/cb", URL: "http://gh.test/x"}}},
		"my_api_token": &myAPITokenView{
			Base: base("me.token.title", "my-api-token"), Tenant: "Acme <b>", Token: &staffRow, Facts: staffRow.Cells(myTokenFacts),
			Entries: []allowRow{{ID: "ip_1", Name: "office <b>", CIDR: "203.0.113.0/24", CreatedAt: now}}, Max: 20, Manage: "/console/users/usr_3/api-auth",
		},
		"my_api_token/none": &myAPITokenView{Base: base("me.token.title", "my-api-token"), Tenant: "Acme", Max: 20},
		"profile":           &profileView{Base: base("profile.title", "profile"), Tenant: "Acme <b>"},
		"oauth_app_edit": &oauthAppEditView{
			Base: base("oauthapp.edit.title", "oauth-apps"), App: app,
			Form:   oauthAppForm{Name: "Fax <b>", RedirectURIs: "https://a.test/cb", Confidential: true, Grants: map[string]bool{"authorization_code": true}, Scopes: map[string]bool{"sales": true}},
			Errors: fe, Picker: pickerOf(tree, map[string]bool{"sales": true}, fe, false), Grants: grantOptions(true, map[string]bool{"authorization_code": true}),
		},
		"oauth_app_rotate": &oauthAppRotateView{Base: base("oauthapp.rotate.confirm.title", "oauth-apps"), App: app, Nonce: "n", Errors: fe,
			Graces: []graceChoice{{graceOption: graceOptions[0], ID: "grace-0", Checked: true}, {graceOption: graceOptions[1], ID: "grace-1"}}},
		"oauth_app_secret": &oauthAppSecretView{Base: base("oauthapp.rotated.title", "oauth-apps"), App: app, Secret: "s3cret"},
		"oauth_app_delete": &oauthAppDeleteView{Base: base("oauthapp.delete.title", "oauth-apps"), App: publicApp},
		"connected_apps": &connectedAppsView{Base: base("connected.title", "connected-apps"), Apps: []connectedAppRow{
			{ClientID: "APIK-1", Name: "Fax", Scopes: []consentScope{{ID: "all", Message: "consent.scope.all"}, {ID: "sales", Path: []*gatehouse.Resource{res("sales")}, Includes: []*gatehouse.Resource{res("sales.orders")}}}, Since: now},
			{ClientID: "APIK-2", Since: now},
		}},
		"connected_app_revoke": &connectedAppRevokeView{Base: base("connected.revoke.title", "connected-apps"), App: connectedAppRow{ClientID: "APIK-1", Name: "Fax", Since: now}},
		"oauth_consent": &consentView{
			Base: Base{Title: "consent.title"}, App: "Fax <script>", Tenant: "Demo Store", Account: "owner@acme.test", RedirectHost: "a.test",
			Scopes: []consentScope{{ID: "all", Message: "consent.scope.all"}, {ID: "sales.orders", Path: []*gatehouse.Resource{res("sales"), res("sales.orders")}}, {ID: "verify", Message: "consent.scope.verify"}},
			Params: []hiddenField{{"client_id", "APIK-1"}, {"state", "x\"y"}},
		},
		"oauth_error": &authorizeErrorViewModel{Base: Base{Title: "oauth.error.title"}, Status: 400, Heading: "oauth.error.title", Message: "oauth.error.redirect_uri", Detail: "invalid_request: redirect_uri is not registered"},
		"integrations": &integrationsView{
			Base: base("integration.title", "integrations"), Integrations: []integrationRow{integ, activeInteg},
			List:          laterPage("/console/integrations", "list.search.integrations", nil),
			Notifications: []notificationRow{{Message: `Integration "Shop <b>" has been authorized.`, Link: "/console/integrations/int_2", CreatedAt: now}},
		},
		"integration_form": &integrationFormView{
			Base: base("integration.edit.title", "integrations"), Edit: true, ID: "int_1",
			Form:   integrationForm{Name: "Shop <b>", Email: "a@b.test", CallbackURL: "http://x.test/cb", ResourceAccess: "custom", Resources: map[string]bool{"catalog": true}},
			Errors: &FormErrors{Fields: map[string]string{"password": "wrong", "resources": "none"}}, Tree: scopeTree(tree.Roots(), map[string]bool{"catalog": true}), Tab: "api", Nonce: "n",
		},
		"integration": &integrationView{
			Base: base("integration.page.title", "integrations"), Integration: integ, Scopes: []consentScope{{ID: "catalog", Path: []*gatehouse.Resource{res("catalog")}, Includes: res("catalog").Children}, {ID: "gone"}},
			Deliveries: []*deliveryRow{{Time: now, URL: "http://x.test/cb", Status: 500, Error: "the callback answered 500"}, {Time: now, URL: "http://x.test/cb", Status: 200}},
			ExchangeBy: &later, Expired: true, Nonce: "n",
		},
		"integration_activate":    &integrationAllowView{Base: base("integration.activate.title", "integrations"), Integration: integ, Scopes: []consentScope{{ID: "all", Message: "consent.scope.all"}}, Nonce: "n"},
		"integration_reauthorize": &integrationAllowView{Base: base("integration.reauthorize.title", "integrations"), Integration: activeInteg, Scopes: []consentScope{{ID: "sales", Path: []*gatehouse.Resource{res("sales")}}}, Nonce: "n"},
		"integration_activated": &integrationActivatedView{
			Base: base("integration.tokens.title", "integrations"), Integration: activeInteg, Reauthorized: true,
			ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "at", AccessTokenSecret: "ats", Expiry: 300 * time.Second, Nonce: "n",
		},
		"integration_delete": &integrationDeleteView{Base: base("integration.delete.title", "integrations"), Integration: integ},
		"settings":           &settingsView{Base: base("settings.title", "settings"), Groups: settingGroups(gatehouse.Settings{EnhancedSecurity: true}), Errors: fieldError("password", "wrong")},
		"audit": &auditView{
			Base: base("audit.title", "audit"),
			Events: []*gatehouse.AuditEvent{
				{ID: "aud_3", Time: now, Actor: "owner@acme.test", Action: "settings.update", Target: "enhanced_security=true", Changes: []gatehouse.AuditChange{{Field: "enhanced_security", Old: "false", New: "true"}}},
				{ID: "aud_2", Time: now, Actor: "owner@acme.test", Action: "login.failure", Target: "owner@acme.test", TargetID: "usr_1", TargetName: "owner@acme.test", IP: "203.0.113.7", Details: map[string]string{"reason": "password"}},
				{ID: "aud_1", Time: now, Actor: "operator", Action: "tenant.create", Target: "acme"},
			},
			Form: auditForm{Action: "pat.*"}, Filtered: true, NewestURL: "/console/audit?action=pat.%2A", OlderURL: "/console/audit?action=pat.%2A&next=x",
			CSVURL: "/console/audit/export?action=pat.%2A&format=csv", JSONLURL: "/console/audit/export?action=pat.%2A&format=jsonl",
			Paged: true, Retention: 90 * 24 * time.Hour, RetentionDays: 90,
		},
	}
}

func pickerOf(tree *gatehouse.ResourceTree, checked map[string]bool, fe *FormErrors, manage bool) scopePicker {
	return scopePicker{Legend: "pat.form.scopes", Help: "pat.form.scopes.help", Tree: scopeTree(tree.Roots(), checked), Checked: checked, Error: fe.Field("scopes"), Manage: manage}
}

// TestResourceTitlesInReadersLanguage: the scope tree, an integration's
// resources and the consent page title resources in the reader's language.
func TestResourceTitlesInReadersLanguage(t *testing.T) {
	cat, err := loadCatalog(web.Locales())
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{cat: cat, version: "test"}
	if c.pages, err = parseTemplates(web.Templates(), c.baseFuncs()); err != nil {
		t.Fatal(err)
	}
	views := sampleViews()
	for lang, want := range map[string]map[string][]string{
		"en":      {"credentials/pat": {"> Orders <code>sales.orders</code>"}, "integration": {"<strong>Catalog</strong>", "Products, Categories, Inventory", "<strong>gone</strong>"}, "oauth_consent": {"<strong>Sales › Orders</strong>"}},
		"ru":      {"credentials/pat": {"> Заказы <code>sales.orders</code>"}, "integration": {"<strong>Каталог</strong>", "Товары, Категории, Запасы"}, "oauth_consent": {"<strong>Продажи › Заказы</strong>"}},
		"zh-Hans": {"credentials/pat": {"> 订单 <code>sales.orders</code>"}, "integration_form": {"> 产品 <code>catalog.products</code>"}, "oauth_consent": {"<strong>销售 › 订单</strong>"}},
		"zh-Hant": {"credentials/pat": {"> 訂單 <code>sales.orders</code>"}, "integration_form": {"> 商品 <code>catalog.products</code>"}, "oauth_consent": {"<strong>銷售 › 訂單</strong>"}},
	} {
		loc := cat.localizer(language.MustParse(lang), nil)
		for name, subs := range want {
			var buf bytes.Buffer
			page, _, _ := strings.Cut(name, "/")
			if err := c.execute(&buf, page, loc, views[name]); err != nil {
				t.Fatal(err)
			}
			for _, sub := range subs {
				if !strings.Contains(buf.String(), sub) {
					t.Errorf("%s %s lacks %q", lang, name, sub)
				}
			}
		}
	}
}

// getFormRE finds a form that only reads (a list's search, the audit
// filter).
var getFormRE = regexp.MustCompile(`<form [^>]*method="get"`)

// TestEveryPageRenders executes every page template with a sample view
// model in every language; English must need no fallback.
func TestEveryPageRenders(t *testing.T) {
	cat, err := loadCatalog(web.Locales())
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{cat: cat, version: "test"}
	if c.pages, err = parseTemplates(web.Templates(), c.baseFuncs()); err != nil {
		t.Fatal(err)
	}
	views := sampleViews()
	sampled := map[string]bool{}
	for name := range views {
		page, _, _ := strings.Cut(name, "/") // "page/variant": another sample of page
		sampled[page] = true
	}
	for _, p := range pageNames {
		if !sampled[p] {
			t.Errorf("no sample view for page %q", p)
		}
	}
	for _, tag := range cat.tags {
		for name, v := range views {
			t.Run(tag.String()+"/"+name, func(t *testing.T) {
				var logs bytes.Buffer
				loc := cat.localizer(tag, slog.New(slog.NewTextHandler(&logs, nil)))
				v.base().Lang = loc.Lang()
				v.base().CSRF = "csrf-token-value"
				v.base().Languages = cat.langs
				var buf bytes.Buffer
				page, _, _ := strings.Cut(name, "/")
				if err := c.execute(&buf, page, loc, v); err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				if logs.Len() > 0 {
					t.Errorf("missing messages:\n%s", logs.String())
				}
				if !strings.Contains(out, `<html lang="`+tag.String()+`">`) || !strings.Contains(out, "</html>") {
					t.Errorf("incomplete page:\n%s", out)
				}
				if strings.Contains(out, "<script>") {
					t.Errorf("unescaped or inline script:\n%s", out)
				}
				// Every form that changes something (POST) carries the
				// CSRF token; a list's search (GET) changes nothing.
				gets := len(getFormRE.FindAllString(out, -1))
				if strings.Count(out, "<form")-gets != strings.Count(out, `name="csrf_token" value="csrf-token-value"`) {
					t.Errorf("a form without a CSRF field:\n%s", out)
				}
			})
		}
	}
}

func TestBrokenAssetsFailStartUp(t *testing.T) {
	good := fstest.MapFS{
		"layout/layout.html": {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
		"partials/p.html":    {Data: []byte(`{{define "p"}}{{end}}`)},
	}
	funcs := (&Console{}).baseFuncs()
	broken := fstest.MapFS{}
	for k, v := range good {
		broken[k] = v
	}
	broken["pages/login.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{if}}{{end}}`)}
	if _, err := parseTemplates(broken, funcs); err == nil {
		t.Error("a page that does not parse was accepted")
	}
	unknownFunc := fstest.MapFS{"pages/login.html": {Data: []byte(`{{define "content"}}{{Nope}}{{end}}`)}}
	for k, v := range good {
		unknownFunc[k] = v
	}
	if _, err := parseTemplates(unknownFunc, funcs); err == nil {
		t.Error("an unknown function was accepted")
	}
	if _, err := parseTemplates(good, funcs); err == nil {
		t.Error("missing pages were accepted")
	}
	badLocale := fstest.MapFS{"active.en.toml": {Data: []byte(`"a" = "x"`)}, "active.ru.toml": {Data: []byte(`"a" = `)}}
	if _, err := loadCatalog(badLocale); err == nil {
		t.Error("a broken locale file was accepted")
	}
}
