package console

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// patListView is the view model of pages/pat_list.html: the tenant's
// personal access tokens and the "Generate Token" form (seed 002).
type patListView struct {
	Base
	Tokens    []patRow
	Form      patForm
	Errors    *FormErrors
	Picker    scopePicker
	Today     string // earliest date the expiry input accepts
	QuickDays []int  // quick expiry choices, in days
}

// patRow is one token of the list; it never holds the secret, only its hint.
type patRow struct {
	ID         string
	Name       string
	Hint       string
	Owner      string
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	Expired    bool
}

// patRowOf is the row of token cr, owned by the user with e-mail owner.
func patRowOf(cr *gatehouse.Credential, owner string, now time.Time) patRow {
	return patRow{
		ID: cr.ID, Name: cr.Name, Hint: cr.Hint, Owner: owner, Scopes: cr.Scopes,
		CreatedAt: cr.CreatedAt, ExpiresAt: cr.ExpiresAt, LastUsedAt: cr.LastUsedAt, Expired: cr.Expired(now),
	}
}

// patForm is what the user typed into "Generate Token".
type patForm struct {
	Name      string
	ExpiresAt string // YYYY-MM-DD, "" = never expires
	Scopes    map[string]bool
	Nonce     string // single-use id of this form, against resubmission
}

// scopeNode is a resource of the scope checkbox tree.
type scopeNode struct {
	ID       string
	Title    string
	Checked  bool
	Children []*scopeNode
}

// scopePicker is the data of the scope_tree partial: the resource tree as
// checkboxes, what is ticked, the field's error and whether the reserved
// "manage" resource is offered (only where the credential may hold it).
type scopePicker struct {
	Legend  string // message ID
	Help    string // message ID
	Tree    []*scopeNode
	Checked map[string]bool
	Error   string
	Manage  bool
}

// picker builds the scope checkboxes with checked ticked.
func (c *Console) picker(checked map[string]bool, fe *FormErrors, manage bool) scopePicker {
	return scopePicker{
		Legend: msg("pat.form.scopes"), Help: msg("pat.form.scopes.help"),
		Tree: scopeTree(c.admin.Tree().Roots(), checked), Checked: checked,
		Error: fe.Field("scopes"), Manage: manage,
	}
}

// scopeTree turns the resource tree into checkbox nodes.
func scopeTree(roots []*gatehouse.Resource, checked map[string]bool) []*scopeNode {
	out := make([]*scopeNode, 0, len(roots))
	for _, r := range roots {
		out = append(out, &scopeNode{ID: r.ID, Title: r.Title, Checked: checked[r.ID], Children: scopeTree(r.Children, checked)})
	}
	return out
}

// patExpiryDays is the default lifetime offered for a new token.
const patExpiryDays = 30

// patList shows the tokens and an empty "Generate Token" form.
func (c *Console) patList(w http.ResponseWriter, r *http.Request, rq *request) error {
	f := patForm{ExpiresAt: c.now().UTC().AddDate(0, 0, patExpiryDays).Format(time.DateOnly)}
	return c.renderPATList(w, r, rq, http.StatusOK, f, nil)
}

func (c *Console) renderPATList(w http.ResponseWriter, r *http.Request, rq *request, status int, f patForm, fe *FormErrors) error {
	ctx := r.Context()
	creds, err := c.admin.Credentials(ctx, rq.actor, gatehouse.KindPAT)
	if err != nil {
		return err
	}
	members, err := c.admin.Members(ctx, rq.actor)
	if err != nil {
		return err
	}
	emails := make(map[string]string, len(members))
	for _, m := range members {
		emails[m.UserID] = m.Email
	}
	now := c.now()
	v := &patListView{
		Base:      Base{Title: msg("pat.title"), Nav: "tokens"},
		Form:      f,
		Errors:    fe,
		Picker:    c.picker(f.Scopes, fe, true),
		Today:     now.UTC().Format(time.DateOnly),
		QuickDays: []int{7, 30, 90},
	}
	v.Form.Nonce = randomToken(16)
	for _, cr := range creds {
		v.Tokens = append(v.Tokens, patRowOf(cr, emails[cr.UserID], now))
	}
	return c.render(w, r, rq, status, "pat_list", v)
}

// patCreatedView is the view model of pages/pat_created.html, the one
// response that ever contains the token.
type patCreatedView struct {
	Base
	Token     string
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// patCreate generates a token. Security: the plaintext is rendered
// directly in this POST's response (Cache-Control: no-store), never put
// into a URL, a cookie or the store, so it is shown exactly once.
func (c *Console) patCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	scopes := r.PostForm["scopes"]
	f := patForm{
		Name:      r.PostFormValue("name"),
		ExpiresAt: r.PostFormValue("expires_at"),
		Scopes:    setOf(scopes),
	}
	// A reload of the result page re-posts the form; the single-use nonce
	// makes that a no-op instead of a second token.
	if ok, err := c.consumeNonce(w, r, rq, Prefix+"/tokens"); !ok || err != nil {
		return err
	}
	in := admin.CredentialInput{Name: f.Name, Scopes: scopes}
	if f.ExpiresAt != "" {
		end, err := endOfDay(f.ExpiresAt)
		if err != nil {
			return c.renderPATList(w, r, rq, http.StatusUnprocessableEntity, f,
				fieldError("expires_at", rq.loc.T(msg("error.field.expires_at_format"))))
		}
		in.ExpiresAt = &end
	}
	cred, tok, err := c.admin.CreateCredential(ctx, rq.actor, gatehouse.KindPAT, in)
	if err != nil {
		if status, fe, ok := c.formError(rq, err); ok {
			return c.renderPATList(w, r, rq, status, f, fe)
		}
		return err
	}
	v := &patCreatedView{
		Base:  Base{Title: msg("pat.created.title"), Nav: "tokens"},
		Token: tok, Name: cred.Name, Scopes: cred.Scopes, ExpiresAt: cred.ExpiresAt,
	}
	return c.render(w, r, rq, http.StatusOK, "pat_created", v)
}

// patRevokeView is the view model of pages/pat_revoke.html, the
// confirmation step before a token is revoked.
type patRevokeView struct {
	Base
	Token patRow
}

// patRevokeConfirm asks before revoking. Another tenant's token is 404.
func (c *Console) patRevokeConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	cr, err := c.admin.Credential(r.Context(), rq.actor, gatehouse.KindPAT, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &patRevokeView{
		Base:  Base{Title: msg("pat.revoke.title"), Nav: "tokens"},
		Token: patRowOf(cr, "", c.now()),
	}
	return c.render(w, r, rq, http.StatusOK, "pat_revoke", v)
}

// patRevoke revokes a token once the confirmation form is posted.
func (c *Console) patRevoke(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.admin.RevokeCredential(r.Context(), rq.actor, gatehouse.KindPAT, r.PathValue("id")); err != nil {
		return err
	}
	c.setFlash(w, msg("flash.pat_revoked"))
	http.Redirect(w, r, Prefix+"/tokens", http.StatusSeeOther)
	return nil
}
