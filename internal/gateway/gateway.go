// Package gateway is Gatehouse's reverse proxy (SPEC §5 "Gateway"): it
// matches each call against the routes file, verifies the credential with
// the same verify.Verifier as /api/v1/verify, and forwards permitted calls
// to the upstream platform API with the credential stripped and the caller
// named in X-Gatehouse-* headers the upstream can trust.
//
// Decisions, where SPEC §5 leaves room:
//   - Routes are tried in file order and the first match wins; each is
//     matched with http.ServeMux's own rules (wildcards, {$}, trailing-slash
//     subtrees, GET also matching HEAD, host-qualified patterns).
//   - Only canonical paths match: dot segments and encoded slashes,
//     backslashes or dots answer ROUTE_NOT_FOUND, so an upstream that
//     decodes before routing cannot be reached around the routes.
//   - Credentials come from Authorization: Bearer, X-Api-Key or, with an
//     OAuth 1.0a provider (OAuth1Extractor), Authorization: OAuth — a
//     request signed with an integration's consumer and access token
//     (internal/oauth1 checks signature, timestamp and nonce; the access
//     token is then verified with Signed set). Two transports at once,
//     several of one, or another scheme is MALFORMED, and so is
//     Authorization: OAuth without a provider. A refused signature
//     answers 401 with the oauth_problem in the message and an OAuth
//     challenge. The OAuth header is stripped like any credential; OAuth
//     parameters in the query or a form body are forwarded as they are.
//   - The tenant of an anonymous guest call is the {tenant} path value, else
//     tenant_hosts[Host] (port ignored); a credential's tenant always wins.
//     A credential on a guest route is verified (without a resource), and a
//     bad one is refused even though anonymous access would be allowed.
//   - Protocol upgrades are refused (403 UPGRADE_NOT_ALLOWED, the
//     connection closed) unless the route says "upgrade: websocket"; then a
//     websocket upgrade is verified like any call of the route before it
//     is forwarded and tunnelled. h2c is refused on every route: a switched
//     connection is a tunnel the gateway no longer routes or verifies.
//   - A store outage is 503 and nothing is forwarded (SPEC §9); an upstream
//     that fails is 502.
//   - Forwarded calls lose what only a proxy may say: X-Real-IP, Forwarded,
//     method overrides (X-HTTP-Method-Override, X-HTTP-Method,
//     X-Method-Override), X-Original-URL, X-Rewrite-URL, and the query
//     parameters access_token and api_key (any case, escaped or not);
//     X-Forwarded-* are the gateway's own. An upstream's Set-Cookie for
//     one of Gatehouse's cookies (StripCookies) is dropped from its answer.
//   - A forwarded body must advance by BodyProgressBytes every
//     BodyTimeout, else 408 and the connection is closed; a body streamed
//     faster is never cut off, however large.
//   - The upstream transport is net/http's (NewTransport), which never
//     reuses a connection whose answer ran past its framing, with one
//     pool per tenant (Partitioned): a connection only ever carries calls
//     of one tenant, so an upstream that mis-frames can never hand one
//     tenant's answer to another.
//   - A forwarded answer carries the upstream's headers, not Gatehouse's
//     security defaults (httpx.SetSecurityHeaders: nosniff, no-referrer,
//     X-Frame-Options DENY), which the gateway sets on its own answers
//     (refusals, 502, 408) and drops if an outer handler set them: the
//     platform may frame its pages or want referrers, and ReverseProxy
//     would otherwise send its values beside Gatehouse's.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// Headers the gateway sets on forwarded calls. Every incoming X-Gatehouse-*
// header is removed first, so the upstream can trust these.
const (
	HeaderTenant  = "X-Gatehouse-Tenant"  // the tenant's slug
	HeaderSubject = "X-Gatehouse-Subject" // user id, client id or integration id
	HeaderKind    = "X-Gatehouse-Kind"    // credential kind, or "guest"
	HeaderScopes  = "X-Gatehouse-Scopes"  // granted resources, space-separated
)

