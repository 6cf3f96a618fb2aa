// Package testenv starts a whole Gatehouse for tests: server.New on a fresh
// database (SQLite unless told otherwise), served over real HTTP on a
// loopback port, with a tenant and its owner seeded through the admin
// service. On top of it, the clients a person and an app would use: a
// console client logged in with a cookie jar (Console) and an OAuth 2.0 app
// with its golang.org/x/oauth2 configuration (App).
//
// testenv imports internal/server, so the packages the server is built
// from (admin, verify, oauth1, oauth2, console…) can use it only from
// their external test packages (package x_test). Their internal tests use
// testclock, which imports nothing of Gatehouse.
package testenv

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demo"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// SecretKey is the fixed GATEHOUSE_SECRET_KEY of test servers (32 bytes,
// base64), so that no key file is written beside the database.
const SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// Password is the seeded owner's console password.
const Password = "correct horse battery"

// Options configure New; the zero value is a SQLite server with tenant
// "acme" whose owner is owner@acme.test.
type Options struct {
	// DatabaseURL is the database (default: a fresh SQLite file; see
	// sqlstoretest.Each for both backends).
	DatabaseURL string
	// Config edits the configuration before it is validated.
	Config func(*config.Config)
	// Server are server.New's options. Now defaults to Clock.Now, Log to
	// warnings and errors on the test's output.
	Server server.Options
	// Clock is the server's clock (default testclock.Running(), since
	// the database and the network keep their own time).
	Clock *testclock.Clock
	// Listener is where the server listens (default 127.0.0.1:0); the
	// public URL is http:// and its address.
	Listener net.Listener
	// Demo puts the demo store API (internal/demo) behind the gateway,
	// unless Server.Upstream names another upstream.
	Demo bool
	// Handler, if set, wraps the server's handler (a test counting the
	// requests that reach Gatehouse).
	Handler func(http.Handler) http.Handler
	// Run serves through Server.Run (its background work, graceful
	// shutdown: see Env.Shutdown) instead of an httptest.Server.
	Run bool
	// Tenant is the seeded tenant (defaults: "acme", "Acme Inc.",
	// owner@acme.test, enterprise plan). NoTenant seeds none: for a
	// second node on the same database, or tests that seed their own.
	Tenant   Seed
	NoTenant bool
}

// Seed describes a tenant to create with its owner.
type Seed struct {
	Slug, Name string
	Email      string // the owner's; Password is theirs
	Plan       string
}

// Env is a running Gatehouse with one tenant and its owner (none with
// Options.NoTenant).
type Env struct {
	T      testing.TB
	Ctx    context.Context
	Server *server.Server
	// URL is the server's base URL, which is also its public URL (the
	// OAuth 2.0 issuer).
	URL         string
	DatabaseURL string
	Clock       *testclock.Clock
	// HTTP is a plain client for the server (no cookies).
	HTTP *http.Client

	Tenant     *gatehouse.Tenant
	Owner      admin.Actor
	OwnerEmail string

	stop func() error // Options.Run: cancel Run's context, wait for it
}

// Shutdown ends Server.Run (Options.Run) as a signal would: it cancels its
// context and returns Run's error once Run has returned. Later calls
// return the same error.
func (e *Env) Shutdown() error {
	if e.stop == nil {
		e.T.Fatal("testenv: Shutdown needs Options.Run")
	}
	return e.stop()
}

// New starts a server for the test and stops it (and closes its
// database) when the test ends.
func New(tb testing.TB, opts Options) *Env {
	tb.Helper()
	ctx := context.Background()
	if opts.DatabaseURL == "" {
		opts.DatabaseURL = sqlstoretest.SQLiteURL(tb)
	}
	if opts.Clock == nil {
		opts.Clock = testclock.Running()
	}
	sopts := opts.Server
	if sopts.Now == nil {
		sopts.Now = opts.Clock.Now
	}
	if sopts.Log == nil {
		sopts.Log = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.Demo && sopts.Upstream == nil {
		upstream := httptest.NewServer(demo.New())
		tb.Cleanup(upstream.Close)
		sopts.Upstream, _ = url.Parse(upstream.URL)
		sopts.Routes = demo.Routes()
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			tb.Fatalf("testenv: listen: %v", err)
		}
	}
	addr := ln.Addr().String()
	cfg := config.Default()
	cfg.Addr = addr
	cfg.PublicURL = "http://" + addr
	cfg.DatabaseURL = opts.DatabaseURL
	cfg.SecretKey = SecretKey
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		tb.Fatalf("testenv: config: %v", err)
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second) // opening the database
	defer cancel()
	s, err := server.New(octx, cfg, sopts)
	if err != nil {
		ln.Close()
		tb.Fatalf("testenv: server.New: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if opts.Handler != nil {
		s.Handler = opts.Handler(s.Handler)
	}
	e := &Env{T: tb, Ctx: ctx, Server: s, URL: "http://" + addr, DatabaseURL: opts.DatabaseURL, Clock: opts.Clock}
	// Cleanups run last-in first-out: the HTTP side stops before s.Close,
	// so no request outlives the store.
	if opts.Run {
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(rctx, ln) }()
		e.stop = sync.OnceValue(func() error {
			stop()
			return <-done
		})
		tr := &http.Transport{}
		e.HTTP = &http.Client{Transport: tr}
		tb.Cleanup(func() {
			tr.CloseIdleConnections()
			if err := e.stop(); err != nil {
				tb.Errorf("testenv: Run: %v", err)
			}
		})
	} else {
		srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s.Handler}}
		srv.Start()
		tb.Cleanup(func() {
			srv.CloseClientConnections() // streams (the change feed) end with the test
			srv.Close()
		})
		e.HTTP = srv.Client()
	}
	if opts.NoTenant {
		return e
	}
	seed := opts.Tenant
	if seed.Slug == "" {
		seed.Slug = "acme"
	}
	if seed.Name == "" {
		seed.Name = "Acme Inc."
	}
	if seed.Email == "" {
		seed.Email = "owner@" + seed.Slug + ".test"
	}
	if seed.Plan == "" {
		seed.Plan = gatehouse.PlanEnterprise
	}
	e.OwnerEmail = seed.Email
	e.Tenant, e.Owner = e.NewTenant(seed)
	return e
}

