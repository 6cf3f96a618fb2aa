// Package server wires Gatehouse together: it opens the store, builds the
// verifier, the admin service and every HTTP surface (management API,
// console, verification, gateway, operations endpoints) on one listener,
// and runs it with graceful shutdown. cmd/gatehouse and the end-to-end tests
// both start Gatehouse through it.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/console"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/janitor"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/oauth1"
	"github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// Server is a wired Gatehouse: Handler serves every endpoint.
type Server struct {
	Config   config.Config
	Store    *sqlstore.DB
	Tree     *gatehouse.ResourceTree
	Admin    *admin.Service
	Verifier *verify.Verifier
	OAuth2   *oauth2.Provider
	// Signer holds the issuer's signing keys: the JWKS, and the JWTs of
	// OpenID Connect and RFC 9068 access tokens (issue 15).
	Signer  *signing.Signer
	Metrics *metrics.Metrics
	Handler http.Handler
	Log     *slog.Logger
	// MetricsHandler serves /metrics on its own listener
	// (GATEHOUSE_METRICS_ADDR); nil when /metrics is on Handler's.
	MetricsHandler http.Handler

	metricsLn net.Listener
	janitor   janitor.Options
	closers   []func() error
	// certs serves the TLS certificate when cfg.TLSCert is set; tlsPoll
	// and reload are when Run loads it again.
	certs   *certReloader
	tlsPoll time.Duration
	reload  <-chan os.Signal
}

// Each consumer names the store methods it uses (verify.Store,
// admin.Store, oauth1.Store, oauth2.Store, console.Store,
// gatehouse.PruneStore for the janitor); each is a part of gatehouse.Store, the aggregate that
// sqlstore.DB implements and storetest checks, so New wires the one
// database into all of them and whatever passes the conformance suite
// serves every consumer.
var (
	_ verify.Store         = gatehouse.Store(nil)
	_ admin.Store          = gatehouse.Store(nil)
	_ oauth1.Store         = gatehouse.Store(nil)
	_ oauth2.Store         = gatehouse.Store(nil)
	_ console.Store        = gatehouse.Store(nil)
	_ gatehouse.PruneStore = gatehouse.Store(nil)
)

// Options are what New needs beyond the configuration.
type Options struct {
	Log *slog.Logger
	// Upstream overrides cfg.Upstream with an already-running handler's URL
	// (the demo store API); Routes overrides the routes file's bytes.
	Upstream *url.URL
	Routes   []byte
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// VerifyCacheSize bounds the verifier's credential cache (default
	// verify.DefaultCacheSize; negative turns it off).
	VerifyCacheSize int
	// MetricsListener is where Run serves MetricsHandler (tests); nil
	// means Run listens on cfg.MetricsAddr.
	MetricsListener net.Listener
	// Janitor tunes the janitor (the soak run prunes sooner); its Now,
	// Metrics, Log, IdleTimeout and AuditRetention are the server's.
	Janitor janitor.Options
	// TLSPoll is how often Run checks the certificate files for a change
	// (default DefaultTLSPoll); every value received on Reload (SIGHUP,
	// which cmd/gatehouse forwards) loads them at once.
	TLSPoll time.Duration
	Reload  <-chan os.Signal
}

