package console

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// The credential pages: for every kind the console manages, one create
// form, one page that shows the new secret once and one confirmation
// before a credential goes, all rendered from the kind's credentialPage
// below (and its gatehouse.KindSpec: name field and limit, default
// scopes, whether it may hold "manage"). Personal access tokens (seed 002)
// and API keys (seed 003) have a list page of their own
// (pages/credentials.html); a staff API token (seed 001) lives on its
// user's API Auth tab with its IP whitelist (staff_token.go).

// credentialPage is what the console shows of a credential kind: where
// its pages are, the message of each part of them and which facts its
// list, result and confirmation show.
type credentialPage struct {
	gatehouse.KindSpec
	URL      string // the list page; "" for a kind shown on another page
	Nav      string // the sidebar entry to highlight
	InputID  string // prefix of the create form's element ids ("pat" → #pat-name, #pat-expires)
	SecretID string // element id of the new secret on the result page
	Header   string // how a client sends it, before the token on the result page
	List     listText
	Form     formText
	Created  createdText
	Revoke   revokeText
	// Columns are the facts of the list (for a staff token, of its card
	// on the API Auth tab), Shown those of the result page and Facts those
	// of the confirmation, in order.
	Columns, Shown, Facts []column
	// Crumbs lead from its result and confirmation pages back to where
	// the form is; nil = none.
	Crumbs []crumb
	// Fields are the messages of the form's inputs by error Field, before
	// the console-wide fieldMessages.
	Fields map[string]string
}

// listText are the message IDs of a kind's list page.
type listText struct {
	Title, Heading, Intro string
	Rows, Empty           string // the list's heading; what it says when empty
}

// formText are the message IDs and the shape of a kind's create form.
type formText struct {
	Card            string // the form card's element id
	First           bool   // the form comes before the list
	Heading, Intro  string
	Name, NameHelp  string // label and help of the NameField input
	NamePlaceholder string
	Submit          string
	SubmitInline    bool   // the button sits beside the name input (Add New)
	Advanced        string // a disclosure holding the expiry and the scopes; "" = none
	ScopesFirst     bool   // the scopes come before the expiry
	Scopes          string // the scope picker's legend
	ScopesHelp      string
	Conflict        string // the form's message for ECONFLICT; "" = the admin service's
	Expiry          expiryText
}

// expiryText is a create form's expiry input.
type expiryText struct {
	Label, Note, Help string
	// Input is the input's type: "date" (the credential works through
	// that day, UTC) or "datetime-local" (until that minute, UTC).
	Input       string
	FormatError string // the message of a value that does not parse
	DefaultDays int    // a new form's expiry, in days from now; 0 = none
	QuickDays   []int  // quick choices, in days (console.js fills the input)
}

// layout is the value format of the expiry input.
func (x expiryText) layout() string {
	if x.Input == "datetime-local" {
		return expiryLayout
	}
	return time.DateOnly
}

// parse reads a value of the expiry input.
func (x expiryText) parse(s string) (time.Time, error) {
	if x.Input == "datetime-local" {
		return parseExpiry(s)
	}
	return endOfDay(s)
}

// createdText are the message IDs of the page showing a new secret. Label
// may use {{.Name}} (the credential's name) and {{.Email}} (its holder's).
type createdText struct {
	Title, Heading, Warning, Label, Usage string
	Note                                  string // a last hint; "" = none
	Done                                  string
}

// revokeText are the message IDs of the confirmation before a credential
// is revoked (or, for a staff token, deleted). Question may use {{.Name}}.
type revokeText struct {
	Title, Heading, Question, Consequence, Confirm string
	Flash                                          string // shown on the list afterwards
}

// column is one fact about a credential, in a table cell or a <dd>: Field
// says which (the credential_value partial knows them all), Label is the
// message ID of its heading and Empty that of a missing value.
type column struct {
	Field, Label, Empty string
}

