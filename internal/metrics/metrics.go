// Package metrics owns Gatehouse's Prometheus registry and the metrics SPEC
// §5 "Operations" names: gatehouse_http_requests_total{route,code},
// gatehouse_http_request_duration_seconds{route} and
// gatehouse_verify_total{kind,code}; the janitor's
// gatehouse_janitor_pruned_total{table}; and for operators (issue 14)
// gatehouse_build_info, gatehouse_refusals_total{route,code}, the
// verifier's cache, the database pools and the invalidation lag (ops.go).
//
// Labels are kept to a bounded set: routes are ServeMux patterns (or route
// names a handler sets with SetRoute), never raw paths, and anything
// unmatched is "other".
package metrics

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// RouteOther labels requests that matched no pattern, so that scanners
// probing random paths cannot blow up the label cardinality.
const RouteOther = "other"

// KindNone labels verifications that never got as far as a credential kind
// (MISSING, MALFORMED).
const KindNone = "none"

// Metrics is the process's metric set. Its methods are safe for concurrent
// use; a nil *Metrics is valid and records nothing, so packages can take one
// optionally.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	verify   *prometheus.CounterVec
	pruned   *prometheus.CounterVec
	refusals *prometheus.CounterVec
	lag      prometheus.Histogram

	// accessLog and trusted are LogAccess's.
	accessLog *slog.Logger
	trusted   []netip.Prefix

	// Label children are looked up once and cached: WithLabelValues hashes
	// the label values on every call, which the hot path can do without.
	// Typed maps under a read lock rather than sync.Map, whose interface
	// keys would allocate on every lookup.
	mu             sync.RWMutex
	routes         atomic.Pointer[map[string]*routeMetrics]
	verifyChildren map[verifyKey]prometheus.Counter
	verifyFast     [len(verifyKinds)][len(verifyCodes)]atomic.Pointer[counterBox]
}

type verifyKey struct{ kind, code string }

// New returns a Metrics with its own registry, holding Gatehouse's metrics
// and the standard Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg:            prometheus.NewRegistry(),
		verifyChildren: map[verifyKey]prometheus.Counter{},
		requests: counter("gatehouse_http_requests_total",
			"HTTP requests answered, by route pattern and status code.", "route", "code"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by route pattern.",
			// Verification answers in microseconds, proxied calls in
			// milliseconds to seconds: buckets cover both.
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		verify: counter("gatehouse_verify_total",
			"Credential verifications, by credential kind and verification code (SPEC §5).", "kind", "code"),
		pruned: counter("gatehouse_janitor_pruned_total", "Dead rows the janitor deleted, by table.", "table"),
		refusals: counter("gatehouse_refusals_total",
			"Requests the gateway refused, by route and verification code (the reason a 401 or 403 of gatehouse_http_requests_total does not give).", "route", "code"),
		lag: newLag(),
	}
	m.routes.Store(&map[string]*routeMetrics{})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.verify, m.pruned, m.refusals, m.lag,
	)
	m.registerBuild()
	return m
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Handler serves the registry in the Prometheus exposition format, for
// GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Pruned counts n rows of table deleted by the janitor. Tables are the
// schema's, a bounded set.
func (m *Metrics) Pruned(table string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.pruned.WithLabelValues(table).Add(float64(n))
}

// Known verification label values. Their counters live in a fixed array
// reached without locks, so that counting a verification on every core does
// not serialise on one mutex; anything else goes through a locked map.
// The codes are those verify.Verifier reports: the verification codes but
// ROUTE_NOT_FOUND (the gateway's own, never a verification), and ERROR.
var (
	verifyKinds = verifyKindLabels()
	verifyCodes = [...]string{string(gatehouse.CodeValid), string(gatehouse.CodeMissing),
		string(gatehouse.CodeMalformed), string(gatehouse.CodeUnknown), string(gatehouse.CodeExpired),
		string(gatehouse.CodeRevoked), string(gatehouse.CodeIPNotAllowed), string(gatehouse.CodeInsufficientScope),
		string(gatehouse.CodeClientMismatch), string(gatehouse.CodeTenantDisabled), verify.CodeError}
)

// verifyKindLabels is "none", every credential kind of the table, in its
// order, and "guest".
func verifyKindLabels() (out [gatehouse.NumKinds + 2]string) {
	out[0] = KindNone
	for i, k := range gatehouse.Kinds() {
		out[i+1] = string(k.Kind)
	}
	out[len(out)-1] = string(gatehouse.KindGuest)
	return out
}

type counterBox struct{ c prometheus.Counter }

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// ObserveVerify counts one verification. kind is the credential kind ("" is
// recorded as "none"), code the verification code.
func (m *Metrics) ObserveVerify(kind, code string) {
	if m == nil {
		return
	}
	if kind == "" {
		kind = KindNone
	}
	ki, ci := index(verifyKinds[:], kind), index(verifyCodes[:], code)
	if ki >= 0 && ci >= 0 {
		slot := &m.verifyFast[ki][ci]
		b := slot.Load()
		if b == nil {
			// Created on first use, so only codes that happen are exported.
			b = &counterBox{m.verify.WithLabelValues(kind, code)}
			slot.CompareAndSwap(nil, b) // a racing twin is the same child
		}
		b.c.Inc()
		return
	}
	k := verifyKey{kind, code}
	m.mu.RLock()
	c, ok := m.verifyChildren[k]
	m.mu.RUnlock()
	if !ok {
		c = m.verify.WithLabelValues(kind, code)
		m.mu.Lock()
		m.verifyChildren[k] = c
		m.mu.Unlock()
	}
	c.Inc()
}