// New opens the database (running migrations) and builds the handler.
// cfg must have passed Validate.
func New(ctx context.Context, cfg config.Config, opts Options) (*Server, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	log = slog.New(requestLog{log.Handler()})
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{Config: cfg, Log: log, metricsLn: opts.MetricsListener, janitor: opts.Janitor,
		tlsPoll: cmp.Or(opts.TLSPoll, DefaultTLSPoll), reload: opts.Reload}
	if s.janitor.Now == nil {
		s.janitor.Now = now
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	tree, err := config.LoadResources(cfg.Resources)
	if err != nil {
		return nil, err
	}
	s.Tree = tree
	if cfg.TLSCert != "" {
		if s.certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey, log); err != nil {
			return nil, err
		}
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	trusted, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.OpenWith(ctx, cfg.DatabaseURL, sqlstore.Options{MaxConns: cfg.DBMaxConns})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.Store = st
	st.SetLogger(log)
	s.closers = append(s.closers, st.Close)

	s.Metrics = metrics.New()
	if cfg.AccessLog {
		s.Metrics.LogAccess(log, trusted)
	}
	st.SetLagObserver(s.Metrics.ObserveInvalidationLag) // before verify.New subscribes
	s.Metrics.PoolStats(st.PoolStats)
	s.Verifier = verify.New(st, tree, verify.Options{
		Now:       now,
		CacheTTL:  cacheTTL(cfg.CacheTTL),
		CacheSize: opts.VerifyCacheSize,
		Metrics:   s.Metrics,
		Logger:    log,
		// The request deadline, applied where verification reads the
		// store (a cache miss), so the cached hot path stays without a
		// context of its own (issue 12).
		LoadTimeout: min(cfg.RequestTimeout, verify.DefaultLoadTimeout),
	})
	s.closers = append(s.closers, s.Verifier.Close)
	s.Metrics.CacheStats(s.Verifier.CacheStats)
	callbacks := admin.CallbackPolicy{AllowHTTP: cfg.AllowHTTPCallbacks, AllowPrivate: cfg.AllowPrivateCallbacks}
	s.Admin = admin.New(st, tree, admin.Options{
		Now:       now,
		Log:       log,
		Keys:      keys,
		Deliver:   oauth1.NewDeliverer(oauth1.DeliverOptions{Callbacks: callbacks, Log: log}),
		PublicURL: cfg.PublicURL,
		Callbacks: callbacks,

		MaxTokensPerUser: cfg.MaxTokensPerUser,
		AuditRetention:   cfg.AuditRetention,
	})
	// Refused logins' audit events are written off the request path;
	// closing waits for them before the store closes (closers run last
	// first).
	s.closers = append(s.closers, func() error { s.Admin.WaitAudits(); return nil })
	// OAuth 1.0a (seed 000, SPEC §5): Magento-compatible token endpoints
	// and signed API calls through the gateway.
	oauth1Provider := oauth1.New(oauth1.Config{
		Store:          st,
		Keys:           keys,
		Admin:          s.Admin,
		TrustedProxies: trusted,
		Now:            now,
		Log:            log,
	})

	// One key set per issuer, and the issuer is the server's public URL
	// (every tenant's apps share it, as the RFC 8414 document does).
	if s.Signer, err = newSigner(cfg, keys, st, now, log); err != nil {
		return nil, err
	}
	provider := oauth2.New(oauth2.Config{
		Store:          st,
		Tree:           tree,
		Verifier:       s.Verifier,
		Issuer:         cfg.PublicURL,
		SigningAlgs:    s.Signer.Algs,
		TrustedProxies: trusted,
		Now:            now,
		Log:            log,
	})
	s.OAuth2 = provider
	con, err := console.New(console.Config{
		OAuth2:         provider,
		Admin:          s.Admin,
		Store:          st,
		Keys:           keys,
		PublicURL:      cfg.PublicURL,
		TrustedProxies: trusted,
		IdleTimeout:    cfg.ConsoleIdleTimeout,
		Log:            log,
		Now:            now,
	})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}

	mux := newOwnMux()
	bound := s.bounder()
	mux.Handle("/api/v1/", bound(api.New(api.Config{
		Admin:          s.Admin,
		Authenticate:   s.authenticateManage,
		TrustedProxies: trusted,
		Log:            log,
	})))
	vopts := verify.HandlerOptions{
		ServiceToken:   cfg.ServiceToken,
		TrustedProxies: trusted,
		Logger:         log,
	}
	verifyHandler := verify.Handler(s.Verifier, vopts)
	// Every method: the handler answers 405 with Allow itself (a method
	// pattern would leave GET to "/api/v1/"'s 404).
	mux.Handle("/api/v1/verify", verifyHandler)
	mux.Handle("/api/v1/verify/events", verify.EventsHandler(s.Verifier, st, vopts))
	mux.Handle("/console/", bound(con))
	// OAuth 2.0 (SPEC §5): the authorization endpoint is a browser route
	// (sessions, CSRF, login and consent pages) served by the console; the
	// others are API routes with RFC 6749 §5.2 JSON errors.
	mux.Handle("/oauth2/authorize", bound(con.AuthorizeHandler()))
	// CORS (docs/cors.md): corsRoute registers the route's methods and
	// OPTIONS (preflights) behind one of internal/oauth2's wrappers —
	// PublicCORS for public documents (metadata, JWKS), the provider's
	// ClientCORS for the token and revocation endpoints (per app).
	// Introspection is for resource servers: no CORS.
	corsRoute := func(methods, path string, cors func(http.Handler) http.Handler, h http.Handler) {
		h = bound(cors(h))
		for _, m := range strings.Fields(methods + " OPTIONS") {
			mux.Handle(m+" "+path, h)
		}
	}
	corsRoute("POST", "/oauth2/token", provider.ClientCORS, provider.TokenHandler())
	corsRoute("POST", "/oauth2/revoke", provider.ClientCORS, provider.RevokeHandler())
	mux.Handle("POST /oauth2/introspect", bound(provider.IntrospectHandler()))
	mux.Handle("POST /oauth2/device", bound(provider.DeviceHandler())) // RFC 8628 §3.1; no CORS (CLIs, TVs)
	mux.Handle("POST /oauth2/par", bound(provider.PARHandler()))       // RFC 9126
	corsRoute("GET", "/.well-known/oauth-authorization-server", oauth2.PublicCORS, provider.MetadataHandler())
	// OpenID Connect Discovery §4 and the JWKS it names (issue 15): public
	// documents, like the metadata.
	corsRoute("GET", "/.well-known/openid-configuration", oauth2.PublicCORS, provider.OpenIDConfigurationHandler())
	corsRoute("GET", "/oauth2/jwks", oauth2.PublicCORS, s.Signer.JWKSHandler())
	mux.Handle("POST /oauth/token/request", bound(oauth1Provider.RequestTokenHandler()))
	mux.Handle("POST /oauth/token/access", bound(oauth1Provider.AccessTokenHandler()))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			log.WarnContext(ctx, "not ready", "err", err)
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
	})
	metricsHandler := s.Metrics.Handler()
	if cfg.MetricsToken != "" {
		metricsHandler = requireToken(cfg.MetricsToken, metricsHandler)
	}
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", metricsHandler)
	} else {
		// Only on its own listener: with the main one public, the metrics
		// (routes, credential kinds, refusal counts) stay private.
		m := http.NewServeMux()
		m.Handle("GET /metrics", metricsHandler)
		s.MetricsHandler = m
	}

	upstream, routes, err := gatewayTarget(cfg, opts)
	if err != nil {
		return nil, err
	}
	var gw *gateway.Gateway
	if upstream != nil {
		gw, err = gateway.New(gateway.Config{
			Upstream:       upstream,
			Routes:         routes,
			Verifier:       s.Verifier,
			TrustedProxies: trusted,
			StripCookies:   console.Cookies(),
			Extractors:     append(gateway.DefaultExtractors(), gateway.OAuth1Extractor(oauth1Provider)),
			BodyTimeout:    cfg.GatewayBodyTimeout,
			Logger:         log,
		})
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		mux.Handle("/", gw)
	}
	// Security: every path — gateway, token endpoints, API, console — is
	// bounded (issue 11): header fields, a body's arrival (the gateway
	// replaces it with a progress bound for what it forwards), each write.
	s.Handler = s.Metrics.Instrument(httpx.Limit(hotRoute(mux, httpx.SecurityHeaders(verifyHandler), gw), httpx.Limits{
		MaxHeaders:   cfg.MaxHeaders,
		BodyTimeout:  cfg.BodyTimeout,
		WriteTimeout: cfg.WriteTimeout,
	}))
	ok = true
	return s, nil
}

