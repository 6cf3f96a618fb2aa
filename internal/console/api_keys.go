package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// The API Portal (seed 003): the tenant's API keys. Enter a description
// such as "Amazon Sales Channel", Add New, Copy the key shown once; the
// consuming application sends it as X-Api-Key and verifies it each time
// it opens, so a revoked or expired key prompts for a new one.

// apiKeysView is the view model of pages/api_keys.html.
type apiKeysView struct {
	Base
	Keys     []apiKeyRow
	Form     apiKeyForm
	Errors   *FormErrors
	Picker   scopePicker
	Today    string // earliest date the expiry input accepts
	Advanced bool   // open the Advanced disclosure (an error or a choice inside it)
}

// apiKeyRow is one key of the list; it never holds the key, only its hint.
type apiKeyRow struct {
	ID          string
	Description string
	Hint        string
	Scopes      []string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
	LastUsedAt  *time.Time
	Expired     bool
}

// apiKeyForm is what the user typed into Add New.
type apiKeyForm struct {
	Description string
	ExpiresAt   string // YYYY-MM-DD, "" = never expires
	Scopes      map[string]bool
	Nonce       string
}

var apiKeyFields = map[string]string{
	"description": msg("error.field.description"),
	"scopes":      msg("error.field.staff_scopes"),
}

func (c *Console) apiKeyList(w http.ResponseWriter, r *http.Request, rq *request) error {
	f := apiKeyForm{Scopes: map[string]bool{gatehouse.ScopeAll: true}}
	return c.renderAPIKeys(w, r, rq, http.StatusOK, f, nil)
}

func (c *Console) renderAPIKeys(w http.ResponseWriter, r *http.Request, rq *request, status int, f apiKeyForm, fe *FormErrors) error {
	keys, err := c.admin.Credentials(r.Context(), rq.actor, gatehouse.KindAPIKey)
	if err != nil {
		return err
	}
	now := c.now()
	v := &apiKeysView{
		Base:   Base{Title: msg("apikey.title"), Nav: "api-keys"},
		Form:   f,
		Errors: fe,
		// API keys act without a role: "manage" is never offered.
		Picker: c.picker(f.Scopes, fe, false),
		Today:  now.UTC().Format(time.DateOnly),
		Advanced: fe.Field("scopes") != "" || fe.Field("expires_at") != "" || f.ExpiresAt != "" ||
			len(f.Scopes) != 1 || !f.Scopes[gatehouse.ScopeAll],
	}
	v.Picker.Help = msg("apikey.form.scopes.help")
	v.Form.Nonce = randomToken(16)
	for _, k := range keys {
		v.Keys = append(v.Keys, apiKeyRowOf(k, now))
	}
	return c.render(w, r, rq, status, "api_keys", v)
}

func apiKeyRowOf(k *gatehouse.Credential, now time.Time) apiKeyRow {
	return apiKeyRow{
		ID: k.ID, Description: k.Name, Hint: k.Hint, Scopes: k.Scopes, CreatedAt: k.CreatedAt,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, Expired: k.Expired(now),
	}
}

// apiKeyCreatedView is the view model of pages/api_key_created.html, the
// one response that ever contains the key.
type apiKeyCreatedView struct {
	Base
	Key         string
	Description string
	Scopes      []string
	ExpiresAt   *time.Time
}

// apiKeyCreate is Add New. Security: the key is rendered only in this
// POST's response (Cache-Control: no-store); a reload is a no-op.
func (c *Console) apiKeyCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	scopes := r.PostForm["scopes"]
	f := apiKeyForm{
		Description: r.PostFormValue("description"),
		ExpiresAt:   strings.TrimSpace(r.PostFormValue("expires_at")),
		Scopes:      setOf(scopes),
	}
	if ok, err := c.consumeNonce(w, r, rq, Prefix+"/api-keys"); !ok || err != nil {
		return err
	}
	in := admin.CredentialInput{Name: f.Description, Scopes: scopes}
	if f.ExpiresAt != "" {
		end, err := endOfDay(f.ExpiresAt)
		if err != nil {
			return c.renderAPIKeys(w, r, rq, http.StatusUnprocessableEntity, f,
				fieldError("expires_at", rq.loc.T(msg("error.field.expires_at_format"))))
		}
		in.ExpiresAt = &end
	}
	cred, key, err := c.admin.CreateCredential(r.Context(), rq.actor, gatehouse.KindAPIKey, in)
	if err != nil {
		if status, fe, ok := c.formErrorFor(rq, err, apiKeyFields); ok {
			return c.renderAPIKeys(w, r, rq, status, f, fe)
		}
		return err
	}
	v := &apiKeyCreatedView{
		Base: Base{Title: msg("apikey.created.title"), Nav: "api-keys"},
		Key:  key, Description: cred.Name, Scopes: cred.Scopes, ExpiresAt: cred.ExpiresAt,
	}
	return c.render(w, r, rq, http.StatusOK, "api_key_created", v)
}

// apiKeyRevokeView is the view model of pages/api_key_revoke.html.
type apiKeyRevokeView struct {
	Base
	Key apiKeyRow
}

// apiKeyRevokeConfirm asks before revoking. Another tenant's key is 404.
func (c *Console) apiKeyRevokeConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	k, err := c.admin.Credential(r.Context(), rq.actor, gatehouse.KindAPIKey, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &apiKeyRevokeView{
		Base: Base{Title: msg("apikey.revoke.title"), Nav: "api-keys"},
		Key:  apiKeyRowOf(k, c.now()),
	}
	return c.render(w, r, rq, http.StatusOK, "api_key_revoke", v)
}

// apiKeyRevoke revokes the key once the confirmation form is posted.
func (c *Console) apiKeyRevoke(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.admin.RevokeCredential(r.Context(), rq.actor, gatehouse.KindAPIKey, r.PathValue("id")); err != nil {
		return err
	}
	c.setFlash(w, msg("flash.api_key_revoked"))
	http.Redirect(w, r, Prefix+"/api-keys", http.StatusSeeOther)
	return nil
}
