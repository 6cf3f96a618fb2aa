package gateway

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Extractor finds a credential in a request. It returns the credential, or
// a refusal code when the request carries something it recognises but
// cannot accept; ok is false when the request has nothing for it. Each
// accepted transport is one Extractor, so adding one (OAuth 1.0a signed
// requests) is adding an element to the list.
type Extractor func(r *http.Request) (credential string, code gatehouse.Code, ok bool)

// DefaultExtractors are the credential transports the gateway accepts:
// Authorization (Bearer; OAuth is refused as MALFORMED until OAuth 1.0a
// signature checking lands) and X-Api-Key.
func DefaultExtractors() []Extractor {
	return []Extractor{authorizationHeader, apiKeyHeader}
}

// authorizationHeader reads "Authorization: Bearer <token>" (RFC 6750
// §2.1). Any other scheme, several Authorization headers, or an empty
// token are MALFORMED: the caller tried to authenticate and got it wrong,
// which is more useful to hear than MISSING.
func authorizationHeader(r *http.Request) (string, gatehouse.Code, bool) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", "", false
	case 1:
	default:
		return "", gatehouse.CodeMalformed, true
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		tok := strings.TrimSpace(rest)
		if tok == "" {
			return "", gatehouse.CodeMalformed, true
		}
		return tok, "", true
	case strings.EqualFold(scheme, "OAuth"):
		// SPEC §5: signed OAuth 1.0a requests (seed 000) are checked here
		// once the oauth1 package exists; until then, refused.
		return "", gatehouse.CodeMalformed, true
	}
	return "", gatehouse.CodeMalformed, true
}

// apiKeyHeader reads "X-Api-Key: <key>" (seed 003's API Portal keys).
func apiKeyHeader(r *http.Request) (string, gatehouse.Code, bool) {
	vals := r.Header.Values(HeaderAPIKey)
	switch len(vals) {
	case 0:
		return "", "", false
	case 1:
	default:
		return "", gatehouse.CodeMalformed, true
	}
	key := strings.TrimSpace(vals[0])
	if key == "" {
		return "", gatehouse.CodeMalformed, true
	}
	return key, "", true
}

// credential runs the extractors. More than one transport in the same
// request is MALFORMED (RFC 6750 §2: clients use one method): checking one
// and forwarding the other would be confusing at best.
func (g *Gateway) credential(r *http.Request) (string, gatehouse.Code) {
	var found string
	n := 0
	for _, ex := range g.extract {
		cred, code, ok := ex(r)
		if !ok {
			continue
		}
		if code != "" {
			return "", code
		}
		found = cred
		n++
	}
	if n > 1 {
		return "", gatehouse.CodeMalformed
	}
	return found, ""
}