// Config configures a Gateway.
type Config struct {
	// Upstream is the platform API calls are forwarded to.
	Upstream *url.URL
	// Routes are the parsed routes file; New validates them against the
	// Verifier's resource tree.
	Routes *Routes
	// Verifier checks credentials and answers guest access.
	Verifier *verify.Verifier
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (GATEHOUSE_TRUSTED_PROXIES, SPEC §9).
	TrustedProxies []netip.Prefix
	// StripCookies names cookies removed before forwarding — Gatehouse's own
	// console session cookie must never reach the upstream.
	StripCookies []string
	// Extractors find the credential in a request, in order (nil:
	// DefaultExtractors).
	Extractors []Extractor
	// Transport overrides the upstream transport (tests); nil means
	// NewTransport's. An *http.Transport (and nil) is partitioned by
	// tenant (Partitioned); another RoundTripper is used as it is.
	Transport http.RoundTripper
	// UpstreamPartitions bounds how many tenants keep upstream connections
	// at once (0: DefaultPartitions); UpstreamIdlePerPartition bounds each
	// one's idle connections (0: DefaultIdlePerPartition).
	UpstreamPartitions, UpstreamIdlePerPartition int
	// BodyTimeout bounds a forwarded request body's progress: at least
	// BodyProgressBytes must arrive in every BodyTimeout, or the call is
	// cut off with 408 (0: no bound here; the listener's may still apply).
	BodyTimeout time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Gateway is an http.Handler that guards and forwards calls to the upstream.
type Gateway struct {
	routes  *Routes
	v       *verify.Verifier
	trusted []netip.Prefix
	cookies []string
	proxy   *httputil.ReverseProxy
	log     *slog.Logger
	extract []Extractor
	bodyTO  time.Duration
	watch   bool // the transport is Partitioned: trace which connection a call gets
}

// BodyProgressBytes is how much of a forwarded body must arrive in every
// Config.BodyTimeout: 64 KiB, about 2 KiB/s at the default 30 s, far below
// any real upload and far above a byte-at-a-time trickle.
const BodyProgressBytes = 64 << 10

// New builds a Gateway. It fails when the routes name resources the tree
// does not have.
func New(cfg Config) (*Gateway, error) {
	switch {
	case cfg.Upstream == nil || cfg.Upstream.Scheme == "" || cfg.Upstream.Host == "":
		return nil, errors.New("gateway: an absolute upstream URL is required")
	case cfg.Routes == nil:
		return nil, errors.New("gateway: routes are required")
	case cfg.Verifier == nil:
		return nil, errors.New("gateway: a verifier is required")
	}
	if err := cfg.Routes.Validate(cfg.Verifier.Tree()); err != nil {
		return nil, err
	}
	g := &Gateway{
		routes:  cfg.Routes,
		v:       cfg.Verifier,
		trusted: cfg.TrustedProxies,
		cookies: cfg.StripCookies,
		log:     cfg.Logger,
		extract: cfg.Extractors,
		bodyTO:  cfg.BodyTimeout,
	}
	if g.extract == nil {
		g.extract = DefaultExtractors()
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	transport := cfg.Transport
	if transport == nil {
		transport = NewTransport()
	}
	if t, ok := transport.(*http.Transport); ok {
		transport = NewPartitioned(t, cfg.UpstreamPartitions, cfg.UpstreamIdlePerPartition)
	}
	_, g.watch = transport.(*Partitioned)
	upstream := cfg.Upstream
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			if httpx.PeerTrusted(pr.In, g.trusted) {
				// Only a trusted proxy's chain is kept; a client's own
				// X-Forwarded-For is dropped (ReverseProxy removed it
				// from Out before calling Rewrite).
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			}
			pr.SetXForwarded()
			g.rewriteHeaders(pr.Out, callFrom(pr.In.Context()))
			if q := pr.Out.URL.RawQuery; q != "" {
				pr.Out.URL.RawQuery = stripQueryCredentials(q)
			}
		},
		ModifyResponse: g.rewriteResponse,
		Transport:      transport,
		BufferPool:     NewBufferPool(),
		ErrorHandler:   g.upstreamError,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	return g, nil
}

// labelOther is the metrics route of calls that match no route.
const labelOther = "gateway " + metrics.RouteOther

type principalKey struct{}

// bufferPool is an httputil.BufferPool.
type bufferPool struct{ p sync.Pool }

// NewBufferPool returns the gateway's ReverseProxy buffer pool: it
// recycles the 32 KiB copy buffers ReverseProxy would otherwise allocate
// for every response body.
func NewBufferPool() httputil.BufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (bp *bufferPool) Get() []byte  { return *bp.p.Get().(*[]byte) }
func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// call is what the gateway keeps of one forwarded call, in its context: the
// verified principal and, through the ClientTrace, the upstream connection
// it was given (Partitioned.RoundTrip checks its answer against it).
type call struct {
	// The incoming request's context: a call is its own context, so
	// putting it there costs no context.WithValue of its own.
	context.Context
	p     gatehouse.Principal
	reqID string // the request id (metrics.Access), forwarded upstream
	trace httptrace.ClientTrace
	conn  *watchConn // a reused upstream connection, set by gotConn
	mark  uint64     // conn's bytes received when it was handed to this call
}

// Value answers principalKey with the call itself, anything else as the
// request's context does.
func (c *call) Value(key any) any {
	if key == (principalKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(principalKey{}).(*call)
	return c
}

// ServeHTTP guards one call: route, credential, verification, forward.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !canonicalPath(r) {
		metrics.SetRoute(w, labelOther)
		g.refuse(w, gatehouse.CodeRouteNotFound, "")
		return
	}
	rt, pathTenant := g.routes.match(r)
	if rt == nil {
		metrics.SetRoute(w, labelOther)
		g.refuse(w, gatehouse.CodeRouteNotFound, "")
		return
	}
	metrics.SetRoute(w, rt.label)
	proto, upgrade := requestedUpgrade(r)
	if upgrade && !(proto == upgradeWebSocket && rt.Upgrade == upgradeWebSocket && r.Method == http.MethodGet) {
		g.refuseUpgrade(w)
		return
	}

	x := g.credential(r)
	if x.Err != nil {
		g.unavailable(w, r, rt, x.Err)
		return
	}
	if x.Code != "" {
		g.refuseWith(w, x.Code, "", x.Message, x.oauth)
		return
	}
	var (
		res verify.Result
		err error
	)
	switch {
	case x.Credential != "":
		// A credential on a guest route is still checked (without a
		// resource): a bad credential is refused rather than ignored, so
		// the caller learns it is bad. Its tenant wins over the path/host.
		res, err = g.v.Verify(r.Context(), verify.Request{
			Credential: x.Credential,
			Resource:   rt.Resource,
			IP:         httpx.ClientIP(r, g.trusted),
			ClientID:   r.Header.Get(httpx.HeaderClient),
			Signed:     x.Signed,
		})
	case rt.Guest:
		slug := pathTenant
		if slug == "" {
			slug = g.routes.hostTenant(r.Host)
		}
		res, err = g.v.Guest(r.Context(), slug)
	default:
		res.Code = gatehouse.CodeMissing
	}
	if err != nil {
		g.unavailable(w, r, rt, err)
		return
	}
	if res.Found() {
		metrics.AccessOf(w).SetPrincipal(&res.Principal) // for the access log
	}
	if !res.Valid() {
		g.refuseWith(w, res.Code, rt.Resource, res.Detail, x.oauth)
		return
	}
	c := &call{Context: r.Context(), p: res.Principal, reqID: metrics.AccessOf(w).RequestID()} // the context: allocated only here
	var ctx context.Context = c
	if g.watch {
		c.trace.GotConn = c.gotConn
		ctx = httptrace.WithClientTrace(ctx, &c.trace)
	}
	r = r.WithContext(ctx)
	// The answer is the platform's, with its headers: Gatehouse's security
	// defaults stay on Gatehouse's own answers (the refusals above).
	httpx.DropSecurityHeaders(w.Header())
	// (A websocket's tunnel keeps no deadline of the listener's: net/http
	// clears them when ReverseProxy hijacks the connection.)
	if g.bodyTO > 0 && (r.ContentLength != 0 || len(r.TransferEncoding) > 0) && r.Body != nil && r.Body != http.NoBody {
		// Security: a body may stream for as long as it keeps coming at
		// BodyProgressBytes per BodyTimeout; a trickle is cut off.
		r.Body = httpx.ProgressBody(w, r.Body, g.bodyTO, BodyProgressBytes)
	}
	g.proxy.ServeHTTP(w, r)
}