// The facts the credential_value partial renders.
const (
	colName      = "name"
	colHint      = "hint"
	colHolder    = "holder" // the e-mail of the user it belongs to
	colScopes    = "scopes"
	colCreated   = "created"
	colExpires   = "expires"
	colLastUsed  = "last_used"
	colAllowList = "allow_list" // how many IP whitelist entries go with it
)

// lists reports whether p's list has a column of field.
func (p *credentialPage) lists(field string) bool {
	return slices.ContainsFunc(p.Columns, func(c column) bool { return c.Field == field })
}

// The columns the kinds share.
var (
	scopesColumn   = column{Field: colScopes, Label: msg("pat.col.scopes")}
	createdColumn  = column{Field: colCreated, Label: msg("pat.col.created")}
	expiresColumn  = column{Field: colExpires, Label: msg("pat.col.expires"), Empty: msg("pat.never")}
	lastUsedColumn = column{Field: colLastUsed, Label: msg("pat.col.last_used"), Empty: msg("pat.never_used")}
	tokenColumn    = column{Field: colHint, Label: msg("pat.col.token")}
)

// The kinds' pages. The kinds with a list page of their own are in
// listPages, which the routes are made from.
var (
	patPage = credentialPage{
		KindSpec: mustSpec(gatehouse.KindPAT),
		URL:      Prefix + "/tokens", Nav: "tokens", InputID: "pat", SecretID: "new-token",
		Header: "Authorization: Bearer",
		List: listText{Title: msg("pat.title"), Heading: msg("pat.heading"), Intro: msg("pat.intro"),
			Rows: msg("pat.list.heading"), Empty: msg("pat.empty")},
		Form: formText{Card: "generate", Heading: msg("pat.generate.heading"),
			Name: msg("pat.form.name"), NameHelp: msg("pat.form.name.help"), Submit: msg("pat.generate"),
			Scopes: msg("pat.form.scopes"), ScopesHelp: msg("pat.form.scopes.help"),
			Expiry: expiryText{Label: msg("pat.form.expires"), Help: msg("pat.form.expires.help"), Input: "date",
				FormatError: msg("error.field.expires_at_format"), DefaultDays: 30, QuickDays: []int{7, 30, 90}}},
		Created: createdText{Title: msg("pat.created.title"), Heading: msg("pat.created.heading"),
			Warning: msg("pat.created.warning"), Label: msg("pat.created.label"), Usage: msg("pat.created.usage"),
			Done: msg("pat.created.done")},
		Revoke: revokeText{Title: msg("pat.revoke.title"), Heading: msg("pat.revoke.heading"),
			Question: msg("pat.revoke.question"), Consequence: msg("pat.revoke.consequence"),
			Confirm: msg("pat.revoke.confirm"), Flash: msg("flash.pat_revoked")},
		Columns: []column{{Field: colName, Label: msg("pat.col.name")}, tokenColumn,
			{Field: colHolder, Label: msg("pat.col.owner")}, scopesColumn, createdColumn, expiresColumn, lastUsedColumn},
		Shown: []column{scopesColumn, expiresColumn},
		Facts: []column{tokenColumn, scopesColumn, createdColumn, lastUsedColumn},
	}

	apiKeyPage = credentialPage{
		KindSpec: mustSpec(gatehouse.KindAPIKey),
		URL:      Prefix + "/api-keys", Nav: "api-keys", InputID: "key", SecretID: "new-key",
		Header: "X-Api-Key:",
		List: listText{Title: msg("apikey.title"), Heading: msg("apikey.heading"), Intro: msg("apikey.intro"),
			Rows: msg("apikey.list.heading"), Empty: msg("apikey.empty")},
		Form: formText{Card: "add", First: true, Heading: msg("apikey.add.heading"),
			Name: msg("apikey.form.description"), NameHelp: msg("apikey.form.description.help"),
			NamePlaceholder: msg("apikey.form.description.placeholder"),
			Submit:          msg("apikey.add"), SubmitInline: true, Advanced: msg("apikey.advanced"),
			Scopes: msg("pat.form.scopes"), ScopesHelp: msg("apikey.form.scopes.help"),
			Expiry: expiryText{Label: msg("pat.form.expires"), Help: msg("apikey.form.expires.help"), Input: "date",
				FormatError: msg("error.field.expires_at_format")}},
		Created: createdText{Title: msg("apikey.created.title"), Heading: msg("apikey.created.heading"),
			Warning: msg("apikey.created.warning"), Label: msg("apikey.created.label"), Usage: msg("apikey.created.usage"),
			Done: msg("apikey.created.done")},
		Revoke: revokeText{Title: msg("apikey.revoke.title"), Heading: msg("apikey.revoke.heading"),
			Question: msg("apikey.revoke.question"), Consequence: msg("apikey.revoke.consequence"),
			Confirm: msg("apikey.revoke.confirm"), Flash: msg("flash.api_key_revoked")},
		Columns: []column{{Field: colName, Label: msg("apikey.col.description")}, {Field: colHint, Label: msg("apikey.col.key")},
			scopesColumn, createdColumn, lastUsedColumn, expiresColumn},
		Shown:  []column{scopesColumn, expiresColumn},
		Facts:  []column{{Field: colHint, Label: msg("apikey.col.key")}, scopesColumn, createdColumn, lastUsedColumn},
		Crumbs: []crumb{{Href: Prefix + "/api-keys", Label: msg("apikey.heading")}},
		Fields: map[string]string{
			"description": msg("error.field.description"),
			"scopes":      msg("error.field.staff_scopes"),
		},
	}

	staffPage = credentialPage{
		KindSpec: mustSpec(gatehouse.KindStaff),
		Nav:      "users", InputID: "staff", SecretID: "new-token",
		Header: "Authorization: Bearer",
		Form: formText{Card: "generate", Heading: msg("staff.generate.heading"), Intro: msg("staff.generate.intro"),
			Submit: msg("staff.generate"), ScopesFirst: true,
			Scopes: msg("staff.form.apis"), ScopesHelp: msg("staff.form.apis.help"), Conflict: msg("staff.error.exists"),
			Expiry: expiryText{Label: msg("staff.form.expires"), Note: msg("staff.form.expires.utc"),
				Help: msg("staff.form.expires.help"), Input: "datetime-local", FormatError: msg("error.field.expires_at_datetime")}},
		Created: createdText{Title: msg("staff.created.title"), Heading: msg("staff.created.heading"),
			Warning: msg("staff.created.warning"), Label: msg("staff.created.label"), Usage: msg("pat.created.usage"),
			Note: msg("staff.created.whitelist"), Done: msg("staff.created.done")},
		Revoke: revokeText{Title: msg("staff.delete.title"), Heading: msg("staff.delete.heading"),
			Question: msg("staff.delete.question"), Consequence: msg("staff.delete.consequence"),
			Confirm: msg("staff.delete"), Flash: msg("flash.staff_token_deleted")},
		Columns: []column{tokenColumn, staffAPIs, staffExpires, createdColumn, lastUsedColumn},
		Shown:   []column{staffAPIs, staffExpires},
		Facts: []column{{Field: colHolder, Label: msg("users.col.email")}, tokenColumn, staffAPIs,
			{Field: colAllowList, Label: msg("staff.ip.heading")}},
		Fields: map[string]string{
			"scopes":     msg("error.field.staff_scopes"),
			"expires_at": msg("error.field.expires_at"),
		},
	}
	staffAPIs    = column{Field: colScopes, Label: msg("staff.col.apis")}
	staffExpires = column{Field: colExpires, Label: msg("staff.form.expires"), Empty: msg("staff.never_expires")}

	listPages = []*credentialPage{&patPage, &apiKeyPage}
)

