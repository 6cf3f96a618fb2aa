package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvConfig names the configuration file when --config is not given.
const EnvConfig = "GATEHOUSE_CONFIG"

// A setting is one configuration key. Its file key is its variable's name
// without GATEHOUSE_, in lower case (GATEHOUSE_DATABASE_URL is
// database_url), so that a file, the environment and `config check` all
// speak of the same names; flags are the key with dashes (--cache-ttl),
// where a flag exists.
type setting struct {
	env    string
	secret bool // masked by Effective
	ptr    any  // *string, *int, *bool or *time.Duration in the Config
	// check says what is wrong with a parsed value, or "".
	check func() string
}

// Key is the setting's file key.
func (s setting) Key() string { return strings.ToLower(strings.TrimPrefix(s.env, "GATEHOUSE_")) }

// settings lists every key of c. Adding a field to Config means adding it
// here; TestSettingsCoverConfig fails otherwise.
func (c *Config) settings() []setting {
	positive := func(d *time.Duration) func() string {
		return func() string {
			if *d <= 0 {
				return "is not a positive duration"
			}
			return ""
		}
	}
	return []setting{
		{env: "GATEHOUSE_ADDR", ptr: &c.Addr},
		{env: "GATEHOUSE_DATABASE_URL", ptr: &c.DatabaseURL, secret: true},
		{env: "GATEHOUSE_PUBLIC_URL", ptr: &c.PublicURL},
		{env: "GATEHOUSE_SECRET_KEY", ptr: &c.SecretKey, secret: true},
		{env: "GATEHOUSE_TRUSTED_PROXIES", ptr: &c.TrustedProxies},
		{env: "GATEHOUSE_UPSTREAM", ptr: &c.Upstream},
		{env: "GATEHOUSE_ROUTES", ptr: &c.Routes},
		{env: "GATEHOUSE_RESOURCES", ptr: &c.Resources},
		{env: "GATEHOUSE_ALLOW_HTTP_CALLBACKS", ptr: &c.AllowHTTPCallbacks},
		{env: "GATEHOUSE_ALLOW_PRIVATE_CALLBACKS", ptr: &c.AllowPrivateCallbacks},
		{env: "GATEHOUSE_SERVICE_TOKEN", ptr: &c.ServiceToken, secret: true},
		{env: "GATEHOUSE_CACHE_TTL", ptr: &c.CacheTTL},
		{env: "GATEHOUSE_LOG_LEVEL", ptr: &c.LogLevel},
		{env: "GATEHOUSE_LOG_FORMAT", ptr: &c.LogFormat},
		{env: "GATEHOUSE_ACCESS_LOG", ptr: &c.AccessLog},
		{env: "GATEHOUSE_MAX_TOKENS_PER_USER", ptr: &c.MaxTokensPerUser},
		{env: "GATEHOUSE_CONSOLE_IDLE_TIMEOUT", ptr: &c.ConsoleIdleTimeout, check: positive(&c.ConsoleIdleTimeout)},
		{env: "GATEHOUSE_AUDIT_RETENTION", ptr: &c.AuditRetention, check: func() string {
			if c.AuditRetention != 0 && c.AuditRetention < 24*time.Hour {
				return "is neither 0 (keep for ever) nor a duration of at least 24h"
			}
			return ""
		}},
		{env: "GATEHOUSE_OIDC_SIGNING_ALG", ptr: &c.OIDCSigningAlg, check: func() string {
			switch c.OIDCSigningAlg {
			case "ES256", "EdDSA", "RS256":
				return ""
			}
			return "is not ES256, EdDSA or RS256"
		}},
		// The pre-publication is at least 10 minutes (clients cache the
		// JWKS for up to 5) and shorter than the rotation period.
		{env: "GATEHOUSE_OIDC_KEY_PREPUBLISH", ptr: &c.OIDCKeyPrepublish, check: func() string {
			if c.OIDCKeyPrepublish < 10*time.Minute {
				return "is shorter than 10m (clients must see a new key before it signs)"
			}
			return ""
		}},
		{env: "GATEHOUSE_OIDC_KEY_ROTATION", ptr: &c.OIDCKeyRotation, check: func() string {
			if c.OIDCKeyRotation < 24*time.Hour {
				return "is shorter than 24h"
			}
			return ""
		}},
		{env: "GATEHOUSE_READ_HEADER_TIMEOUT", ptr: &c.ReadHeaderTimeout},
		{env: "GATEHOUSE_BODY_TIMEOUT", ptr: &c.BodyTimeout},
		{env: "GATEHOUSE_GATEWAY_BODY_TIMEOUT", ptr: &c.GatewayBodyTimeout},
		{env: "GATEHOUSE_WRITE_TIMEOUT", ptr: &c.WriteTimeout},
		{env: "GATEHOUSE_IDLE_TIMEOUT", ptr: &c.IdleTimeout},
		{env: "GATEHOUSE_MAX_HEADER_BYTES", ptr: &c.MaxHeaderBytes},
		{env: "GATEHOUSE_MAX_HEADERS", ptr: &c.MaxHeaders},
		{env: "GATEHOUSE_METRICS_TOKEN", ptr: &c.MetricsToken, secret: true},
		{env: "GATEHOUSE_METRICS_ADDR", ptr: &c.MetricsAddr},
		{env: "GATEHOUSE_TLS_CERT", ptr: &c.TLSCert},
		{env: "GATEHOUSE_TLS_KEY", ptr: &c.TLSKey},
		{env: "GATEHOUSE_DB_MAX_CONNS", ptr: &c.DBMaxConns},
		{env: "GATEHOUSE_REQUEST_TIMEOUT", ptr: &c.RequestTimeout},
		{env: "GATEHOUSE_MAX_INFLIGHT", ptr: &c.MaxInflight},
	}
}

