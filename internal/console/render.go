package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Base is the part of every page's view model that the layout uses: the
// language, the signed-in user and their tenants, the CSRF token for the
// layout's forms and the flash message. Page view models embed it.
type Base struct {
	Lang      string // <html lang>
	Title     string // message ID of the page title
	Nav       string // the sidebar entry to highlight
	CSRF      string // token for every form's CSRFField
	User      *gatehouse.User
	Role      gatehouse.Role
	TenantID  string
	Tenants   []TenantOption
	Languages []LanguageOption
	Locale    string // the user's saved preference ("" = browser)
	TimeZone  string // the user's IANA time zone for times ("" = browser)
	TimeZones []string
	Path      string // this page, for the selectors' return address
	Flash     *Flash
}

func (b *Base) base() *Base { return b }

// viewModel is implemented by every page's view model through Base.
type viewModel interface{ base() *Base }

// TenantOption is one entry of the tenant switcher.
type TenantOption struct {
	ID   string
	Name string
	Slug string
	Role gatehouse.Role
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind    string // "success" or "error"
	Message string // message ID
}

// flashCookie carries a flash message ID across a POST-redirect-GET; only
// IDs of flashMessages are accepted back, so it cannot inject text.
const flashCookie = "gatehouse_flash"

var flashMessages = map[string]bool{
	msg("flash.pat_revoked"):             true,
	msg("flash.user_added"):              true,
	msg("flash.user_role"):               true,
	msg("flash.user_removed"):            true,
	msg("flash.settings_saved"):          true,
	msg("flash.tenant_switched"):         true,
	msg("flash.locale_saved"):            true,
	msg("flash.logged_out"):              true,
	msg("flash.form_resubmitted"):        true,
	msg("flash.staff_token_deleted"):     true,
	msg("flash.ip_added"):                true,
	msg("flash.ip_deleted"):              true,
	msg("flash.api_key_revoked"):         true,
	msg("flash.oauth_app_deleted"):       true,
	msg("flash.oauth_app_updated"):       true,
	msg("flash.connected_app_revoked"):   true,
	msg("flash.integration_saved"):       true,
	msg("flash.integration_deleted"):     true,
	msg("flash.notifications_dismissed"): true,

	// An edit says the status the integration keeps (savedFlash).
	msg("flash.integration_saved_active"):  true,
	msg("flash.integration_saved_pending"): true,
}

func (c *Console) setFlash(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: id, Path: Prefix, MaxAge: 60,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// flashRedirect ends a successful form post (POST/redirect/GET): the
// flash message id for the next page, and 303 See Other to url.
func (c *Console) flashRedirect(w http.ResponseWriter, r *http.Request, id, url string) error {
	c.setFlash(w, id)
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) *Flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
	if !flashMessages[ck.Value] {
		return nil
	}
	return &Flash{Kind: "success", Message: ck.Value}
}

// baseFuncs are the template functions. T (a message) and title (a
// resource's title) are placeholders at parse time; each render binds them
// to the request's language.
func (c *Console) baseFuncs() template.FuncMap {
	return template.FuncMap{
		"T":      func(id string, args ...any) string { return id },
		"title":  func(r *gatehouse.Resource) string { return r.Title },
		"static": func(name string) string { return Prefix + "/static/" + name + "?v=" + c.version },
		"datetime": func(t time.Time) string {
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"isotime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"join":    strings.Join,
		"seconds": func(d time.Duration) int { return int(d / time.Second) },
	}
}

// parseTemplates parses the layout and partials once, then every page on a
// clone of them. Any error fails start-up.
func parseTemplates(fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(fsys, "layout/*.html", "partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	if base.Lookup("layout") == nil {
		return nil, fmt.Errorf("templates: no \"layout\" template")
	}
	files, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("templates: %s defines no \"content\"", f)
		}
		pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	for _, p := range pageNames {
		if pages[p] == nil {
			return nil, fmt.Errorf("templates: page %q is missing", p)
		}
	}
	return pages, nil
}

// pageNames are the pages the Go code renders; each must have a template.
var pageNames = []string{
	"login", "error", "credentials", "credential_created", "credential_revoke",
	"users", "user_remove", "user_owner", "settings", "audit",
	"user", "user_api_auth", "ip_whitelist_new", "ip_whitelist_delete",
	"oauth_apps", "oauth_app_created", "oauth_app", "oauth_app_secret", "oauth_app_delete",
	"connected_apps", "connected_app_revoke", "oauth_consent", "oauth_error",
	"integrations", "integration_form", "integration", "integration_activate",
	"integration_reauthorize", "integration_activated", "integration_delete",
	"oauth_app_edit", "oauth_app_rotate", "my_api_token", "profile",
}

// render renders a page for a signed-in user.
func (c *Console) render(w http.ResponseWriter, r *http.Request, rq *request, status int, page string, v viewModel) error {
	c.renderWith(w, r, rq, rq.loc, status, page, v)
	return nil
}

// renderWith fills the Base of v, executes the page into a buffer (so a
// template failure is a clean 500, never half a page) and writes it with
// the console's caching policy. Security: Cache-Control: no-store on every
// console page — several show secrets, all carry CSRF tokens.
func (c *Console) renderWith(w http.ResponseWriter, r *http.Request, rq *request, loc *localizer, status int, page string, v viewModel) {
	b := v.base()
	b.Lang = loc.Lang()
	b.CSRF = c.CSRFToken(w, r)
	b.Languages = c.cat.langs
	b.Path = SafeRedirect(r.URL.RequestURI())
	if b.Flash == nil {
		b.Flash = c.takeFlash(w, r)
	}
	if rq != nil {
		b.User = rq.user
		b.Role = rq.actor.Role
		b.TenantID = rq.actor.TenantID
		b.Locale = rq.user.Locale
		b.TimeZone = rq.user.TimeZone
		b.TimeZones = timeZoneChoices(rq.user.TimeZone)
		tms, err := c.store.ListUserTenants(r.Context(), rq.user.ID)
		if err != nil {
			c.log.ErrorContext(r.Context(), "console: list user tenants", "err", err)
		}
		for _, tm := range tms {
			b.Tenants = append(b.Tenants, TenantOption{ID: tm.Tenant.ID, Name: tm.Tenant.Name, Slug: tm.Tenant.Slug, Role: tm.Role})
		}
		sort.SliceStable(b.Tenants, func(i, j int) bool { return b.Tenants[i].Name < b.Tenants[j].Name })
	}
	var buf bytes.Buffer
	err := c.execute(&buf, page, loc, v)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	if err != nil {
		c.log.ErrorContext(r.Context(), "console: render", "page", page, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "<!doctype html><title>Error</title><p>Internal error.</p>")
		return
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// execute runs a page template with T bound to loc. The parsed templates
// are never executed themselves, only their clones, so they stay clonable.
func (c *Console) execute(buf *bytes.Buffer, page string, loc *localizer, v any) error {
	t := c.pages[page]
	if t == nil {
		return fmt.Errorf("no page %q", page)
	}
	t, err := t.Clone()
	if err != nil {
		return err
	}
	t.Funcs(template.FuncMap{"T": loc.T, "title": func(r *gatehouse.Resource) string { return r.TitleIn(loc.Lang()) }})
	return t.ExecuteTemplate(buf, "layout", v)
}

// staticHandler serves the embedded assets. Their URLs carry the content
// hash (?v=…), so they may be cached for a year.
func staticHandler(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		fileServer.ServeHTTP(w, r)
	})
}

// staticVersion hashes every static file, for cache-busting URLs.
func staticVersion(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("static files: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
