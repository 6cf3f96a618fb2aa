// Package console is Gatehouse's server-rendered admin console under
// /console/: personal access tokens, the API Portal's API keys, OAuth apps,
// Magento-style integrations, users with their staff API tokens and IP
// whitelists, settings and the audit log of the tenant the signed-in user
// works in.
//
// It is a thin adapter over admin.Service, which checks roles, validates
// input and writes the audit log; the console turns forms into calls and
// results into pages. Templates are plain html/template files embedded
// from package web, all parsed at start-up, one per page with a typed view
// model; every user-facing string comes from one message catalogue.
//
// Security: sessions are database-backed (only the SHA-256 of the cookie is
// stored), every form carries a CSRF token, cross-origin POSTs are refused
// by http.CrossOriginProtection, and every page is sent with a strict
// Content-Security-Policy (no inline script) and Cache-Control: no-store.
package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/web"
)

// Prefix is where the console is mounted; handlers see full paths.
const Prefix = "/console"

// maxForm bounds the body of a console form.
const maxForm = 64 << 10

// Store is what the console reads and writes itself — its sessions, its
// single-use form nonces, and the user, membership and tenant reads a
// session needs; everything else goes through admin. gatehouse.Store,
// which sqlstore implements, satisfies it.
type Store interface {
	CreateSession(ctx context.Context, s *gatehouse.Session) error
	FindSessionByHash(ctx context.Context, hash []byte) (*gatehouse.Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	SetSessionTenant(ctx context.Context, id, tenantID string) error
	DeleteSession(ctx context.Context, id string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) error
	ConsumeOnce(ctx context.Context, namespace, key string, now, expires time.Time) error
	FindUserByID(ctx context.Context, id string) (*gatehouse.User, error)
	UpdateUser(ctx context.Context, u *gatehouse.User) error
	FindMembership(ctx context.Context, tenantID, userID string) (*gatehouse.Membership, error)
	ListUserTenants(ctx context.Context, userID string) ([]*gatehouse.TenantMembership, error)
	FindTenantByID(ctx context.Context, id string) (*gatehouse.Tenant, error)
}

// Config wires a Console.
type Config struct {
	Admin *admin.Service
	// OAuth2 is the authorization server whose /oauth2/authorize login and
	// consent pages the console renders (AuthorizeHandler); nil disables it.
	OAuth2         *oauth2.Provider
	Store          Store
	Keys           *secret.Keyring
	PublicURL      string // an https URL makes cookies Secure; the base of authorize links
	TrustedProxies []netip.Prefix
	// IdleTimeout ends a session after this long without a request
	// (default DefaultIdleTimeout); SessionLifetime bounds it regardless.
	IdleTimeout time.Duration
	Log         *slog.Logger     // default slog.Default()
	Now         func() time.Time // default time.Now
}

// Console is the admin console, an http.Handler for every path under
// /console/. It is safe for concurrent use.
type Console struct {
	admin     *admin.Service
	oauth     *oauth2.Provider
	publicURL string // PublicURL without a trailing slash
	store     Store
	keys      *secret.Keyring
	trusted   []netip.Prefix
	log       *slog.Logger
	now       func() time.Time
	idle      time.Duration // Config.IdleTimeout
	secure    bool

	cat     *catalog
	pages   map[string]*template.Template
	static  http.Handler
	version string // content hash of the static files, for cache busting
	handler http.Handler
}

// New builds the console, parsing every template and message catalogue:
// a broken template or locale file is a start-up error, not a 500 later.
func New(cfg Config) (*Console, error) {
	if cfg.Admin == nil || cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("console: Admin, Store and Keys are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{
		admin:     cfg.Admin,
		oauth:     cfg.OAuth2,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		store:     cfg.Store,
		keys:      cfg.Keys,
		trusted:   cfg.TrustedProxies,
		log:       cfg.Log,
		now:       cfg.Now,
		idle:      cfg.IdleTimeout,
	}
	if c.idle <= 0 {
		c.idle = DefaultIdleTimeout
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("console: public URL: %w", err)
		}
		c.secure = u.Scheme == "https"
	}
	var err error
	if c.cat, err = loadCatalog(web.Locales()); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if c.version, err = staticVersion(web.Static()); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if c.pages, err = parseTemplates(web.Templates(), c.baseFuncs()); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.static = staticHandler(web.Static())
	c.handler = c.routes()
	return c, nil
}