// routeMetrics are the label children of one route: its duration
// observer and its request counters by status. Statuses below 600 sit in a
// fixed array reached without locks.
type routeMetrics struct {
	dur   prometheus.Observer
	codes [600]atomic.Pointer[counterBox]
}

// route returns the children of route, from a copy-on-write map read
// without locks (routes are a bounded set, so it stops growing).
func (m *Metrics) route(route string) *routeMetrics {
	if rm := (*m.routes.Load())[route]; rm != nil {
		return rm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.routes.Load()
	if rm := old[route]; rm != nil {
		return rm
	}
	rm := &routeMetrics{dur: m.duration.WithLabelValues(route)}
	next := make(map[string]*routeMetrics, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[route] = rm
	m.routes.Store(&next)
	return rm
}

func (rm *routeMetrics) counter(m *Metrics, route string, code int) prometheus.Counter {
	if code < 0 || code >= len(rm.codes) {
		// A nonstandard status (600-999, which net/http allows): rare
		// enough to look up every time.
		return m.requests.WithLabelValues(route, strconv.Itoa(code))
	}
	slot := &rm.codes[code]
	b := slot.Load()
	if b == nil {
		b = &counterBox{m.requests.WithLabelValues(route, strconv.Itoa(code))}
		slot.CompareAndSwap(nil, b) // a racing twin is the same child
	}
	return b.c
}

// SetRoute names the route of the request being served, overriding the
// pattern of the top-level mux. Inner muxes and handlers such as the gateway
// call it with their own pattern (muxes mounted below, http.StripPrefix or a
// nested ServeMux work on copies of the request, so the outer
// *http.Request never sees their Pattern). w is the ResponseWriter the
// handler was given; Instrument's writer is found through Unwrap. The name
// must come from a bounded set (patterns, route files), never from the
// request. Without Instrument around, it does nothing.
func SetRoute(w http.ResponseWriter, route string) {
	for {
		switch x := w.(type) {
		case *statusWriter:
			x.route = route
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

// SetRefusal records that the request being served is refused with a
// verification code (gatehouse_refusals_total{route,code}); codes outside
// the verification codes and ROUTE_NOT_FOUND count as "other". w is found as SetRoute finds it.
func SetRefusal(w http.ResponseWriter, code string) {
	for {
		switch x := w.(type) {
		case *statusWriter:
			x.refusal = code
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

// Instrument counts and times every request served by next. The route label
// is, in order: what an inner handler set with SetRoute, the Pattern the
// (top-level) ServeMux next chose, or "other".
//
// Every request gets an id (HeaderRequestID), echoed in the answer, and
// with LogAccess an access line.
//
// It costs one small allocation per request (the status-recording writer,
// which also carries the route label, the Access and the request id's
// header value back out) and one for a request id it makes; the request
// itself is passed on as it is, not copied with a new context.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		setRequestID(sw, r)
		defer m.done(sw, r, start)
		next.ServeHTTP(sw, r)
	})
}

// done records the request of Instrument; it runs deferred, so that a
// panicking handler is counted too.
func (m *Metrics) done(sw *statusWriter, r *http.Request, start time.Time) {
	status := sw.status
	if status == 0 {
		sw.answerRequestID() // nothing written yet: net/http writes the header after us
	}
	p := recover()
	gone := (status == 0 || status >= 500) && clientGone(r)
	switch {
	case gone:
		status = StatusClientGone
	case p != nil && status == 0:
		status = http.StatusInternalServerError // net/http recovers it after us
	case status == 0:
		status = http.StatusOK
	}
	route := sw.route
	if route == "" {
		route = r.Pattern // set in place by a top-level ServeMux
	}
	if route == "" {
		route = RouteOther
	}
	rm := m.route(route)
	rm.counter(m, route, status).Inc()
	d := time.Since(start)
	rm.dur.Observe(d.Seconds())
	if sw.refusal != "" {
		code := sw.refusal
		if index(verifyCodes[:], code) < 0 && code != string(gatehouse.CodeRouteNotFound) {
			code = RouteOther // bounded: only the verification codes
		}
		m.refusals.WithLabelValues(route, code).Inc()
	}
	m.logAccess(sw, r, route, status, d, gone)
	if p != nil {
		panic(p) // keep http.ErrAbortHandler and friends meaningful
	}
}

// statusWriter remembers the status code and the route label set with
// SetRoute. It keeps http.ResponseController working (Flush for streaming
// proxies, deadlines) through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status  int
	route   string
	refusal string // SetRefusal
	access  Access
	// idHeader is the X-Request-Id header's value slice.
	idHeader [1]string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.answerRequestID()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.answerRequestID()
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming responses (httputil.ReverseProxy) flush through.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
		w.answerRequestID()
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap is for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
