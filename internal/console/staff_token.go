package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The API Auth tab of a user (seed 001): the user's one staff API token —
// Generate with chosen APIs and an optional Expired At, shown once — and
// the token's IP whitelist (+New IP Whitelist, at most 20 named entries).
// Deleting the token deletes its whole whitelist; a regenerated token
// starts with an empty one.

// apiAuthView is the view model of pages/user_api_auth.html.
type apiAuthView struct {
	Base
	Member     memberRow
	Tab        string
	Page       *credentialPage
	Token      *credentialRow // nil: the user has no token (the Generate form shows)
	Entries    []allowRow
	MaxEntries int
	Full       bool // MaxEntries reached: no +New IP Whitelist
	Form       credentialForm
}

// allowRow is one IP whitelist entry.
type allowRow struct {
	ID        string
	Name      string
	CIDR      string
	CreatedAt time.Time
}

// allowFields are the messages of the IP whitelist form.
var allowFields = map[string]string{
	"name": msg("error.field.ip_name"),
}

// apiAuthURL is the API Auth tab of the user.
func apiAuthURL(userID string) string { return Prefix + "/users/" + userID + "/api-auth" }

func (c *Console) apiAuthPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderAPIAuth(w, r, rq, http.StatusOK, c.blankCredential(&staffPage), nil)
}

// staffUser returns the member named by the path, and its live token (nil
// when it has none). Another tenant's user is ENOTFOUND; staff callers
// are EFORBIDDEN.
func (c *Console) staffUser(r *http.Request, rq *request) (*gatehouse.Member, *gatehouse.Credential, error) {
	ctx := r.Context()
	m, err := c.admin.Member(ctx, rq.actor, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	tok, err := c.admin.StaffToken(ctx, rq.actor, m.UserID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return m, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

func (c *Console) renderAPIAuth(w http.ResponseWriter, r *http.Request, rq *request, status int, v credentialValues, fe *FormErrors) error {
	m, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	view := &apiAuthView{
		Base:       Base{Title: msg("staff.title"), Nav: staffPage.Nav},
		Member:     memberRowOf(m, rq.user.ID),
		Tab:        "api-auth",
		Page:       &staffPage,
		MaxEntries: gatehouse.MaxAllowEntries,
		Form:       c.credentialForm(&staffPage, Prefix+"/users/"+m.UserID+"/api-token", v, fe),
	}
	if tok != nil {
		row := credentialRowOf(tok, m.Email, c.now())
		view.Token = &row
		view.Entries = allowRows(tok.AllowList)
		view.Full = len(view.Entries) >= gatehouse.MaxAllowEntries
	}
	return c.render(w, r, rq, status, "user_api_auth", view)
}

func allowRows(list []gatehouse.AllowEntry) []allowRow {
	out := make([]allowRow, 0, len(list))
	for _, e := range list {
		cidr := e.Prefix.String()
		if e.Prefix.IsSingleIP() { // as typed: 127.0.0.1, not 127.0.0.1/32
			cidr = e.Prefix.Addr().String()
		}
		out = append(out, allowRow{ID: e.ID, Name: e.Name, CIDR: cidr, CreatedAt: e.CreatedAt})
	}
	return out
}

// staffTokenGenerate is the Generate button of the API Auth tab.
func (c *Console) staffTokenGenerate(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, err := c.admin.Member(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.createCredential(w, r, rq, &staffPage, credentialPlace{
		holder: m, back: apiAuthURL(m.UserID),
		crumbs: []crumb{{Href: Prefix + "/users", Label: msg("users.heading")},
			{Href: Prefix + "/users/" + m.UserID, Text: m.Email}, {Label: msg("user.tab.api_auth")}},
		form: func(status int, v credentialValues, fe *FormErrors) error {
			return c.renderAPIAuth(w, r, rq, status, v, fe)
		},
	})
}

// staffTokenDeleteConfirm is the "Are you sure?" step before the token and
// its whitelist go.
func (c *Console) staffTokenDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	if tok == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "the user has no API token")
	}
	back := apiAuthURL(m.UserID)
	view := &credentialRevokeView{
		Base:   Base{Title: staffPage.Revoke.Title, Nav: staffPage.Nav},
		Page:   &staffPage,
		Crumbs: []crumb{{Href: Prefix + "/users", Label: msg("users.heading")}, {Href: back, Text: m.Email}},
		Row:    credentialRowOf(tok, m.Email, c.now()),
		Action: Prefix + "/users/" + m.UserID + "/api-token/delete", Back: back,
	}
	return c.render(w, r, rq, http.StatusOK, "credential_revoke", view)
}

// staffTokenDelete deletes the token and, with it, its whole whitelist.
func (c *Console) staffTokenDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	_, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	if tok == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "the user has no API token")
	}
	if err := c.admin.DeleteCredential(r.Context(), rq.actor, gatehouse.KindStaff, tok.ID); err != nil {
		return err
	}
	return c.flashRedirect(w, r, staffPage.Revoke.Flash, apiAuthURL(r.PathValue("id")))
}

