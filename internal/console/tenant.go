package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// switchTenant moves the session to another tenant of the user (the top
// bar's tenant switcher). A tenant the user does not belong to is 404.
func (c *Console) switchTenant(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PostFormValue("tenant_id")
	if _, err := c.store.FindMembership(r.Context(), id, rq.user.ID); err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such tenant")
		}
		return err
	}
	if err := c.store.SetSessionTenant(r.Context(), rq.session.ID, id); err != nil {
		return err
	}
	// Object pages (a token's revoke step) belong to the old tenant, so go
	// to the start page of the new one.
	return c.flashRedirect(w, r, msg("flash.tenant_switched"), Prefix+"/tokens")
}

// setLocale saves the user's console language ("" = follow the browser).
func (c *Console) setLocale(w http.ResponseWriter, r *http.Request, rq *request) error {
	loc := r.PostFormValue("locale")
	if loc != "" && !c.cat.supported(loc) {
		return gatehouse.FieldError("locale", "unknown language")
	}
	u := *rq.user
	u.Locale = loc
	if err := c.store.UpdateUser(r.Context(), &u); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.locale_saved"), SafeRedirect(r.PostFormValue("next")))
}
