package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/oauth2"
)

// AuthorizePath is the OAuth 2.0 authorization endpoint (SPEC §5), a
// browser route served by the console: it needs the console's session,
// login page, CSRF protection and templates.
const AuthorizePath = "/oauth2/authorize"

// Form fields of the consent page that are not authorization parameters.
const (
	decisionField = "decision" // SPEC §5: decision=allow or decision=deny
	decisionAllow = "allow"
	decisionDeny  = "deny"
)

// AuthorizeHandler serves GET and POST /oauth2/authorize (RFC 6749 §4.1.1):
//
//   - GET checks the request with oauth2.Provider.ParseAuthorize. An unknown
//     client or redirect URI is a 400 page that never redirects (RFC 6749
//     §4.1.2.1); other errors go back to the registered redirect URI. A
//     visitor without a session is sent to the login page, which returns
//     here. A member of the app's tenant who already allowed the requested
//     scopes is redirected with a code at once; otherwise the consent page
//     shows the app, the tenant, the scopes in plain words and the redirect
//     host, with Allow and Deny. A GET never changes the session: the
//     console's tenant switches to the app's only on the form's POST.
//   - POST is the consent form: it checks the CSRF token, parses the
//     authorization parameters again from the form's hidden fields (nothing
//     about the request is kept server-side between the two steps, so a
//     forged form can only name a registered redirect URI), and redirects
//     with a code (Allow) or error=access_denied (Deny).
//
// Security: every answer is Cache-Control: no-store, the pages cannot be
// framed (X-Frame-Options DENY, frame-ancestors 'none': no clickjacking of
// the Allow button), and cross-origin POSTs are refused.
func (c *Console) AuthorizeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+AuthorizePath, c.authorizeRoute(c.authorizeGet))
	mux.Handle("POST "+AuthorizePath, c.authorizeRoute(c.authorizePost))
	mux.Handle(AuthorizePath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.authorizeFail(w, c.withAuth(r), errCSRF)
	}))
	return httpx.SecurityHeaders(consoleHeaders(noStore(cop.Handler(mux))))
}

// noStore marks every answer, redirects with codes included, uncacheable.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// authorizeRoute adapts an authorization endpoint handler: the session is
// looked up once, form bodies are bounded, and errors become pages without
// the console's sidebar.
func (c *Console) authorizeRoute(h httpx.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = c.withAuth(r)
		if c.oauth == nil {
			c.authorizeFail(w, r, gatehouse.Errorf(gatehouse.ENOTFOUND, "OAuth 2.0 is not enabled"))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		if err := h(w, r); err != nil {
			c.authorizeFail(w, r, err)
		}
	})
}

// authorizeGet is the start of the flow: the link a client sends the user to.
func (c *Console) authorizeGet(w http.ResponseWriter, r *http.Request) error {
	params := r.URL.Query()
	req, stop, err := c.parseAuthorize(w, r, params, http.StatusFound)
	if stop || err != nil {
		return err
	}
	u, _, ok := c.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, loginURL(AuthorizePath+"?"+r.URL.RawQuery), http.StatusFound)
		return nil
	}
	// Security: a GET is what any site can make the browser send, so it
	// changes nothing in the session (the console's tenant is switched only
	// by the consent form's CSRF-checked POST); it only checks membership.
	if err := c.requireMember(r, u, req.Tenant); err != nil {
		return err
	}
	covered, err := c.oauth.ConsentCovers(r.Context(), req, u.ID)
	if err != nil {
		return err
	}
	if covered {
		// The user allowed this app these scopes before: no second prompt.
		to, err := c.oauth.Approve(r.Context(), req, u.ID)
		if err != nil {
			return err
		}
		http.Redirect(w, r, to, http.StatusFound)
		return nil
	}
	return c.renderConsent(w, r, u, req)
}

