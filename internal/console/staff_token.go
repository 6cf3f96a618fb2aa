package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
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
	Token      *staffTokenRow // nil: the user has no token (the Generate form shows)
	Entries    []allowRow
	MaxEntries int
	Full       bool // MaxEntries reached: no +New IP Whitelist
	Form       staffTokenForm
	Errors     *FormErrors
	Picker     scopePicker
	MinExpiry  string // earliest value of the Expired At input (UTC)
}

// staffTokenRow describes the user's token; it never holds the secret.
type staffTokenRow struct {
	Hint       string
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	Expired    bool
}

// staffTokenRowOf is the row of staff token tok.
func staffTokenRowOf(tok *gatehouse.Credential, now time.Time) staffTokenRow {
	return staffTokenRow{
		Hint: tok.Hint, Scopes: tok.Scopes, CreatedAt: tok.CreatedAt,
		ExpiresAt: tok.ExpiresAt, LastUsedAt: tok.LastUsedAt, Expired: tok.Expired(now),
	}
}

// allowRow is one IP whitelist entry.
type allowRow struct {
	ID        string
	Name      string
	CIDR      string
	CreatedAt time.Time
}

// staffTokenForm is what the user chose on the API Auth tab.
type staffTokenForm struct {
	ExpiresAt string // datetime-local value, UTC; "" = never expires
	Scopes    map[string]bool
	Nonce     string
}

// expiryLayout is the value format of <input type="datetime-local">.
const expiryLayout = "2006-01-02T15:04"

// staffFields are the messages of the API Auth and IP whitelist forms.
var staffFields = map[string]string{
	"scopes":     msg("error.field.staff_scopes"),
	"expires_at": msg("error.field.expires_at"),
	"name":       msg("error.field.ip_name"),
	"cidr":       msg("error.field.cidr"),
}

func (c *Console) apiAuthPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderAPIAuth(w, r, rq, http.StatusOK, staffTokenForm{Scopes: map[string]bool{}}, nil)
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

func (c *Console) renderAPIAuth(w http.ResponseWriter, r *http.Request, rq *request, status int, f staffTokenForm, fe *FormErrors) error {
	m, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	now := c.now()
	v := &apiAuthView{
		Base:       Base{Title: msg("staff.title"), Nav: "users"},
		Member:     memberRowOf(m, rq.user.ID),
		Tab:        "api-auth",
		MaxEntries: gatehouse.MaxAllowEntries,
		Form:       f,
		Errors:     fe,
		// Staff tokens act without a role: "manage" is never offered.
		Picker:    c.picker(f.Scopes, fe, false),
		MinExpiry: now.UTC().Format(expiryLayout),
	}
	v.Picker.Legend, v.Picker.Help = msg("staff.form.apis"), msg("staff.form.apis.help")
	v.Form.Nonce = randomToken(16)
	if tok != nil {
		row := staffTokenRowOf(tok, now)
		v.Token = &row
		v.Entries = allowRows(tok.AllowList)
		v.Full = len(v.Entries) >= gatehouse.MaxAllowEntries
	}
	return c.render(w, r, rq, status, "user_api_auth", v)
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

// staffTokenCreatedView is the view model of pages/staff_token_created.html,
// the one response that ever contains the staff token.
type staffTokenCreatedView struct {
	Base
	Member    memberRow
	Token     string
	Scopes    []string
	ExpiresAt *time.Time
}

// staffTokenGenerate is the Generate button. Security: as for personal
// access tokens, the plaintext is rendered only in this POST's response
// (Cache-Control: no-store) and a single-use nonce turns a reload into a
// no-op instead of a 409.
func (c *Console) staffTokenGenerate(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	scopes := r.PostForm["scopes"]
	f := staffTokenForm{ExpiresAt: strings.TrimSpace(r.PostFormValue("expires_at")), Scopes: setOf(scopes)}
	back := Prefix + "/users/" + id + "/api-auth"
	if ok, err := c.consumeNonce(w, r, rq, back); !ok || err != nil {
		return err
	}
	in := admin.CredentialInput{UserID: id, Scopes: scopes}
	if f.ExpiresAt != "" {
		t, err := parseExpiry(f.ExpiresAt)
		if err != nil {
			// The user must exist before we say anything about the form.
			if _, err := c.admin.Member(ctx, rq.actor, id); err != nil {
				return err
			}
			return c.renderAPIAuth(w, r, rq, http.StatusUnprocessableEntity, f,
				fieldError("expires_at", rq.loc.T(msg("error.field.expires_at_datetime"))))
		}
		in.ExpiresAt = &t
	}
	cred, tok, err := c.admin.CreateCredential(ctx, rq.actor, gatehouse.KindStaff, in)
	if err != nil {
		if status, fe, ok := c.formErrorFor(rq, err, staffFields); ok {
			if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
				fe = &FormErrors{Form: rq.loc.T(msg("staff.error.exists"))}
			}
			return c.renderAPIAuth(w, r, rq, status, f, fe)
		}
		return err
	}
	m, err := c.admin.Member(ctx, rq.actor, id)
	if err != nil {
		return err
	}
	v := &staffTokenCreatedView{
		Base:   Base{Title: msg("staff.created.title"), Nav: "users"},
		Member: memberRowOf(m, rq.user.ID),
		Token:  tok, Scopes: cred.Scopes, ExpiresAt: cred.ExpiresAt,
	}
	return c.render(w, r, rq, http.StatusOK, "staff_token_created", v)
}

// parseExpiry reads an Expired At value (UTC): a datetime-local value,
// with or without seconds, or a bare date meaning the end of that day.
func parseExpiry(s string) (time.Time, error) {
	for _, layout := range []string{expiryLayout, "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return endOfDay(s)
}

// staffTokenDeleteView is the view model of pages/staff_token_delete.html,
// the "Are you sure?" step before the token and its whitelist go.
type staffTokenDeleteView struct {
	Base
	Member  memberRow
	Token   staffTokenRow
	Entries int
}

func (c *Console) staffTokenDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, tok, err := c.staffUser(r, rq)
	if err != nil {
		return err
	}
	if tok == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "the user has no API token")
	}
	v := &staffTokenDeleteView{
		Base:    Base{Title: msg("staff.delete.title"), Nav: "users"},
		Member:  memberRowOf(m, rq.user.ID),
		Token:   staffTokenRowOf(tok, c.now()),
		Entries: len(tok.AllowList),
	}
	return c.render(w, r, rq, http.StatusOK, "staff_token_delete", v)
}

// staffTokenDelete deletes the token and, with it, its whole whitelist.
func (c *Console) staffTokenDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	tok, err := c.admin.StaffToken(r.Context(), rq.actor, id)
	if err != nil {
		return err
	}
	if err := c.admin.DeleteCredential(r.Context(), rq.actor, gatehouse.KindStaff, tok.ID); err != nil {
		return err
	}
	c.setFlash(w, msg("flash.staff_token_deleted"))
	http.Redirect(w, r, Prefix+"/users/"+id+"/api-auth", http.StatusSeeOther)
	return nil
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
		return gatehouse.Errorf(gatehouse.ECONFLICT, "the user has no API token; generate one first")
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
		status, fe, ok := c.formErrorFor(rq, err, staffFields)
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
	c.setFlash(w, msg("flash.ip_added"))
	http.Redirect(w, r, Prefix+"/users/"+id+"/api-auth#ip-whitelist", http.StatusSeeOther)
	return nil
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
	c.setFlash(w, msg("flash.ip_deleted"))
	http.Redirect(w, r, Prefix+"/users/"+id+"/api-auth#ip-whitelist", http.StatusSeeOther)
	return nil
}
