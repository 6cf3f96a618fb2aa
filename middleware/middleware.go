// Package middleware is Gatehouse's net/http middleware for Go resource
// servers that check credentials themselves instead of sitting behind the
// Gatehouse gateway (SPEC §5: "the same check in-process for Go resource
// servers, with a cache and revocation push").
//
// A Verifier asks a Gatehouse deployment — POST /api/v1/verify, with a
// credential holding the verify resource or the operator's service token —
// whether the credential of an incoming request is good for the route's
// resource, caches the answer, and keeps the cache honest with Gatehouse's
// invalidation stream (GET /api/v1/verify/events, server-sent events):
//
//	v, err := middleware.New(middleware.Config{
//		Endpoint: "https://gatehouse.internal",
//		Token:    os.Getenv("GATEHOUSE_VERIFY_TOKEN"),
//	})
//	if err != nil { … }
//	go v.Run(ctx) // the invalidation stream
//	mux.Handle("GET /rest/V1/products/{sku}", v.Require("catalog.products")(products))
//	mux.Handle("GET /rest/V1/me", v.Require("")(me)) // validity only
//
// and in the handler:
//
//	p, _ := middleware.PrincipalFrom(r.Context())
//	// p.Tenant, p.Subject, p.Kind, p.Scopes, p.ExpiresAt
//
// # Credentials and refusals
//
// The credential is read from Authorization: Bearer or X-Api-Key, the OAuth
// 2.0 client header from X-Gatehouse-Client, the client address from the
// TCP peer (or, when the peer is one of Config.TrustedProxies, from
// X-Forwarded-For read from the right, skipping trusted hops: SPEC §9).
// Refusals are the gateway's: 401 with a WWW-Authenticate challenge for
// MISSING, MALFORMED, UNKNOWN, EXPIRED and REVOKED, 403 for
// INSUFFICIENT_SCOPE, IP_NOT_ALLOWED, CLIENT_MISMATCH and TENANT_DISABLED,
// with the body {"error":{"code":"…","message":"…"}}. OAuth 1.0a-signed
// requests (Authorization: OAuth) need the signing secrets and are checked
// by the gateway only: here they are MALFORMED.
//
// Security: the middleware fails closed. When Gatehouse cannot be reached
// (or answers anything but a verification) and no usable answer is
// cached, the request is refused with 503 and never passed on.
//
// # Cache
//
// Answers are cached per question — the SHA-256 of the credential, the
// resource, the client address and the client header — and grouped by the
// credential's hash, which is what Gatehouse's invalidation events name.
// Caching the whole question rather than the credential's principal keeps
// every rule (the resource tree's inheritance, allowlists, the client
// header, tenant settings) in Gatehouse alone; a resource server asks few
// distinct questions per credential, so the cost is small. At most 32
// answers are kept per credential and Config.CacheSize credentials in all.
//
// How long an answer is used:
//   - A VALID answer (and any answer naming a credential) is never used
//     past the credential's expires_at.
//   - While the invalidation stream is connected, an answer fetched during
//     that connection is used until an event drops it: "invalidate" drops
//     every answer about one credential, "resync" and every (re)connection
//     drop everything, since events may have been missed.
//   - While the stream is not connected (not started, reconnecting, or
//     the answer was fetched before it came up), an answer is used for at
//     most Config.CacheTTL (default 5 s): the safety net.
//   - UNKNOWN and MALFORMED answers are kept for at most one second, so a
//     credential created a moment ago is not refused for long.
//
// An answer fetched while an event arrived is not cached at all: the event
// may have been about it.
package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Defaults of Config.
const (
	DefaultCacheTTL  = 5 * time.Second
	DefaultCacheSize = 10_000
	// NegativeTTL bounds how long UNKNOWN and MALFORMED answers are kept.
	NegativeTTL = time.Second
	// RequestTimeout bounds one call to /api/v1/verify.
	RequestTimeout = 5 * time.Second
)

// Headers read from requests (the gateway's: internal/httpx).
const (
	HeaderAPIKey = httpx.HeaderAPIKey
	HeaderClient = httpx.HeaderClient
)

