package console

import (
	"net/http"
	"slices"
	"strings"
	"time"

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
	// to the start page of the new one: the home of the user's role there.
	next := Prefix + "/"
	if m, err := c.store.FindMembership(r.Context(), id, rq.user.ID); err == nil {
		next = home(m.Role)
	}
	return c.flashRedirect(w, r, msg("flash.tenant_switched"), next)
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

// setLocale saves the user's console language and time zone, those the
// form sends ("" = follow the browser).
func (c *Console) setLocale(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := r.ParseForm(); err != nil {
		return gatehouse.FieldError("locale", "unreadable form")
	}
	u := *rq.user
	if _, ok := r.PostForm["locale"]; ok {
		loc := r.PostFormValue("locale")
		if loc != "" && !c.cat.supported(loc) {
			return gatehouse.FieldError("locale", "unknown language")
		}
		u.Locale = loc
	}
	if _, ok := r.PostForm["time_zone"]; ok {
		tz := r.PostFormValue("time_zone")
		if tz != "" && !validTimeZone(tz) {
			return gatehouse.FieldError("time_zone", "unknown time zone")
		}
		u.TimeZone = tz
	}
	if err := c.store.UpdateUser(r.Context(), &u); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.locale_saved"), SafeRedirect(r.PostFormValue("next")))
}

// timeZones are the time zones the top bar offers (the user may hold any
// other valid one, which is offered too): UTC and the zones of the seeds'
// admins first, then the world's busiest.
var timeZones = []string{
	"UTC", "Asia/Taipei", "Asia/Shanghai", "Asia/Hong_Kong", "Europe/Moscow",
	"Asia/Singapore", "Asia/Tokyo", "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai",
	"Europe/Istanbul", "Europe/Berlin", "Europe/Paris", "Europe/London",
	"America/Sao_Paulo", "America/New_York", "America/Chicago", "America/Denver",
	"America/Los_Angeles", "Australia/Sydney", "Pacific/Auckland",
}

// timeZoneChoices is timeZones, with current added when it is another.
func timeZoneChoices(current string) []string {
	if current == "" || slices.Contains(timeZones, current) {
		return timeZones
	}
	return append(slices.Clip(timeZones), current)
}

// validTimeZone accepts an IANA time zone name the Go time zone database
// knows. Security: the name comes from a form and is written into every
// page, so it is also held to the shape of such names (no "Local", no
// paths, at most 64 characters).
func validTimeZone(tz string) bool {
	if tz == "Local" || len(tz) > 64 || strings.Contains(tz, "..") {
		return false
	}
	for i, c := range tz {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || strings.ContainsRune("_+-/", c))
		if !ok {
			return false
		}
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}
