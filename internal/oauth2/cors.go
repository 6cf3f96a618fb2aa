package oauth2

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// CORS (Fetch Standard §3.2, "CORS protocol") lets a browser app — a
// public client whose page runs on its own origin — read Gatehouse's
// answers. docs/cors.md gives the design; in short:
//
//   - Public documents (the RFC 8414 metadata, the OpenID configuration,
//     the JWKS) are the same for everyone and need no credentials, so they
//     allow every origin with "*" (PublicCORS), as Hydra and Keycloak do.
//   - The token and revocation endpoints (ClientCORS) allow an origin per
//     app: the answer to a request carries Access-Control-Allow-Origin, the
//     request's own Origin echoed, only when the authenticated app allows
//     it (gatehouse.Client.AllowsOrigin: its allowed_origins, by default
//     the origins of its redirect URIs). A preflight carries no client id,
//     so it is allowed for an origin that some app allows; what the page
//     may then read is still decided per app on the request itself.
//   - Never Access-Control-Allow-Credentials: public clients send no
//     cookies, and without it a browser sends none cross-origin, so no
//     ambient authority (a console session) reaches these endpoints from
//     another origin's page.
//   - Introspection (RFC 7662) is for resource servers, which are not
//     browsers: no CORS, and OPTIONS stays 405 there.

// corsMaxAge is how long (seconds) a browser may cache a preflight's
// answer; Chromium caps it at 7200.
const corsMaxAge = "600"

// corsAllowHeaders are the request headers a browser app may send to the
// token and revocation endpoints: client_secret_basic's Authorization,
// the form's Content-Type, and RFC 9449's DPoP proof.
const corsAllowHeaders = "Authorization, Content-Type, DPoP"

// isPreflight reports whether r is a CORS preflight (Fetch §3.2.2: an
// OPTIONS request with Origin and Access-Control-Request-Method).
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// PublicCORS wraps the handler of a public document served by GET: every
// answer carries Access-Control-Allow-Origin: * (without credentials, so
// a browser sends no cookies with it), and a preflight is answered 204
// here. A plain OPTIONS request is answered 204 with Allow.
func PublicCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			if isPreflight(r) {
				w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD")
				w.Header().Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ClientCORS wraps the token or the revocation endpoint (h is
// TokenHandler or RevokeHandler, which call allowOrigin once the client is
// authenticated). It answers OPTIONS itself: a preflight for POST from an
// origin that some app of any tenant allows (Store.OriginAllowed) gets
// the allowing headers; any other gets 204 without them, which the
// browser treats as a refusal. Every answer varies by Origin.
//
// Security: the preflight cannot name the app, so it says only that the
// origin is some app's; it grants nothing a page could not already do
// with a form-encoded POST, which needs no preflight (a "simple"
// request). Whether the page may read the answer is decided on the
// actual request, for the app that request authenticates.
func (p *Provider) ClientCORS(h http.Handler) http.Handler {
	return p.ClientCORSFor(http.MethodPost)(h)
}

// ClientCORSFor is ClientCORS for a route of other methods: userinfo
// (OpenID Connect Core §5.3) takes GET and POST, and its handler calls
// allowOrigin with the app the access token belongs to.
func (p *Provider) ClientCORSFor(methods ...string) func(http.Handler) http.Handler {
	allow := strings.Join(methods, ", ")
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Origin")
			if r.Method != http.MethodOptions {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Allow", "OPTIONS, "+allow)
			if isPreflight(r) && slices.Contains(methods, r.Header.Get("Access-Control-Request-Method")) {
				origin := r.Header.Get("Origin")
				ok, err := p.store.OriginAllowed(r.Context(), origin)
				if err != nil {
					p.serve(func(http.ResponseWriter, *http.Request) error { return err }).ServeHTTP(w, r)
					return
				}
				if ok {
					h := w.Header()
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Methods", allow)
					h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
					h.Set("Access-Control-Max-Age", corsMaxAge)
				}
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// allowOrigin lets the page that sent r read the answer when the
// authenticated client allows its origin; otherwise the answer carries no
// CORS header and the browser keeps it from the page. The app's own
// refusals (invalid_grant and the like) are readable by its page; a
// failed client authentication is not (there is no app to ask).
func allowOrigin(w http.ResponseWriter, r *http.Request, c *gatehouse.Client) {
	if o := r.Header.Get("Origin"); o != "" && c.AllowsOrigin(o) {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
	}
}