// refuse writes a verification refusal (SPEC §5): 401 with a Bearer
// challenge for a missing or bad credential, 403 for a good one that may
// not make this call, 404 for an unrouted path; the body names the code.
func (g *Gateway) refuse(w http.ResponseWriter, code gatehouse.Code, resource string) {
	g.refuseWith(w, code, resource, "", false)
}

// refuseWith is refuse with a message that replaces code.Message when set
// (an OAuth 1.0a problem, or the verifier's Detail), and an OAuth
// challenge instead of a Bearer one for OAuth 1.0a-signed requests.
func (g *Gateway) refuseWith(w http.ResponseWriter, code gatehouse.Code, resource, message string, oauth bool) {
	metrics.SetRefusal(w, string(code))
	httpx.SetSecurityHeaders(w.Header())
	challenge := `OAuth realm="gatehouse"`
	if !oauth {
		challenge = httpx.BearerChallenge(code, resource)
	}
	httpx.WriteRefusal(w, code, challenge, message)
}

// CodeUpgradeNotAllowed refuses a protocol upgrade the route does not
// allow (403, as Envoy answers an upgrade on a route without it).
const CodeUpgradeNotAllowed = "UPGRADE_NOT_ALLOWED"

// upgradeWebSocket is the only upgrade a route may allow (RFC 6455 §4.1).
const upgradeWebSocket = "websocket"

