package e2e

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestAuditConsoleEvents (issue 14): console logins (success, failure,
// throttle), consent Allow and Deny, tenant switches and settings changes
// are in the audit log, with their targets by name and id; the console's
// audit page filters and exports them, shows the retention, and no tenant
// sees another's events.
func TestAuditConsoleEvents(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		te := testenv.New(t, testenv.Options{
			DatabaseURL: databaseURL,
			Config:      func(c *config.Config) { c.AuditRetention = 90 * 24 * time.Hour },
		})
		svc := te.Server.Admin
		ctx := te.Ctx
		bolt, boltOwner := te.NewTenant(testenv.Seed{Slug: "bolt", Name: "Bolt Shop", Email: "boss@bolt.test"})
		inBolt := te.AddMember(bolt, te.OwnerEmail, gatehouse.RoleAdmin)
		events := func(a admin.Actor, action string) []*gatehouse.AuditEvent {
			t.Helper()
			svc.WaitAudits()
			page, err := svc.Audit(ctx, a, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: action}, Limit: gatehouse.MaxAuditLimit})
			if err != nil {
				t.Fatal(err)
			}
			return page.Events
		}
		login := func(email, password string) (*http.Response, string) {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
			_, page := readPage(t)(c.Get(te.URL + "/console/login"))
			form := formFields(t, page, "/console/login")
			form.Set("email", email)
			form.Set("password", password)
			return readPage(t)(c.PostForm(te.URL+"/console/login", form))
		}

		// Failures: a wrong password is in each of the account's tenants;
		// an unknown email is in none, and answers the same.
		wrong, wrongPage := login(te.OwnerEmail, "wrong password!")
		unknown, unknownPage := login("nobody@acme.test", "wrong password!")
		if wrong.StatusCode != http.StatusUnauthorized || unknown.StatusCode != wrong.StatusCode {
			t.Fatalf("failed logins = %d, %d", wrong.StatusCode, unknown.StatusCode)
		}
		if strings.Contains(unknownPage, "nobody") != strings.Contains(wrongPage, te.OwnerEmail) ||
			len(strings.ReplaceAll(unknownPage, "nobody@acme.test", "")) != len(strings.ReplaceAll(wrongPage, te.OwnerEmail, "")) {
			t.Error("the answer to an unknown email differs from a wrong password's")
		}
		for _, a := range []admin.Actor{te.Owner, inBolt} {
			ev := events(a, admin.ActionLoginFailure)
			if len(ev) != 1 || ev[0].Actor != te.OwnerEmail || ev[0].TargetID != te.Owner.UserID || ev[0].TargetName != te.OwnerEmail ||
				ev[0].Details["reason"] != "password" || ev[0].IP != "127.0.0.1" {
				t.Errorf("login.failure in %s = %+v", a.TenantID, ev)
			}
		}
		if ev := events(boltOwner, "login.*"); len(ev) != 1 {
			t.Errorf("bolt's log has %d login events, want the one failure of its member", len(ev))
		}

		// Success: in the tenant the session starts in.
		c := te.Console(te.OwnerEmail, testenv.Password)
		if ev := events(te.Owner, admin.ActionLoginSuccess); len(ev) != 1 || ev[0].TargetID != te.Owner.UserID {
			t.Errorf("login.success = %+v", ev)
		}
		if ev := events(inBolt, admin.ActionLoginSuccess); len(ev) != 0 {
			t.Errorf("login.success in the tenant not entered = %+v", ev)
		}

		// Settings: each changed field's old and new value.
		c.Post("/console/settings", url.Values{"enhanced_security": {"1"}, "require_client_header": {"1"}, "password": {testenv.Password}})
		if ev := events(te.Owner, "settings.update"); len(ev) != 1 || len(ev[0].Changes) != 1 ||
			ev[0].Changes[0] != (gatehouse.AuditChange{Field: "enhanced_security", Old: "false", New: "true"}) {
			for _, e := range ev {
				t.Errorf("settings.update = %+v", *e)
			}
		}

		// Consent: Allow and Deny, naming the app.
		got := make(chan url.Values, 4)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Query() }))
		defer cb.Close()
		app := te.App(te.Owner, admin.ClientInput{Name: "Fax Sync", RedirectURIs: []string{cb.URL + "/cb"}, Scopes: []string{"catalog"}, Confidential: true})
		for _, decision := range []string{"deny", "allow"} {
			_, page := readPage(t)(c.HTTP.Get(app.Config.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))))
			form := formFields(t, page, "/oauth2/authorize")
			form.Set("decision", decision)
			readPage(t)(c.HTTP.PostForm(te.URL+"/oauth2/authorize", form))
			<-got
		}
		for action, n := range map[string]int{admin.ActionConsentAllow: 1, admin.ActionConsentDeny: 1} {
			ev := events(te.Owner, action)
			if len(ev) != n || ev[0].TargetID != app.ID || ev[0].TargetName != "Fax Sync" || ev[0].Details["scopes"] != "catalog" {
				t.Errorf("%s = %+v", action, ev)
			}
		}

		// Tenant switch: in the tenant entered, naming the one left.
		c.Post("/console/tenant", url.Values{"tenant_id": {bolt.ID}})
		// Security: it does not name the tenant left, which is none of
		// bolt's admins' business.
		if ev := events(inBolt, admin.ActionTenantSwitch); len(ev) != 1 || ev[0].TargetID != bolt.ID || ev[0].TargetName != "Bolt Shop" || len(ev[0].Details) != 0 {
			t.Errorf("tenant.switch = %+v", ev)
		}
		c.Post("/console/tenant", url.Values{"tenant_id": {te.Tenant.ID}})

		// Throttle: past the limit, one event per window however many
		// refusals.
		for range 8 {
			login(te.OwnerEmail, "wrong password!")
		}
		if ev := events(te.Owner, admin.ActionLoginThrottled); len(ev) != 1 || ev[0].TargetID != te.Owner.UserID || ev[0].Details["retry_after"] == "" {
			t.Errorf("login.throttled = %+v", ev)
		}

		// The console page: filters, retention, export; bolt's owner sees
		// none of acme's events.
		resp, page := c.Get("/console/audit?action=" + url.QueryEscape("oauth_consent.*"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "oauth_consent.allow") || strings.Contains(page, "<code>login.success</code>") ||
			!strings.Contains(page, "Fax Sync") || !strings.Contains(page, app.ID) || !strings.Contains(page, "90 days") {
			t.Errorf("filtered audit page = %d:\n%s", resp.StatusCode, page)
		}
		resp, body := c.Get("/console/audit/export?format=csv&action=" + url.QueryEscape("login.*"))
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || resp.StatusCode != http.StatusOK || len(rows) < 4 {
			t.Fatalf("export = %d, %v:\n%s", resp.StatusCode, err, body)
		}
		for _, row := range rows[1:] {
			if !strings.HasPrefix(row[3], "login.") {
				t.Errorf("export row %v", row)
			}
		}
		if resp, page := c.Get("/console/audit?since=yesterday"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) {
			t.Errorf("a bad time = %d", resp.StatusCode)
		}
		boss := te.Console("boss@bolt.test", testenv.Password)
		_, page = boss.Get("/console/audit")
		_, export := boss.Get("/console/audit/export?format=jsonl")
		if strings.Contains(page, "Fax Sync") || strings.Contains(export, "Fax Sync") || strings.Contains(export, te.Tenant.ID) || strings.Contains(export, te.Tenant.Name) {
			t.Error("bolt's owner sees acme's events")
		}
		staff := te.AddMember(te.Tenant, "staff@acme.test", gatehouse.RoleStaff)
		var buf bytes.Buffer
		if err := svc.ExportAudit(ctx, staff, gatehouse.AuditFilter{}, admin.ExportCSV, &buf); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN || buf.Len() != 0 {
			t.Errorf("staff export = %v, %d bytes", err, buf.Len())
		}
	})
}
