package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

func TestInstrumentLabels(t *testing.T) {
	m := metrics.New()
	top := http.NewServeMux()
	top.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	top.HandleFunc("/gw/", func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(w, "gateway GET /rest/V1/orders")
		w.WriteHeader(http.StatusForbidden)
	})
	top.Handle("/wrapped/", http.StripPrefix("/wrapped", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A middleware's writer in between: SetRoute finds Instrument's
		// through Unwrap.
		metrics.SetRoute(&unwrapper{w}, "gateway GET /rest/V1/products")
		w.WriteHeader(http.StatusAccepted)
	})))
	srv := httptest.NewServer(m.Instrument(top))
	defer srv.Close()

	for _, p := range []string{"/healthz", "/healthz", "/gw/x", "/wrapped/x", "/nope/1", "/nope/2"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	out := scrape(t, m)
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",route="GET /healthz"} 2`,
		`gatehouse_http_requests_total{code="403",route="gateway GET /rest/V1/orders"} 1`,
		`gatehouse_http_requests_total{code="202",route="gateway GET /rest/V1/products"} 1`,
		`gatehouse_http_requests_total{code="404",route="other"} 2`,
		`gatehouse_http_request_duration_seconds_count{route="GET /healthz"} 2`,
		`go_goroutines`,
		`process_`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, "/nope/") {
		t.Error("an unmatched path became a label value")
	}
}

type unwrapper struct{ http.ResponseWriter }

func (u *unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

func TestObserveVerify(t *testing.T) {
	m := metrics.New()
	m.ObserveVerify("pat", "VALID")
	m.ObserveVerify("pat", "VALID")
	m.ObserveVerify("", "MALFORMED")
	m.ObserveVerify("saml", "VALID") // a kind added later still counts
	out := scrape(t, m)
	for _, want := range []string{
		`gatehouse_verify_total{code="VALID",kind="pat"} 2`,
		`gatehouse_verify_total{code="MALFORMED",kind="none"} 1`,
		`gatehouse_verify_total{code="VALID",kind="saml"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { m.ObserveVerify("pat", "VALID") }); n != 0 {
		t.Errorf("ObserveVerify allocates %.0f times per call; it is on the hot path", n)
	}
	var nilM *metrics.Metrics
	nilM.ObserveVerify("pat", "VALID") // a nil Metrics records nothing
}

func TestInstrumentPanicCounted(t *testing.T) {
	m := metrics.New()
	h := m.Instrument(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want the original panic", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if out := scrape(t, m); !strings.Contains(out, `gatehouse_http_requests_total{code="500",route="other"} 1`) {
		t.Error("a panicking request was not counted as 500")
	}
}

func TestInstrumentKeepsFlusher(t *testing.T) {
	m := metrics.New()
	flushed := false
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err == nil {
			flushed = true
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !flushed {
		t.Error("Flush does not reach the underlying writer: streaming proxies would buffer")
	}
}

func BenchmarkObserveVerify(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveVerify("pat", "VALID")
	}
}
