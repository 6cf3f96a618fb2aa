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

// apply returns s with the patch's fields set.
func (p settingsPatch) apply(s gatehouse.Settings) gatehouse.Settings {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&s.AllowAnonymousGuestAccess, p.AllowAnonymousGuestAccess)
	set(&s.EnhancedSecurity, p.EnhancedSecurity)
	set(&s.OAuth1TokensAsBearer, p.OAuth1TokensAsBearer)
	set(&s.RequireClientHeader, p.RequireClientHeader)
	return s
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

// updateSettings applies a partial object and answers the full settings.
func (h *handler) updateSettings(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var p settingsPatch
	if err := httpx.DecodeJSON(w, r, &p); err != nil {
		return err
	}
	cur, err := h.admin.Settings(r.Context(), a)
	if err != nil {
		return err
	}
	next := p.apply(cur)
	if err := h.admin.UpdateSettings(r.Context(), a, next); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, next)
	return nil
}
