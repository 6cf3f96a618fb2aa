package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// settingsView is the view model of pages/settings.html: the tenant's four
// security switches (SPEC §4), grouped the way Magento's Stores › Settings
// › Configuration › Services groups them.
type settingsView struct {
	Base
	Groups []settingGroup
	Errors *FormErrors
}

// settingGroup is one fieldset of the configuration page.
type settingGroup struct {
	Title    string // message ID
	Path     string // message ID of the breadcrumb-like location
	Settings []setting
}

// setting is one switch.
type setting struct {
	Name    string // the form field, the same name as in the API
	Label   string // message ID
	Help    string // message ID
	Default bool
	On      bool
}

func settingGroups(s gatehouse.Settings) []settingGroup {
	d := gatehouse.DefaultSettings()
	return []settingGroup{
		{
			Title: msg("settings.webapi.title"), Path: msg("settings.webapi.path"),
			Settings: []setting{{
				Name: "allow_anonymous_guest_access", Label: msg("settings.guest.label"), Help: msg("settings.guest.help"),
				Default: d.AllowAnonymousGuestAccess, On: s.AllowAnonymousGuestAccess,
			}},
		},
		{
			Title: msg("settings.oauth.title"), Path: msg("settings.oauth.path"),
			Settings: []setting{{
				Name: "oauth1_tokens_as_bearer", Label: msg("settings.bearer.label"), Help: msg("settings.bearer.help"),
				Default: d.OAuth1TokensAsBearer, On: s.OAuth1TokensAsBearer,
			}},
		},
		{
			Title: msg("settings.oauth2.title"), Path: msg("settings.oauth2.path"),
			Settings: []setting{
				{
					Name: "enhanced_security", Label: msg("settings.enhanced.label"), Help: msg("settings.enhanced.help"),
					Default: d.EnhancedSecurity, On: s.EnhancedSecurity,
				},
				{
					Name: "require_client_header", Label: msg("settings.client_header.label"), Help: msg("settings.client_header.help"),
					Default: d.RequireClientHeader, On: s.RequireClientHeader,
				},
			},
		},
	}
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	s, err := c.admin.Settings(r.Context(), rq.actor)
	if err != nil {
		return err
	}
	return c.renderSettings(w, r, rq, http.StatusOK, s, nil)
}

func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, rq *request, status int, s gatehouse.Settings, fe *FormErrors) error {
	v := &settingsView{Base: Base{Title: msg("settings.title"), Nav: "settings"}, Groups: settingGroups(s), Errors: fe}
	return c.render(w, r, rq, status, "settings", v)
}

// settingsSave saves all four switches ("Save Config"); an unchecked box
// is absent from the form and means off. Security: the user's password is
// asked again first; without it nothing changes and the form comes back
// as it was sent.
func (c *Console) settingsSave(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := requireManager(rq); err != nil {
		return err
	}
	on := func(name string) bool { return r.PostFormValue(name) == "1" }
	next := gatehouse.Settings{
		AllowAnonymousGuestAccess: on("allow_anonymous_guest_access"),
		EnhancedSecurity:          on("enhanced_security"),
		OAuth1TokensAsBearer:      on("oauth1_tokens_as_bearer"),
		RequireClientHeader:       on("require_client_header"),
	}
	fe, err := c.reconfirm(r, rq, "password")
	if err != nil {
		return err
	}
	if fe != nil {
		return c.renderSettings(w, r, rq, http.StatusUnprocessableEntity, next, fe)
	}
	if err := c.admin.UpdateSettings(r.Context(), rq.actor, next); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.settings_saved"), Prefix+"/settings")
}