// Config configures a Verifier.
type Config struct {
	// Endpoint is the Gatehouse base URL, e.g. https://gatehouse.internal.
	Endpoint string
	// Token authenticates the Verifier to Gatehouse: a credential holding
	// the verify resource (it may then verify credentials of its own
	// tenant only) or the operator's service token (every tenant).
	Token string
	// HTTPClient calls Gatehouse. The default has a keep-alive pool sized
	// for a busy resource server. It must not set Timeout: the event
	// stream is a long-lived response; the Verifier bounds each
	// verification call itself (RequestTimeout).
	HTTPClient *http.Client
	// CacheTTL is how long an answer is used while the invalidation
	// stream is not connected (default 5 s). Negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached credentials (default 10 000).
	CacheSize int
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Logger records failures to reach Gatehouse (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Principal is who a valid credential speaks for: the fields of
// Gatehouse's verify answer.
type Principal struct {
	Tenant    string     `json:"tenant"`     // the tenant's slug
	Subject   string     `json:"subject"`    // user id, OAuth client id, API key id or integration id
	Kind      string     `json:"kind"`       // pat, staff, apikey, oauth2, integration
	Scopes    []string   `json:"scopes"`     // granted resources
	ExpiresAt *time.Time `json:"expires_at"` // nil: never expires
}

// Answer is Gatehouse's verdict on one question.
type Answer struct {
	Code gatehouse.Code
	// Principal is set when the credential was found (VALID, and refusals
	// after the lookup). It is shared: do not modify it.
	Principal *Principal
}

// Valid reports whether the answer is VALID.
func (a Answer) Valid() bool { return a.Code == gatehouse.CodeValid }

// Question is what a Verifier asks Gatehouse.
type Question struct {
	Credential string
	Resource   string     // "" = validity only
	IP         netip.Addr // the client's address; zero = unknown
	ClientID   string     // X-Gatehouse-Client, "" when absent
}

// ErrUnavailable is returned (wrapped) by Verify when Gatehouse did not
// answer; Require then refuses with 503.
var ErrUnavailable = errors.New("gatehouse: verification unavailable")

// Verifier checks credentials against Gatehouse, with a cache kept fresh
// by the invalidation stream (Run). It is safe for concurrent use.
type Verifier struct {
	verifyURL string
	eventsURL string
	auth      string // "Bearer " + token
	client    *http.Client
	ttl       time.Duration
	negTTL    time.Duration
	trusted   []netip.Prefix
	log       *slog.Logger
	now       func() time.Time

	cache *cache // nil when disabled
	loads singleflight.Group

	// gen counts events that drop cached answers (invalidate, resync,
	// connect). A miss remembers it before asking and caches the answer
	// only if it has not moved.
	gen atomic.Uint64
	// live is the id of the stream connection that is up (after its
	// "ready" event), 0 when none is.
	live   atomic.Uint64
	connID atomic.Uint64

	// calls counts verification requests sent to Gatehouse.
	calls atomic.Int64
}

// New returns a Verifier for cfg. It does not contact Gatehouse; run Run
// in the background for the invalidation stream.
func New(cfg Config) (*Verifier, error) {
	u, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("middleware: endpoint %q: want an absolute http(s) URL", cfg.Endpoint)
	}
	if cfg.Token == "" {
		return nil, errors.New("middleware: a token holding the verify resource (or the service token) is required")
	}
	v := &Verifier{
		verifyURL: u.String() + "/api/v1/verify",
		eventsURL: u.String() + "/api/v1/verify/events",
		auth:      "Bearer " + cfg.Token,
		client:    cfg.HTTPClient,
		ttl:       cfg.CacheTTL,
		trusted:   cfg.TrustedProxies,
		log:       cfg.Logger,
		now:       cfg.Now,
	}
	if v.client == nil {
		v.client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.ttl == 0 {
		v.ttl = DefaultCacheTTL
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if v.ttl > 0 && size > 0 {
		v.cache = newCache(size)
		v.negTTL = min(NegativeTTL, v.ttl)
	}
	return v, nil
}

// Connected reports whether the invalidation stream is up.
func (v *Verifier) Connected() bool { return v.live.Load() != 0 }

// Calls returns the number of verification requests sent to Gatehouse so
// far (cache misses), for metrics.
func (v *Verifier) Calls() int64 { return v.calls.Load() }

// Require returns middleware that lets a request through only when its
// credential is VALID for resource ("" checks validity only), with the
// Principal in the request's context (PrincipalFrom).
func (v *Verifier) Require(resource string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cred, code := httpx.Credential(r) // as the gateway reads it
			if code != "" {
				refuse(w, code, resource)
				return
			}
			ans, err := v.Verify(r.Context(), Question{
				Credential: cred,
				Resource:   resource,
				IP:         httpx.ClientIP(r, v.trusted),
				ClientID:   r.Header.Get(HeaderClient),
			})
			if err != nil {
				if r.Context().Err() != nil {
					return // the client went away
				}
				v.log.ErrorContext(r.Context(), "gatehouse middleware: verification unavailable, refusing (fail closed)",
					"path", r.URL.Path, "err", err)
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, gatehouse.EUNAVAILABLE, "verification is temporarily unavailable; try again")
				return
			}
			if !ans.Valid() {
				refuse(w, ans.Code, resource)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, ans.Principal)))
		})
	}
}

type principalKey struct{}

