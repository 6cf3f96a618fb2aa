package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// Edit an OAuth app (name, redirect URIs, scopes, grant types; its Client
// ID, type and secret stay) and the confirmation before Rotate secret,
// with its choice of grace period.

// oauthAppEditView is the view model of pages/oauth_app_edit.html.
type oauthAppEditView struct {
	Base
	App    oauthAppRow // as stored: the heading, the Client ID, the type
	Form   oauthAppForm
	Errors *FormErrors
	Picker scopePicker
	Grants []grantOption
}

// grantOptions are the grant type checkboxes an app of its type may tick:
// client_credentials only for a confidential one.
func grantOptions(confidential bool, checked map[string]bool) []grantOption {
	opts := []grantOption{
		{Value: gatehouse.GrantAuthorizationCode, Label: msg("oauthapp.grant.authorization_code"), Help: msg("oauthapp.grant.authorization_code.help")},
		{Value: gatehouse.GrantRefreshToken, Label: msg("oauthapp.grant.refresh_token"), Help: msg("oauthapp.grant.refresh_token.help")},
		{Value: gatehouse.GrantDeviceCode, Label: msg("oauthapp.grant.device_code"), Help: msg("oauthapp.grant.device_code.help")},
	}
	if confidential {
		opts = append(opts, grantOption{Value: gatehouse.GrantClientCredentials, Label: msg("oauthapp.grant.client_credentials"), Help: msg("oauthapp.grant.client_credentials.help")})
	}
	for i := range opts {
		opts[i].Checked = checked[opts[i].Value]
	}
	return opts
}

// oauthAppEdit shows the edit form filled in with the app as it is.
// Another tenant's app is 404.
func (c *Console) oauthAppEdit(w http.ResponseWriter, r *http.Request, rq *request) error {
	app, err := c.admin.Client(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := oauthAppForm{
		Name:         app.Name,
		RedirectURIs: strings.Join(app.RedirectURIs, "\n"),
		Origins:      strings.Join(app.AllowedOrigins, "\n"),
		Confidential: app.Confidential,
		Grants:       setOf(app.GrantTypes),
		Scopes:       setOf(app.Scopes),
		RequirePAR:   app.RequirePAR,
	}
	return c.renderOAuthAppEdit(w, r, rq, http.StatusOK, app, f, nil)
}

func (c *Console) renderOAuthAppEdit(w http.ResponseWriter, r *http.Request, rq *request, status int, app *gatehouse.Client, f oauthAppForm, fe *FormErrors) error {
	v := &oauthAppEditView{
		Base:   Base{Title: msg("oauthapp.edit.title"), Nav: "oauth-apps"},
		App:    oauthAppRowOf(app),
		Form:   f,
		Errors: fe,
		// As on Activate: manage is never offered to an app (SPEC §9).
		Picker: c.picker(f.Scopes, fe, false),
		Grants: grantOptions(app.Confidential, f.Grants),
	}
	v.Picker.Legend, v.Picker.Help = msg("oauthapp.form.scopes"), msg("oauthapp.form.scopes.help")
	return c.render(w, r, rq, status, "oauth_app_edit", v)
}

// oauthAppUpdate saves the edit form: the whole registration, as typed.
// Refusals re-render the form with what was typed and the field messages.
func (c *Console) oauthAppUpdate(w http.ResponseWriter, r *http.Request, rq *request) error {
	app, err := c.admin.Client(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	name, redirects := r.PostFormValue("name"), r.PostFormValue("redirect_uris")
	scopes, grants := r.PostForm["scopes"], r.PostForm["grant_types"]
	requirePAR := r.PostFormValue("require_par") != ""
	origins := r.PostFormValue("allowed_origins")
	f := oauthAppForm{Name: name, RedirectURIs: redirects, Origins: origins, Confidential: app.Confidential, Grants: setOf(grants), Scopes: setOf(scopes), RequirePAR: requirePAR}
	if len(grants) == 0 {
		return c.renderOAuthAppEdit(w, r, rq, http.StatusUnprocessableEntity, app, f,
			fieldError("grant_types", rq.loc.T(msg("error.field.grant_types"))))
	}
	if len(scopes) == 0 {
		return c.renderOAuthAppEdit(w, r, rq, http.StatusUnprocessableEntity, app, f,
			fieldError("scopes", rq.loc.T(msg("error.field.scopes"))))
	}
	uris := splitLines(redirects)
	if uris == nil {
		uris = []string{} // every line emptied: no redirect URI
	}
	allowed := splitLines(origins)
	if allowed == nil {
		allowed = []string{} // every line emptied: the default
	}
	_, err = c.admin.UpdateClient(r.Context(), rq.actor, app.ID, admin.ClientUpdate{
		Name: &name, RedirectURIs: &uris, Scopes: &scopes, GrantTypes: &grants, RequirePAR: &requirePAR, AllowedOrigins: &allowed,
	})
	if err != nil {
		if status, fe, ok := c.formErrorFor(rq, err, oauthAppFields); ok {
			return c.renderOAuthAppEdit(w, r, rq, status, app, f, fe)
		}
		return err
	}
	return c.flashRedirect(w, r, msg("flash.oauth_app_updated"), Prefix+"/oauth-apps/"+app.ID)
}

// oauthAppRotateView is the view model of pages/oauth_app_rotate.html,
// the confirmation before a secret is rotated.
type oauthAppRotateView struct {
	Base
	App    oauthAppRow
	Graces []graceChoice
	Nonce  string
	Errors *FormErrors
}

// graceChoice is one radio button of the grace period.
type graceChoice struct {
	graceOption
	ID      string // the input's id
	Checked bool
}

// defaultGrace is the grace period the confirmation page starts with:
// none, as the API's default. A rotation is as often a response to a
// leaked secret as routine, and a leaked secret must stop at once; a
// routine rotation picks a grace on purpose (docs/decisions.md).
const defaultGrace = "0"

// oauthAppRotateConfirm asks before rotating a confidential app's secret,
// with the choice of how long the old one keeps working.
func (c *Console) oauthAppRotateConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	app, err := c.admin.Client(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !app.Confidential {
		return gatehouse.Errorf(gatehouse.ECONFLICT, "a public client has no secret").WithID("error.public_no_secret")
	}
	return c.renderOAuthAppRotate(w, r, rq, http.StatusOK, app, defaultGrace, nil)
}

func (c *Console) renderOAuthAppRotate(w http.ResponseWriter, r *http.Request, rq *request, status int, app *gatehouse.Client, chosen string, fe *FormErrors) error {
	v := &oauthAppRotateView{
		Base:   Base{Title: msg("oauthapp.rotate.confirm.title"), Nav: "oauth-apps"},
		App:    oauthAppRowOf(app),
		Nonce:  randomToken(16),
		Errors: fe,
	}
	for i, g := range graceOptions {
		v.Graces = append(v.Graces, graceChoice{graceOption: g, ID: "grace-" + string(rune('0'+i)), Checked: g.Value == chosen})
	}
	return c.render(w, r, rq, status, "oauth_app_rotate", v)
}

// oauthAppRotateRefused re-renders the confirmation with the refusal.
func (c *Console) oauthAppRotateRefused(w http.ResponseWriter, r *http.Request, rq *request, id string, status int, fe *FormErrors) error {
	app, err := c.admin.Client(r.Context(), rq.actor, id)
	if err != nil {
		return err
	}
	chosen := r.PostFormValue("grace_period")
	if _, err := time.ParseDuration(chosen); err != nil {
		chosen = defaultGrace
	}
	return c.renderOAuthAppRotate(w, r, rq, status, app, chosen, fe)
}
