package console

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"net/http"
	"time"
)

// CSRF protection. Every console form carries a synchronizer token in the
// hidden field CSRFField, checked in constant time on every POST:
//   - with a session, the token is an HMAC of the session's random CSRFKey
//     under a server key, so it is bound to that login and useless after
//     logout (and a database read alone cannot forge it);
//   - before login (the login form itself), it is an HMAC of a random
//     pre-session cookie under Keys.Derive("csrf"), the double-submit
//     pattern with a server secret.
//
// Go's http.CrossOriginProtection (Sec-Fetch-Site / Origin checks) wraps
// every route as a second, independent layer.
const (
	// CSRFField is the name of the hidden form field holding the token.
	CSRFField = "csrf_token"
	// preSessionCookie carries the random value the login form's token is
	// derived from.
	preSessionCookie = "gatehouse_csrf"
)

// errCSRF is a failed CSRF check; it renders the "form expired" 403 page.
var errCSRF = errors.New("console: csrf check failed")

// CSRFToken returns the token to put into a form's CSRFField: bound to the
// session when the request has one, else to a pre-session cookie that it
// sets on w when the request has none yet.
func (c *Console) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if _, s, ok := c.CurrentUser(r); ok {
		return c.sessionToken(s.CSRFKey)
	}
	if ck, err := r.Cookie(preSessionCookie); err == nil && len(ck.Value) == 43 {
		return c.preSessionToken(ck.Value)
	}
	v := randomToken(32)
	http.SetCookie(w, &http.Cookie{
		Name:     preSessionCookie,
		Value:    v,
		Path:     "/",
		MaxAge:   int(SessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteStrictMode,
	})
	return c.preSessionToken(v)
}

// CheckCSRF reports whether a POST carries a valid token in CSRFField for
// the request's session, or, for requests without a session, for its
// pre-session cookie. The form is parsed (with a size limit set by the
// console's handlers).
func (c *Console) CheckCSRF(r *http.Request) bool {
	got, ok := formToken(r)
	if !ok {
		return false
	}
	if _, s, ok := c.CurrentUser(r); ok {
		// Security: hmac.Equal is constant time.
		return hmac.Equal(got, c.keys.MAC("console/csrf/session", s.CSRFKey))
	}
	return c.checkPreSession(r, got)
}

// checkLoginCSRF is CheckCSRF for login forms: the pre-session token is
// accepted even when the browser meanwhile signed in from another tab.
func (c *Console) checkLoginCSRF(r *http.Request) bool {
	if c.CheckCSRF(r) {
		return true
	}
	got, ok := formToken(r)
	return ok && c.checkPreSession(r, got)
}

func formToken(r *http.Request) ([]byte, bool) {
	got, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(CSRFField))
	return got, err == nil && len(got) > 0
}

func (c *Console) checkPreSession(r *http.Request, got []byte) bool {
	ck, err := r.Cookie(preSessionCookie)
	if err != nil || len(ck.Value) != 43 {
		return false
	}
	return hmac.Equal(got, c.keys.MAC("csrf", []byte(ck.Value)))
}

func (c *Console) sessionToken(key []byte) string {
	return base64.RawURLEncoding.EncodeToString(c.keys.MAC("console/csrf/session", key))
}

func (c *Console) preSessionToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(c.keys.MAC("csrf", []byte(cookie)))
}