// requestedUpgrade reports whether r asks to switch protocols (RFC 9110
// §7.8: an Upgrade header, listed in Connection) and to which one, lower
// case. A request with only one of the two, or several Upgrade values,
// asks for something unclear and gets proto "", which no route allows.
func requestedUpgrade(r *http.Request) (proto string, asked bool) {
	ups := r.Header.Values("Upgrade")
	conn := false
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				conn = true
			}
		}
	}
	if len(ups) == 0 && !conn {
		return "", false
	}
	if len(ups) != 1 || !conn || strings.Contains(ups[0], ",") {
		return "", true
	}
	return strings.ToLower(strings.TrimSpace(ups[0])), true
}

// refuseUpgrade answers an upgrade the route does not allow. Security: once
// switched, the connection is a raw tunnel to the upstream, and whatever
// the client writes into it — further requests with any X-Gatehouse-*
// headers it likes — is never routed or verified. So only routes that say
// "upgrade: websocket" switch, after the credential was checked for the
// route; h2c (a tunnel of HTTP/2 requests) never. Connection: close ends
// the connection after the refusal, as Envoy does, so nothing the client
// sent after its upgrade request is read as another request.
func (g *Gateway) refuseUpgrade(w http.ResponseWriter) {
	httpx.SetSecurityHeaders(w.Header())
	w.Header().Set("Connection", "close")
	httpx.WriteJSON(w, http.StatusForbidden, httpx.ErrorBody{Error: httpx.ErrorDetail{
		Code: CodeUpgradeNotAllowed, Message: "this route does not allow a protocol upgrade"}})
}

// unavailable answers a store outage: SPEC §9, fail closed — no answer
// from the store, no forwarding.
func (g *Gateway) unavailable(w http.ResponseWriter, r *http.Request, rt *Route, err error) {
	g.log.ErrorContext(r.Context(), "gateway: verification unavailable, refusing (fail closed)",
		"route", rt.pattern, "err", err)
	httpx.SetSecurityHeaders(w.Header())
	w.Header().Set("Retry-After", "1")
	httpx.WriteJSON(w, http.StatusServiceUnavailable, httpx.ErrorBody{Error: httpx.ErrorDetail{
		Code: gatehouse.EUNAVAILABLE, Message: "verification is temporarily unavailable; try again"}})
}

func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, httpx.ErrBodyTimeout) {
		// The client's fault, not the upstream's: RFC 9110 §15.5.9.
		httpx.SetSecurityHeaders(w.Header())
		w.Header().Set("Connection", "close")
		httpx.WriteJSON(w, http.StatusRequestTimeout, httpx.ErrorBody{Error: httpx.ErrorDetail{
			Code: "request_timeout", Message: "the request body arrived too slowly"}})
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	g.log.WarnContext(r.Context(), "gateway: upstream failed", "path", r.URL.Path, "err", err)
	httpx.SetSecurityHeaders(w.Header()) // Gatehouse's answer, not the upstream's
	httpx.WriteJSON(w, http.StatusBadGateway, httpx.ErrorBody{Error: httpx.ErrorDetail{
		Code: "bad_gateway", Message: "the upstream API did not answer"}})
}

// rewriteHeaders removes the credential and anything claiming to be
// Gatehouse's, then names the caller of c (nil: none) and passes its
// request id on.
func (g *Gateway) rewriteHeaders(out *http.Request, c *call) {
	h := out.Header
	// Security: the credential stays here; the upstream gets the verdict.
	h.Del("Authorization")
	h.Del(httpx.HeaderAPIKey)
	// Security: headers an upstream (or a framework in it) may believe
	// about the client or the call, which only a proxy should set —
	// Gatehouse sets X-Forwarded-For/-Host/-Proto itself and nothing else.
	for _, k := range untrustedHeaders {
		delete(h, k)
	}
	for k := range h {
		// Header keys are canonical (textproto), so one prefix test covers
		// every spelling a client might send.
		if strings.HasPrefix(k, "X-Gatehouse-") {
			delete(h, k) // spoofing: only the gateway speaks for Gatehouse
		}
	}
	if len(g.cookies) > 0 {
		stripCookies(out, g.cookies)
	}
	if c == nil {
		return
	}
	p := &c.p
	// The keys are canonical constants and were just deleted: assign the
	// map directly, with one backing array for the values, instead of a
	// canonicalising Set and a slice per header.
	vals := make([]string, 5)
	if c.reqID != "" {
		// The request id Gatehouse logs, so the upstream's lines match
		// (the client's own when it sent a plain one).
		vals[4] = c.reqID
		h[metrics.HeaderRequestID] = vals[4:5:5]
	}
	vals[0], vals[1] = p.TenantSlug, string(p.Kind)
	h[HeaderTenant], h[HeaderKind] = vals[0:1:1], vals[1:2:2]
	if p.Subject != "" {
		vals[2] = p.Subject
		h[HeaderSubject] = vals[2:3:3]
	}
	if len(p.Scopes) > 0 {
		vals[3] = strings.Join(p.Scopes, " ")
		h[HeaderScopes] = vals[3:4:4]
	}
}

