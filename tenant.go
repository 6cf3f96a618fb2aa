package gatehouse

import (
	"regexp"
	"time"
)

// Plans a tenant can be on. Some capabilities (OAuth 2.0 apps) need enterprise.
const (
	PlanStandard   = "standard"
	PlanEnterprise = "enterprise"
)

// Tenant is an account of the platform (a store, a company) whose data third
// parties are given access to. Every credential belongs to exactly one.
type Tenant struct {
	ID        string
	Slug      string // unique, URL-safe; what verification answers report
	Name      string
	Plan      string
	Disabled  bool
	CreatedAt time.Time
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateSlug reports whether s can name a tenant: 1–63 lower-case letters,
// digits and inner hyphens.
func ValidateSlug(s string) error {
	if !slugRE.MatchString(s) {
		return FieldError("slug", "slug must be 1-63 lower-case letters, digits or inner hyphens").WithID("error.tenant.slug")
	}
	return nil
}

// Validate checks a tenant before it is stored.
func (t *Tenant) Validate() error {
	if err := ValidateSlug(t.Slug); err != nil {
		return err
	}
	if t.Name == "" || len([]rune(t.Name)) > 200 {
		return FieldError("name", "name must be 1-200 characters").WithID("error.tenant.name", "Max", 200)
	}
	if err := CheckText("name", t.Name); err != nil {
		return err
	}
	switch t.Plan {
	case PlanStandard, PlanEnterprise:
	default:
		return FieldError("plan", "plan must be %q or %q", PlanStandard, PlanEnterprise).WithID("error.tenant.plan")
	}
	return nil
}

// Settings are a tenant's security switches (SPEC §4).
type Settings struct {
	AllowAnonymousGuestAccess bool `json:"allow_anonymous_guest_access"`
	EnhancedSecurity          bool `json:"enhanced_security"`
	OAuth1TokensAsBearer      bool `json:"oauth1_tokens_as_bearer"`
	RequireClientHeader       bool `json:"require_client_header"`
}

// DefaultSettings are the settings of a new tenant: secure by default.
func DefaultSettings() Settings {
	return Settings{RequireClientHeader: true}
}
