package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// OAuth apps (seed 002, Fax.Plus: Integrations › API › Activate): register
// an app with its redirect URIs, copy the Client ID (APIK-…) and the
// Client Secret shown once, and open the ready authorize link. An
// Enterprise-plan feature, for owners and admins.

// oauthAppsView is the view model of pages/oauth_apps.html.
type oauthAppsView struct {
	Base
	Apps       []oauthAppRow
	List       *listNav
	Enterprise bool // false: the plan panel instead of the form
	Form       oauthAppForm
	Errors     *FormErrors
	Picker     scopePicker
	Grants     []grantOption
}

// oauthAppRow is one app; it never holds the secret, only its hint.
type oauthAppRow struct {
	ID                  string
	Name                string
	Confidential        bool
	RedirectURIs        []string
	Origins             []string // the origins CORS allows (docs/cors.md)
	OriginsDefault      bool     // Origins are the redirect URIs' (none registered)
	Scopes              []string
	GrantTypes          []string
	RequirePAR          bool
	SecretHint          string
	PrevSecretExpiresAt *time.Time
	CreatedAt           time.Time
}

// oauthAppForm is what the user typed into the register form.
type oauthAppForm struct {
	Name         string
	RedirectURIs string // one per line
	Origins      string // allowed origins, one per line
	Confidential bool
	Grants       map[string]bool
	Scopes       map[string]bool
	RequirePAR   bool // the require_par checkbox (RFC 9126 §6)
	Nonce        string
}

// grantOption is one grant type checkbox.
type grantOption struct {
	Value   string
	Label   string // message ID
	Help    string // message ID
	Checked bool
}

var oauthAppFields = map[string]string{
	"name":   msg("error.field.name"),
	"scopes": msg("error.field.scopes"),
}

func oauthAppRowOf(c *gatehouse.Client) oauthAppRow {
	return oauthAppRow{
		ID: c.ID, Name: c.Name, Confidential: c.Confidential, RedirectURIs: c.RedirectURIs,
		Origins: c.EffectiveOrigins(), OriginsDefault: len(c.AllowedOrigins) == 0,
		Scopes: c.Scopes, GrantTypes: c.GrantTypes, SecretHint: c.SecretHint,
		PrevSecretExpiresAt: c.PrevSecretExpiresAt, CreatedAt: c.CreatedAt, RequirePAR: c.RequirePAR,
	}
}

func (c *Console) oauthAppList(w http.ResponseWriter, r *http.Request, rq *request) error {
	f := oauthAppForm{
		Confidential: true,
		Grants:       map[string]bool{gatehouse.GrantAuthorizationCode: true, gatehouse.GrantRefreshToken: true},
		Scopes:       map[string]bool{gatehouse.ScopeAll: true},
	}
	return c.renderOAuthApps(w, r, rq, http.StatusOK, f, nil)
}

func (c *Console) renderOAuthApps(w http.ResponseWriter, r *http.Request, rq *request, status int, f oauthAppForm, fe *FormErrors) error {
	ctx := r.Context()
	pq, nav, err := listQuery(r, rq, "/console/oauth-apps", msg("list.search.apps"), gatehouse.ClientSorts)
	if err != nil {
		return err
	}
	apps, err := c.admin.Clients(ctx, rq.actor, gatehouse.ListFilter{Query: nav.Query, Page: pq}) // owners and admins only
	if err != nil {
		return err
	}
	nav.fill(rq, apps.Next)
	t, err := c.store.FindTenantByID(ctx, rq.actor.TenantID)
	if err != nil {
		return err
	}
	v := &oauthAppsView{
		Base:       Base{Title: msg("oauthapp.title"), Nav: "oauth-apps"},
		List:       nav,
		Enterprise: t.Plan == gatehouse.PlanEnterprise,
		Form:       f,
		Errors:     fe,
		// An app's tokens act for the user who allowed it; Gatehouse's own
		// management API is not offered to third parties from here.
		Picker: c.picker(f.Scopes, fe, false),
	}
	v.Picker.Legend, v.Picker.Help = msg("oauthapp.form.scopes"), msg("oauthapp.form.scopes.help")
	v.Form.Nonce = randomToken(16)
	for _, g := range []grantOption{
		{Value: gatehouse.GrantAuthorizationCode, Label: msg("oauthapp.grant.authorization_code"), Help: msg("oauthapp.grant.authorization_code.help")},
		{Value: gatehouse.GrantRefreshToken, Label: msg("oauthapp.grant.refresh_token"), Help: msg("oauthapp.grant.refresh_token.help")},
		{Value: gatehouse.GrantClientCredentials, Label: msg("oauthapp.grant.client_credentials"), Help: msg("oauthapp.grant.client_credentials.help")},
		{Value: gatehouse.GrantDeviceCode, Label: msg("oauthapp.grant.device_code"), Help: msg("oauthapp.grant.device_code.help")},
	} {
		g.Checked = f.Grants[g.Value]
		v.Grants = append(v.Grants, g)
	}
	for _, a := range apps.Items {
		v.Apps = append(v.Apps, oauthAppRowOf(a))
	}
	return c.render(w, r, rq, status, "oauth_apps", v)
}

