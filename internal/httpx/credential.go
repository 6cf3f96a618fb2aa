package httpx

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Credential finds the credential a request presents in its headers, by
// the rules the gateway and the Go middleware share (SPEC §5): exactly one
// of Authorization: Bearer <token> (RFC 6750 §2.1) and X-Api-Key: <key>
// (seed 003). White space around the token or key is not part of it.
//
// It returns the credential and code "", or "" and the code the request
// is refused with:
//   - MISSING: neither header.
//   - MALFORMED: more than one value between the two headers (two
//     transports, or one repeated: RFC 6750 §2, clients use one method,
//     and checking one while forwarding the other would be confusing at
//     best), an empty token or key, or an Authorization header of another
//     scheme. The caller tried to authenticate and got it wrong, which is
//     more useful to hear than MISSING.
//
// Authorization: OAuth is MALFORMED here like any other scheme; the
// gateway, which checks OAuth 1.0a signatures when configured to, looks
// for it before taking this answer.
func Credential(r *http.Request) (string, gatehouse.Code) {
	auth := r.Header.Values("Authorization")
	keys := r.Header.Values(HeaderAPIKey)
	switch {
	case len(auth)+len(keys) == 0:
		return "", gatehouse.CodeMissing
	case len(auth)+len(keys) > 1:
		return "", gatehouse.CodeMalformed
	case len(keys) == 1:
		if k := strings.TrimSpace(keys[0]); k != "" {
			return k, ""
		}
		return "", gatehouse.CodeMalformed
	}
	if tok, found := BearerToken(strings.TrimSpace(auth[0])); found && tok != "" {
		return tok, ""
	}
	return "", gatehouse.CodeMalformed
}

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// value. The scheme is case-insensitive (RFC 7235 §2.1); found is false for
// any other scheme.
func BearerToken(header string) (token string, found bool) {
	const scheme = "bearer "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(header[len(scheme):]), true
}

// CodeStatus is the HTTP status a refused request with this verification
// code is answered (SPEC §5): 401 when the credential itself is bad, 403
// when it is good but not for this call, 404 for an unrouted path (the
// gateway's), and 200 for VALID.
func CodeStatus(c gatehouse.Code) int {
	switch c {
	case gatehouse.CodeValid:
		return http.StatusOK
	case gatehouse.CodeMissing, gatehouse.CodeMalformed, gatehouse.CodeUnknown, gatehouse.CodeExpired, gatehouse.CodeRevoked:
		return http.StatusUnauthorized
	case gatehouse.CodeRouteNotFound:
		return http.StatusNotFound
	default:
		return http.StatusForbidden
	}
}

// BearerChallenge is the WWW-Authenticate value for a refusal (RFC 6750
// §3): the bare realm when no credential was presented, invalid_token when
// the credential is bad (401), insufficient_scope (naming the scope, when
// known) when it is good but not for this call (403); "" for a code that
// refuses no credential (VALID, ROUTE_NOT_FOUND).
func BearerChallenge(code gatehouse.Code, scope string) string {
	switch {
	case code == gatehouse.CodeMissing:
		return `Bearer realm="gatehouse"`
	case CodeStatus(code) == http.StatusUnauthorized:
		return `Bearer realm="gatehouse", error="invalid_token", error_description="` + code.Message() + `"`
	case CodeStatus(code) != http.StatusForbidden:
		return ""
	}
	c := `Bearer realm="gatehouse", error="insufficient_scope", error_description="` + code.Message() + `"`
	if code == gatehouse.CodeInsufficientScope && scope != "" {
		c += `, scope="` + scope + `"`
	}
	return c
}

// WriteRefusal answers a request refused with a verification code, as the
// gateway and the Go middleware do (SPEC §5): status CodeStatus(code),
// the challenge as WWW-Authenticate when that is 401 or 403 (usually
// BearerChallenge(code, scope)), and the body {"error":{"code","message"}}, message
// being code.Message() when "". Security headers are the caller's: the
// gateway sets all of Gatehouse's, the middleware, on a resource server's
// answers, only nosniff.
func WriteRefusal(w http.ResponseWriter, code gatehouse.Code, challenge, message string) {
	status := CodeStatus(code)
	if message == "" {
		message = code.Message()
	}
	if challenge != "" && (status == http.StatusUnauthorized || status == http.StatusForbidden) {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: string(code), Message: message}})
}
