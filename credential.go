package gatehouse

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Credential is any secret a third party presents: its plaintext is shown
// once and only its SHA-256 (Hash) is stored.
type Credential struct {
	ID       string
	TenantID string
	Kind     Kind
	Name     string // PAT name, API key description, …
	Hash     []byte // SHA-256 of the plaintext secret; unique
	Hint     string // first characters of the token, for lists ("gate_pat_3fA…")
	// Secret is the sealed (AES-GCM) token secret of an OAuth 1.0a access
	// token, which HMAC signatures need in plaintext; nil for other kinds.
	Secret     []byte
	UserID     string   // the user it acts for ("" for app/integration credentials)
	ClientID   string   // OAuth 2.0 client id, or integration id, when bound to one
	GrantID    string   // groups the tokens of one OAuth grant, for grant-wide revocation
	Scopes     []string // granted resource ids
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	RotatedAt  *time.Time // a refresh token replaced by RotateRefreshToken
	LastUsedAt *time.Time
	CreatedAt  time.Time
	// AllowList restricts the client addresses; empty means no restriction.
	// Stores fill it on every read.
	AllowList []AllowEntry
}

// Expired reports whether the credential has expired at now.
func (c *Credential) Expired(now time.Time) bool {
	return c.ExpiresAt != nil && !now.Before(*c.ExpiresAt)
}

// Revoked reports whether the credential has been revoked.
func (c *Credential) Revoked() bool { return c.RevokedAt != nil }

// CredentialFilter selects credentials of one tenant in ListCredentials.
type CredentialFilter struct {
	Kind   Kind   // "" = any kind
	UserID string // "" = any user
	// IncludeRevoked lists revoked credentials too (with Status "").
	IncludeRevoked bool
	// Status narrows the list to one status at At ("" = not revoked, or
	// all with IncludeRevoked).
	Status CredentialStatus
	At     time.Time // the time Status is judged at
	// Query matches the name or the hint, case-insensitively, as a
	// substring ("" = all).
	Query string
	Page  PageQuery
}

// CredentialStatus is what a list filter calls a credential's state.
type CredentialStatus string

// The statuses of a list filter: active is neither revoked nor expired;
// expired is expired and not revoked; revoked is revoked, expired or not.
const (
	StatusActive  CredentialStatus = "active"
	StatusExpired CredentialStatus = "expired"
	StatusRevoked CredentialStatus = "revoked"
)

// ParseCredentialStatus reads a status filter; "" is no filter.
func ParseCredentialStatus(s string) (CredentialStatus, error) {
	switch st := CredentialStatus(s); st {
	case "", StatusActive, StatusExpired, StatusRevoked:
		return st, nil
	}
	return "", FieldError("status", "status must be active, expired or revoked").WithID("error.filter.status")
}

// MaxQueryLen bounds a list's search text (runes).
const MaxQueryLen = 100

// CheckQuery refuses a search text longer than MaxQueryLen.
func CheckQuery(q string) error {
	if utf8.RuneCountInString(q) > MaxQueryLen || !utf8.ValidString(q) {
		return FieldError("q", "the search text is at most %d characters", MaxQueryLen).
			WithID("error.filter.query", "Max", MaxQueryLen)
	}
	return nil
}

// At is the cursor of the credential's place in a list in the order s.
func (c *Credential) At(s Sort) Cursor {
	switch s {
	case SortName:
		return Cursor{Sort: s, Text: c.Name, ID: c.ID}
	case SortExpires:
		return TimeCursor(s, c.ExpiresAt, c.ID)
	case SortLastUsed:
		return TimeCursor(s, c.LastUsedAt, c.ID)
	}
	return Cursor{Sort: s.Or(), Time: c.CreatedAt, ID: c.ID}
}

// AllowEntry is one entry of a credential's IP allowlist.
type AllowEntry struct {
	ID        string
	Name      string
	Prefix    netip.Prefix // a single address is a /32 or /128
	CreatedAt time.Time
}

// Allowlist limits (seed 001).
const (
	MaxAllowEntries   = 20
	MaxAllowEntryName = 20 // characters (runes), not bytes
)

// Validate checks an allowlist entry's name.
func (e *AllowEntry) Validate() error {
	if e.Name == "" || utf8.RuneCountInString(e.Name) > MaxAllowEntryName {
		return FieldError("name", "name must be 1-%d characters", MaxAllowEntryName).
			WithID("error.field.ip_name", "Max", MaxAllowEntryName)
	}
	if err := CheckText("name", e.Name); err != nil {
		return err
	}
	if !e.Prefix.IsValid() {
		return FieldError("cidr", "a valid IP address or CIDR is required").WithID("error.field.cidr")
	}
	if e.Prefix.Bits() == 0 {
		// SPEC §9: an empty allowlist already means no IP restriction.
		return FieldError("cidr", "%s allows every address, which is what no allowlist means; delete the entries instead", e.Prefix).
			WithID("error.cidr.everything", "CIDR", e.Prefix.String())
	}
	return nil
}

// Allows reports whether addr may use a credential with this allowlist.
// An empty list allows every address. IPv4-mapped IPv6 addresses are
// unmapped first, so they match IPv4 entries.
func AllowListPermits(list []AllowEntry, addr netip.Addr) bool {
	if len(list) == 0 {
		return true
	}
	addr = addr.Unmap()
	if !addr.IsValid() {
		return false
	}
	for i := range list {
		if list[i].Prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// ParsePrefix parses an IPv4/IPv6 address or CIDR strictly: IPv4 with leading
// zeros, octal or hex octets is refused (netip is strict), host bits must
// be zero, and IPv4-mapped IPv6 is unmapped. A bare address is a /32 or /128.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, FieldError("cidr", "%q is not a valid CIDR", s).WithID("error.cidr.invalid", "Value", s)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, FieldError("cidr", "%q: zones are not allowed", s).WithID("error.cidr.zone", "Value", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, FieldError("cidr", "%q has host bits set; did you mean %s?", s, p.Masked()).
				WithID("error.cidr.host_bits", "Value", s, "Masked", p.Masked().String())
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, FieldError("cidr", "%q: prefix too short for an IPv4-mapped address", s).
					WithID("error.cidr.mapped_prefix", "Value", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		return p, nil
	}
	if s == "" {
		return netip.Prefix{}, FieldError("cidr", "%q is not a valid IP address", s).WithID("error.field.cidr")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, FieldError("cidr", "%q is not a valid IP address", s).WithID("error.cidr.address", "Value", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
