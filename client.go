package gatehouse

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// OAuth 2.0 grant types an app may be allowed (RFC 6749).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// ClientIDPrefix starts every OAuth 2.0 client id (seed 002: "APIK-").
const ClientIDPrefix = "APIK-"

// Client is an OAuth 2.0 app registered by a tenant (seed 002:
// Integrations › API › Activate). The secret of a confidential client is
// stored only as SHA-256; during a rotation's grace period the previous
// secret's hash still authenticates.
type Client struct {
	ID           string // client_id, "APIK-…"; unique across tenants
	TenantID     string
	Name         string
	RedirectURIs []string // compared exactly (RFC 9700 §2.1)
	// AllowedOrigins are the browser origins (scheme://host[:port]) whose
	// pages may read the token and revocation endpoints' answers for this
	// app (CORS, docs/cors.md); empty means the origins of RedirectURIs.
	AllowedOrigins      []string
	Scopes              []string // the most the app may be granted
	Confidential        bool
	GrantTypes          []string
	SecretHash          []byte // SHA-256 of the secret; nil for public clients
	SecretHint          string
	PrevSecretHash      []byte     // the secret before the last rotation
	PrevSecretExpiresAt *time.Time // until when PrevSecretHash still works
	CreatedAt           time.Time
	// RequirePAR (RFC 9126 §6 require_pushed_authorization_requests): the
	// authorization endpoint accepts only pushed requests of the app.
	RequirePAR bool
}

// AllowsGrant reports whether the app may use a grant type.
func (c *Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// HasRedirectURI reports whether uri is registered, compared exactly.
func (c *Client) HasRedirectURI(uri string) bool { return slices.Contains(c.RedirectURIs, uri) }

// Validate checks a client's registration (not its secret).
func (c *Client) Validate() error {
	if n := utf8.RuneCountInString(strings.TrimSpace(c.Name)); n == 0 || n > 100 {
		return FieldError("name", "name must be 1-100 characters").WithID("error.field.name")
	}
	if err := CheckText("name", c.Name); err != nil {
		return err
	}
	if len(c.GrantTypes) == 0 {
		return FieldError("grant_types", "at least one grant type is required").WithID("error.grant.required")
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode:
		case GrantClientCredentials:
			if !c.Confidential {
				return FieldError("grant_types", "client_credentials needs a confidential client").WithID("error.grant.client_credentials_public")
			}
		default:
			return FieldError("grant_types", "unsupported grant type %q", g).WithID("error.grant.unsupported", "Grant", g)
		}
	}
	if c.AllowsGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return FieldError("redirect_uris", "authorization_code needs at least one redirect URI").WithID("error.redirect.required")
	}
	if len(c.RedirectURIs) > 20 {
		return FieldError("redirect_uris", "at most 20 redirect URIs").WithID("error.redirect.too_many", "Max", 20)
	}
	seen := map[string]bool{}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return err
		}
		if seen[u] {
			return FieldError("redirect_uris", "duplicate redirect URI %q", u).WithID("error.redirect.duplicate", "URI", u)
		}
		seen[u] = true
	}
	if len(c.AllowedOrigins) > MaxAllowedOrigins {
		return FieldError("allowed_origins", "at most %d allowed origins", MaxAllowedOrigins).WithID("error.origin.too_many", "Max", MaxAllowedOrigins)
	}
	seenOrigin := map[string]bool{}
	for _, o := range c.AllowedOrigins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return err
		}
		if n != o {
			return FieldError("allowed_origins", "%q: write the origin as %q", o, n).WithID("error.origin.form", "Origin", o, "Want", n)
		}
		if seenOrigin[o] {
			return FieldError("allowed_origins", "duplicate allowed origin %q", o).WithID("error.origin.duplicate", "Origin", o)
		}
		seenOrigin[o] = true
	}
	return nil
}

// MaxAllowedOrigins bounds an app's AllowedOrigins.
const MaxAllowedOrigins = 20