// set parses v into the setting, returning why it is wrong ("" if not).
func (s setting) set(v string) string {
	switch p := s.ptr.(type) {
	case *string:
		*p = v
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return "is not a duration"
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return "is not a whole number"
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "is not a boolean"
		}
		*p = b
	}
	if s.check != nil {
		return s.check()
	}
	return ""
}

func (s setting) value() string {
	switch p := s.ptr.(type) {
	case *string:
		return *p
	case *time.Duration:
		return p.String()
	case *int:
		return strconv.Itoa(*p)
	case *bool:
		return strconv.FormatBool(*p)
	}
	return ""
}

// Sources says where each key's value came from: "default", "file PATH",
// "env GATEHOUSE_…" or "flag --…". A key missing from it has its default.
type Sources map[string]string

// FromEnv overlays GATEHOUSE_* variables (read through getenv) on c; an
// empty variable counts as unset. Malformed values are reported by the
// returned error, all at once.
func (c *Config) FromEnv(getenv func(string) string) error {
	return c.fromEnv(getenv, Sources{})
}

func (c *Config) fromEnv(getenv func(string) string, src Sources) error {
	var errs []error
	for _, s := range c.settings() {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if why := s.set(v); why != "" {
			errs = append(errs, fmt.Errorf("%s: %q %s", s.env, shown(s, v), why))
			continue
		}
		src[s.Key()] = "env " + s.env
	}
	return errors.Join(errs...)
}

// MaxFileBytes bounds the configuration file.
const MaxFileBytes = 1 << 20

// FromFile overlays the YAML file at path on c: one mapping of keys
// (database_url: …) to scalar values. Unknown keys, repeated keys, values
// that are not scalars and malformed values are errors, all reported at
// once with their line.
func (c *Config) FromFile(path string) error { return c.fromFile(path, Sources{}) }