// mustSpec is the row of a kind the console has pages for.
func mustSpec(k gatehouse.Kind) gatehouse.KindSpec {
	s, ok := k.Spec()
	if !ok {
		panic("console: no credential kind " + string(k))
	}
	return s
}

// credentialRow is one credential as the pages show it; it never holds
// the secret, only its hint.
type credentialRow struct {
	ID           string
	Name         string
	Hint         string
	UserID       string // the user it belongs to, for the owner filter
	Holder       string // the e-mail of the user it belongs to; "" when not shown
	Scopes       []string
	CreatedAt    time.Time
	ExpiresAt    *time.Time
	LastUsedAt   *time.Time
	Expired      bool
	ExpiresSoon  bool // within expiringWithin, not yet expired
	Revoked      bool
	AllowEntries int
}

// expiringWithin is how soon an expiry earns a credential the "expires
// soon" badge.
const expiringWithin = 7 * 24 * time.Hour

// credentialRowOf is the row of cr, held by the user with e-mail holder.
func credentialRowOf(cr *gatehouse.Credential, holder string, now time.Time) credentialRow {
	return credentialRow{
		ID: cr.ID, Name: cr.Name, Hint: cr.Hint, UserID: cr.UserID, Holder: holder, Scopes: cr.Scopes,
		CreatedAt: cr.CreatedAt, ExpiresAt: cr.ExpiresAt, LastUsedAt: cr.LastUsedAt, Expired: cr.Expired(now),
		ExpiresSoon:  !cr.Expired(now) && cr.ExpiresAt != nil && cr.ExpiresAt.Sub(now) <= expiringWithin,
		Revoked:      cr.Revoked(),
		AllowEntries: len(cr.AllowList),
	}
}

