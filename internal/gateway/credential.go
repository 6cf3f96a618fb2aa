package gateway

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/oauth1"
)

// Extracted is what an Extractor found in a request.
type Extracted struct {
	// Credential is the secret to verify.
	Credential string
	// Code refuses the request: the transport was recognised but cannot be
	// accepted (MALFORMED, or an OAuth 1.0a signature that does not check
	// out). Message, when set, explains it better than Code.Message.
	Code    gatehouse.Code
	Message string
	// Signed says an OAuth 1.0a signature made with Credential as the
	// access token was checked (verify.Request.Signed).
	Signed bool
	// Err is a store failure while extracting: the gateway answers 503.
	Err error

	oauth bool // from OAuth1Extractor: refusals carry an OAuth challenge
}

// Extractor finds a credential in a request; ok is false when the request
// has nothing for it. Each accepted transport is one Extractor, so adding
// one is adding an element to the list.
type Extractor func(r *http.Request) (x Extracted, ok bool)

// DefaultExtractors are the credential transports the gateway accepts
// without an OAuth 1.0a provider: Authorization: Bearer and X-Api-Key. An
// Authorization: OAuth header is then MALFORMED.
func DefaultExtractors() []Extractor {
	return []Extractor{headerCredential}
}

// SignedRequestAuthenticator checks OAuth 1.0a-signed requests;
// *oauth1.Provider is one.
type SignedRequestAuthenticator interface {
	// Authenticate returns the access token the request was signed with,
	// or a refusal code with an error whose text may be shown to the
	// caller, or (code "") an error when the store could not answer.
	Authenticate(r *http.Request) (accessToken string, code gatehouse.Code, err error)
}

// OAuth1Extractor reads OAuth 1.0a-signed requests, whose protocol
// parameters travel in the Authorization: OAuth header, a form body or the
// query (SPEC §5; RFC 5849 §3.5, exactly one of them): the signature,
// timestamp, nonce and consumer are checked by a, and the access token goes
// on to the verifier with Signed set.
//
// Decisions:
//   - A form body (application/x-www-form-urlencoded) of a request with no
//     other credential is read to look for protocol parameters, at most
//     oauth1.MaxFormBody (1 MiB), and put back whole for the upstream. A
//     longer one whose first MiB carries protocol parameters is MALFORMED
//     (its parameters are signed, so it cannot be checked without holding
//     it all); protocol parameters later in a longer body are not looked
//     for, and the call is treated as carrying none.
//   - Protocol parameters in two places, or beside a Bearer token or an
//     API key in the query, are MALFORMED before any signature is checked
//     or nonce spent. The body of a call with another credential is not
//     read. The one exception is oauth1.Collect's: a header parameter
//     repeated once in the query or the body with the same value
//     (Magento's OauthClient) is dropped, and stripped before forwarding.
//   - Security: the credential is stripped. The header goes like any
//     Authorization header; parameters in the query or the body are
//     removed from what is forwarded (every oauth_* pair, the rest of the
//     query and body byte for byte), since oauth_token may work as a
//     Bearer token where a tenant allows it.
func OAuth1Extractor(a SignedRequestAuthenticator) Extractor {
	return func(r *http.Request) (Extracted, bool) {
		if otherCredential(r) {
			if oauth1.HasProtocolParams(r.URL.RawQuery) {
				return Extracted{Code: gatehouse.CodeMalformed, Message: "OAuth 1.0a parameters in the query beside another credential; send one credential (RFC 5849 §3.5)", oauth: true}, true
			}
			return Extracted{}, false
		}
		where, err := oauth1.Locate(r)
		switch {
		case err != nil:
			return Extracted{Code: gatehouse.CodeMalformed, Message: err.Error(), oauth: true}, true
		case where == oauth1.None:
			return Extracted{}, false
		}
		tok, code, err := a.Authenticate(r)
		switch {
		case code != "":
			x := Extracted{Code: code, oauth: true}
			if err != nil {
				x.Message = err.Error()
			}
			return x, true
		case err != nil:
			return Extracted{Err: err, oauth: true}, true
		}
		oauth1.Strip(r, where)
		return Extracted{Credential: tok, Signed: true, oauth: true}, true
	}
}

// otherCredential reports whether r carries a credential header other than
// Authorization: OAuth.
func otherCredential(r *http.Request) bool {
	if len(r.Header.Values(httpx.HeaderAPIKey)) > 0 {
		return true
	}
	for _, v := range r.Header.Values("Authorization") {
		if !isScheme(v, "OAuth") {
			return true
		}
	}
	return false
}

func isScheme(v, scheme string) bool {
	s, _, _ := strings.Cut(strings.TrimSpace(v), " ")
	return strings.EqualFold(s, scheme)
}

// headerCredential reads Authorization: Bearer or X-Api-Key by
// httpx.Credential's rules (one transport; another Authorization scheme,
// several values or an empty token are MALFORMED). An Authorization:
// OAuth header alone is left to OAuth1Extractor (and is MALFORMED when
// none is configured, see credential).
func headerCredential(r *http.Request) (Extracted, bool) {
	cred, code := httpx.Credential(r)
	switch {
	case code == "":
		return Extracted{Credential: cred}, true
	case code == gatehouse.CodeMissing:
		return Extracted{}, false
	case oauthHeader(r):
		return Extracted{}, false
	}
	return Extracted{Code: code}, true
}

// oauthHeader reports whether r's only credential header is
// Authorization: OAuth.
func oauthHeader(r *http.Request) bool {
	auth := r.Header.Values("Authorization")
	return len(auth) == 1 && len(r.Header.Values(httpx.HeaderAPIKey)) == 0 && isScheme(auth[0], "OAuth")
}

// credential runs the extractors. More than one transport in the same
// request is MALFORMED (RFC 6750 §2: clients use one method): checking one
// and forwarding the other would be confusing at best. An Authorization
// header that no extractor took (OAuth without an OAuth 1.0a provider) is
// MALFORMED too.
func (g *Gateway) credential(r *http.Request) Extracted {
	// httpx.Credential's one-transport rule, applied before any extractor
	// runs, so that a request carrying two transports cannot make the
	// OAuth 1.0a one read the store or spend a nonce for a call that is
	// refused anyway.
	if len(r.Header.Values("Authorization"))+len(r.Header.Values(httpx.HeaderAPIKey)) > 1 {
		return Extracted{Code: gatehouse.CodeMalformed}
	}
	var found Extracted
	n := 0
	for _, ex := range g.extract {
		x, ok := ex(r)
		if !ok {
			continue
		}
		if x.Code != "" || x.Err != nil {
			return x
		}
		found = x
		n++
	}
	if n > 1 {
		return Extracted{Code: gatehouse.CodeMalformed}
	}
	if n == 0 && len(r.Header.Values("Authorization")) > 0 {
		return Extracted{Code: gatehouse.CodeMalformed}
	}
	return found
}