// verifyPattern is POST /api/v1/verify's metrics label.
const verifyPattern = "POST /api/v1/verify"

// hotRoute sends POST /api/v1/verify — the call every resource server
// makes for every API call — straight to its handler, and everything else
// (other methods on that path too: 405 with Allow) through the mux, whose
// pattern matching was 2 % of the endpoint's CPU in `gatehouse bench`.
// The exact path needs none of the mux's cleaning or redirects. Likewise
// a path outside Gatehouse's own (ownMux.gatewayPath) goes straight to the
// gateway, which matches only canonical paths itself and sets Gatehouse's
// security headers on its own answers.
func hotRoute(mux *ownMux, verifyHandler http.Handler, gw *gateway.Gateway) http.Handler {
	secured := httpx.SecurityHeaders(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v1/verify" && r.URL.RawPath == "" {
			metrics.SetRoute(w, verifyPattern)
			verifyHandler.ServeHTTP(w, r)
			return
		}
		if gw != nil && mux.gatewayPath(r.URL.Path) {
			gw.ServeHTTP(w, r)
			return
		}
		secured.ServeHTTP(w, r)
	})
}

// bounder returns what puts one of Gatehouse's own endpoints behind the
// request deadline (GATEHOUSE_REQUEST_TIMEOUT) and the in-flight limit
// (GATEHOUSE_MAX_INFLIGHT), one count for all of them (issue 12). New
// applies it to the API, OAuth 2.0 and 1.0a endpoints and the console,
// and not to:
//   - POST /api/v1/verify (hotRoute, and the mux's route for its other
//     forms): the verify hot path keeps serving cached answers however
//     loaded the rest is, and its store reads are bounded by the
//     verifier's LoadTimeout;
//   - the gateway, which bounds its upstream calls itself and whose
//     streams may outlive any request deadline, also for paths that reach
//     it through the mux;
//   - the change stream (/api/v1/verify/events), which lives as long as
//     its subscriber;
//   - the probes and /metrics, so that a loaded node is neither restarted
//     nor left unobserved (/readyz has its own 2 s bound).
func (s *Server) bounder() func(http.Handler) http.Handler {
	shed := httpx.NewShedder(s.Config.MaxInflight, http.HandlerFunc(shedAnswer), s.logShed())
	return func(h http.Handler) http.Handler {
		return withAccess(shed.Handler(httpx.Deadline(h, s.Config.RequestTimeout)))
	}
}