// oauthAppCreatedView is the view model of pages/oauth_app_created.html,
// the one response that ever contains the client secret.
type oauthAppCreatedView struct {
	Base
	App    oauthAppRow
	Secret string // "" for a public client
	Links  []authorizeLink
}

// authorizeLink is the seed's ready link for one redirect URI.
type authorizeLink struct {
	RedirectURI string
	URL         string
}

// authorizeLinks builds the seed's authorize link for every registered
// redirect URI: response_type=code, client_id, redirect_uri, scope=all.
func (c *Console) authorizeLinks(a *gatehouse.Client) []authorizeLink {
	if !a.AllowsGrant(gatehouse.GrantAuthorizationCode) {
		return nil
	}
	out := make([]authorizeLink, 0, len(a.RedirectURIs))
	for _, u := range a.RedirectURIs {
		out = append(out, authorizeLink{
			RedirectURI: u,
			URL: c.publicURL + AuthorizePath + "?response_type=code&client_id=" + url.QueryEscape(a.ID) +
				"&redirect_uri=" + url.QueryEscape(u) + "&scope=all",
		})
	}
	return out
}

// oauthAppCreate is Activate. Security: the secret is rendered only in this
// POST's response (Cache-Control: no-store); a reload is a no-op.
func (c *Console) oauthAppCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	scopes, grants := r.PostForm["scopes"], r.PostForm["grant_types"]
	f := oauthAppForm{
		Name:         r.PostFormValue("name"),
		RedirectURIs: r.PostFormValue("redirect_uris"),
		Origins:      r.PostFormValue("allowed_origins"),
		Confidential: r.PostFormValue("client_type") != "public",
		Grants:       setOf(grants),
		Scopes:       setOf(scopes),
		RequirePAR:   r.PostFormValue("require_par") != "",
	}
	if ok, err := c.consumeNonce(w, r, rq, Prefix+"/oauth-apps"); !ok || err != nil {
		return err
	}
	in := admin.ClientInput{
		Name:           f.Name,
		RedirectURIs:   splitLines(f.RedirectURIs),
		AllowedOrigins: splitLines(f.Origins),
		Scopes:         scopes,
		Confidential:   f.Confidential,
		GrantTypes:     grants,
		RequirePAR:     f.RequirePAR,
	}
	if len(grants) == 0 {
		// Every box unticked is a choice to refuse, not "the defaults".
		return c.renderOAuthApps(w, r, rq, http.StatusUnprocessableEntity, f,
			fieldError("grant_types", rq.loc.T(msg("error.field.grant_types"))))
	}
	app, sec, err := c.admin.CreateClient(r.Context(), rq.actor, in)
	if err != nil {
		if gatehouse.IsCode(err, gatehouse.EFORBIDDEN) && rq.actor.Role.CanManage() {
			// Not on the Enterprise plan: the list shows the plan panel.
			return c.renderOAuthApps(w, r, rq, http.StatusForbidden, f, nil)
		}
		if status, fe, ok := c.formErrorFor(rq, err, oauthAppFields); ok {
			return c.renderOAuthApps(w, r, rq, status, f, fe)
		}
		return err
	}
	v := &oauthAppCreatedView{
		Base:   Base{Title: msg("oauthapp.created.title"), Nav: "oauth-apps"},
		App:    oauthAppRowOf(app),
		Secret: sec,
		Links:  c.authorizeLinks(app),
	}
	return c.render(w, r, rq, http.StatusOK, "oauth_app_created", v)
}

