package metrics

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// HeaderRequestID carries a request's id: a load balancer's is kept
// (when it is short and plain, see validRequestID), otherwise Instrument
// makes one; either way the answer echoes it, and the access log and the
// logs of the request's handlers carry it.
const HeaderRequestID = "X-Request-Id"

// StatusClientGone is the status recorded for a request whose client went
// away before its answer was written (nginx's 499): it is not a 500 of
// the server's, whatever the handler wrote into the closed connection.
const StatusClientGone = 499

// Access is what the access log says of a request beyond what Instrument
// sees itself: who the credential speaks for, set by the handler that
// verified it (AccessOf). It never holds a secret: the tenant's slug, the
// credential's kind and its id (the id the console and the API show).
type Access struct {
	requestID  string
	tenant     string
	kind       gatehouse.Kind
	credential string
}

// SetPrincipal records who the request's credential speaks for. A nil
// Access (no Instrument around) records nothing.
func (a *Access) SetPrincipal(p *gatehouse.Principal) {
	if a == nil || p == nil {
		return
	}
	a.tenant, a.kind, a.credential = p.TenantSlug, p.Kind, p.CredentialID
}

// RequestID is the request's id ("" for a nil Access).
func (a *Access) RequestID() string {
	if a == nil {
		return ""
	}
	return a.requestID
}

// AccessOf is the Access of the request w answers (found as SetRoute
// finds Instrument's writer), or nil.
func AccessOf(w http.ResponseWriter) *Access {
	for {
		switch x := w.(type) {
		case *statusWriter:
			return &x.access
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

type accessKey struct{}

// ContextWithAccess returns ctx carrying a, for handlers that see only a
// context (an authenticator). Instrument does not do it itself: a new
// context is a copy of the request, which the verification hot path does
// without.
func ContextWithAccess(ctx context.Context, a *Access) context.Context {
	if a == nil {
		return ctx
	}
	return context.WithValue(ctx, accessKey{}, a)
}

// AccessFrom is the Access ContextWithAccess put in ctx, or nil.
func AccessFrom(ctx context.Context) *Access {
	a, _ := ctx.Value(accessKey{}).(*Access)
	return a
}

// LogAccess turns on the access log: one line per request at info on log
// (none when log is not enabled at info), with the client's address
// as httpx.ClientIP reads it behind trusted proxies. Call it before
// Instrument serves.
func (m *Metrics) LogAccess(log *slog.Logger, trusted []netip.Prefix) {
	m.accessLog, m.trusted = log, trusted
}

// setRequestID gives the request its id: the caller's X-Request-Id when
// it is valid, else 128 random bits in hex (math/rand/v2's per-thread
// generator: no lock, no system call; an id needs to be unique, not
// secret). The request is left as it came (httpx.Limit counts its
// header fields); the gateway forwards the id to the upstream itself
// (Access.RequestID). The answer's header value slice lives in sw
// (idHeader), so that the id costs at most one allocation (its text).
func setRequestID(sw *statusWriter, r *http.Request) {
	id := r.Header.Get(HeaderRequestID)
	if !validRequestID(id) {
		var b [32]byte
		const digits = "0123456789abcdef"
		for i, v := range [2]uint64{rand.Uint64(), rand.Uint64()} {
			for j := range 16 {
				b[i*16+j] = digits[(v>>(4*j))&0xf]
			}
		}
		id = string(b[:])
	}
	sw.access.requestID = id
	sw.idHeader[0] = id
}

// answerRequestID puts the request id in the answer's header unless the
// handler set one (a proxied upstream's own, usually the same id, which
// httputil.ReverseProxy adds rather than sets).
func (w *statusWriter) answerRequestID() {
	h := w.ResponseWriter.Header()
	if _, ok := h[HeaderRequestID]; !ok {
		h[HeaderRequestID] = w.idHeader[:]
	}
}

// validRequestID accepts up to 128 characters of letters, digits and
// ._:/+=- — what load balancers and tracing systems send (UUIDs, AWS's
// Root=1-…, hex) — and nothing a log line could be forged with.
// Security: the id is the client's word (or its proxy's) and only ever
// correlates log lines; it authorises nothing.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '-':
		default:
			return false
		}
	}
	return true
}

// clientGone reports whether r's client went away: its context was
// canceled while it was served (net/http cancels it when the connection
// closes; a deadline is DeadlineExceeded, the server's doing).
func clientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

// logAccess writes the access line of a finished request. It builds the
// record itself: slog.Logger would also look up the caller's source line
// (runtime.Callers), which an access line does not need.
func (m *Metrics) logAccess(sw *statusWriter, r *http.Request, route string, status int, d time.Duration, gone bool) {
	ctx := r.Context()
	if m.accessLog == nil {
		return
	}
	h := m.accessLog.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	a := &sw.access
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("duration_us", d.Microseconds()),
		slog.String("request_id", a.requestID),
	)
	if ip := httpx.ClientIP(r, m.trusted); ip.IsValid() {
		rec.AddAttrs(slog.String("client_ip", ip.String()))
	}
	if a.tenant != "" {
		rec.AddAttrs(slog.String("tenant", a.tenant))
	}
	if a.kind != "" {
		rec.AddAttrs(slog.String("kind", string(a.kind)))
	}
	if a.credential != "" {
		rec.AddAttrs(slog.String("credential", a.credential))
	}
	if sw.refusal != "" {
		rec.AddAttrs(slog.String("refusal", sw.refusal))
	}
	if gone {
		rec.AddAttrs(slog.Bool("client_gone", true))
	}
	h.Handle(ctx, rec) //nolint:errcheck // a log line that cannot be written is not the request's failure
}