// ServeHTTP serves every path under /console/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.handler.ServeHTTP(w, r)
}

// routes builds the console's mux. GETs render pages; every POST checks
// its CSRF token before it changes anything.
func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	// The console's root is the signed-in role's home (home.go).
	mux.Handle("GET /console", c.page(c.homeRedirect))
	mux.Handle("GET /console/{$}", c.page(c.homeRedirect))
	mux.Handle("GET /console/static/", http.StripPrefix(Prefix+"/static", c.static))

	mux.Handle("GET /console/login", c.public(c.loginPage))
	mux.Handle("POST /console/login", c.public(c.login))
	mux.Handle("POST /console/logout", c.public(c.logout))

	// The credential kinds with a list of their own: personal access
	// tokens (seed 002) and the API Portal's API keys (seed 003).
	for _, p := range listPages {
		mux.Handle("GET "+p.URL, c.page(c.credentialList(p)))
		mux.Handle("POST "+p.URL, c.form(c.credentialCreate(p)))
		mux.Handle("GET "+p.URL+"/{id}/revoke", c.page(c.credentialRevokeConfirm(p)))
		mux.Handle("POST "+p.URL+"/{id}/revoke", c.form(c.credentialRevoke(p)))
	}

	mux.Handle("GET /console/users", c.page(c.userList))
	mux.Handle("POST /console/users", c.form(c.userAdd))
	mux.Handle("POST /console/users/{id}/role", c.form(c.userRole))
	mux.Handle("GET /console/users/{id}/remove", c.page(c.userRemoveConfirm))
	mux.Handle("POST /console/users/{id}/remove", c.form(c.userRemove))
	mux.Handle("GET /console/users/{id}", c.page(c.userPage))

	// A user's API Auth tab: the staff API token and its IP whitelist (seed 001).
	mux.Handle("GET /console/users/{id}/api-auth", c.page(c.apiAuthPage))
	mux.Handle("POST /console/users/{id}/api-token", c.form(c.staffTokenGenerate))
	mux.Handle("GET /console/users/{id}/api-token/delete", c.page(c.staffTokenDeleteConfirm))
	mux.Handle("POST /console/users/{id}/api-token/delete", c.form(c.staffTokenDelete))
	mux.Handle("GET /console/users/{id}/ip-whitelist/new", c.page(c.ipWhitelistNew))
	mux.Handle("POST /console/users/{id}/ip-whitelist", c.form(c.ipWhitelistAdd))
	mux.Handle("GET /console/users/{id}/ip-whitelist/{entry}/delete", c.page(c.ipWhitelistDeleteConfirm))
	mux.Handle("POST /console/users/{id}/ip-whitelist/{entry}/delete", c.form(c.ipWhitelistDelete))

	// OAuth apps (seed 002: Integrations › API › Activate) and the apps a
	// user has allowed.
	mux.Handle("GET /console/oauth-apps", c.page(c.oauthAppList))
	mux.Handle("POST /console/oauth-apps", c.form(c.oauthAppCreate))
	mux.Handle("GET /console/oauth-apps/{id}", c.page(c.oauthAppPage))
	mux.Handle("GET /console/oauth-apps/{id}/edit", c.page(c.oauthAppEdit))
	mux.Handle("POST /console/oauth-apps/{id}/edit", c.form(c.oauthAppUpdate))
	mux.Handle("GET /console/oauth-apps/{id}/rotate-secret", c.page(c.oauthAppRotateConfirm))
	mux.Handle("POST /console/oauth-apps/{id}/rotate-secret", c.form(c.oauthAppRotate))
	mux.Handle("GET /console/oauth-apps/{id}/delete", c.page(c.oauthAppDeleteConfirm))
	mux.Handle("POST /console/oauth-apps/{id}/delete", c.form(c.oauthAppDelete))
	mux.Handle("GET /console/connected-apps", c.page(c.connectedApps))
	mux.Handle("GET /console/device", c.page(c.deviceGet))   // RFC 8628 §3.3
	mux.Handle("POST /console/device", c.form(c.devicePost)) // verification page
	mux.Handle("GET /console/connected-apps/{id}/revoke", c.page(c.connectedAppRevokeConfirm))
	mux.Handle("POST /console/connected-apps/{id}/revoke", c.form(c.connectedAppRevoke))

	// Integrations (seed 000: System › Extensions › Integrations).
	mux.Handle("GET /console/integrations", c.page(c.integrationList))
	mux.Handle("POST /console/integrations", c.form(c.integrationCreate))
	mux.Handle("GET /console/integrations/new", c.page(c.integrationNew))
	mux.Handle("POST /console/integrations/notifications/dismiss", c.form(c.integrationDismiss))
	mux.Handle("GET /console/integrations/{id}", c.page(c.integrationPage))
	mux.Handle("GET /console/integrations/{id}/edit", c.page(c.integrationEdit))
	mux.Handle("POST /console/integrations/{id}/edit", c.form(c.integrationUpdate))
	mux.Handle("GET /console/integrations/{id}/activate", c.page(c.integrationActivatePage))
	mux.Handle("POST /console/integrations/{id}/activate", c.form(c.integrationActivate))
	mux.Handle("GET /console/integrations/{id}/reauthorize", c.page(c.integrationReauthorizePage))
	mux.Handle("POST /console/integrations/{id}/reauthorize", c.form(c.integrationReauthorize))
	mux.Handle("GET /console/integrations/{id}/delete", c.page(c.integrationDeleteConfirm))
	mux.Handle("POST /console/integrations/{id}/delete", c.form(c.integrationDelete))

	mux.Handle("GET /console/settings", c.page(c.settingsPage))
	mux.Handle("POST /console/settings", c.form(c.settingsSave))

	mux.Handle("GET /console/audit", c.page(c.auditPage))
	mux.Handle("GET /console/audit/export", c.page(c.auditExport))

	// Every role at home (issue 14): the signed-in user's own staff API
	// token (read-only) and profile, open to every role; home.go decides
	// what each role's sidebar offers and where it lands.
	mux.Handle("GET "+myAPITokenURL, c.page(c.myAPIToken))
	mux.Handle("GET "+profileURL, c.page(c.profilePage))

	mux.Handle("POST /console/tenant", c.form(c.switchTenant))
	mux.Handle("POST /console/locale", c.form(c.setLocale))

	mux.Handle("/console/", c.public(func(w http.ResponseWriter, r *http.Request) error {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such page")
	}))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, c.withAuth(r), errCSRF)
	}))
	return httpx.SecurityHeaders(consoleHeaders(cop.Handler(mux)))
}

