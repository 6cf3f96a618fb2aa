package verify

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

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
	// Every answer, refusals included, is written with
	// httpx.SetJSONHeaders, which says no-store.
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return &httpx.StatusError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "use POST"}
	}
	callerTenant, _, err := h.authenticate(w, r)
	if err != nil {
		return err
	}

	in, err := decodeRequest(w, r)
	if err != nil {
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
	if callerTenant != "" && res.Found() && res.Principal.TenantID != callerTenant {
		// Security: tenant isolation. Another tenant's credential is
		// answered exactly as one that does not exist, whatever its state.
		res = Result{Code: gatehouse.CodeUnknown, Kind: res.Kind}
	}
	writeResponse(w, responseOf(&res))
	return nil
}

// decodeRequest reads the body with httpx.DecodeJSON's rules (JSON content
// type, at most httpx.MaxBody bytes, exactly one object, unknown fields and
// wrong types refused). The usual body is parsed by parseRequest without
// reflection; anything it does not accept goes to encoding/json, which
// decides and words the error exactly as DecodeJSON would.
func decodeRequest(w http.ResponseWriter, r *http.Request) (verifyRequest, error) {
	body, err := httpx.ReadJSONBody(w, r)
	if err != nil {
		return verifyRequest{}, err
	}
	defer body.Release()
	var in verifyRequest // stays on the stack
	if parseRequest(body.B, &in) {
		return in, nil
	}
	var slow verifyRequest // escapes (encoding/json), allocated only here
	return slow, httpx.DecodeJSONBytes(body.B, &slow)
}

// parseRequest parses the shape clients send: one object whose members are
// the known keys spelled exactly, each at most once, with string values of
// printable ASCII without escapes, and nothing but whitespace around it.
// It reports false for anything else (including everything encoding/json
// would refuse, and what it would accept differently: case-folded keys,
// duplicates, null, escapes, non-ASCII), leaving the decision to it. The
// values share one copy of the body.
func parseRequest(b []byte, in *verifyRequest) bool {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	var str string // the body as a string, made on the first value
	var seen uint8
	for {
		ks, ke, ok := plainString(b, i)
		if !ok {
			return false
		}
		var dst *string
		var bit uint8
		switch string(b[ks:ke]) {
		case "credential":
			dst, bit = &in.Credential, 1
		case "resource":
			dst, bit = &in.Resource, 2
		case "ip":
			dst, bit = &in.IP, 4
		case "client_id":
			dst, bit = &in.ClientID, 8
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		i = skipSpace(b, ke+1)
		if i == len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vs, ve, ok := plainString(b, i)
		if !ok {
			return false
		}
		if str == "" {
			str = string(b)
		}
		*dst = str[vs:ve]
		i = skipSpace(b, ve+1)
		if i == len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the bounds of the contents of the JSON string at
// b[i] (end is the index of the closing quote) if it has no escapes, no
// control characters and no bytes beyond ASCII.
func plainString(b []byte, i int) (start, end int, ok bool) {
	if i == len(b) || b[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return i + 1, j, true
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

var responsePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeResponse writes out as httpx.WriteJSON would, byte for byte (see
// TestResponseEncodingMatchesEncodingJSON), without reflection.
func writeResponse(w http.ResponseWriter, out verifyResponse) {
	if t := out.ExpiresAt; t != nil && (t.Year() < 0 || t.Year() > 9999) {
		// encoding/json refuses these; keep its behaviour.
		httpx.WriteJSON(w, http.StatusOK, out)
		return
	}
	bp := responsePool.Get().(*[]byte)
	b := appendResponse((*bp)[:0], &out)
	httpx.SetJSONHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	if cap(b) <= 4096 {
		*bp = b
		responsePool.Put(bp)
	}
}

// appendResponse appends the JSON of out and a newline, as json.Encoder
// writes it (HTML-safe escaping, RFC 3339 times). ExpiresAt must be in the
// years 0 to 9999.
func appendResponse(b []byte, out *verifyResponse) []byte {
	if out.Valid {
		b = append(b, `{"valid":true,"code":`...)
	} else {
		b = append(b, `{"valid":false,"code":`...)
	}
	b = appendJSONString(b, string(out.Code))
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, out.Tenant)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, out.Subject)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, string(out.Kind))
	b = append(b, `,"scopes":`...)
	if out.Scopes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range out.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"expires_at":`...)
	if out.ExpiresAt == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = out.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding with HTML escaping
// (its default): <, > and & as \u003c…, control characters escaped,
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func badRequest(msg string) error {
	return &httpx.StatusError{Status: http.StatusBadRequest, Code: "bad_request", Message: msg}
}

func responseOf(res *Result) verifyResponse {
	out := verifyResponse{Valid: res.Valid(), Code: res.Code, Kind: res.Kind, Scopes: []string{}}
	if p := &res.Principal; res.Found() {
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
// about all) and, for a tenant-scoped caller, the verification question
// its own token was checked with (the event stream asks it again).
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (tenantID string, caller Request, err error) {
	tok, found := httpx.BearerToken(r.Header.Get("Authorization"))
	if !found || tok == "" {
		w.Header().Set("WWW-Authenticate", httpx.BearerChallenge(gatehouse.CodeMissing, ""))
		return "", Request{}, &httpx.StatusError{Status: http.StatusUnauthorized, Code: gatehouse.EUNAUTHORIZED,
			Message: "authenticate with Authorization: Bearer and a token holding the verify resource"}
	}
	if h.opts.ServiceToken != "" && secret.Equal(tok, h.opts.ServiceToken) {
		return "", Request{}, nil
	}
	caller = Request{
		Credential: tok,
		Resource:   gatehouse.ScopeVerify,
		IP:         httpx.ClientIP(r, h.opts.TrustedProxies),
		ClientID:   r.Header.Get(httpx.HeaderClient),
	}
	res, err := h.v.Verify(r.Context(), caller)
	if err != nil {
		return "", Request{}, h.unavailable(w, r, err)
	}
	if res.Valid() {
		return res.Principal.TenantID, caller, nil
	}
	msg := "the caller's token: " + res.Code.Message()
	if httpx.CodeStatus(res.Code) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", httpx.BearerChallenge(res.Code, ""))
		return "", Request{}, &httpx.StatusError{Status: http.StatusUnauthorized, Code: gatehouse.EUNAUTHORIZED, Message: msg}
	}
	// RFC 6750 §3.1: a valid token lacking scope is 403 insufficient_scope;
	// the same for a token used from the wrong address or client.
	w.Header().Set("WWW-Authenticate", httpx.BearerChallenge(res.Code, gatehouse.ScopeVerify))
	return "", Request{}, &httpx.StatusError{Status: http.StatusForbidden, Code: gatehouse.EFORBIDDEN, Message: msg}
}

// unavailable logs a store failure and returns the 503 the caller gets.
// Internal error text never reaches the client (STYLE "Errors").
func (h *handler) unavailable(w http.ResponseWriter, r *http.Request, err error) error {
	h.opts.Logger.ErrorContext(r.Context(), "verify: store unavailable, refusing (fail closed)", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "1")
	return &httpx.StatusError{Status: http.StatusServiceUnavailable, Code: gatehouse.EUNAVAILABLE,
		Message: "verification is temporarily unavailable; try again"}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