// ipWhitelistView is the view model of pages/ip_whitelist_new.html, the
// +New IP Whitelist form.
type ipWhitelistView struct {
	Base
	Member     memberRow
	Name       string
	CIDR       string
	Errors     *FormErrors
	Full       bool
	MaxEntries int
	MaxName    int
}

func (c *Console) ipWhitelistNew(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderIPWhitelistNew(w, r, rq, http.StatusOK, "", "", nil)
}

func (c *Console) renderIPWhitelistNew(w http.ResponseWriter, r *http.Request, rq *request, status int, name, cidr string, fe *FormErrors) error {
	m, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	if tok == nil {
		// The button exists only once a token does (seed 001).
		return gatehouse.Errorf(gatehouse.ECONFLICT, "the user has no API token; generate one first").WithID("error.no_api_token")
	}
	v := &ipWhitelistView{
		Base:       Base{Title: msg("staff.ip.new.title"), Nav: "users"},
		Member:     memberRowOf(m, rq.user.ID),
		Name:       name,
		CIDR:       cidr,
		Errors:     fe,
		Full:       len(tok.AllowList) >= gatehouse.MaxAllowEntries,
		MaxEntries: gatehouse.MaxAllowEntries,
		MaxName:    gatehouse.MaxAllowEntryName,
	}
	return c.render(w, r, rq, status, "ip_whitelist_new", v)
}

// ipWhitelistAdd adds an entry to the token's whitelist.
func (c *Console) ipWhitelistAdd(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	name, cidr := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("cidr"))
	if _, err := c.admin.AddStaffAllowEntry(ctx, rq.actor, id, name, cidr); err != nil {
		status, fe, ok := c.formErrorFor(rq, err, allowFields)
		if !ok {
			return err
		}
		if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
			return err // no token: the 409 page
		}
		if _, tok, err2 := c.staffUser(r, rq); err2 == nil && tok != nil && len(tok.AllowList) >= gatehouse.MaxAllowEntries {
			fe = &FormErrors{Form: rq.loc.T(msg("staff.ip.full"), "Max", gatehouse.MaxAllowEntries)}
		}
		return c.renderIPWhitelistNew(w, r, rq, status, name, cidr, fe)
	}
	return c.flashRedirect(w, r, msg("flash.ip_added"), apiAuthURL(id)+"#ip-whitelist")
}

// ipWhitelistDeleteView is the view model of pages/ip_whitelist_delete.html.
type ipWhitelistDeleteView struct {
	Base
	Member memberRow
	Entry  allowRow
}

func (c *Console) ipWhitelistDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	if tok == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such IP whitelist entry")
	}
	for _, e := range allowRows(tok.AllowList) {
		if e.ID == r.PathValue("entry") {
			v := &ipWhitelistDeleteView{
				Base:   Base{Title: msg("staff.ip.delete.title"), Nav: "users"},
				Member: memberRowOf(m, rq.user.ID),
				Entry:  e,
			}
			return c.render(w, r, rq, http.StatusOK, "ip_whitelist_delete", v)
		}
	}
	return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such IP whitelist entry")
}

// ipWhitelistDelete removes one entry once the confirmation is posted.
func (c *Console) ipWhitelistDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	err := c.admin.DeleteStaffAllowEntry(r.Context(), rq.actor, id, r.PathValue("entry"))
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		// No token (any more): its entries are gone with it.
		err = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such IP whitelist entry")
	}
	if err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.ip_deleted"), apiAuthURL(id)+"#ip-whitelist")
}
