package gatehouse

import (
	"net/mail"
	"strings"
	"time"
)

// Role is what a membership allows a user to do in a tenant.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner Role = "owner"
	RoleAdmin Role = "admin"
	RoleStaff Role = "staff"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleStaff }

// CanManage reports whether the role may manage credentials, users and settings.
func (r Role) CanManage() bool { return r == RoleOwner || r == RoleAdmin }

// User is a person, global across tenants and identified by email.
type User struct {
	ID           string
	Email        string // normalised: trimmed, lower case
	PasswordHash string // argon2id PHC string; empty when the user cannot log in
	Locale       string // preferred console language (BCP 47), empty = Accept-Language
	TimeZone     string // console times' IANA time zone ("Asia/Taipei"), empty = the browser's
	CreatedAt    time.Time
}

// NormalizeEmail trims and lower-cases an address and checks its syntax.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if err := CheckText("email", s); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", FieldError("email", "a valid email address is required").WithID("error.field.email")
	}
	return s, nil
}

// Membership gives a user a role in a tenant.
type Membership struct {
	TenantID  string
	UserID    string
	Role      Role
	CreatedAt time.Time
}

// Member is a membership joined with its user, as consoles and APIs list them.
type Member struct {
	Membership
	Email string
}

// TenantMembership is a membership joined with its tenant, for a tenant switcher.
type TenantMembership struct {
	Membership
	Tenant Tenant
}
