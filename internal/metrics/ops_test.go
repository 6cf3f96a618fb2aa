package metrics_test

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/verify"
)

func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !regexp.MustCompile("(?m)^" + want + "$").MatchString(out) {
			t.Errorf("metrics do not match %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", out)
	}
}

// gatehouse_build_info says which build is running, from the binary's
// build information.
func TestBuildInfo(t *testing.T) {
	b := metrics.ReadBuild()
	if b.GoVersion != runtime.Version() || b.Version == "" {
		t.Fatalf("ReadBuild = %+v", b)
	}
	b = metrics.BuildOf(&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "4171b07"}, {Key: "vcs.time", Value: "2026-12-04T02:00:00Z"}, {Key: "vcs.modified", Value: "true"}}})
	if want := (metrics.Build{Version: "v1.4.0", Revision: "4171b07", Time: "2026-12-04T02:00:00Z", Modified: true, GoVersion: runtime.Version()}); b != want {
		t.Errorf("BuildOf = %+v, want %+v", b, want)
	}
	out := scrape(t, metrics.New())
	wantLines(t, out, `gatehouse_build_info\{goversion="`+regexp.QuoteMeta(runtime.Version())+`",revision="[^"]*",version="[^"]+"\} 1`)
}

// The verifier's cache counters, every pool's statistics and the
// invalidation lag are read when scraped.
func TestCollectors(t *testing.T) {
	m := metrics.New()
	m.CacheStats(func() verify.CacheStats {
		return verify.CacheStats{Hits: 7, NegativeHits: 2, Misses: 3, Evictions: 1, NegativeEvictions: 4, Entries: 5}
	})
	m.PoolStats(func() map[string]sql.DBStats {
		return map[string]sql.DBStats{
			"writer": {MaxOpenConnections: 1, InUse: 1, Idle: 0, WaitCount: 9, WaitDuration: 1500 * time.Millisecond},
			"reader": {MaxOpenConnections: 4, InUse: 2, Idle: 2},
		}
	})
	m.ObserveInvalidationLag(30 * time.Millisecond)
	m.ObserveInvalidationLag(-time.Second) // a clock behind the writer's: counted as 0
	out := scrape(t, m)
	wantLines(t, out,
		`gatehouse_verify_cache_lookups_total\{result="hit"\} 7`,
		`gatehouse_verify_cache_lookups_total\{result="negative_hit"\} 2`,
		`gatehouse_verify_cache_lookups_total\{result="miss"\} 3`,
		`gatehouse_verify_cache_evictions_total\{map="positive"\} 1`,
		`gatehouse_verify_cache_evictions_total\{map="negative"\} 4`,
		`gatehouse_verify_cache_entries 5`,
		`gatehouse_db_connections\{pool="writer",state="in_use"\} 1`,
		`gatehouse_db_connections\{pool="reader",state="idle"\} 2`,
		`gatehouse_db_max_connections\{pool="reader"\} 4`,
		`gatehouse_db_waits_total\{pool="writer"\} 9`,
		`gatehouse_db_wait_seconds_total\{pool="writer"\} 1.5`,
		`gatehouse_invalidation_lag_seconds_count 2`,
		`gatehouse_invalidation_lag_seconds_bucket\{le="0.001"\} 1`,
		`gatehouse_invalidation_lag_seconds_bucket\{le="0.05"\} 2`,
	)
}

// gatehouse_refusals_total counts refused requests by route and
// verification code (what a 401 or 403 of
// gatehouse_http_requests_total does not say); valid requests add nothing.
func TestRefusals(t *testing.T) {
	m := metrics.New()
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(w, "gateway GET /rest/V1/orders")
		if c := r.URL.Query().Get("code"); c != "" {
			metrics.SetRefusal(&unwrapper{w}, c)
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	for _, q := range []string{"", "?code=INSUFFICIENT_SCOPE", "?code=INSUFFICIENT_SCOPE", "?code=IP_NOT_ALLOWED", "?code=made-up"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/rest/V1/orders"+q, nil))
	}
	out := scrape(t, m)
	wantLines(t, out,
		`gatehouse_refusals_total\{code="INSUFFICIENT_SCOPE",route="gateway GET /rest/V1/orders"\} 2`,
		`gatehouse_refusals_total\{code="IP_NOT_ALLOWED",route="gateway GET /rest/V1/orders"\} 1`,
		`gatehouse_refusals_total\{code="other",route="gateway GET /rest/V1/orders"\} 1`,
	)
	if strings.Contains(out, `code="VALID"`) {
		t.Error("a valid request was counted as a refusal")
	}
}
