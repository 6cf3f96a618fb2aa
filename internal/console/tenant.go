package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// switchTenant moves the session to another tenant of the user (the top
// bar's tenant switcher), recorded as tenant.switch in the log of the
// tenant entered. A tenant the user does not belong to is 404.
func (c *Console) switchTenant(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PostFormValue("tenant_id")
	if err := c.setSessionTenant(r, rq.user, rq.session, id); err != nil {
		return err
	}
	// Object pages (a token's revoke step) belong to the old tenant, so go
	// to the start page of the new one.
	return c.flashRedirect(w, r, msg("flash.tenant_switched"), Prefix+"/tokens")
}

// setSessionTenant moves session s of u to tenant id with its
// tenant.switch audit event (none when s is there already). A tenant u
// is not a member of is ENOTFOUND.
func (c *Console) setSessionTenant(r *http.Request, u *gatehouse.User, s *gatehouse.Session, id string) error {
	m, err := c.store.FindMembership(r.Context(), id, u.ID)
	if err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such tenant")
		}
		return err
	}
	if s.TenantID == id {
		return nil
	}
	a := admin.Actor{TenantID: id, UserID: u.ID, Name: u.Email, Role: m.Role, IP: c.clientIP(r)}
	ctx, err := c.admin.TenantSwitchAudited(r.Context(), a)
	if err != nil {
		return err
	}
	if err := c.store.SetSessionTenant(ctx, s.ID, id); err != nil {
		return err
	}
	s.TenantID = id
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
	return c.flashRedirect(w, r, msg("flash.locale_saved"), SafeRedirect(r.PostFormValue("next")))
}