// NormalizeOrigin checks an origin for an app's AllowedOrigins and returns
// its serialization as a browser sends it in the Origin header (RFC 6454
// §6.2): lower-case scheme and host, the port only when it is not the
// scheme's default. https, or http on a loopback host (localhost,
// 127.0.0.1, ::1) as for redirect URIs; no path, query, fragment, user
// info or wildcard, and not "null" (the origin of sandboxed and file
// pages, which any page can claim).
func NormalizeOrigin(raw string) (string, error) {
	notOrigin := func() error {
		return FieldError("allowed_origins", "%q is not an origin such as https://app.example.com", raw).WithID("error.origin.form_any", "Origin", raw)
	}
	if raw == "" || len(raw) > 300 || strings.ContainsAny(raw, "*% \t\r\n") || strings.EqualFold(raw, "null") {
		return "", notOrigin()
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", notOrigin()
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", FieldError("allowed_origins", "%q: an origin has no path, query or fragment", raw).WithID("error.origin.path", "Origin", raw)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':')
	}) {
		return "", notOrigin()
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https":
		if port == "443" {
			port = ""
		}
	case "http":
		if !IsLoopbackHost(host) {
			return "", FieldError("allowed_origins", "%q: http:// is allowed only for localhost and 127.0.0.1; use https://", raw).WithID("error.origin.http", "Origin", raw)
		}
		if port == "80" {
			port = ""
		}
	default:
		return "", FieldError("allowed_origins", "%q: an origin must start with https://", raw).WithID("error.origin.scheme", "Origin", raw)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// EffectiveOrigins returns the origins allowed to read the app's token and
// revocation answers: AllowedOrigins, or, when that is empty, the origins
// of the redirect URIs (those that have one), each once.
func (c *Client) EffectiveOrigins() []string {
	if len(c.AllowedOrigins) > 0 {
		return c.AllowedOrigins
	}
	var out []string
	for _, u := range c.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			continue
		}
		o, err := NormalizeOrigin(p.Scheme + "://" + p.Host)
		if err == nil && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// AllowsOrigin reports whether a page of origin (an Origin header's value,
// compared exactly after NormalizeOrigin) may read the app's answers.
func (c *Client) AllowsOrigin(origin string) bool {
	o, err := NormalizeOrigin(origin)
	return err == nil && o == origin && slices.Contains(c.EffectiveOrigins(), o)
}

// ValidateRedirectURI checks a redirect URI for registration: absolute,
// https (or http on a loopback host, RFC 8252 §7.3), no fragment
// (RFC 6749 §3.1.2), no user info, at most 2000 bytes.
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2000 || u.Host == "" || u.Opaque != "" {
		return FieldError("redirect_uris", "%q is not an absolute URL", raw).WithID("error.redirect.absolute", "URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return FieldError("redirect_uris", "%q: a redirect URI must not have a fragment", raw).WithID("error.redirect.fragment", "URI", raw)
	}
	if u.User != nil {
		return FieldError("redirect_uris", "%q: user info is not allowed", raw).WithID("error.redirect.userinfo", "URI", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return FieldError("redirect_uris", "%q: http is allowed only for loopback hosts; use https", raw).WithID("error.redirect.http", "URI", raw)
		}
	default:
		return FieldError("redirect_uris", "%q: the scheme must be https", raw).WithID("error.redirect.scheme", "URI", raw)
	}
	return nil
}

// IsLoopbackHost reports whether host (a URL's Hostname) names the
// loopback interface: an IP literal in 127.0.0.0/8 or ::1 (RFC 8252 §7.3),
// or the name localhost (§8.3 does not recommend it, but it is what
// developers register; docs/decisions.md says why it is kept).
//
// Security: the host is parsed as an address, never matched as a prefix,
// so 127.evil.example and 127.0.0.1.nip.io (public DNS names) are not
// loopback. A zone (::1%lo) and IPv4-mapped forms are refused as well.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && !a.Is4In6() && a.IsLoopback()
}

// AppScopes returns scopes without manage. SPEC §9: an OAuth 2.0 app is
// never granted manage, whatever its registration says (an app registered
// before the rule may still list it), so every scope an app's token gets
// passes through here.
func AppScopes(scopes []string) []string {
	if !slices.Contains(scopes, ScopeManage) {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == ScopeManage })
}

// Consent remembers that a user allowed an app some scopes in a tenant, so
// the consent page is not shown again for the same or fewer scopes.
type Consent struct {
	TenantID  string
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuthCode is an OAuth 2.0 authorization code (RFC 6749 §4.1.2), stored by
// its SHA-256 and redeemable exactly once.
type AuthCode struct {
	Hash          []byte
	TenantID      string
	ClientID      string
	UserID        string
	RedirectURI   string
	Scopes        []string
	CodeChallenge string // PKCE S256 challenge, "" when none was sent
	GrantID       string // the grant the code's tokens will belong to
	ExpiresAt     time.Time
	CreatedAt     time.Time
	UsedAt        *time.Time
}

// CodeRedemption is a token request's claim on an authorization code
// (RFC 6749 §4.1.3), for Store.RedeemAuthCode: who presents it, what the
// code must match, and the tokens to issue for it.
type CodeRedemption struct {
	Hash     []byte // SHA-256 of the presented code
	TenantID string // the authenticated client's tenant
	ClientID string // the authenticated client
	// RedirectURI must equal the code's (the caller resolves one that
	// RFC 6749 §3.1.2.3 lets the client omit).
	RedirectURI string
	// Challenge is BASE64URL(SHA-256(code_verifier)) (RFC 7636 §4.6), ""
	// when no verifier was sent; it must equal the code's CodeChallenge.
	Challenge string
	Now       time.Time
	// Issue are the credentials to store for a good code. The store binds
	// each to the code: UserID and GrantID are the code's, Scopes the
	// code's without manage (AppScopes).
	Issue []*Credential
}

// RefreshRotation is a public client's refresh request (RFC 6749 §6,
// RFC 9700 §4.14.2), for Store.RotateRefreshToken.
type RefreshRotation struct {
	TenantID string // the authenticated client's tenant
	ClientID string // the authenticated client
	ID       string // the presented refresh token's credential ID
	Now      time.Time
	// Grace is how long after its rotation a refresh token still works
	// (SPEC §9: a response lost on the way).
	Grace time.Duration
	// Next are the access token and the refresh token to issue. The store
	// binds each to the presented token: UserID and GrantID are its.
	Next []*Credential
}

// PushedRequest is a pushed authorization request (RFC 9126 §2), stored by
// the SHA-256 of its request_uri until it expires.
type PushedRequest struct {
	Hash     []byte
	TenantID string
	ClientID string
	// Params is the authorization request, form-encoded (no client secret).
	Params string
	// ExpiresAt is the push's expires_in at first; OpenPushedRequest moves
	// it to the end of the user's login and consent round trip.
	ExpiresAt time.Time
	CreatedAt time.Time
	OpenedAt  *time.Time // first presented at the authorization endpoint
	UsedAt    *time.Time // the user decided: one-time use (RFC 9126 §4)
}