// withAccess puts the request's metrics.Access in its context, so that
// authenticateManage can name the credential in the access log and the
// handlers' log lines carry the request id (requestLog). Only bounded
// routes pay for the context: their deadline makes one anyway.
func withAccess(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := metrics.AccessOf(w); a != nil {
			r = r.WithContext(metrics.ContextWithAccess(r.Context(), a))
		}
		h.ServeHTTP(w, r)
	})
}

// shedAnswer is a request's answer past the in-flight limit: 503 with
// Retry-After in the dialect of its route, written without touching the
// store.
func shedAnswer(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	httpx.SetUnavailable(h)
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/console/") || p == "/oauth2/authorize":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "Gatehouse is busy. Try again in a moment.\n")
	case strings.HasPrefix(p, "/oauth/"):
		// OAuth 1.0a problem reporting, as oauth1 answers a store outage.
		h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "oauth_problem=temporarily_unavailable&oauth_problem_advice=the+server+is+busy%3B+try+again")
	case strings.HasPrefix(p, "/oauth2/") || strings.HasPrefix(p, "/.well-known/"):
		// RFC 6749 §5.2 (and §4.1.2.1's temporarily_unavailable).
		h.Set("Pragma", "no-cache")
		httpx.WriteJSON(w, http.StatusServiceUnavailable, struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{"temporarily_unavailable", "the server is busy; try again"})
	default:
		httpx.WriteJSON(w, http.StatusServiceUnavailable, httpx.ErrorBody{Error: httpx.ErrorDetail{
			Code: gatehouse.EUNAVAILABLE, Message: "the server is busy; try again"}})
	}
}

// logShed reports shedding at most once every 10 s, so the log says why
// requests are refused without a line per refusal.
func (s *Server) logShed() func(int64) {
	var last atomic.Int64
	return func(inflight int64) {
		now := time.Now().UnixNano()
		if l := last.Load(); now-l < int64(10*time.Second) || !last.CompareAndSwap(l, now) {
			return
		}
		s.Log.Warn("shedding load: too many requests in flight, answering 503",
			"inflight", inflight, "limit", s.Config.MaxInflight)
	}
}

// ownMux is the ServeMux of Gatehouse's own endpoints. It records the
// first path segment of every pattern registered on it, so that hotRoute
// can send any other path straight to the gateway without matching it
// against every pattern first (the mux would only reach "/" anyway).
type ownMux struct {
	*http.ServeMux
	segs map[string]bool
	all  bool // a pattern starts with a wildcard or a host: no shortcut
}

