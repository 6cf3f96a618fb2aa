package verify

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// HandlerOptions configure the /api/v1/verify endpoint.
type HandlerOptions struct {
	// ServiceToken is the operator's token, which may verify credentials of
	// every tenant. Empty disables it. It is compared in constant time.
	ServiceToken string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed when
	// finding the caller's own address (its token may have an allowlist).
	TrustedProxies []netip.Prefix
	// Logger records infrastructure failures (default slog.Default()).
	Logger *slog.Logger

	// Heartbeat is how often an idle invalidation stream sends a comment
	// (EventsHandler; default DefaultHeartbeat).
	Heartbeat time.Duration
	// EventBuffer is how many events an invalidation stream holds for a
	// slow client before it sends resync instead (EventsHandler; default
	// DefaultEventBuffer).
	EventBuffer int
}

// Handler serves POST /api/v1/verify (SPEC §5 "Verification").
//
// The caller authenticates with Authorization: Bearer, either a credential
// that itself verifies VALID for the reserved resource "verify" — then only
// credentials of the caller's own tenant are answered, and any other
// tenant's credential answers UNKNOWN exactly like a credential that does not
// exist — or the operator's service token, which may ask about any tenant.
//
// Every answered verification is 200 with "valid" and "code". Other
// statuses concern the call itself: 400 bad JSON, an unknown field or an
// unknown resource id; 401 caller not authenticated; 403 the caller's token
// is valid but not for "verify" (or not from this address or client, RFC
// 6750 §3.1); 405 not POST; 413 body over 1 MiB; 415 not JSON; 503 the store
// is unreachable and the answer was not cached (fail closed, SPEC §9).
// Errors use the shared body {"error":{"code","message"}}.
//
// The caller's own token is verified with the same Verifier, so it is
// cached like any other and counted in gatehouse_verify_total too.
//
// When "ip" is omitted the credential is checked as coming from no address:
// a credential with an IP allowlist answers IP_NOT_ALLOWED rather than
// skipping the allowlist, because a resource server that forgets to pass
// the address must not turn the allowlist off.
func Handler(v *Verifier, opts HandlerOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{v: v, opts: opts}
	return httpx.JSON(opts.Logger, h.serve)
}

type handler struct {
	v    *Verifier
	opts HandlerOptions
}

type verifyRequest struct {
	Credential string `json:"credential"`
	Resource   string `json:"resource"`
	IP         string `json:"ip"`
	ClientID   string `json:"client_id"`
}

type verifyResponse struct {
	Valid     bool           `json:"valid"`
	Code      gatehouse.Code `json:"code"`
	Tenant    string         `json:"tenant"`
	Subject   string         `json:"subject"`
	Kind      gatehouse.Kind `json:"kind"`
	Scopes    []string       `json:"scopes"`
	ExpiresAt *time.Time     `json:"expires_at"`
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	// Answers name credentials and their owners: no cache may keep them.
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return &httpx.StatusError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "use POST"}
	}
	callerTenant, err := h.authenticate(w, r)
	if err != nil {
		return err
	}

	var in verifyRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	req := Request{Credential: in.Credential, Resource: in.Resource, ClientID: in.ClientID}
	if in.Resource != "" && !h.v.tree.Known(in.Resource) {
		// A resource server asking about a resource that does not exist is
		// misconfigured; INSUFFICIENT_SCOPE would hide that.
		return badRequest("unknown resource " + quote(in.Resource))
	}
	if in.IP != "" {
		a, err := netip.ParseAddr(in.IP)
		if err != nil {
			// netip refuses IPv4 with leading zeros, octal or hex (SPEC §9).
			return badRequest("ip must be an IPv4 or IPv6 address")
		}
		req.IP = a.WithZone("")
	}

	res, err := h.v.Verify(r.Context(), req)
	if err != nil {
		return h.unavailable(w, r, err)
	}
	if callerTenant != "" && res.Principal != nil && res.Principal.TenantID != callerTenant {
		// Security: tenant isolation. Another tenant's credential is
		// answered exactly as one that does not exist, whatever its state.
		res = Result{Code: gatehouse.CodeUnknown, Kind: res.Kind}
	}
	httpx.WriteJSON(w, http.StatusOK, responseOf(res))
	return nil
}

