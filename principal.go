package gatehouse

import "time"

// Code is the outcome of a verification (SPEC §5), the same at
// /api/v1/verify, the gateway and the Go middleware. The HTTP status a
// refusal is answered with belongs to the HTTP layer (httpx.CodeStatus).
type Code string

// Verification codes.
const (
	CodeValid             Code = "VALID"
	CodeMissing           Code = "MISSING"
	CodeMalformed         Code = "MALFORMED"
	CodeUnknown           Code = "UNKNOWN"
	CodeExpired           Code = "EXPIRED"
	CodeRevoked           Code = "REVOKED"
	CodeIPNotAllowed      Code = "IP_NOT_ALLOWED"
	CodeInsufficientScope Code = "INSUFFICIENT_SCOPE"
	CodeClientMismatch    Code = "CLIENT_MISMATCH"
	CodeTenantDisabled    Code = "TENANT_DISABLED"
	CodeRouteNotFound     Code = "ROUTE_NOT_FOUND" // gateway only
)

// Message is a human explanation of the code, for error bodies.
func (c Code) Message() string {
	switch c {
	case CodeValid:
		return "the credential is valid"
	case CodeMissing:
		return "no credential was presented"
	case CodeMalformed:
		return "the credential is malformed (check for a typo)"
	case CodeUnknown:
		return "the credential is not known"
	case CodeExpired:
		return "the credential has expired; get a new one"
	case CodeRevoked:
		return "the credential has been revoked; get a new one"
	case CodeIPNotAllowed:
		return "the client address is not on the credential's IP allowlist"
	case CodeInsufficientScope:
		return "the credential does not grant access to this resource"
	case CodeClientMismatch:
		return "the client header does not match the token's client"
	case CodeTenantDisabled:
		return "the tenant is disabled"
	case CodeRouteNotFound:
		return "no route matches this request"
	}
	return string(c)
}

// Principal is who a valid credential speaks for.
type Principal struct {
	TenantID     string
	TenantSlug   string
	Subject      string // user id, OAuth client id or integration id
	Kind         Kind
	CredentialID string
	ClientID     string // OAuth 2.0 client id, when any
	Scopes       []string
	ExpiresAt    *time.Time
}
