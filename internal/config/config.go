// Package config loads Gatehouse's configuration: built-in defaults, then
// the configuration file (gatehouse.yaml), then GATEHOUSE_* environment
// variables, then command-line flags; every setting has one key, the same
// in all four (settings.go), and Validate reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse"
)

// DefaultDataDir is where the embedded SQLite database and the generated
// key file live when nothing else is configured.
const DefaultDataDir = "gatehouse-data"

// Config is everything `gatehouse serve` needs.
type Config struct {
	Addr               string        // GATEHOUSE_ADDR
	DatabaseURL        string        // GATEHOUSE_DATABASE_URL
	PublicURL          string        // GATEHOUSE_PUBLIC_URL
	SecretKey          string        // GATEHOUSE_SECRET_KEY (base64 or hex, 32 bytes)
	TrustedProxies     string        // GATEHOUSE_TRUSTED_PROXIES, comma-separated CIDRs
	Upstream           string        // GATEHOUSE_UPSTREAM
	Routes             string        // GATEHOUSE_ROUTES, path of the routes file
	Resources          string        // GATEHOUSE_RESOURCES, YAML resource tree replacing the built-in one
	AllowHTTPCallbacks bool          // GATEHOUSE_ALLOW_HTTP_CALLBACKS
	ServiceToken       string        // GATEHOUSE_SERVICE_TOKEN, the operator's /api/v1/verify credential
	CacheTTL           time.Duration // GATEHOUSE_CACHE_TTL, how long a verification result is cached
	LogLevel           string        // GATEHOUSE_LOG_LEVEL: debug, info, warn, error
	LogFormat          string        // GATEHOUSE_LOG_FORMAT: json or text
	// AccessLog (GATEHOUSE_ACCESS_LOG, default true) logs one line per
	// request at info.
	AccessLog bool
	Demo      bool

	// AllowPrivateCallbacks (GATEHOUSE_ALLOW_PRIVATE_CALLBACKS) lets callback
	// and identity link URLs name loopback, private, link-local and
	// internal hosts, refused by default (issue 11).
	AllowPrivateCallbacks bool
	// Management API limits (issue 11).
	MaxTokensPerUser int // GATEHOUSE_MAX_TOKENS_PER_USER: live PATs per user per tenant (API keys per tenant: 10×)

	// ConsoleIdleTimeout (GATEHOUSE_CONSOLE_IDLE_TIMEOUT, default 30m) ends
	// a console session after this long without a request.
	ConsoleIdleTimeout time.Duration
	// AuditRetention (GATEHOUSE_AUDIT_RETENTION, default 0: kept for ever)
	// lets the janitor delete audit events older than it; at least 24h.
	AuditRetention time.Duration
	// OpenID Connect and JWT access token signing keys (issue 15, see
	// docs/oidc-keys.md): the algorithm of new keys
	// (GATEHOUSE_OIDC_SIGNING_ALG: ES256, EdDSA or RS256), how often a new
	// key takes over (GATEHOUSE_OIDC_KEY_ROTATION) and how long it is
	// published before it signs (GATEHOUSE_OIDC_KEY_PREPUBLISH).
	OIDCSigningAlg    string
	OIDCKeyRotation   time.Duration
	OIDCKeyPrepublish time.Duration
	Listener
	Load
}

// Load bounds what a burst of requests may cost (issue 12): the database
// pools, every request's deadline and the number of requests in flight.
type Load struct {
	// DBMaxConns (GATEHOUSE_DB_MAX_CONNS) is the most connections the
	// store opens, readers and writers together; 0 means the backend's
	// default (sqlstore.Options.MaxConns says how it is split).
	DBMaxConns int
	// RequestTimeout (GATEHOUSE_REQUEST_TIMEOUT, default 15s) is the
	// deadline of every API, OAuth, console and verification request; one
	// that cannot get its database work done in time answers 503. The
	// gateway's upstream calls keep their own bounds.
	RequestTimeout time.Duration
	// MaxInflight (GATEHOUSE_MAX_INFLIGHT, default 1024, 0 off) is how many
	// API, OAuth and console requests a node serves at once; more are
	// answered 503 at once. Verification and the gateway are not counted.
	MaxInflight int
}