func badRequest(msg string) error {
	return &httpx.StatusError{Status: http.StatusBadRequest, Code: "bad_request", Message: msg}
}

func responseOf(res Result) verifyResponse {
	out := verifyResponse{Valid: res.Valid(), Code: res.Code, Kind: res.Kind, Scopes: []string{}}
	if p := res.Principal; p != nil {
		out.Tenant, out.Subject, out.Kind = p.TenantSlug, p.Subject, p.Kind
		if p.Scopes != nil {
			out.Scopes = p.Scopes
		}
		if p.ExpiresAt != nil {
			t := p.ExpiresAt.UTC()
			out.ExpiresAt = &t
		}
	}
	return out
}

// authenticate checks the caller's Bearer token and returns the tenant the
// caller may ask about ("" for the operator's service token, which may ask
// about all).
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (tenantID string, err error) {
	tok, found := BearerToken(r.Header.Get("Authorization"))
	if !found || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		return "", &httpx.StatusError{Status: http.StatusUnauthorized, Code: gatehouse.EUNAUTHORIZED,
			Message: "authenticate with Authorization: Bearer and a token holding the verify resource"}
	}
	if h.opts.ServiceToken != "" && secret.Equal(tok, h.opts.ServiceToken) {
		return "", nil
	}
	res, err := h.v.Verify(r.Context(), Request{
		Credential: tok,
		Resource:   gatehouse.ScopeVerify,
		IP:         httpx.ClientIP(r, h.opts.TrustedProxies),
		ClientID:   r.Header.Get("X-Gatehouse-Client"),
	})
	if err != nil {
		return "", h.unavailable(w, r, err)
	}
	if res.Valid() {
		return res.Principal.TenantID, nil
	}
	msg := "the caller's token: " + res.Code.Message()
	if res.Code.Status() == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", BearerChallenge(res.Code, ""))
		return "", &httpx.StatusError{Status: http.StatusUnauthorized, Code: gatehouse.EUNAUTHORIZED, Message: msg}
	}
	// RFC 6750 §3.1: a valid token lacking scope is 403 insufficient_scope;
	// the same for a token used from the wrong address or client.
	w.Header().Set("WWW-Authenticate", BearerChallenge(res.Code, gatehouse.ScopeVerify))
	return "", &httpx.StatusError{Status: http.StatusForbidden, Code: gatehouse.EFORBIDDEN, Message: msg}
}

// unavailable logs a store failure and returns the 503 the caller gets.
// Internal error text never reaches the client (STYLE "Errors").
func (h *handler) unavailable(w http.ResponseWriter, r *http.Request, err error) error {
	h.opts.Logger.ErrorContext(r.Context(), "verify: store unavailable, refusing (fail closed)", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "1")
	return &httpx.StatusError{Status: http.StatusServiceUnavailable, Code: gatehouse.EUNAVAILABLE,
		Message: "verification is temporarily unavailable; try again"}
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

// BearerChallenge is the WWW-Authenticate value for a refusal (RFC 6750
// §3): the bare realm when no credential was presented, invalid_token when
// the credential is bad, insufficient_scope (naming the scope, when known)
// when it is good but not for this call.
func BearerChallenge(code gatehouse.Code, scope string) string {
	if code == gatehouse.CodeMissing {
		return `Bearer realm="gatehouse"`
	}
	if code.Status() == http.StatusUnauthorized {
		return `Bearer realm="gatehouse", error="invalid_token", error_description="` + code.Message() + `"`
	}
	c := `Bearer realm="gatehouse", error="insufficient_scope", error_description="` + code.Message() + `"`
	if code == gatehouse.CodeInsufficientScope && scope != "" {
		c += `, scope="` + scope + `"`
	}
	return c
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