// authorizePost is the consent form's Allow or Deny.
func (c *Console) authorizePost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return gatehouse.Errorf(gatehouse.EINVALID, "the form could not be read")
	}
	params := authorizeParams(r.PostForm)
	u, s, ok := c.CurrentUser(r)
	if !ok {
		// The session ended (logout in another tab, expiry): log in again
		// and come back to the consent page; nothing is decided here.
		http.Redirect(w, r, loginURL(AuthorizePath+"?"+params.Encode()), http.StatusSeeOther)
		return nil
	}
	if !c.CheckCSRF(r) {
		return errCSRF
	}
	// RFC 9700 §4.12: a redirect answering a POST must not be a 307, which
	// would re-post the form to the client; 303 makes it a GET.
	req, stop, err := c.parseAuthorize(w, r, params, http.StatusSeeOther)
	if stop || err != nil {
		return err
	}
	switch r.PostForm.Get(decisionField) {
	case decisionAllow:
		if err := c.enterTenant(r, u, s, req.Tenant); err != nil {
			return err
		}
		a, err := c.admin.ActorFor(r.Context(), req.Tenant.ID, u.ID, c.clientIP(r))
		if err != nil {
			return err
		}
		// The oauth_consent.allow event commits with the consent.
		to, err := c.oauth.Approve(c.admin.ConsentAudited(r.Context(), a, req.Client, req.Scopes), req, u.ID)
		if err != nil {
			return err
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	case decisionDeny:
		// Recorded in the app's tenant when the user is a member of it
		// (one who is not sees errNotMember before any consent page).
		if err := c.requireMember(r, u, req.Tenant); err != nil {
			return err
		}
		a, err := c.admin.ActorFor(r.Context(), req.Tenant.ID, u.ID, c.clientIP(r))
		if err != nil {
			return err
		}
		// RFC 9126 §4: a pushed request is spent by either decision.
		if err := c.oauth.ConsumePushed(r.Context(), req); err != nil {
			return err
		}
		if err := c.admin.ConsentDenied(r.Context(), a, req.Client, req.Scopes); err != nil {
			return err
		}
		// RFC 6749 §4.1.2.1: access_denied, to the registered URI.
		http.Redirect(w, r, c.oauth.Deny(req), http.StatusSeeOther)
	default:
		return gatehouse.Errorf(gatehouse.EINVALID, "decision must be allow or deny")
	}
	return nil
}

// parseAuthorize runs ParseAuthorize on params. stop is true when the
// answer has been written: a redirect carrying the error to the client's
// registered URI, or the 400 page for an untrusted client or redirect URI
// (which never redirects).
func (c *Console) parseAuthorize(w http.ResponseWriter, r *http.Request, params url.Values, status int) (*oauth2.AuthorizeRequest, bool, error) {
	req, err := c.oauth.ParseAuthorize(r.Context(), params)
	var ae *oauth2.AuthorizeError
	switch {
	case errors.As(err, &ae) && ae.Redirect:
		http.Redirect(w, r, ae.RedirectURL, status)
		return nil, true, nil
	case errors.As(err, &ae):
		c.renderAuthorizeError(w, r, http.StatusBadRequest, authorizeErrorView(ae))
		return nil, true, nil
	case err != nil:
		return nil, true, err
	}
	return req, false, nil
}

// authorizeParams are the authorization parameters among a consent form's
// fields: everything but the CSRF token and the decision.
func authorizeParams(form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		if k == CSRFField || k == decisionField {
			continue
		}
		out[k] = slices.Clone(v)
	}
	return out
}

// requireMember refuses (errNotMember) a user who is not a member of the
// app's tenant.
func (c *Console) requireMember(r *http.Request, u *gatehouse.User, t *gatehouse.Tenant) error {
	if _, err := c.store.FindMembership(r.Context(), t.ID, u.ID); err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return errNotMember{tenant: t.Name}
		}
		return err
	}
	return nil
}

// enterTenant makes the app's tenant the session's tenant when the user is
// a member of it (errNotMember otherwise), so that the console shows the
// tenant whose data the user has just shared. Only the consent form's POST
// calls it.
func (c *Console) enterTenant(r *http.Request, u *gatehouse.User, s *gatehouse.Session, t *gatehouse.Tenant) error {
	if err := c.requireMember(r, u, t); err != nil {
		return err
	}
	return c.setSessionTenant(r, u, s, t.ID) // audited as tenant.switch
}

// errNotMember: the signed-in user cannot allow an app of a tenant they do
// not belong to.
type errNotMember struct{ tenant string }

func (e errNotMember) Error() string { return "not a member of the app's tenant " + e.tenant }

// consentView is the view model of pages/oauth_consent.html.
type consentView struct {
	Base
	App          string
	Tenant       string
	Account      string // the signed-in user's email
	RedirectHost string
	Confidential bool
	Scopes       []consentScope
	Params       []hiddenField // every authorization parameter, for the form
}

// consentScope is one requested scope in plain words; the template titles
// its resources in the reader's language.
type consentScope struct {
	ID       string
	Path     []*gatehouse.Resource // root to the scope ("Sales › Orders"); empty for the special scopes
	Message  string                // message ID for "all" and "verify"
	Includes []*gatehouse.Resource // the children, which the scope also grants
}

// hiddenField is one name/value pair the consent form carries.
type hiddenField struct{ Name, Value string }

