package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// loginView is the view model of pages/login.html.
type loginView struct {
	Base
	Email  string // kept after a failed attempt
	Next   string
	Errors *FormErrors
}

// loginPage shows the login form; a signed-in user goes straight on.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	next := SafeRedirect(r.URL.Query().Get("next"))
	if rq, ok := c.authenticate(r); ok {
		http.Redirect(w, r, landing(rq.actor.Role, next), http.StatusSeeOther)
		return nil
	}
	v := &loginView{Base: Base{Title: msg("login.title")}, Next: next}
	c.allowLoginRedirect(w, r, next)
	c.renderWith(w, r, nil, c.localizerFor(r, nil), http.StatusOK, "login", v)
	return nil
}

// login checks the form's email and password through admin.Login (which
// throttles repeated failures), starts a fresh session in the user's
// first tenant and goes to the page requested before login.
func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	if !c.checkLoginCSRF(r) {
		return errCSRF
	}
	loc := c.localizerFor(r, nil)
	email := strings.TrimSpace(r.PostFormValue("email"))
	next := SafeRedirect(r.PostFormValue("next"))
	v := &loginView{Base: Base{Title: msg("login.title")}, Email: email, Next: next}
	c.allowLoginRedirect(w, r, next)
	u, err := c.admin.Login(r.Context(), email, r.PostFormValue("password"), c.clientIP(r))
	if err != nil {
		switch gatehouse.ErrorCode(err) {
		case gatehouse.EUNAUTHORIZED:
			v.Errors = &FormErrors{Form: loc.T(msg("login.error.invalid"))}
			c.renderWith(w, r, nil, loc, http.StatusUnauthorized, "login", v)
			return nil
		case gatehouse.ETOOMANY:
			text := msg("login.error.toomany")
			if errors.Is(err, admin.ErrBusy) {
				text = msg("login.error.busy")
			}
			var ge *gatehouse.Error
			if errors.As(err, &ge) {
				httpx.SetRetryAfter(w.Header(), ge.RetryAfter)
			}
			v.Errors = &FormErrors{Form: loc.T(text)}
			c.renderWith(w, r, nil, loc, http.StatusTooManyRequests, "login", v)
			return nil
		}
		return err
	}
	tms, err := c.store.ListUserTenants(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if len(tms) == 0 {
		v.Errors = &FormErrors{Form: loc.T(msg("login.error.notenant"))}
		c.renderWith(w, r, nil, loc, http.StatusForbidden, "login", v)
		return nil
	}
	// The login.success event commits with the session, in the log of
	// the tenant it starts in.
	tenantID := c.fallbackTenant(r, u.ID)
	r = r.WithContext(c.admin.LoginAudited(r.Context(), u, tenantID, c.clientIP(r)))
	if _, err := c.StartSession(w, r, u, tenantID); err != nil {
		return err
	}
	var role gatehouse.Role
	for _, tm := range tms {
		if tm.Tenant.ID == tenantID {
			role = tm.Role
		}
	}
	http.Redirect(w, r, landing(role, next), http.StatusSeeOther)
	return nil
}

// logout deletes the session (a POST with a CSRF token, so another site
// cannot log the user out) and returns to the login page.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	if _, _, ok := c.CurrentUser(r); !ok {
		http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
		return nil
	}
	if !c.CheckCSRF(r) {
		return errCSRF
	}
	if err := c.EndSession(w, r); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.logged_out"), Prefix+"/login")
}

// allowLoginRedirect lets the login form's redirect chain end at an OAuth
// 2.0 client: when next is an authorization request whose client and
// redirect URI are registered, login → /oauth2/authorize → the client (a
// consent given before) must pass the page's form-action.
func (c *Console) allowLoginRedirect(w http.ResponseWriter, r *http.Request, next string) {
	if c.oauth == nil {
		return
	}
	u, err := url.Parse(next)
	if err != nil || u.Path != AuthorizePath {
		return
	}
	if req, err := c.oauth.ParseAuthorize(r.Context(), u.Query()); err == nil {
		allowFormRedirect(w, req.RedirectURI)
	}
}