func newOwnMux() *ownMux { return &ownMux{ServeMux: http.NewServeMux(), segs: map[string]bool{}} }

// Handle registers like http.ServeMux.Handle and records the pattern.
func (m *ownMux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
	m.record(pattern)
}

// HandleFunc registers like http.ServeMux.HandleFunc and records the
// pattern.
func (m *ownMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.ServeMux.HandleFunc(pattern, f)
	m.record(pattern)
}

func (m *ownMux) record(pattern string) {
	path := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		path = strings.TrimSpace(p)
	}
	if !strings.HasPrefix(path, "/") { // a host pattern
		m.all = true
		return
	}
	seg := firstSegment(path)
	switch {
	case seg == "" || seg == "{$}": // "/" (the gateway) and "/{$}"
	case strings.HasPrefix(seg, "{"):
		m.all = true
	default:
		m.segs[seg] = true
	}
}

// gatewayPath reports whether the path can only reach the "/" pattern:
// its first segment is none of the registered patterns' (so "/console"
// still gets the mux's redirect to "/console/").
func (m *ownMux) gatewayPath(p string) bool {
	if m.all || len(p) < 2 || p[0] != '/' {
		return false
	}
	seg := firstSegment(p)
	return seg != "" && !m.segs[seg]
}

func firstSegment(p string) string {
	seg, _, _ := strings.Cut(p[1:], "/")
	return seg
}

// cacheTTL maps the configured TTL to the verifier's: 0 disables the cache.
func cacheTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func gatewayTarget(cfg config.Config, opts Options) (*url.URL, *gateway.Routes, error) {
	upstream := opts.Upstream
	if upstream == nil && cfg.Upstream != "" {
		u, err := url.Parse(cfg.Upstream)
		if err != nil {
			return nil, nil, fmt.Errorf("upstream: %w", err)
		}
		upstream = u
	}
	if upstream == nil {
		return nil, nil, nil
	}
	var routes *gateway.Routes
	var err error
	if opts.Routes != nil {
		routes, err = gateway.ParseRoutes(opts.Routes)
	} else {
		routes, err = gateway.LoadRoutes(cfg.Routes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("routes: %w", err)
	}
	return upstream, routes, nil
}

// NewSigner is the issuer's signer as a server builds it from cfg (a
// validated configuration), for the `gatehouse keys` commands.
func NewSigner(cfg config.Config, st signing.Store, log *slog.Logger) (*signing.Signer, error) {
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	return newSigner(cfg, keys, st, time.Now, log)
}

func newSigner(cfg config.Config, keys *secret.Keyring, st signing.Store, now func() time.Time, log *slog.Logger) (*signing.Signer, error) {
	return signing.New(signing.Config{
		Store:          st,
		Keys:           keys,
		Issuer:         cfg.PublicURL,
		Alg:            cfg.OIDCSigningAlg,
		RotationPeriod: cfg.OIDCKeyRotation,
		PrePublish:     cfg.OIDCKeyPrepublish,
		Now:            now,
		Log:            log,
	})
}

// loadKeys builds the keyring from GATEHOUSE_SECRET_KEY or the key file.
func loadKeys(cfg config.Config) (*secret.Keyring, error) {
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		key, err = secret.ParseKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("GATEHOUSE_SECRET_KEY: %w", err)
		}
	} else {
		dir, err := sqlstore.DataDir(cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		if dir == "" { // PostgreSQL
			dir = config.DefaultDataDir
		}
		key, err = secret.LoadOrCreateKeyFile(filepath.Join(dir, "secret.key"))
		if err != nil {
			return nil, err
		}
	}
	return secret.NewKeyring(key)
}

// authenticateManage is the management API's authenticator: the bearer
// token must verify for the reserved "manage" resource.
func (s *Server) authenticateManage(ctx context.Context, token string, ip netip.Addr) (*gatehouse.Principal, gatehouse.Code, error) {
	res, err := s.Verifier.Verify(ctx, verify.Request{Credential: token, Resource: gatehouse.ScopeManage, IP: ip})
	if err != nil {
		return nil, "", err
	}
	if res.Found() {
		metrics.AccessFrom(ctx).SetPrincipal(&res.Principal)
	}
	if !res.Found() {
		return nil, res.Code, nil
	}
	return &res.Principal, res.Code, nil
}