func (c *Console) renderConsent(w http.ResponseWriter, r *http.Request, u *gatehouse.User, req *oauth2.AuthorizeRequest) error {
	v := &consentView{
		Base:         Base{Title: msg("consent.title")},
		App:          req.Client.Name,
		Tenant:       req.Tenant.Name,
		Account:      u.Email,
		Confidential: req.Client.Confidential,
		Scopes:       c.consentScopes(req.Scopes),
	}
	if ru, err := url.Parse(req.RedirectURI); err == nil {
		v.RedirectHost = ru.Host
	}
	keys := make([]string, 0, len(req.Params))
	for k := range req.Params {
		if k != CSRFField && k != decisionField {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, val := range req.Params[k] {
			v.Params = append(v.Params, hiddenField{Name: k, Value: val})
		}
	}
	// The redirect URI was just checked against the registered ones, so
	// it may be named in form-action (see allowFormRedirect).
	allowFormRedirect(w, req.RedirectURI)
	c.renderWith(w, r, nil, c.localizerFor(r, u), http.StatusOK, "oauth_consent", v)
	return nil
}

// allowFormRedirect adds the origin of a registered redirect URI to the
// page's form-action. Security: browsers apply form-action to the
// redirects that follow a form submission too, so the consent (and login)
// form's 303 to the client would otherwise be blocked; only the one
// registered origin is added.
func allowFormRedirect(w http.ResponseWriter, redirectURI string) {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return
	}
	origin := u.Scheme + "://" + u.Host
	if strings.ContainsAny(origin, " ;,'\"") {
		return
	}
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	h.Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' "+origin, 1))
}

// consentScopes describes scopes with the resource tree's titles. manage
// never reaches it: apps are never granted manage (SPEC §9) and
// integrations never hold it.
func (c *Console) consentScopes(scopes []string) []consentScope {
	tree := c.admin.Tree()
	paths := map[string][]*gatehouse.Resource{}
	var walk func(prefix []*gatehouse.Resource, nodes []*gatehouse.Resource)
	walk = func(prefix []*gatehouse.Resource, nodes []*gatehouse.Resource) {
		for _, n := range nodes {
			p := append(slices.Clip(prefix), n)
			paths[n.ID] = p
			walk(p, n.Children)
		}
	}
	walk(nil, tree.Roots())
	out := make([]consentScope, 0, len(scopes))
	for _, s := range scopes {
		cs := consentScope{ID: s}
		switch s {
		case gatehouse.ScopeAll:
			cs.Message = msg("consent.scope.all")
		case gatehouse.ScopeVerify:
			cs.Message = msg("consent.scope.verify")
		default:
			cs.Path = paths[s] // an unknown scope shows as its id
			if r, ok := tree.Find(s); ok {
				cs.Includes = r.Children
			}
		}
		out = append(out, cs)
	}
	return out
}

// authorizeErrorViewModel is the view model of pages/oauth_error.html.
type authorizeErrorViewModel struct {
	Base
	Status  int
	Heading string // message ID
	Message string // message ID
	Tenant  string // for the not-a-member page
	Detail  string // the protocol error code and description, for developers
}

func authorizeErrorView(ae *oauth2.AuthorizeError) *authorizeErrorViewModel {
	v := &authorizeErrorViewModel{Heading: msg("oauth.error.title"), Message: msg("oauth.error.request"), Detail: ae.Code + ": " + ae.Description}
	switch {
	case ae.Code == "invalid_client":
		v.Message = msg("oauth.error.client")
	case strings.Contains(ae.Description, "redirect_uri"):
		v.Message = msg("oauth.error.redirect_uri")
	case strings.Contains(ae.Description, "client_id"):
		v.Message = msg("oauth.error.client")
	}
	return v
}

func (c *Console) renderAuthorizeError(w http.ResponseWriter, r *http.Request, status int, v *authorizeErrorViewModel) {
	v.Status = status
	v.Title = v.Heading
	var u *gatehouse.User
	if cu, _, ok := c.CurrentUser(r); ok {
		u = cu
	}
	c.renderWith(w, r, nil, c.localizerFor(r, u), status, "oauth_error", v)
}

// authorizeFail renders an error of the authorization endpoint as a page
// without the console's sidebar; internal detail is only logged.
func (c *Console) authorizeFail(w http.ResponseWriter, r *http.Request, err error) {
	var nm errNotMember
	v := &authorizeErrorViewModel{}
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &nm):
		status = http.StatusForbidden
		v.Heading, v.Message, v.Tenant = msg("oauth.notmember.title"), msg("oauth.notmember.message"), nm.tenant
	case errors.Is(err, errCSRF):
		status = http.StatusForbidden
		v.Heading, v.Message = msg("error.csrf.title"), msg("error.csrf.message")
		c.log.WarnContext(r.Context(), "oauth2: consent refused: csrf", "path", r.URL.Path)
	default:
		code := gatehouse.ErrorCode(err)
		status = httpx.Status(code)
		var known bool
		v.Heading, v.Message, known = errorText(code)
		switch {
		case code == gatehouse.EINVALID:
			status = http.StatusBadRequest // a malformed consent form
			v.Heading, v.Message, v.Detail = msg("oauth.error.title"), msg("oauth.error.request"), gatehouse.ErrorMessage(err)
		case code == gatehouse.EFORBIDDEN:
			v.Message = msg("oauth.error.forbidden")
		case !known:
			status = http.StatusInternalServerError
			c.log.ErrorContext(r.Context(), "oauth2: authorize failed", "method", r.Method, "err", err)
		}
	}
	c.renderAuthorizeError(w, r, status, v)
}
