package oauth2

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// RFC 6749 §5.2 error codes of the token endpoint, and the ones RFC 6750
// §3.1 and RFC 7009 §2.2.1 add for introspection and revocation.
const (
	errInvalidRequest       = "invalid_request"
	errInvalidClient        = "invalid_client"
	errInvalidGrant         = "invalid_grant"
	errUnauthorizedClient   = "unauthorized_client"
	errUnsupportedGrantType = "unsupported_grant_type"
	errInvalidScope         = "invalid_scope"
	errInvalidToken         = "invalid_token"      // RFC 6750 §3.1
	errInsufficientScope    = "insufficient_scope" // RFC 6750 §3.1
	errServerError          = "server_error"
	errUnavailable          = "temporarily_unavailable"
)

// Error is a refusal in the OAuth 2.0 dialect: RFC 6749 §5.2's JSON body
// {"error","error_description"} with a status, and for 401s the challenge
// to send in WWW-Authenticate.
type Error struct {
	Status      int
	Code        string
	Description string
	// Challenge is the WWW-Authenticate value of a 401.
	Challenge string
}

func (e *Error) Error() string { return "oauth2: " + e.Code + ": " + e.Description }

// basicChallenge is the WWW-Authenticate of an invalid_client: RFC 6749
// §5.2 requires 401 and a challenge matching the scheme the client tried;
// Basic is the one scheme the endpoint offers.
const basicChallenge = `Basic realm="gatehouse"`

func invalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: errInvalidRequest, Description: desc}
}

// invalidClient is RFC 6749 §5.2 invalid_client: always 401 with a Basic
// challenge, whichever way the client tried to authenticate.
func invalidClient(desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: errInvalidClient, Description: desc, Challenge: basicChallenge}
}

func invalidGrant(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: errInvalidGrant, Description: desc}
}

func invalidScope(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: errInvalidScope, Description: desc}
}

func unauthorizedClient(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: errUnauthorizedClient, Description: desc}
}

// handlerFunc is an OAuth 2.0 endpoint that returns its refusal or failure
// instead of writing it; serve writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h: every answer, success or error, carries Cache-Control:
// no-store and Pragma: no-cache (RFC 6749 §5.1, §5.2), and errors are
// written in RFC 6749 §5.2's shape. An error that is not an *Error is an
// infrastructure failure: logged with its detail, answered 503
// temporarily_unavailable when the database is unreachable and 500
// server_error otherwise, never with internal text.
func (p *Provider) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		err := h(w, r)
		if err == nil {
			return
		}
		var oe *Error
		if !errors.As(err, &oe) {
			p.log.ErrorContext(r.Context(), "oauth2: request failed", "path", r.URL.Path, "err", err)
			oe = &Error{Status: http.StatusInternalServerError, Code: errServerError, Description: "internal error"}
			if gatehouse.IsCode(err, gatehouse.EUNAVAILABLE) {
				w.Header().Set("Retry-After", "1")
				oe = &Error{Status: http.StatusServiceUnavailable, Code: errUnavailable, Description: "the service is temporarily unavailable; try again"}
			}
		}
		if oe.Challenge != "" {
			w.Header().Set("WWW-Authenticate", oe.Challenge)
		}
		writeJSON(w, oe.Status, errorBody{Error: oe.Code, Description: descriptionText(oe.Description)})
	})
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// descriptionText keeps an error_description within RFC 6749 §5.2's
// character set (%x20-21 / %x23-5B / %x5D-7E): printable ASCII without
// '"' and '\'; anything else becomes '?'.
func descriptionText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
