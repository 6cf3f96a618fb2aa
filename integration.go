package gatehouse

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// IntegrationStatus is where an integration is in its life (seed 000).
type IntegrationStatus string

// Integration statuses. Pending means the activation POST reached the
// callback URL and the third party has yet to exchange the verifier.
const (
	IntegrationInactive IntegrationStatus = "inactive"
	IntegrationPending  IntegrationStatus = "pending"
	IntegrationActive   IntegrationStatus = "active"
)

// OAuth1ValueLen is the length of every OAuth 1.0a value.
const OAuth1ValueLen = 32

// OAuth1Alphabet is what OAuth 1.0a values are made of.
const OAuth1Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// IsOAuth1Value reports whether s has the shape of a Magento-compatible
// OAuth 1.0a value: consumer keys and secrets, tokens, token secrets and
// verifiers are 32 characters of [a-z0-9] (SPEC §2), so existing Magento
// integrations work. It does not allocate (the verifier calls it).
func IsOAuth1Value(s string) bool {
	if len(s) != OAuth1ValueLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Integration is a Magento-style integration: an OAuth 1.0a consumer of
// one tenant with the resources it may call (System › Extensions ›
// Integrations). Its consumer secret is sealed (AES-GCM): HMAC signatures
// need the plaintext, so it cannot be hashed.
type Integration struct {
	ID              string
	TenantID        string
	Name            string
	Email           string
	CallbackURL     string // "" = tokens are shown in the console at activation
	IdentityLinkURL string
	AllResources    bool     // Resource Access: All
	Resources       []string // Resource Access: Custom
	Status          IntegrationStatus
	ConsumerKey     string // 32 [a-z0-9]; unique; an identifier, stored as is
	ConsumerSecret  []byte // sealed
	// VerifierHash is the SHA-256 of the oauth_verifier POSTed at the latest
	// activation, until it is exchanged (nil otherwise).
	VerifierHash []byte
	// HandshakeAt is when the latest activation POST was accepted: the
	// consumer must start the token exchange within the expiry period after.
	HandshakeAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Scopes are the resources the integration's tokens carry.
func (i *Integration) Scopes() []string {
	if i.AllResources {
		return []string{ScopeAll}
	}
	return i.Resources
}

// Insecure reports whether the grid shows "Integration not secure": a
// callback or identity link URL that is set but is not https.
func (i *Integration) Insecure() bool {
	for _, u := range []string{i.CallbackURL, i.IdentityLinkURL} {
		if u != "" && !strings.HasPrefix(strings.ToLower(u), "https://") {
			return true
		}
	}
	return false
}

// Validate checks an integration's fields (not its resources, which the
// resource tree checks).
func (i *Integration) Validate() error {
	if n := utf8.RuneCountInString(strings.TrimSpace(i.Name)); n == 0 || n > 255 {
		return FieldError("name", "name must be 1-255 characters").WithID("integration.error.name")
	}
	if err := CheckText("name", i.Name); err != nil {
		return err
	}
	if i.Email != "" {
		if _, err := NormalizeEmail(i.Email); err != nil {
			return err
		}
	}
	for field, raw := range map[string]string{"callback_url": i.CallbackURL, "identity_link_url": i.IdentityLinkURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || len(raw) > 2000 {
			return FieldError(field, "%s must be an absolute http(s) URL", field).WithID("integration.error.url")
		}
	}
	if !i.AllResources && len(i.Resources) == 0 {
		return FieldError("resources", "choose at least one resource, or Resource Access: All").WithID("integration.error.resources")
	}
	return nil
}

// OAuth1Token is an OAuth 1.0a request token (RFC 5849 §2.1): stored by the
// SHA-256 of its value with its secret sealed, redeemable once.
type OAuth1Token struct {
	Hash          []byte
	TenantID      string
	IntegrationID string
	Secret        []byte // sealed token secret
	ExpiresAt     time.Time
	CreatedAt     time.Time
	UsedAt        *time.Time
}

// Delivery is one attempt to POST an integration's credentials to its
// callback URL, kept so the console can show what happened and retry.
type Delivery struct {
	ID            string
	TenantID      string
	IntegrationID string
	Time          time.Time
	URL           string
	Status        int    // HTTP status, 0 when no response came
	Error         string // "" on success
	Duration      time.Duration
}

// Notification is a message for a tenant's console (e.g. "integration X
// was authorized"). MessageID names its text in the console's message
// catalogue and Args fills the text's placeholders ({{.Name}}), so each
// reader sees it in their language; Message is the English text, the
// only one of notifications stored before message ids, which are shown as
// they were. At least one of MessageID and Message is set.
type Notification struct {
	ID        string
	TenantID  string
	MessageID string            // a Notice… constant, or "" for text only
	Args      map[string]string // the message's placeholders by name
	Message   string
	Link      string // a console path, or ""
	CreatedAt time.Time
	ReadAt    *time.Time
}

// Message ids of notifications (Notification.MessageID). The root names
// them only; the console's catalogue (web/locales) holds their texts.
const (
	// NoticeIntegrationAuthorized: the integration {{.Name}} became Active.
	NoticeIntegrationAuthorized = "notice.integration_authorized"
	// NoticeIntegrationReauthorized: Reauthorize gave the integration
	// {{.Name}} a new access token (the old one no longer works).
	NoticeIntegrationReauthorized = "notice.integration_reauthorized"
)