// DefaultLoad is Load's defaults.
func DefaultLoad() Load {
	return Load{RequestTimeout: 15 * time.Second, MaxInflight: 1024}
}

func (l *Load) validate() []error {
	var errs []error
	if l.DBMaxConns != 0 && (l.DBMaxConns < 2 || l.DBMaxConns > 1000) {
		errs = append(errs, fmt.Errorf("database max connections %d: want 2 to 1000, or 0 for the default", l.DBMaxConns))
	}
	if l.RequestTimeout < 100*time.Millisecond || l.RequestTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("request timeout %v: want 100ms to 1h", l.RequestTimeout))
	}
	if l.MaxInflight < 0 || l.MaxInflight > 1_000_000 {
		errs = append(errs, fmt.Errorf("max in-flight requests %d: want 0 (off) to 1000000", l.MaxInflight))
	}
	return errs
}

// Listener bounds what a client may cost the listeners and guards the
// metrics (issue 11): slow clients, header floods, /metrics.
type Listener struct {
	ReadHeaderTimeout  time.Duration // GATEHOUSE_READ_HEADER_TIMEOUT: a request's header must arrive within it
	BodyTimeout        time.Duration // GATEHOUSE_BODY_TIMEOUT: a request body must arrive within it (API, OAuth, console, verify)
	GatewayBodyTimeout time.Duration // GATEHOUSE_GATEWAY_BODY_TIMEOUT: a forwarded body must advance 64 KiB in every such interval
	WriteTimeout       time.Duration // GATEHOUSE_WRITE_TIMEOUT: each write of an answer must be taken by the client within it
	IdleTimeout        time.Duration // GATEHOUSE_IDLE_TIMEOUT: a kept-alive connection may wait this long for its next request
	MaxHeaderBytes     int           // GATEHOUSE_MAX_HEADER_BYTES: request line and header size; more is 431
	MaxHeaders         int           // GATEHOUSE_MAX_HEADERS: header fields per request; more is 431
	MetricsToken       string        // GATEHOUSE_METRICS_TOKEN: when set, /metrics needs "Authorization: Bearer <token>"
	MetricsAddr        string        // GATEHOUSE_METRICS_ADDR: when set, /metrics is served there and not on Addr
	// TLSCert and TLSKey (GATEHOUSE_TLS_CERT, GATEHOUSE_TLS_KEY) are PEM
	// files; with both set every listener speaks TLS 1.2 or later, and
	// the files are loaded again on SIGHUP and when they change.
	TLSCert string
	TLSKey  string
}

// DefaultListener is Listener's defaults: Envoy's header limits (60 KiB,
// 100 fields; 64 KiB here), net/http-style timeouts that a client making
// progress never meets.
func DefaultListener() Listener {
	return Listener{
		ReadHeaderTimeout:  10 * time.Second,
		BodyTimeout:        30 * time.Second,
		GatewayBodyTimeout: 30 * time.Second,
		WriteTimeout:       60 * time.Second,
		IdleTimeout:        120 * time.Second,
		MaxHeaderBytes:     64 << 10,
		MaxHeaders:         100,
	}
}