// splitLines turns a textarea into its non-empty trimmed lines.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// oauthAppView is the view model of pages/oauth_app.html: one app, its
// authorize links, and the ways to Edit, Rotate secret (confirmed first,
// oauth_app_edit.go) and Delete.
type oauthAppView struct {
	Base
	App   oauthAppRow
	Links []authorizeLink
}

// graceOption is one choice of how long a rotated-out secret keeps working.
type graceOption struct {
	Value string // a Go duration, "0" for none
	Label string // message ID
}

var graceOptions = []graceOption{
	{"0", msg("oauthapp.rotate.grace.none")},
	{"1h", msg("oauthapp.rotate.grace.1h")},
	{"24h", msg("oauthapp.rotate.grace.24h")},
	{"168h", msg("oauthapp.rotate.grace.7d")},
}

// oauthAppPage shows one app. Another tenant's app is 404.
func (c *Console) oauthAppPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	app, err := c.admin.Client(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &oauthAppView{
		Base:  Base{Title: msg("oauthapp.app.title"), Nav: "oauth-apps"},
		App:   oauthAppRowOf(app),
		Links: c.authorizeLinks(app),
	}
	return c.render(w, r, rq, http.StatusOK, "oauth_app", v)
}

// oauthAppSecretView is the view model of pages/oauth_app_secret.html, the
// one response that ever contains a rotated secret.
type oauthAppSecretView struct {
	Base
	App    oauthAppRow
	Secret string
}

// oauthAppRotate gives a confidential app a new secret, shown once; the old
// one keeps working for the chosen grace period.
func (c *Console) oauthAppRotate(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	app, err := c.admin.Client(r.Context(), rq.actor, id)
	if err != nil {
		return err
	}
	back := Prefix + "/oauth-apps/" + app.ID
	if ok, err := c.consumeNonce(w, r, rq, back); !ok || err != nil {
		return err
	}
	grace, err := time.ParseDuration(r.PostFormValue("grace_period"))
	if err != nil {
		return c.oauthAppRotateRefused(w, r, rq, id, http.StatusUnprocessableEntity,
			fieldError("grace_period", rq.loc.T(msg("error.field.grace_period"))))
	}
	app, sec, err := c.admin.RotateClientSecret(r.Context(), rq.actor, id, grace)
	if err != nil {
		if status, fe, ok := c.formError(rq, err); ok {
			return c.oauthAppRotateRefused(w, r, rq, id, status, fe)
		}
		return err
	}
	v := &oauthAppSecretView{
		Base:   Base{Title: msg("oauthapp.rotated.title"), Nav: "oauth-apps"},
		App:    oauthAppRowOf(app),
		Secret: sec,
	}
	return c.render(w, r, rq, http.StatusOK, "oauth_app_secret", v)
}

// oauthAppDeleteView is the view model of pages/oauth_app_delete.html.
type oauthAppDeleteView struct {
	Base
	App oauthAppRow
}

// oauthAppDeleteConfirm asks before deleting: every token the app issued
// stops working.
func (c *Console) oauthAppDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	app, err := c.admin.Client(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &oauthAppDeleteView{Base: Base{Title: msg("oauthapp.delete.title"), Nav: "oauth-apps"}, App: oauthAppRowOf(app)}
	return c.render(w, r, rq, http.StatusOK, "oauth_app_delete", v)
}

// oauthAppDelete deletes the app once the confirmation form is posted.
func (c *Console) oauthAppDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.admin.DeleteClient(r.Context(), rq.actor, r.PathValue("id")); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.oauth_app_deleted"), Prefix+"/oauth-apps")
}