func (c *Config) fromFile(path string, src Sources) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("configuration file: %w", err)
	}
	if len(b) > MaxFileBytes {
		return fmt.Errorf("configuration file %s: larger than %d bytes", path, MaxFileBytes)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want a mapping of keys to values (addr: 127.0.0.1:8080)", path, root.Line)
	}
	byKey := map[string]setting{}
	for _, s := range c.settings() {
		byKey[s.Key()] = s
	}
	seen := map[string]bool{}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		s, ok := byKey[k.Value]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q%s", path, k.Line, k.Value, hint(k.Value, byKey)))
			continue
		case seen[k.Value]:
			errs = append(errs, fmt.Errorf("%s:%d: %s is set twice", path, k.Line, k.Value))
			continue
		case v.Kind != yaml.ScalarNode || v.Tag == "!!null":
			errs = append(errs, fmt.Errorf("%s:%d: %s: want a single value", path, v.Line, k.Value))
			continue
		}
		seen[k.Value] = true
		if why := s.set(v.Value); why != "" {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %q %s", path, v.Line, k.Value, shown(s, v.Value), why))
			continue
		}
		src[k.Value] = "file " + path
	}
	return errors.Join(errs...)
}

// hint names the key a misspelt one probably meant: the variable's name
// written as a key, or a key differing only in dashes and case.
func hint(k string, byKey map[string]setting) string {
	norm := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(strings.ToUpper(k), "GATEHOUSE_"), "-", "_"))
	if _, ok := byKey[norm]; ok && norm != k {
		return fmt.Sprintf(" (did you mean %s?)", norm)
	}
	return ""
}

// shown is a value as an error message may quote it: a secret's is not.
func shown(s setting, v string) string {
	if s.secret {
		return "…"
	}
	return v
}

// FlagKey is the configuration key a flag sets, if it sets one: its name
// with underscores (--cache-ttl is cache_ttl), and --database for
// database_url.
func FlagKey(flag string) (string, bool) {
	key := strings.ReplaceAll(flag, "-", "_")
	if flag == "database" {
		key = "database_url"
	}
	var c Config
	for _, s := range c.settings() {
		if s.Key() == key {
			return key, true
		}
	}
	return "", false
}

// A Flag is a command-line flag the command saw set, with its value as
// text (pflag's Value.String), for Read to apply last.
type Flag struct {
	Name  string // without dashes: cache-ttl
	Value string
}

// Read builds the configuration: defaults, then the file at path (none
// if path is ""), then the variables read through getenv, then flags. It
// reports every malformed value at once, and where each key came from;
// Validate checks the result.
func Read(path string, getenv func(string) string, flags []Flag) (Config, Sources, error) {
	c := Default()
	src := Sources{}
	var errs []error
	if path != "" {
		errs = append(errs, c.fromFile(path, src))
	}
	errs = append(errs, c.fromEnv(getenv, src))
	byKey := map[string]setting{}
	for _, s := range c.settings() {
		byKey[s.Key()] = s
	}
	for _, f := range flags {
		key, _ := FlagKey(f.Name)
		s, ok := byKey[key]
		if !ok {
			errs = append(errs, fmt.Errorf("--%s is not a configuration key", f.Name))
			continue
		}
		if why := s.set(f.Value); why != "" {
			errs = append(errs, fmt.Errorf("--%s: %q %s", f.Name, shown(s, f.Value), why))
			continue
		}
		src[key] = "flag --" + f.Name
	}
	return c, src, errors.Join(errs...)
}

// A Row is one key of the effective configuration.
type Row struct {
	Key, Value, Source string
}

// Effective lists every key of c in the settings' order, with its value —
// secrets masked: the secret key, the service and metrics tokens as
// "(set)", a database URL's password as "xxxxx" — and its source.
func (c *Config) Effective(src Sources) []Row {
	var rows []Row
	for _, s := range c.settings() {
		v := s.value()
		if s.secret && v != "" {
			if s.env == "GATEHOUSE_DATABASE_URL" {
				v = RedactURL(v)
			} else {
				v = "(set)"
			}
		}
		from := src[s.Key()]
		if from == "" {
			from = "default"
		}
		rows = append(rows, Row{s.Key(), v, from})
	}
	return rows
}

// RedactURL hides a password in a database URL (for logs and `config
// check`).
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return "(unparsable URL with credentials)"
		}
		return s
	}
	if q := u.Query(); q.Has("password") {
		// PostgreSQL also takes the password as a parameter.
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