// cell is one fact of a row, the data of the credential_value partial.
type cell struct {
	column
	Row *credentialRow
}

// Cells are the facts cols of the row, for a template to range over.
func (r credentialRow) Cells(cols []column) []cell {
	out := make([]cell, len(cols))
	for i, c := range cols {
		out[i] = cell{column: c, Row: &r}
	}
	return out
}

// crumb is one step of a page's breadcrumb line: Label is a message ID,
// Text is shown as is; no Href for the current page.
type crumb struct {
	Href, Label, Text string
}

// credentialValues are what the user typed into a create form.
type credentialValues struct {
	Name      string // the value of the kind's NameField
	ExpiresAt string // the expiry input's value, "" = never expires
	Scopes    map[string]bool
}

// credentialForm is a kind's create form as the credential_form partial
// renders it.
type credentialForm struct {
	credentialValues
	Page     *credentialPage
	Action   string // where it posts
	Nonce    string // single-use id of this form, against resubmission
	Errors   *FormErrors
	Picker   scopePicker
	Min      string // earliest value the expiry input accepts
	Advanced bool   // open the Advanced disclosure (an error or a choice inside it)
}

// blankCredential is what a new create form of p holds: the kind's
// default scopes and expiry.
func (c *Console) blankCredential(p *credentialPage) credentialValues {
	v := credentialValues{Scopes: setOf(p.DefaultScopes)}
	if d := p.Form.Expiry.DefaultDays; d > 0 {
		v.ExpiresAt = c.now().UTC().AddDate(0, 0, d).Format(p.Form.Expiry.layout())
	}
	return v
}

// readCredential reads p's create form from a POST.
func readCredential(r *http.Request, p *credentialPage) credentialValues {
	v := credentialValues{
		ExpiresAt: strings.TrimSpace(r.PostFormValue("expires_at")),
		Scopes:    setOf(r.PostForm["scopes"]),
	}
	if p.NameField != "" {
		v.Name = r.PostFormValue(p.NameField)
	}
	return v
}