// consoleHeaders sets the console's browser security policy. Security: no
// inline script or style may run (scripts and CSS come from
// /console/static/ only), the console cannot be framed, and forms may
// only post back to this origin.
func consoleHeaders(next http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// request is what an authenticated console handler works with.
type request struct {
	user    *gatehouse.User
	session *gatehouse.Session
	actor   admin.Actor
	loc     *localizer
}

// pageFunc is an authenticated console handler that returns its error; fail
// turns the error into a page.
type pageFunc func(w http.ResponseWriter, r *http.Request, rq *request) error

// public adapts a handler that needs no session (login, error pages).
func (c *Console) public(h httpx.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = c.withAuth(r)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// page adapts a GET handler that needs a signed-in user; anonymous
// visitors are sent to the login page and brought back afterwards.
func (c *Console) page(h pageFunc) http.Handler {
	return c.public(func(w http.ResponseWriter, r *http.Request) error {
		rq, ok := c.authenticate(r)
		if !ok {
			http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusSeeOther)
			return nil
		}
		return h(w, r, rq)
	})
}

// form adapts a POST handler: a signed-in user and a valid CSRF token are
// required before the handler runs, so a forged POST changes nothing.
func (c *Console) form(h pageFunc) http.Handler {
	return c.public(func(w http.ResponseWriter, r *http.Request) error {
		rq, ok := c.authenticate(r)
		if !ok {
			http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
			return nil
		}
		if !c.CheckCSRF(r) {
			return errCSRF
		}
		return h(w, r, rq)
	})
}

// authenticate builds the request of a signed-in user: their role in the
// session's tenant comes fresh from the store on every request, so a
// demotion or removal takes effect at once. A user who is no longer a
// member gets an actor without a role, which admin refuses (403 page).
func (c *Console) authenticate(r *http.Request) (*request, bool) {
	u, s, ok := c.CurrentUser(r)
	if !ok {
		return nil, false
	}
	rq := &request{user: u, session: s, loc: c.localizerFor(r, u)}
	ip := c.clientIP(r)
	a, err := c.admin.ActorFor(r.Context(), s.TenantID, u.ID, ip)
	if gatehouse.IsCode(err, gatehouse.EFORBIDDEN) {
		// No longer a member of the session's tenant (removed, or removed
		// themselves): move the session to another tenant of theirs.
		if t := c.fallbackTenant(r, u.ID); t != "" && t != s.TenantID {
			if err2 := c.store.SetSessionTenant(r.Context(), s.ID, t); err2 == nil {
				s.TenantID = t
				a, err = c.admin.ActorFor(r.Context(), t, u.ID, ip)
			}
		}
	}
	if err != nil {
		if !gatehouse.IsCode(err, gatehouse.EFORBIDDEN) {
			c.log.ErrorContext(r.Context(), "console: actor", "err", err)
		}
		a = admin.Actor{TenantID: s.TenantID, UserID: u.ID, Name: u.Email, IP: ip}
	}
	rq.actor = a
	return rq, true
}

// fallbackTenant is a tenant the user belongs to, preferring one they can
// manage; "" when they belong to none.
func (c *Console) fallbackTenant(r *http.Request, userID string) string {
	tms, err := c.store.ListUserTenants(r.Context(), userID)
	if err != nil || len(tms) == 0 {
		return ""
	}
	for _, tm := range tms {
		if tm.Role.CanManage() {
			return tm.Tenant.ID
		}
	}
	return tms[0].Tenant.ID
}

func (c *Console) clientIP(r *http.Request) string {
	if a := httpx.ClientIP(r, c.trusted); a.IsValid() {
		return a.String()
	}
	return ""
}

func (c *Console) localizerFor(r *http.Request, u *gatehouse.User) *localizer {
	pref := ""
	if u != nil {
		pref = u.Locale
	}
	return c.cat.localizer(c.cat.pick(pref, r.Header.Get("Accept-Language")), c.log)
}

// loginURL is the login page, remembering where to go afterwards.
func loginURL(next string) string {
	if next == "" || SafeRedirect(next) != next {
		return Prefix + "/login"
	}
	return Prefix + "/login?next=" + url.QueryEscape(next)
}

// SafeRedirect returns next, its path cleaned, when it is a same-origin
// relative path to a console page ("/console/users?x=1") or to the OAuth
// 2.0 authorization endpoint ("/oauth2/authorize?client_id=…", where login
// sends the user back to the consent page), and the console's start page
// otherwise.
//
// Security: a login link must not send the user anywhere else (no open
// redirect). Absolute URLs, schemes, scheme-relative "//host" and "/\host"
// forms, backslashes, spaces, control and non-ASCII characters are refused;
// so is a path with more than plainPath allows, such as a percent-encoded
// '.', '/', '\' or '%' (browsers treat %2e as a dot segment, and servers
// differ on %2f), and the path is cleaned (path.Clean, as http.Redirect
// and browsers do) before its prefix is checked, so "/console/../../evil"
// cannot leave the console.
func SafeRedirect(next string) string {
	const home = Prefix + "/tokens"
	if next == "" || len(next) > maxNext || next[0] != '/' {
		return home
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return home
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	raw, _, _ := strings.Cut(next, "?")
	raw, _, _ = strings.Cut(raw, "#")
	if !plainPath(raw) {
		return home
	}
	p := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && p != "/" {
		p += "/"
	}
	if p != Prefix && !strings.HasPrefix(p, Prefix+"/") && p != AuthorizePath {
		return home
	}
	clean := (&url.URL{Path: p, RawQuery: u.RawQuery}).String()
	if len(clean) > maxNext || clean[0] != '/' || strings.HasPrefix(clean, "//") {
		return home
	}
	return clean
}

// plainPath reports whether the raw path s has only letters, digits and
// "/._~-", and percent escapes of other bytes than '.', '/', '\\', '%' and
// control characters: every path the console links to, and nothing a
// browser or a proxy might read differently than path.Clean does (dot
// segments in disguise, ";" parameters, encoded slashes).
func plainPath(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', strings.IndexByte("/._~-", b) >= 0:
		case b == '%' && i+2 < len(s):
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil || v < 0x20 || v == 0x7f || strings.IndexByte(".%/\\", byte(v)) >= 0 {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// maxNext bounds a return address: an authorization request with a long
// state and a PKCE challenge fits easily.
const maxNext = 4096

// errorText is the heading and message (IDs) of the error page for an
// error code; known is false for a code that is shown as a 500.
func errorText(code string) (heading, message string, known bool) {
	switch code {
	case gatehouse.EFORBIDDEN:
		return msg("error.forbidden.title"), msg("error.forbidden.message"), true
	case gatehouse.ENOTFOUND:
		return msg("error.notfound.title"), msg("error.notfound.message"), true
	case gatehouse.ETOOMANY:
		return msg("error.toomany.title"), msg("error.toomany.message"), true
	case gatehouse.EUNAVAILABLE:
		return msg("error.unavailable.title"), msg("error.unavailable.message"), true
	case gatehouse.EINVALID, gatehouse.ECONFLICT:
		return msg("error.invalid.title"), msg("error.invalid.message"), true
	}
	return msg("error.internal.title"), msg("error.internal.message"), false
}

// fail renders err as a page: 403 for a failed CSRF check or a role the
// admin service refused, 404 for unknown (or other tenants') objects,
// 429/503 as such, and 500 with no internal detail for anything else (the
// detail is logged).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	rq, _ := c.authenticate(r)
	loc := c.localizerFor(r, nil)
	if rq != nil {
		loc = rq.loc
	}
	v := &errorView{}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errCSRF):
		status = http.StatusForbidden
		v.Heading, v.Message = msg("error.csrf.title"), msg("error.csrf.message")
	default:
		code := gatehouse.ErrorCode(err)
		status = httpx.Status(code)
		var ge *gatehouse.Error
		if errors.As(err, &ge) {
			httpx.SetRetryAfter(w.Header(), ge.RetryAfter)
			// A refusal that names its reason says it, in the reader's
			// language, under the generic text ("The user has no API
			// token. Generate one first.").
			if (code == gatehouse.EINVALID || code == gatehouse.ECONFLICT) && ge.ID != "" && loc.has(ge.ID) {
				v.Reason = domainText(loc, ge)
			}
		}
		var known bool
		if v.Heading, v.Message, known = errorText(code); !known {
			status = http.StatusInternalServerError
		}
	}
	if status >= 500 || errors.Is(err, errCSRF) {
		lvl := slog.LevelError
		if status < 500 {
			lvl = slog.LevelWarn
		}
		c.log.Log(r.Context(), lvl, "console: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		httpx.SetUnavailable(w.Header()) // issue 12: a busy or unreachable database
	}
	v.Status = status
	v.Title = v.Heading
	c.renderWith(w, r, rq, loc, status, "error", v)
}