// untrustedHeaders are removed from every forwarded call (canonical keys):
// the client address (X-Real-IP, RFC 7239 Forwarded), and a method or path
// other than the one routed and verified (method overrides, IIS/Symfony's
// X-Original-URL and X-Rewrite-URL).
var untrustedHeaders = []string{
	"X-Real-Ip", "Forwarded", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Original-Url", "X-Rewrite-Url",
}

// queryCredentials are query parameters naming a credential (RFC 6750 §2.3
// access_token, a common api_key). The gateway does not accept them, and
// an upstream that did would be authenticated around the gateway.
var queryCredentials = []string{"access_token", "api_key"}

// stripQueryCredentials removes queryCredentials from a raw query,
// matching names case-insensitively and after unescaping (an upstream may
// do either), keeping every other parameter exactly as it was written.
// (ReverseProxy has already dropped parameters containing ';', which some
// servers take as a separator.)
func stripQueryCredentials(q string) string {
	lq := strings.ToLower(q)
	if !strings.Contains(lq, "access") && !strings.Contains(lq, "api") && !strings.Contains(lq, "%") {
		return q
	}
	var b strings.Builder
	changed := false
	for piece := range strings.SplitSeq(q, "&") {
		name, _, _ := strings.Cut(piece, "=")
		if un, err := url.QueryUnescape(name); err == nil {
			name = un
		}
		name = strings.TrimSpace(name)
		if slices.ContainsFunc(queryCredentials, func(c string) bool { return strings.EqualFold(c, name) }) {
			changed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(piece)
	}
	if !changed {
		return q
	}
	return b.String()
}

// rewriteResponse drops an upstream's Set-Cookie for Gatehouse's own
// cookies. Security: the console shares the gateway's origin, so an
// upstream could otherwise fix or overwrite a console session.
func (g *Gateway) rewriteResponse(resp *http.Response) error {
	sc := resp.Header["Set-Cookie"]
	if len(sc) == 0 || len(g.cookies) == 0 {
		return nil
	}
	kept := sc[:0:0]
	for _, v := range sc {
		name, _, _ := strings.Cut(v, "=")
		if slices.Contains(g.cookies, strings.TrimSpace(name)) {
			continue
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		delete(resp.Header, "Set-Cookie")
	} else {
		resp.Header["Set-Cookie"] = kept
	}
	return nil
}

func stripCookies(r *http.Request, names []string) {
	cs := r.Cookies()
	if len(cs) == 0 {
		return
	}
	r.Header.Del("Cookie")
	for _, c := range cs {
		drop := false
		for _, n := range names {
			if c.Name == n {
				drop = true
				break
			}
		}
		if !drop {
			r.AddCookie(c)
		}
	}
}

// canonicalPath refuses paths an upstream might decode into something other
// than what was matched: encoded slashes, backslashes and dots. Security:
// without this, "/guest/..%2Fadmin" would match a guest wildcard route here
// and reach /admin on an upstream that decodes before it routes.
func canonicalPath(r *http.Request) bool {
	p := r.URL.EscapedPath()
	if strings.IndexByte(p, '\\') >= 0 {
		return false
	}
	if strings.IndexByte(p, '%') < 0 {
		return true
	}
	lp := strings.ToLower(p)
	return !strings.Contains(lp, "%2f") && !strings.Contains(lp, "%5c") && !strings.Contains(lp, "%2e")
}

func (rs *Routes) hostTenant(host string) string {
	if len(rs.TenantHosts) == 0 || host == "" {
		return ""
	}
	host = strings.ToLower(host)
	if slug, ok := rs.TenantHosts[host]; ok {
		return slug
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return rs.TenantHosts[h]
	}
	return ""
}