// credentialForm builds p's create form posting to action, with the
// values v and their errors fe.
func (c *Console) credentialForm(p *credentialPage, action string, v credentialValues, fe *FormErrors) credentialForm {
	f := credentialForm{
		credentialValues: v, Page: p, Action: action, Nonce: randomToken(16), Errors: fe,
		// Only a kind that acts with its user's role is offered "manage".
		Picker: c.picker(v.Scopes, fe, p.MayManage),
		Min:    c.now().UTC().Format(p.Form.Expiry.layout()),
	}
	f.Picker.Legend, f.Picker.Help = p.Form.Scopes, p.Form.ScopesHelp
	if p.Form.Advanced != "" {
		blank := c.blankCredential(p)
		f.Advanced = fe.Field("scopes") != "" || fe.Field("expires_at") != "" ||
			v.ExpiresAt != blank.ExpiresAt || !maps.Equal(v.Scopes, blank.Scopes)
	}
	return f
}

// credentialsView is the view model of pages/credentials.html: a kind's
// list and its create form.
type credentialsView struct {
	Base
	Page *credentialPage
	Rows []credentialRow
	List *listNav
	Form credentialForm
}

// credentialList shows p's list and an empty create form.
func (c *Console) credentialList(p *credentialPage) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		return c.renderCredentials(w, r, rq, p, http.StatusOK, c.blankCredential(p), nil)
	}
}

func (c *Console) renderCredentials(w http.ResponseWriter, r *http.Request, rq *request, p *credentialPage, status int, v credentialValues, fe *FormErrors) error {
	ctx := r.Context()
	pq, nav, err := listQuery(r, rq, p.URL, msg("list.search.credentials"), gatehouse.CredentialSorts)
	if err != nil {
		return err
	}
	nav.Statuses = credentialStatuses
	st, err := gatehouse.ParseCredentialStatus(nav.Status)
	if err != nil {
		return err
	}
	f := gatehouse.CredentialFilter{Status: st, Query: nav.Query, Page: pq}
	if p.lists(colHolder) {
		// Security: another tenant's user lists nothing (the store
		// filters by tenant) and shows no e-mail (Member is ENOTFOUND).
		nav.UserID = r.URL.Query().Get("user_id")
		f.UserID = nav.UserID
		if nav.UserID != "" {
			m, err := c.admin.Member(ctx, rq.actor, nav.UserID)
			if err != nil && gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
				return err
			}
			if m != nil {
				nav.Owner = m.Email
			}
		}
	}
	creds, err := c.admin.Credentials(ctx, rq.actor, p.Kind, f)
	if err != nil {
		return err
	}
	nav.fill(rq, creds.Next)
	var holders map[string]string // e-mail by user ID
	if p.lists(colHolder) {
		// The holders of one page: a user's e-mail is looked up once.
		holders = map[string]string{}
		for _, cr := range creds.Items {
			if _, ok := holders[cr.UserID]; ok || cr.UserID == "" {
				continue
			}
			m, err := c.admin.Member(ctx, rq.actor, cr.UserID)
			if err != nil && gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
				return err
			}
			if m != nil {
				holders[cr.UserID] = m.Email
			}
		}
	}
	now := c.now()
	view := &credentialsView{
		Base: Base{Title: p.List.Title, Nav: p.Nav},
		Page: p,
		List: nav,
		Form: c.credentialForm(p, p.URL, v, fe),
	}
	for _, cr := range creds.Items {
		view.Rows = append(view.Rows, credentialRowOf(cr, holders[cr.UserID], now))
	}
	return c.render(w, r, rq, status, "credentials", view)
}

// credentialCreate is the POST of p's create form on its list page.
func (c *Console) credentialCreate(p *credentialPage) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		return c.createCredential(w, r, rq, p, credentialPlace{
			back: p.URL, crumbs: p.Crumbs,
			form: func(status int, v credentialValues, fe *FormErrors) error {
				return c.renderCredentials(w, r, rq, p, status, v, fe)
			},
		})
	}
}

