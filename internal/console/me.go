package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// The signed-in user's own pages, open to every role (home.go): their
// staff API token with its IP whitelist, read-only, and their profile.
// A staff user cannot change the token (admin refuses them); an admin
// manages it on the user's API Auth tab, to which the page links those
// who may open it.

const (
	myAPITokenURL = Prefix + "/api-token"
	profileURL    = Prefix + "/profile"
)

// myAPITokenView is the view model of pages/my_api_token.html.
type myAPITokenView struct {
	Base
	Tenant  string         // the tenant's name
	Token   *credentialRow // nil: the user holds none (the empty state)
	Facts   []cell
	Entries []allowRow
	Max     int
	Manage  string // the user's API Auth tab, for those who may open it; "" otherwise
}

// myTokenFacts are the facts of the token card: what the admin chose
// and what the holder needs to know (last used).
var myTokenFacts = []column{tokenColumn, staffAPIs, staffExpires, createdColumn, lastUsedColumn}

func (c *Console) myAPIToken(w http.ResponseWriter, r *http.Request, rq *request) error {
	tok, err := c.admin.MyStaffToken(r.Context(), rq.actor)
	if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return err
	}
	v := &myAPITokenView{
		Base:   Base{Title: msg("me.token.title"), Nav: "my-api-token"},
		Tenant: c.tenantName(r, rq.actor.TenantID),
		Max:    gatehouse.MaxAllowEntries,
	}
	if mayOpen(rq.actor.Role, Prefix+"/users") {
		v.Manage = apiAuthURL(rq.user.ID)
	}
	if tok != nil {
		row := credentialRowOf(tok, rq.user.Email, c.now())
		v.Token = &row
		v.Facts = row.Cells(myTokenFacts)
		v.Entries = allowRows(tok.AllowList)
	}
	return c.render(w, r, rq, http.StatusOK, "my_api_token", v)
}

// tenantName is the name of the tenant, "" when it cannot be read (the
// page then names no tenant rather than failing).
func (c *Console) tenantName(r *http.Request, id string) string {
	t, err := c.store.FindTenantByID(r.Context(), id)
	if err != nil {
		if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			c.log.ErrorContext(r.Context(), "console: find tenant", "err", err)
		}
		return ""
	}
	return t.Name
}

// profileView is the view model of pages/profile.html; Base has the
// rest (the user, their role here, Tenants with their role in each, the
// language and time-zone choices).
type profileView struct {
	Base
	Tenant string // the current tenant's name
}

// profilePage shows who the user is (email, role in this tenant, every
// tenant they belong to) and their language and time zone, saved through
// the top bar's form target (POST /console/locale).
func (c *Console) profilePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	v := &profileView{
		Base:   Base{Title: msg("profile.title"), Nav: "profile"},
		Tenant: c.tenantName(r, rq.actor.TenantID),
	}
	return c.render(w, r, rq, http.StatusOK, "profile", v)
}

// homeRedirect is /console and /console/: the role's home.
func (c *Console) homeRedirect(w http.ResponseWriter, r *http.Request, rq *request) error {
	http.Redirect(w, r, home(rq.actor.Role), http.StatusSeeOther)
	return nil
}