// requireToken guards /metrics with the operator's bearer token
// (GATEHOUSE_METRICS_TOKEN), compared in constant time.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := httpx.BearerToken(r.Header.Get("Authorization"))
		if !ok || !secret.Equal(got, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-metrics"`)
			httpx.WriteJSON(w, http.StatusUnauthorized, httpx.ErrorBody{Error: httpx.ErrorDetail{
				Code: gatehouse.EUNAUTHORIZED, Message: "the metrics need the operator's metrics token"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// httpServer is an http.Server for h with the configured listener bounds.
// Security: ReadTimeout and WriteTimeout stay unset — they are absolute
// per request and would cut off uploads and answers that are making
// progress; httpx.Limit bounds bodies and writes per request instead.
func (s *Server) httpServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.Config.ReadHeaderTimeout,
		IdleTimeout:       s.Config.IdleTimeout,
		MaxHeaderBytes:    s.Config.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	if s.certs != nil {
		srv.TLSConfig = s.certs.tlsConfig()
	}
	return srv
}

// serve serves srv on ln, over TLS when a certificate is configured.
func (s *Server) serve(srv *http.Server, ln net.Listener) error {
	if s.certs != nil {
		return srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
	}
	return srv.Serve(ln)
}

// Run serves until ctx ends, runs the verifier's background work, and
// shuts down gracefully (in-flight requests get 10 s). With
// MetricsHandler set it also serves the metrics on their own listener.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srvs := []*http.Server{s.httpServer(s.Handler)}
	lns := []net.Listener{ln}
	if s.MetricsHandler != nil {
		mln := s.metricsLn
		if mln == nil {
			var err error
			if mln, err = net.Listen("tcp", s.Config.MetricsAddr); err != nil {
				return fmt.Errorf("metrics listener: %w", err)
			}
		}
		srvs = append(srvs, s.httpServer(httpx.Limit(s.MetricsHandler, httpx.Limits{
			MaxHeaders: s.Config.MaxHeaders, BodyTimeout: s.Config.BodyTimeout, WriteTimeout: s.Config.WriteTimeout})))
		lns = append(lns, mln)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.background(bg)
	}()
	if s.certs != nil {
		go s.certs.run(bg, s.tlsPoll, s.reload)
	}
	errc := make(chan error, len(srvs))
	for i, srv := range srvs {
		go func() { errc <- s.serve(srv, lns[i]) }()
	}
	var err error
	select {
	case err = <-errc:
		for _, srv := range srvs {
			srv.Close()
		}
	case <-ctx.Done():
		s.Log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		var errs []error
		for _, srv := range srvs {
			errs = append(errs, srv.Shutdown(sctx))
		}
		err = errors.Join(errs...)
		cancel()
	}
	stopBG()
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// background runs the verifier's last-use flushing and the janitor.
func (s *Server) background(ctx context.Context) {
	// Run flushes last-use times once more when ctx ends; wait for that
	// before returning, since the store is closed after (a second,
	// concurrent flush here used to race it: one took the batch, the
	// other returned, and the first wrote into a closed store).
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		if err := s.Verifier.Run(ctx); err != nil {
			s.Log.Warn("last-use times not recorded at shutdown", "err", err)
		}
	}()
	// The janitor keeps the database small (issue 12): dead codes, marks,
	// request tokens, sessions, tokens of ended grants, old deliveries and
	// notifications; one node at a time on PostgreSQL.
	jopts := s.janitor
	jopts.Metrics, jopts.Log = s.Metrics, s.Log
	jopts.IdleTimeout, jopts.AuditRetention = s.Config.ConsoleIdleTimeout, s.Config.AuditRetention
	if jopts.RotateKeys == nil {
		jopts.RotateKeys = func(ctx context.Context) error { _, _, err := s.Signer.Rotate(ctx, false); return err }
	}
	janitor.New(s.Store, jopts).Run(ctx)
	<-flushed
}

// Close releases the database and the verifier.
func (s *Server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}
