package console

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Connected apps: the OAuth apps the signed-in user has allowed in the
// current tenant, and Revoke access. Every member has the page, staff
// included: a consent is the user's own.

// connectedAppsView is the view model of pages/connected_apps.html.
type connectedAppsView struct {
	Base
	Apps []connectedAppRow
}

// connectedAppRow is one allowed app.
type connectedAppRow struct {
	ClientID string
	Name     string // "" when the app has since been deleted
	Scopes   []consentScope
	Since    time.Time
}

func (c *Console) connectedApps(w http.ResponseWriter, r *http.Request, rq *request) error {
	apps, err := c.admin.ConnectedApps(r.Context(), rq.actor)
	if err != nil {
		return err
	}
	v := &connectedAppsView{Base: Base{Title: msg("connected.title"), Nav: "connected-apps"}}
	for _, a := range apps {
		v.Apps = append(v.Apps, c.connectedRow(a.Consent, a.Client))
	}
	return c.render(w, r, rq, http.StatusOK, "connected_apps", v)
}

// connectedRow describes a consent. SPEC §9: a consent saved before apps
// lost manage may still list it; the row shows what the app can use.
func (c *Console) connectedRow(consent *gatehouse.Consent, app *gatehouse.Client) connectedAppRow {
	row := connectedAppRow{ClientID: consent.ClientID, Scopes: c.consentScopes(gatehouse.AppScopes(consent.Scopes)), Since: consent.CreatedAt}
	if app != nil {
		row.Name = app.Name
	}
	return row
}

// connectedAppRevokeView is the view model of pages/connected_app_revoke.html.
type connectedAppRevokeView struct {
	Base
	App connectedAppRow
}

// connectedApp finds one of the user's connected apps; an app the user has
// not allowed (or another tenant's) is 404.
func (c *Console) connectedApp(r *http.Request, rq *request) (connectedAppRow, error) {
	apps, err := c.admin.ConnectedApps(r.Context(), rq.actor)
	if err != nil {
		return connectedAppRow{}, err
	}
	id := r.PathValue("id")
	for _, a := range apps {
		if a.Consent.ClientID == id {
			return c.connectedRow(a.Consent, a.Client), nil
		}
	}
	return connectedAppRow{}, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such connected app")
}

// connectedAppRevokeConfirm asks before revoking the app's access.
func (c *Console) connectedAppRevokeConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	row, err := c.connectedApp(r, rq)
	if err != nil {
		return err
	}
	v := &connectedAppRevokeView{Base: Base{Title: msg("connected.revoke.title"), Nav: "connected-apps"}, App: row}
	return c.render(w, r, rq, http.StatusOK, "connected_app_revoke", v)
}

// connectedAppRevoke forgets the consent and revokes every token the app
// holds for the user, at once.
func (c *Console) connectedAppRevoke(w http.ResponseWriter, r *http.Request, rq *request) error {
	row, err := c.connectedApp(r, rq)
	if err != nil {
		return err
	}
	if err := c.admin.DisconnectApp(r.Context(), rq.actor, row.ClientID); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.connected_app_revoked"), Prefix+"/connected-apps")
}
