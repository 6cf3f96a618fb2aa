package console_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestAuditNamesCredentials: the audit page shows a credential's events
// by the credential's name with its id, as it shows users and
// integrations (issue 14): a PAT by its name, a staff API token by its
// holder's email, for create, revoke and delete alike.
func TestAuditNamesCredentials(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@acme.test", gatehouse.RoleStaff)
	a := e.actor(e.tenantA, owner)
	pat := e.createPAT(e.tenantA, owner, "Nightly export")
	if err := e.admin.RevokeCredential(e.ctx, a, gatehouse.KindPAT, pat.ID); err != nil {
		t.Fatal(err)
	}
	stf, _, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindStaff, admin.CredentialInput{UserID: vendor.UserID, Scopes: []string{"sales"}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("owner@acme.test")
	del := "/console/users/" + vendor.UserID + "/api-token/delete"
	wantRedirect(t, b.submit(del, del, nil), "/console/users/"+vendor.UserID+"/api-auth")

	page := b.get("/console/audit")
	wantStatus(t, page, http.StatusOK)
	for _, w := range []struct{ action, name, id string }{
		{"pat.create", "Nightly export", pat.ID},
		{"pat.revoke", "Nightly export", pat.ID},
		{"staff_token.create", "vendor@acme.test", stf.ID},
		{"staff_token.delete", "vendor@acme.test", stf.ID},
	} {
		row := regexp.MustCompile(`<td[^>]*><code>` + regexp.QuoteMeta(w.action) + `</code></td>\s*<td class="wrap"[^>]*>` +
			regexp.QuoteMeta(w.name) + ` <code class="muted">` + regexp.QuoteMeta(w.id) + `</code></td>`)
		if !row.MatchString(page.body) {
			t.Errorf("no %s row naming %q with %s:\n%s", w.action, w.name, w.id, page.body)
		}
	}
}
