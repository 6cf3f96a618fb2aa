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
	c.setFlash(w, msg("flash.tenant_switched"))
	// Object pages (a token's revoke step) belong to the old tenant, so go
	// to the start page of the new one.
	http.Redirect(w, r, Prefix+"/tokens", http.StatusSeeOther)
	return nil
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
	c.setFlash(w, msg("flash.locale_saved"))
	http.Redirect(w, r, SafeRedirect(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}