// PrincipalFrom returns the Principal that Require put in the context.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Verify answers q from the cache or from Gatehouse. The error (wrapping
// ErrUnavailable) means Gatehouse did not answer and nothing usable was
// cached: refuse the request.
func (v *Verifier) Verify(ctx context.Context, q Question) (Answer, error) {
	if q.Credential == "" {
		return Answer{Code: gatehouse.CodeMissing}, nil
	}
	h := hash(q.Credential)
	k := qkey{resource: q.Resource, ip: q.IP.Unmap(), client: q.ClientID}
	if v.cache != nil {
		if a := v.cache.get(&h, k); a != nil && v.usable(a, v.now().UnixNano()) {
			return a.answer, nil
		}
	}
	// Concurrent misses on one question share one call.
	sk := string(h[:]) + "\x00" + k.resource + "\x00" + ipString(k.ip) + "\x00" + k.client
	res, err, _ := v.loads.Do(sk, func() (any, error) {
		return v.load(q.Credential, &h, k)
	})
	if err != nil {
		return Answer{}, err
	}
	return res.(Answer), nil
}

// usable says whether a cached answer may be served at now.
func (v *Verifier) usable(a *cached, now int64) bool {
	if a.expires != 0 && now >= a.expires {
		return false
	}
	age := time.Duration(now - a.fetched)
	if a.negative {
		return age < v.negTTL
	}
	if a.conn != 0 && a.conn == v.live.Load() {
		return true // the stream would have dropped it
	}
	return age < v.ttl
}

// load asks Gatehouse and caches the answer.
func (v *Verifier) load(cred string, h *[32]byte, k qkey) (Answer, error) {
	gen, conn := v.gen.Load(), v.live.Load()
	ctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
	defer cancel()
	ans, err := v.ask(ctx, cred, k)
	if err != nil {
		return Answer{}, err
	}
	if v.cache == nil || v.gen.Load() != gen {
		return ans, nil
	}
	a := &cached{qkey: k, answer: ans, fetched: v.now().UnixNano(), conn: conn,
		negative: ans.Code == gatehouse.CodeUnknown || ans.Code == gatehouse.CodeMalformed}
	if p := ans.Principal; p != nil && p.ExpiresAt != nil {
		a.expires = max(p.ExpiresAt.UnixNano(), 1)
	}
	v.cache.put(h, a, func() bool { return v.gen.Load() == gen })
	return ans, nil
}

// ipString is a as Gatehouse is asked about it: "" when unknown.
func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

type verifyRequest struct {
	Credential string `json:"credential"`
	Resource   string `json:"resource,omitempty"`
	IP         string `json:"ip,omitempty"`
	ClientID   string `json:"client_id,omitempty"`
}

type verifyResponse struct {
	Valid     bool           `json:"valid"`
	Code      gatehouse.Code `json:"code"`
	Tenant    string         `json:"tenant"`
	Subject   string         `json:"subject"`
	Kind      string         `json:"kind"`
	Scopes    []string       `json:"scopes"`
	ExpiresAt *time.Time     `json:"expires_at"`
}

// ask calls POST /api/v1/verify.
func (v *Verifier) ask(ctx context.Context, cred string, k qkey) (Answer, error) {
	body, err := json.Marshal(verifyRequest{Credential: cred, Resource: k.resource, IP: ipString(k.ip), ClientID: k.client})
	if err != nil {
		return Answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.verifyURL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", v.auth)
	v.calls.Add(1)
	resp, err := v.client.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Answer{}, fmt.Errorf("%w: reading the answer: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		// 401/403: the Verifier's own token is wrong; 400: the route names
		// a resource Gatehouse does not know; 5xx: Gatehouse is down.
		// None is the caller's fault, and none says yes.
		return Answer{}, fmt.Errorf("%w: POST %s: %d %.200s", ErrUnavailable, v.verifyURL, resp.StatusCode, b)
	}
	var out verifyResponse
	if err := json.Unmarshal(b, &out); err != nil || out.Code == "" {
		return Answer{}, fmt.Errorf("%w: malformed answer %.200q", ErrUnavailable, b)
	}
	if out.Valid != (out.Code == gatehouse.CodeValid) {
		return Answer{}, fmt.Errorf("%w: inconsistent answer %.200q", ErrUnavailable, b)
	}
	ans := Answer{Code: out.Code}
	if out.Tenant != "" || out.Subject != "" {
		ans.Principal = &Principal{Tenant: out.Tenant, Subject: out.Subject, Kind: out.Kind,
			Scopes: out.Scopes, ExpiresAt: out.ExpiresAt}
	}
	if ans.Valid() && ans.Principal == nil {
		return Answer{}, fmt.Errorf("%w: VALID without a principal", ErrUnavailable)
	}
	return ans, nil
}

// refuse writes a refusal like the gateway's (SPEC §5), with only the
// nosniff of Gatehouse's security headers: the rest of the resource
// server's answers are its own.
func refuse(w http.ResponseWriter, code gatehouse.Code, resource string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	httpx.WriteRefusal(w, code, httpx.BearerChallenge(code, resource), "")
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	httpx.WriteJSON(w, status, httpx.ErrorBody{Error: httpx.ErrorDetail{Code: code, Message: message}})
}
