package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// The tenant's security settings (SPEC §4): /api/v1/settings.

func (h *handler) settingsRoutes() []route {
	return []route{
		{method: http.MethodGet, pattern: Prefix + "/settings", serve: h.getSettings},
		{method: http.MethodPatch, pattern: Prefix + "/settings", serve: h.updateSettings},
	}
}

// settingsPatch is the body of PATCH /settings: absent (or null) fields
// keep their value.
type settingsPatch struct {
	AllowAnonymousGuestAccess *bool `json:"allow_anonymous_guest_access"`
	EnhancedSecurity          *bool `json:"enhanced_security"`
	OAuth1TokensAsBearer      *bool `json:"oauth1_tokens_as_bearer"`
	RequireClientHeader       *bool `json:"require_client_header"`
}

// getSettings answers the four settings (gatehouse.Settings carries the
// JSON names of SPEC §4).
func (h *handler) getSettings(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	s, err := h.admin.Settings(r.Context(), a)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, s)
	return nil
}

// updateSettings sets the switches the body names, and only those, in
// one store statement (two concurrent PATCHes of different switches both
// stick), and answers the full settings as they are after it.
func (h *handler) updateSettings(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var p settingsPatch
	if err := httpx.DecodeJSON(w, r, &p); err != nil {
		return err
	}
	next, err := h.admin.PatchSettings(r.Context(), a, gatehouse.SettingsPatch(p))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, next)
	return nil
}