func (l *Listener) validate(addr string) []error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", l.ReadHeaderTimeout}, {"body timeout", l.BodyTimeout},
		{"gateway body timeout", l.GatewayBodyTimeout}, {"write timeout", l.WriteTimeout},
		{"idle timeout", l.IdleTimeout},
	} {
		if d.v <= 0 || d.v > 24*time.Hour {
			errs = append(errs, fmt.Errorf("%s %v: want more than 0 and at most 24h", d.name, d.v))
		}
	}
	if l.MaxHeaderBytes < 4<<10 || l.MaxHeaderBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("max header bytes %d: want 4096 to 1048576", l.MaxHeaderBytes))
	}
	if l.MaxHeaders < 16 || l.MaxHeaders > 10000 {
		errs = append(errs, fmt.Errorf("max headers %d: want 16 to 10000", l.MaxHeaders))
	}
	if l.MetricsToken != "" && len(l.MetricsToken) < 32 {
		errs = append(errs, errors.New("metrics token: at least 32 characters"))
	}
	if (l.TLSCert == "") != (l.TLSKey == "") {
		errs = append(errs, errors.New("tls cert and tls key go together: set both or neither"))
	}
	if l.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(l.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics addr %q: want host:port", l.MetricsAddr))
		} else if l.MetricsAddr == addr {
			errs = append(errs, fmt.Errorf("metrics addr %q: must differ from the listen address", l.MetricsAddr))
		}
	}
	return errs
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Addr:     "127.0.0.1:8080",
		CacheTTL: 5 * time.Second,
		LogLevel: "info",

		LogFormat: "json",
		AccessLog: true,

		MaxTokensPerUser:   100,
		ConsoleIdleTimeout: 30 * time.Minute,
		OIDCSigningAlg:     "ES256",
		OIDCKeyRotation:    30 * 24 * time.Hour,
		OIDCKeyPrepublish:  24 * time.Hour,
		Listener:           DefaultListener(),
		Load:               DefaultLoad(),
	}
}

// ResolveDatabaseURL returns the database URL with the default applied:
// SQLite in ./gatehouse-data/.
func ResolveDatabaseURL(u string) string {
	if u == "" {
		return "sqlite:" + filepath.Join(DefaultDataDir, "gatehouse.db")
	}
	return u
}

// IsPostgres reports whether a database URL selects PostgreSQL.
func IsPostgres(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// Validate checks the configuration and fills derived defaults
// (DatabaseURL, PublicURL). It reports every problem, not just the first.
func (c *Config) Validate() error {
	var errs []error
	c.DatabaseURL = ResolveDatabaseURL(c.DatabaseURL)
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", c.Addr))
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
		if c.TLSCert != "" {
			c.PublicURL = "https://" + c.Addr
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q: want an absolute http(s) URL", c.PublicURL))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		errs = append(errs, err)
	}
	if (c.Upstream == "") != (c.Routes == "") && !c.Demo {
		errs = append(errs, errors.New("upstream and routes go together: set both or neither"))
	}
	if c.Upstream != "" {
		if u, err := url.Parse(c.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("upstream %q: want an absolute http(s) URL", c.Upstream))
		}
	}
	if c.OIDCKeyPrepublish >= c.OIDCKeyRotation {
		errs = append(errs, fmt.Errorf("OIDC key pre-publication %v: want less than the rotation period %v", c.OIDCKeyPrepublish, c.OIDCKeyRotation))
	}
	if c.CacheTTL < 0 || c.CacheTTL > time.Hour {
		errs = append(errs, fmt.Errorf("cache TTL %v: want 0 to 1h", c.CacheTTL))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log format %q: want json or text", c.LogFormat))
	}
	if c.MaxTokensPerUser < 1 || c.MaxTokensPerUser > 100_000 {
		errs = append(errs, fmt.Errorf("max tokens per user %d: want 1 to 100000", c.MaxTokensPerUser))
	}
	if c.ServiceToken != "" && len(c.ServiceToken) < 32 {
		errs = append(errs, errors.New("service token: at least 32 characters"))
	}
	errs = append(errs, c.Listener.validate(c.Addr)...)
	errs = append(errs, c.Load.validate()...)
	return errors.Join(errs...)
}

// TrustedProxyPrefixes parses TrustedProxies.
func (c *Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := gatehouse.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// LoadResources returns the resource tree: the built-in commerce tree, or
// the YAML file at path (a list of {id, title, titles, children}; titles,
// optional, maps a language tag such as ru or zh-Hant to a title).
func LoadResources(path string) (*gatehouse.ResourceTree, error) {
	if path == "" {
		return gatehouse.NewResourceTree(gatehouse.CommerceResources())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	return ParseResources(b)
}

// ParseResources parses a YAML resource tree.
func ParseResources(b []byte) (*gatehouse.ResourceTree, error) {
	var doc struct {
		Resources []*gatehouse.Resource `yaml:"resources"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse resources: %w", err)
	}
	return gatehouse.NewResourceTree(doc.Resources)
}
