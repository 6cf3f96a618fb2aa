package console_test

import (
	"database/sql"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
)

var (
	staffTokenRE = regexp.MustCompile(`gate_stf_[0-9A-Za-z]{38}`)
	apiKeyRE     = regexp.MustCompile(`gate_key_[0-9A-Za-z]{38}`)
	nonceRE      = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

const (
	deleteEntryQuestion = "Are you sure you want to delete this? Once it is deleted, it cannot be restored."
	newIPButton         = "&#43;New IP Whitelist" // html/template escapes "+"
	vendorHint          = "Use different administrator emails for different partners to keep security responsibilities separate"
)

// formOf returns the CSRF token and nonce of page's form, ready to post.
func (b *browser) formOf(page string) url.Values {
	b.e.t.Helper()
	res := b.get(page)
	wantStatus(b.e.t, res, http.StatusOK)
	f := url.Values{"csrf_token": {html.UnescapeString(csrfRE.FindStringSubmatch(res.body)[1])}}
	if m := nonceRE.FindStringSubmatch(res.body); m != nil {
		f.Set("nonce", m[1])
	}
	return f
}

// actor is the admin actor of member m in tenant.
func (e *env) actor(tenant *gatehouse.Tenant, m *gatehouse.Member) admin.Actor {
	e.t.Helper()
	a, err := e.admin.ActorFor(e.ctx, tenant.ID, m.UserID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// staffToken finds the user's live staff token in the store (nil: none).
func (e *env) staffToken(tenant *gatehouse.Tenant, userID string) *gatehouse.Credential {
	e.t.Helper()
	list, err := e.store.ListCredentials(e.ctx, tenant.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindStaff, UserID: userID})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(list) > 1 {
		e.t.Fatalf("%d live staff tokens", len(list))
	}
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

// allowEntries counts every whitelist row in the database file.
func (e *env) allowEntries() int {
	e.t.Helper()
	db, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM allow_entries`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestStaffTokenGenerateShownOnce(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("owner@acme.test")
	userPath := "/console/users/" + vendor.UserID
	authPath := userPath + "/api-auth"

	// Users → the user (seed 001 step 3) → API Auth (step 4).
	list := b.get("/console/users")
	wantBody(t, list, `href="`+userPath+`"`, `href="`+authPath+`"`, vendorHint)
	profile := b.get(userPath)
	wantStatus(t, profile, http.StatusOK)
	wantBody(t, profile, "vendor@partner.test", "Profile", "API Auth", `action="`+userPath+`/role"`, `href="`+userPath+`/remove"`, vendorHint)
	page := b.get(authPath)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Generate", "Expired At", `type="datetime-local"`, "Recommended when sharing with a vendor",
		`value="catalog.products"`, `value="verify"`, vendorHint, "available once a token has been generated")
	// Staff tokens cannot hold "manage"; the whitelist button needs a token.
	wantNoBody(t, page, `value="manage"`, newIPButton)

	f := b.formOf(authPath)
	exp := e.clock.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
	f.Set("expires_at", exp.Format("2006-01-02T15:04"))
	f["scopes"] = []string{"catalog.products", "sales.orders"}
	res := b.post(userPath+"/api-token", f)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Make sure to copy the token now.", "Copy", "vendor@partner.test", "catalog.products")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("result page Cache-Control = %q", cc)
	}
	tok := staffTokenRE.FindString(res.body)
	if tok == "" {
		t.Fatalf("no token on the result page\n%s", res.body)
	}
	if _, ok := secret.ParseToken(tok); !ok {
		t.Fatalf("token %q does not parse", tok)
	}

	// The store holds the hash only.
	cred, err := e.store.FindCredentialByHash(e.ctx, secret.HashBytes(tok))
	if err != nil {
		t.Fatalf("credential by hash: %v", err)
	}
	if cred.Kind != gatehouse.KindStaff || cred.UserID != vendor.UserID || cred.TenantID != e.tenantA.ID {
		t.Errorf("credential = %+v", cred)
	}
	if cred.ExpiresAt == nil || !cred.ExpiresAt.Equal(exp) {
		t.Errorf("expires at %v, want %v", cred.ExpiresAt, exp)
	}
	if got := strings.Join(cred.Scopes, " "); got != "catalog.products sales.orders" {
		t.Errorf("scopes = %q", got)
	}
	wantNotInDB(t, e, tok, tok[9:30])

	// The tab now shows the token's hint and the whitelist, never the token.
	page = b.get(authPath)
	wantBody(t, page, html.EscapeString(cred.Hint), newIPButton, "Delete", exp.Format("2006-01-02 15:04"))
	wantNoBody(t, page, tok, `action="`+userPath+`/api-token"`)

	// A reload of the result page re-posts the form: no second token, no 409.
	wantRedirect(t, b.post(userPath+"/api-token", f), authPath)
	// A fresh Generate while the token exists is a 409 with a message.
	f2 := url.Values{"csrf_token": f["csrf_token"], "nonce": {"another-nonce"}, "scopes": {"all"}}
	res = b.post(userPath+"/api-token", f2)
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "This user already has an API token. Delete it before generating a new one.")
	if staffTokenRE.MatchString(res.body) {
		t.Error("a token was shown")
	}
	if c := e.staffToken(e.tenantA, vendor.UserID); c == nil || c.ID != cred.ID {
		t.Errorf("live token = %+v, want %s", c, cred.ID)
	}
}

func TestStaffTokenValidation(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("owner@acme.test")
	authPath := "/console/users/" + vendor.UserID + "/api-auth"
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"manage", url.Values{"scopes": {"catalog", "manage"}}, "The manage resource cannot be granted here."},
		{"no scopes", url.Values{}, "Choose at least one API."},
		{"past", url.Values{"scopes": {"sales"}, "expires_at": {"2001-01-01T10:00"}}, "The expiration date must be in the future."},
		{"garbage", url.Values{"scopes": {"sales"}, "expires_at": {"next week"}}, "Enter a date and time (YYYY-MM-DD HH:MM, UTC)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.submit(authPath, "/console/users/"+vendor.UserID+"/api-token", tc.form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, tc.want, "Expired At")
			if staffTokenRE.MatchString(res.body) {
				t.Error("a token was shown")
			}
		})
	}
	// Without a CSRF token nothing is generated.
	res := b.post("/console/users/"+vendor.UserID+"/api-token", url.Values{"scopes": {"all"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, csrfMessage)
	if c := e.staffToken(e.tenantA, vendor.UserID); c != nil {
		t.Fatalf("an invalid form generated %+v", c)
	}
	// Without Expired At the token never expires.
	res = b.submit(authPath, "/console/users/"+vendor.UserID+"/api-token", url.Values{"scopes": {"catalog", "verify"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Never expires")
	if c := e.staffToken(e.tenantA, vendor.UserID); c == nil || c.ExpiresAt != nil {
		t.Fatalf("token = %+v, want one without expiry", c)
	}
	// An unknown user is 404.
	wantStatus(t, b.get("/console/users/usr_nope/api-auth"), http.StatusNotFound)
	wantStatus(t, b.submit(authPath, "/console/users/usr_nope/api-token", url.Values{"scopes": {"all"}}), http.StatusNotFound)
}

func TestStaffIPWhitelist(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	b := e.browser()
	b.login("owner@acme.test")
	userPath := "/console/users/" + vendor.UserID
	authPath := userPath + "/api-auth"
	newPath := userPath + "/ip-whitelist/new"

	// Without a token there is no whitelist to add to: 409.
	wantStatus(t, b.get(newPath), http.StatusConflict)
	res := b.submit(authPath, userPath+"/ip-whitelist", url.Values{"name": {"office"}, "cidr": {"127.0.0.1"}})
	wantStatus(t, res, http.StatusConflict)

	if _, _, err := e.admin.CreateCredential(e.ctx, e.actor(e.tenantA, owner), gatehouse.KindStaff, admin.CredentialInput{UserID: vendor.UserID, Scopes: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	page := b.get(authPath)
	wantBody(t, page, `href="`+newPath+`"`, newIPButton, "0 of 20", "the token can be used from any address")
	form := b.get(newPath)
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, `name="name"`, `maxlength="20"`, `name="cidr"`)

	add := func(name, cidr string) *response {
		t.Helper()
		return b.submit(newPath, userPath+"/ip-whitelist", url.Values{"name": {name}, "cidr": {cidr}})
	}
	wantRedirect(t, add("office", "127.0.0.1"), authPath+"#ip-whitelist")
	wantRedirect(t, add("vendor-net", "203.0.113.0/24"), authPath+"#ip-whitelist")
	page = b.get(authPath)
	wantBody(t, page, "office", "<code>127.0.0.1</code>", "vendor-net", "203.0.113.0/24", "2 of 20", "The IP whitelist entry was added.")

	// Bad input re-renders the form with the field's message; nothing changes.
	for _, tc := range []struct{ name, cidr, field, want string }{
		{"abcdefghijklmnopqrstu", "10.0.0.1", "name", "The name must be 1 to 20 characters."},
		{"", "10.0.0.1", "name", "The name must be 1 to 20 characters."},
		{"bad", "010.0.0.1", "cidr", "“010.0.0.1” is not a valid IP address. Use a form such as 203.0.113.7"},
		{"bad", "0x7f.0.0.1", "cidr", "“0x7f.0.0.1” is not a valid IP address."},
		{"bad", "10.0.0.0/33", "cidr", "“10.0.0.0/33” is not a valid CIDR block."},
		{"bad", "203.0.113.7/24", "cidr", "“203.0.113.7/24” has bits set after the prefix. Did you mean 203.0.113.0/24?"},
		{"bad", "", "cidr", "Enter a valid IPv4 or IPv6 address or CIDR block"},
	} {
		t.Run(tc.field+"/"+tc.name+"/"+tc.cidr, func(t *testing.T) {
			res := add(tc.name, tc.cidr)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, tc.want, `value="`+html.EscapeString(tc.cidr)+`"`)
		})
	}
	// Names count characters, not bytes: 20 Chinese characters are fine.
	zh := strings.Repeat("辦", 20)
	wantRedirect(t, add(zh, "2001:db8::/32"), authPath+"#ip-whitelist")
	if tok := e.staffToken(e.tenantA, vendor.UserID); len(tok.AllowList) != 3 {
		t.Fatalf("%d entries, want 3", len(tok.AllowList))
	}

	// Delete one: a confirmation page, CSRF required.
	tok := e.staffToken(e.tenantA, vendor.UserID)
	var officeID string
	for _, en := range tok.AllowList {
		if en.Name == "office" {
			officeID = en.ID
		}
	}
	delPath := userPath + "/ip-whitelist/" + officeID + "/delete"
	wantBody(t, b.get(authPath), `href="`+delPath+`"`)
	confirm := b.get(delPath)
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, deleteEntryQuestion, "office", "<code>127.0.0.1</code>", `action="`+delPath+`"`)
	res = b.post(delPath, url.Values{})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, csrfMessage)
	if n := len(e.staffToken(e.tenantA, vendor.UserID).AllowList); n != 3 {
		t.Fatalf("%d entries after a forged delete, want 3", n)
	}
	wantRedirect(t, b.submit(delPath, delPath, nil), authPath+"#ip-whitelist")
	page = b.get(authPath)
	wantBody(t, page, "The IP whitelist entry was deleted.", "vendor-net", "2 of 20")
	wantNoBody(t, page, "<code>127.0.0.1</code>")
	wantStatus(t, b.get(delPath), http.StatusNotFound)
	wantStatus(t, b.submit(authPath, delPath, nil), http.StatusNotFound)

	// A CSRF-less add changes nothing either.
	res = b.post(userPath+"/ip-whitelist", url.Values{"name": {"evil"}, "cidr": {"0.0.0.0/0"}})
	wantStatus(t, res, http.StatusForbidden)

	// At most 20 entries: the button goes, the form says so, the 21st is refused.
	a := e.actor(e.tenantA, owner)
	for i := len(e.staffToken(e.tenantA, vendor.UserID).AllowList); i < gatehouse.MaxAllowEntries; i++ {
		if _, err := e.admin.AddStaffAllowEntry(e.ctx, a, vendor.UserID, fmt.Sprintf("net-%d", i), fmt.Sprintf("198.51.100.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	page = b.get(authPath)
	wantBody(t, page, "20 of 20", "This token has the maximum of 20 IP whitelist entries. Delete one to add another.")
	wantNoBody(t, page, newIPButton)
	form = b.get(newPath)
	wantBody(t, form, "maximum of 20")
	wantNoBody(t, form, `name="cidr"`)
	res = add("one-more", "192.0.2.1")
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "This token has the maximum of 20 IP whitelist entries.")
	if n := len(e.staffToken(e.tenantA, vendor.UserID).AllowList); n != 20 {
		t.Fatalf("%d entries, want 20", n)
	}
}

func TestStaffTokenDelete(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendor := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	a := e.actor(e.tenantA, owner)
	exp := e.clock.Now().Add(time.Hour)
	old, oldTok, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindStaff, admin.CredentialInput{UserID: vendor.UserID, Scopes: []string{"sales"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range [][2]string{{"office", "127.0.0.1"}, {"vendor-net", "203.0.113.0/24"}} {
		if _, err := e.admin.AddStaffAllowEntry(e.ctx, a, vendor.UserID, en[0], en[1]); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login("owner@acme.test")
	userPath := "/console/users/" + vendor.UserID
	authPath := userPath + "/api-auth"
	delPath := userPath + "/api-token/delete"

	wantNoBody(t, b.get(authPath), "badge-warn", "has expired")
	// Once expired, the tab says so and tells what to do (seed 001).
	e.clock.Advance(2 * time.Hour)
	b.login("owner@acme.test") // the session idled out meanwhile
	page := b.get(authPath)
	wantBody(t, page, `<span class="badge badge-warn">Expired</span>`, "This token has expired. Delete it and generate a new one.", "empty IP whitelist", `href="`+delPath+`"`)

	confirm := b.get(delPath)
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "Are you sure?", "2 entries, deleted with the token", `action="`+delPath+`"`, html.EscapeString(old.Hint))
	if e.staffToken(e.tenantA, vendor.UserID) == nil {
		t.Fatal("the confirmation page deleted the token")
	}
	wantStatus(t, b.post(delPath, url.Values{}), http.StatusForbidden) // no CSRF token
	if e.staffToken(e.tenantA, vendor.UserID) == nil || e.allowEntries() != 2 {
		t.Fatal("a forged delete changed something")
	}
	wantRedirect(t, b.submit(delPath, delPath, nil), authPath)
	if c := e.staffToken(e.tenantA, vendor.UserID); c != nil {
		t.Fatalf("token still there: %+v", c)
	}
	// Ended as every credential ends: revoked (verification answers
	// REVOKED), not erased (UNKNOWN).
	if c, err := e.store.FindCredentialByHash(e.ctx, secret.HashBytes(oldTok)); err != nil || !c.Revoked() || len(c.AllowList) != 0 {
		t.Errorf("old token by hash: %+v, %v; want revoked without a whitelist", c, err)
	}
	if n := e.allowEntries(); n != 0 {
		t.Errorf("%d whitelist entries left after deleting the token", n)
	}
	page = b.get(authPath)
	wantBody(t, page, "The API token and its IP whitelist were deleted.", "Generate")
	wantNoBody(t, page, "office", newIPButton)
	wantStatus(t, b.get(delPath), http.StatusNotFound)

	// Regenerate: the new token starts with an empty whitelist.
	res := b.submit(authPath, userPath+"/api-token", url.Values{"scopes": {"sales"}})
	wantStatus(t, res, http.StatusOK)
	tok := staffTokenRE.FindString(res.body)
	c, err := e.store.FindCredentialByHash(e.ctx, secret.HashBytes(tok))
	if err != nil || len(c.AllowList) != 0 || c.ID == old.ID {
		t.Fatalf("regenerated token %+v %v, want a new one with an empty whitelist", c, err)
	}
	wantBody(t, b.get(authPath), "0 of 20", newIPButton)
}

func TestStaffAndAPIKeysIsolation(t *testing.T) {
	e := newEnv(t)
	ownerA := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	vendorA := e.member(e.tenantA, "vendor@partner.test", gatehouse.RoleStaff)
	e.member(e.tenantB, "boss@bolt.test", gatehouse.RoleOwner)
	a := e.actor(e.tenantA, ownerA)
	if _, _, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindStaff, admin.CredentialInput{UserID: vendorA.UserID, Scopes: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	entry, err := e.admin.AddStaffAllowEntry(e.ctx, a, vendorA.UserID, "office", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := e.admin.CreateCredential(e.ctx, a, gatehouse.KindAPIKey, admin.CredentialInput{Name: "Amazon Sales Channel"})
	if err != nil {
		t.Fatal(err)
	}
	tokBefore := e.staffToken(e.tenantA, vendorA.UserID)

	intruder := e.browser()
	intruder.login("boss@bolt.test")
	u := "/console/users/" + vendorA.UserID
	for _, p := range []string{u, u + "/api-auth", u + "/api-token/delete", u + "/ip-whitelist/new",
		u + "/ip-whitelist/" + entry.ID + "/delete", "/console/api-keys/" + key.ID + "/revoke"} {
		res := intruder.get(p)
		wantStatus(t, res, http.StatusNotFound)
		wantNoBody(t, res, "vendor@partner.test", tokBefore.Hint, "Amazon Sales Channel")
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{u + "/api-token", url.Values{"scopes": {"all"}}},
		{u + "/api-token/delete", nil},
		{u + "/ip-whitelist", url.Values{"name": {"evil"}, "cidr": {"0.0.0.0/0"}}},
		{u + "/ip-whitelist/" + entry.ID + "/delete", nil},
		{"/console/api-keys/" + key.ID + "/revoke", nil},
	} {
		res := intruder.submit("/console/api-keys", tc.path, tc.form)
		wantStatus(t, res, http.StatusNotFound)
		wantNoBody(t, res, "vendor@partner.test")
	}
	wantNoBody(t, intruder.get("/console/api-keys"), ">Amazon Sales Channel</td>")
	tok := e.staffToken(e.tenantA, vendorA.UserID)
	if tok == nil || tok.ID != tokBefore.ID || len(tok.AllowList) != 1 {
		t.Fatalf("tenant A's token changed from tenant B: %+v", tok)
	}
	if k, _ := e.store.FindCredential(e.ctx, e.tenantA.ID, key.ID); k.Revoked() {
		t.Fatal("tenant B revoked tenant A's API key")
	}
}

func TestStaffRoleForbiddenOnNewPages(t *testing.T) {
	e := newEnv(t)
	owner := e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	staff := e.member(e.tenantA, "staff@acme.test", gatehouse.RoleStaff)
	key, _, err := e.admin.CreateCredential(e.ctx, e.actor(e.tenantA, owner), gatehouse.KindAPIKey, admin.CredentialInput{Name: "Amazon Sales Channel"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("staff@acme.test")
	for _, id := range []string{staff.UserID, owner.UserID} {
		u := "/console/users/" + id
		for _, p := range []string{u, u + "/api-auth", u + "/api-token/delete", u + "/ip-whitelist/new"} {
			res := b.get(p)
			wantStatus(t, res, http.StatusForbidden)
			wantBody(t, res, "Access denied")
		}
		res := b.submit("/console/tokens", u+"/api-token", url.Values{"scopes": {"all"}})
		wantStatus(t, res, http.StatusForbidden)
		res = b.submit("/console/tokens", u+"/ip-whitelist", url.Values{"name": {"x"}, "cidr": {"0.0.0.0/0"}})
		wantStatus(t, res, http.StatusForbidden)
	}
	for _, p := range []string{"/console/api-keys", "/console/api-keys/" + key.ID + "/revoke"} {
		res := b.get(p)
		wantStatus(t, res, http.StatusForbidden)
		wantBody(t, res, "Access denied")
		wantNoBody(t, res, "Amazon Sales Channel")
	}
	wantStatus(t, b.submit("/console/tokens", "/console/api-keys", url.Values{"description": {"mine"}}), http.StatusForbidden)
	wantStatus(t, b.submit("/console/tokens", "/console/api-keys/"+key.ID+"/revoke", nil), http.StatusForbidden)
	creds, _ := e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{})
	if len(creds) != 1 || creds[0].Revoked() {
		t.Errorf("staff changed credentials: %+v", creds)
	}
}

func TestAPIPortal(t *testing.T) {
	e := newEnv(t)
	e.member(e.tenantA, "owner@acme.test", gatehouse.RoleOwner)
	b := e.browser()
	b.login("owner@acme.test")

	page := b.get("/console/api-keys")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "API Portal", `placeholder="Amazon Sales Channel"`, "Add New", "Advanced",
		`value="all" class="js-scope-all" checked`, `href="/console/api-keys" aria-current="page"`, "No API keys yet.")
	wantNoBody(t, page, `value="manage"`)
	wantBody(t, b.get("/console/tokens"), `href="/console/api-keys"`)

	// Add New with only a description: scopes default to all, no expiry.
	f := b.formOf("/console/api-keys")
	f.Set("description", "Amazon Sales Channel")
	res := b.post("/console/api-keys", f)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Make sure to copy the key now.", "Copy", "Amazon Sales Channel", "X-Api-Key")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("result page Cache-Control = %q", cc)
	}
	key := apiKeyRE.FindString(res.body)
	if key == "" {
		t.Fatalf("no key on the result page\n%s", res.body)
	}
	cred, err := e.store.FindCredentialByHash(e.ctx, secret.HashBytes(key))
	if err != nil {
		t.Fatal(err)
	}
	if cred.Kind != gatehouse.KindAPIKey || cred.Name != "Amazon Sales Channel" || cred.ExpiresAt != nil ||
		strings.Join(cred.Scopes, " ") != "all" || cred.TenantID != e.tenantA.ID {
		t.Errorf("key = %+v", cred)
	}
	wantNotInDB(t, e, key, key[9:30])
	// A reload makes no second key.
	wantRedirect(t, b.post("/console/api-keys", f), "/console/api-keys")

	// With Advanced: an expiry and scopes.
	exp := e.clock.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)
	res = b.submit("/console/api-keys", "/console/api-keys", url.Values{"description": {"Reports"}, "expires_at": {exp}, "scopes": {"reports", "verify"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "reports", exp+" 23:59")

	list := b.get("/console/api-keys")
	wantBody(t, list, ">Amazon Sales Channel</td>", html.EscapeString(cred.Hint), "Reports", "Never used", `href="/console/api-keys/`+cred.ID+`/revoke"`)
	wantNoBody(t, list, key)

	// Bad input.
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"description": {"  "}}, "Enter a description of 1 to 200 characters."},
		{url.Values{"description": {"x"}, "scopes": {"manage"}}, "The manage resource cannot be granted here."},
		{url.Values{"description": {"x"}, "expires_at": {"2001-01-01"}}, "The expiration date must be in the future."},
		{url.Values{"description": {"x"}, "expires_at": {"soon"}}, "Enter a date as YYYY-MM-DD."},
	} {
		res := b.submit("/console/api-keys", "/console/api-keys", tc.form)
		wantStatus(t, res, http.StatusUnprocessableEntity)
		wantBody(t, res, tc.want)
		if apiKeyRE.MatchString(res.body) {
			t.Error("a key was shown")
		}
	}
	keys, _ := e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindAPIKey})
	if len(keys) != 2 {
		t.Fatalf("%d keys, want 2", len(keys))
	}

	// Revoke, through the confirmation page; CSRF required.
	revoke := "/console/api-keys/" + cred.ID + "/revoke"
	confirm := b.get(revoke)
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "Are you sure you want to revoke the key “Amazon Sales Channel”?", `action="`+revoke+`"`)
	res = b.post(revoke, url.Values{})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, csrfMessage)
	if c, _ := e.store.FindCredential(e.ctx, e.tenantA.ID, cred.ID); c.Revoked() {
		t.Fatal("revoked without a CSRF token")
	}
	res = b.post("/console/api-keys", url.Values{"description": {"evil"}})
	wantStatus(t, res, http.StatusForbidden)
	wantRedirect(t, b.submit(revoke, revoke, nil), "/console/api-keys")
	if c, _ := e.store.FindCredential(e.ctx, e.tenantA.ID, cred.ID); !c.Revoked() {
		t.Fatal("not revoked")
	}
	list = b.get("/console/api-keys")
	wantBody(t, list, "The API key was revoked.", "Reports")
	wantNoBody(t, list, ">Amazon Sales Channel</td>")
	wantStatus(t, b.get("/console/api-keys/nope/revoke"), http.StatusNotFound)
	keys, _ = e.store.ListCredentials(e.ctx, e.tenantA.ID, gatehouse.CredentialFilter{Kind: gatehouse.KindAPIKey})
	if len(keys) != 1 {
		t.Fatalf("%d live keys, want 1 (no key from a forged form)", len(keys))
	}
}