// credentialPlace is where a create form of a kind is, for one request.
type credentialPlace struct {
	holder *gatehouse.Member // the member a HolderMember credential is for
	back   string            // the page of the form, where a resubmission lands
	crumbs []crumb           // of the result page
	// form re-renders the page of the form with the values typed and
	// their errors.
	form func(status int, v credentialValues, fe *FormErrors) error
}

// credentialCreatedView is the view model of pages/credential_created.html,
// the one response that ever contains the secret.
type credentialCreatedView struct {
	Base
	Page   *credentialPage
	Crumbs []crumb
	Secret string
	Row    credentialRow
	Back   string
}

// createCredential creates a credential of kind p from the posted form
// at. Security: the secret is rendered directly in this POST's response
// (Cache-Control: no-store), never put into a URL, a cookie or the store,
// so it is shown exactly once; a reload of the result re-posts the form,
// and the single-use nonce makes that a no-op instead of a second
// credential (or, for a staff token, a 409).
func (c *Console) createCredential(w http.ResponseWriter, r *http.Request, rq *request, p *credentialPage, at credentialPlace) error {
	v := readCredential(r, p)
	if ok, err := c.consumeNonce(w, r, rq, at.back); !ok || err != nil {
		return err
	}
	in := admin.CredentialInput{Name: v.Name, Scopes: r.PostForm["scopes"]}
	if at.holder != nil {
		in.UserID = at.holder.UserID
	}
	if v.ExpiresAt != "" {
		t, err := p.Form.Expiry.parse(v.ExpiresAt)
		if err != nil {
			return at.form(http.StatusUnprocessableEntity, v,
				fieldError("expires_at", rq.loc.T(p.Form.Expiry.FormatError)))
		}
		in.ExpiresAt = &t
	}
	cred, secret, err := c.admin.CreateCredential(r.Context(), rq.actor, p.Kind, in)
	if err != nil {
		status, fe, ok := c.formErrorFor(rq, err, p.Fields)
		if !ok {
			return err
		}
		if gatehouse.IsCode(err, gatehouse.ECONFLICT) && p.Form.Conflict != "" {
			fe = &FormErrors{Form: rq.loc.T(p.Form.Conflict)}
		}
		return at.form(status, v, fe)
	}
	row := credentialRowOf(cred, "", c.now())
	if at.holder != nil {
		row.Holder = at.holder.Email
	}
	view := &credentialCreatedView{
		Base: Base{Title: p.Created.Title, Nav: p.Nav},
		Page: p, Crumbs: at.crumbs, Secret: secret, Row: row, Back: at.back,
	}
	return c.render(w, r, rq, http.StatusOK, "credential_created", view)
}

// credentialRevokeView is the view model of pages/credential_revoke.html,
// the confirmation step before a credential is revoked or deleted.
type credentialRevokeView struct {
	Base
	Page   *credentialPage
	Crumbs []crumb
	Row    credentialRow
	Action string // where the confirmation posts
	Back   string // Cancel
}

// credentialRevokeConfirm asks before revoking one of p's list. Another
// tenant's credential, or one of another kind, is 404.
func (c *Console) credentialRevokeConfirm(p *credentialPage) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		cr, err := c.admin.Credential(r.Context(), rq.actor, p.Kind, r.PathValue("id"))
		if err != nil {
			return err
		}
		view := &credentialRevokeView{
			Base: Base{Title: p.Revoke.Title, Nav: p.Nav},
			Page: p, Crumbs: p.Crumbs, Row: credentialRowOf(cr, "", c.now()),
			Action: p.URL + "/" + cr.ID + "/revoke", Back: p.URL,
		}
		return c.render(w, r, rq, http.StatusOK, "credential_revoke", view)
	}
}

// credentialRevoke revokes one of p's list once the confirmation is posted.
func (c *Console) credentialRevoke(p *credentialPage) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		if err := c.admin.RevokeCredential(r.Context(), rq.actor, p.Kind, r.PathValue("id")); err != nil {
			return err
		}
		return c.flashRedirect(w, r, p.Revoke.Flash, p.URL)
	}
}
