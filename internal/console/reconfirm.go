package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// reconfirm asks the signed-in user's password again before a change that
// a stolen or unattended session must not be enough for: saving an
// integration (SPEC §5), the tenant's security settings and making an
// owner. It is the check integration saving uses, admin.ConfirmPassword,
// throttled per user. fe holds the message for the input named field when
// the password is missing or wrong; err is anything else (too many wrong
// passwords is the 429 page).
//
// Security: an empty password is refused here without a check, so a form
// sent without one does not count as a failed attempt.
func (c *Console) reconfirm(r *http.Request, rq *request, field string) (fe *FormErrors, err error) {
	pw := r.PostFormValue(field)
	if pw == "" {
		return fieldError(field, rq.loc.T(msg("reconfirm.error.missing"))), nil
	}
	err = c.admin.ConfirmPassword(r.Context(), rq.actor, pw)
	if gatehouse.IsCode(err, gatehouse.EINVALID) {
		return fieldError(field, rq.loc.T(msg("reconfirm.error.password"))), nil
	}
	return nil, err
}