// NewTenant creates a tenant and its owner (with Password) and returns the
// tenant and the owner acting in it.
func (e *Env) NewTenant(seed Seed) (*gatehouse.Tenant, admin.Actor) {
	e.T.Helper()
	t, err := e.Server.Admin.CreateTenant(e.Ctx, seed.Slug, seed.Name, seed.Plan)
	if err != nil {
		e.T.Fatalf("testenv: create tenant %s: %v", seed.Slug, err)
	}
	return t, e.AddMember(t, seed.Email, gatehouse.RoleOwner)
}

// AddMember adds a user with Password and role to t, as the operator,
// and returns them acting in t.
func (e *Env) AddMember(t *gatehouse.Tenant, email string, role gatehouse.Role) admin.Actor {
	e.T.Helper()
	op := admin.Actor{TenantID: t.ID, Name: admin.OperatorName, Operator: true}
	m, err := e.Server.Admin.AddMember(e.Ctx, op, admin.NewMember{Email: email, Role: role, Password: Password})
	if err != nil {
		e.T.Fatalf("testenv: add member %s: %v", email, err)
	}
	a, err := e.Server.Admin.ActorFor(e.Ctx, t.ID, m.UserID, "")
	if err != nil {
		e.T.Fatalf("testenv: actor %s: %v", email, err)
	}
	return a
}

// csrfRE finds a console form's CSRF token.
var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// Console is a browser-like client of the console: a cookie jar, redirects
// followed, and the session's CSRF token added to every form it posts.
type Console struct {
	T    testing.TB
	URL  string
	HTTP *http.Client
	csrf string
}

// Console logs in as email with password over the login form and returns
// the logged-in client; the test fails if the login does not succeed.
func (e *Env) Console(email, password string) *Console {
	e.T.Helper()
	jar, _ := cookiejar.New(nil)
	c := &Console{T: e.T, URL: e.URL, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	_, page := c.Get("/console/login")
	token := csrfToken(page)
	if token == "" {
		e.T.Fatalf("testenv: the login page has no CSRF token:\n%s", page)
	}
	resp, page := c.do(http.MethodPost, "/console/login", url.Values{
		"csrf_token": {token}, "email": {email}, "password": {password},
	})
	if resp.StatusCode != http.StatusOK || strings.HasPrefix(resp.Request.URL.Path, "/console/login") {
		e.T.Fatalf("testenv: log in as %s: %d at %s", email, resp.StatusCode, resp.Request.URL)
	}
	if c.csrf = csrfToken(page); c.csrf == "" {
		e.T.Fatalf("testenv: the page after login has no CSRF token:\n%s", page)
	}
	return c
}

func csrfToken(page string) string {
	if m := csrfRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// CSRF is the session's CSRF token.
func (c *Console) CSRF() string { return c.csrf }

// Get fetches a console path and returns the answer and its body.
func (c *Console) Get(path string) (*http.Response, string) {
	c.T.Helper()
	return c.do(http.MethodGet, path, nil)
}

// Post submits form to path with the session's CSRF token and returns the
// answer (after redirects) and its body.
func (c *Console) Post(path string, form url.Values) (*http.Response, string) {
	c.T.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("csrf_token", c.csrf)
	return c.do(http.MethodPost, path, f)
}

func (c *Console) do(method, path string, form url.Values) (*http.Response, string) {
	c.T.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.URL+path, body)
	if err != nil {
		c.T.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatalf("testenv: %s %s: read body: %v", method, path, err)
	}
	return resp, string(b)
}

// App is a registered OAuth 2.0 app and the golang.org/x/oauth2
// configuration of a client using it against the server: endpoints,
// credentials, the first redirect URI and the app's scopes as the
// requested ones.
type App struct {
	*gatehouse.Client
	Secret string // "" for a public app
	Config *oauth2.Config
}

// App registers an OAuth 2.0 app of a's tenant.
func (e *Env) App(a admin.Actor, in admin.ClientInput) *App {
	e.T.Helper()
	c, sec, err := e.Server.Admin.CreateClient(e.Ctx, a, in)
	if err != nil {
		e.T.Fatalf("testenv: create OAuth app %q: %v", in.Name, err)
	}
	conf := &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: sec,
		Scopes:       in.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.URL + "/oauth2/authorize",
			TokenURL:  e.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	if len(in.RedirectURIs) > 0 {
		conf.RedirectURL = in.RedirectURIs[0]
	}
	return &App{Client: c, Secret: sec, Config: conf}
}

// ClientCredentials is the app's client_credentials configuration
// (RFC 6749 §4.4) for scopes.
func (a *App) ClientCredentials(scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:     a.ID,
		ClientSecret: a.Secret,
		TokenURL:     a.Config.Endpoint.TokenURL,
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
}
