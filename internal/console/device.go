package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/oauth2"
)

// deviceView is the view model of pages/device.html, the verification
// page of the device authorization grant (RFC 8628 §3.3): the code entry
// form, then the consent for the request the code names, then the answer.
type deviceView struct {
	Base
	UserCode string
	Errors   *FormErrors
	// Set once a code names a request: the same facts the code flow's
	// consent page shows.
	App     string
	Tenant  string
	Account string
	Scopes  []consentScope
	Done    string // message ID of the outcome, after Allow or Deny
	DoneMsg string // message ID of what to do next
}

// deviceGet serves GET /console/device: without user_code the entry form;
// with one (typed into the form, or from verification_uri_complete) the
// consent for the request it names. A GET decides nothing; the lookup
// counts against the user's attempts (oauth2.Provider.FindDeviceRequest).
func (c *Console) deviceGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	typed, has := r.URL.Query()["user_code"]
	if !has || c.oauth == nil {
		return c.renderDevice(w, r, rq, http.StatusOK, &deviceView{})
	}
	code := typed[0]
	req, err := c.oauth.FindDeviceRequest(r.Context(), rq.user.ID, code)
	if err != nil {
		return c.deviceError(w, r, rq, code, err)
	}
	return c.renderDevice(w, r, rq, http.StatusOK, c.deviceConsent(rq, req))
}

// devicePost is the consent form's Allow or Deny (CSRF-checked by the
// form adapter). The code is looked up again, so a request decided or
// expired since the page was shown is refused.
func (c *Console) devicePost(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.oauth == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "OAuth 2.0 is not enabled")
	}
	code := r.PostFormValue("user_code")
	req, err := c.oauth.FindDeviceRequest(r.Context(), rq.user.ID, code)
	if err != nil {
		return c.deviceError(w, r, rq, code, err)
	}
	a, err := c.admin.ActorFor(r.Context(), req.Tenant.ID, rq.user.ID, c.clientIP(r))
	if err != nil {
		return err
	}
	v := &deviceView{}
	switch r.PostFormValue(decisionField) {
	case decisionAllow:
		// The consent.allow event commits with the consent, as in the
		// code flow (authorizePost).
		err = c.oauth.ApproveDevice(c.admin.ConsentAudited(r.Context(), a, req.Client, req.Scopes), req, rq.user.ID)
		v.Done, v.DoneMsg = msg("device.done.allowed"), msg("device.done.allowed.text")
	case decisionDeny:
		if err = c.admin.ConsentDenied(r.Context(), a, req.Client, req.Scopes); err == nil {
			err = c.oauth.DenyDevice(r.Context(), req, rq.user.ID)
		}
		v.Done, v.DoneMsg = msg("device.done.denied"), msg("device.done.denied.text")
	default:
		return gatehouse.Errorf(gatehouse.EINVALID, "decision must be allow or deny")
	}
	if err != nil {
		return c.deviceError(w, r, rq, code, err)
	}
	v.App = req.Client.Name
	return c.renderDevice(w, r, rq, http.StatusOK, v)
}

// deviceError shows the entry form again with the reason a code was
// refused, in the reader's language: 404 for a code that names nothing,
// 429 with Retry-After past the attempt limit. Anything else is the error
// page.
func (c *Console) deviceError(w http.ResponseWriter, r *http.Request, rq *request, code string, err error) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) || (ge.Code != gatehouse.ENOTFOUND && ge.Code != gatehouse.ETOOMANY) || ge.ID == "" {
		return err
	}
	status := http.StatusNotFound
	if ge.Code == gatehouse.ETOOMANY {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int((ge.RetryAfter.Seconds())+0.999)))
	}
	if len(code) > 64 {
		code = "" // not echoed
	}
	return c.renderDevice(w, r, rq, status, &deviceView{UserCode: code, Errors: fieldError("user_code", domainText(rq.loc, ge))})
}

func (c *Console) deviceConsent(rq *request, req *oauth2.DeviceRequest) *deviceView {
	return &deviceView{
		UserCode: req.UserCode,
		App:      req.Client.Name,
		Tenant:   req.Tenant.Name,
		Account:  rq.user.Email,
		Scopes:   c.consentScopes(req.Scopes),
	}
}

func (c *Console) renderDevice(w http.ResponseWriter, r *http.Request, rq *request, status int, v *deviceView) error {
	v.Title = msg("device.title")
	if v.Errors == nil {
		v.Errors = &FormErrors{}
	}
	return c.render(w, r, rq, status, "device", v)
}
