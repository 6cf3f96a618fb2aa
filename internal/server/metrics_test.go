package server_test

import (
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server"
)

// TestOperatorMetrics: /metrics of a wired server carries the build, the
// gateway's refusals by route and code, the verifier's cache and the
// database pools.
func TestOperatorMetrics(t *testing.T) {
	g := start(t, nil, server.Options{})
	get := func(path, token string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+g.addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/rest/V1/products", "")
	get("/rest/V1/products", "")
	get("/rest/V1/products", g.token)
	get("/rest/V1/products", g.token)
	get("/elsewhere", g.token)

	resp, err := http.Get("http://" + g.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := string(b)
	for _, want := range []string{
		`gatehouse_build_info\{goversion="go[^"]+",revision="[^"]*",version="[^"]+"\} 1`,
		`gatehouse_refusals_total\{code="MISSING",route="[^"]*/rest/\{rest\.\.\.\}"\} 2`,
		`gatehouse_refusals_total\{code="ROUTE_NOT_FOUND",route="gateway other"\} 1`,
		`gatehouse_verify_cache_lookups_total\{result="hit"\} [1-9]\d*`,
		`gatehouse_verify_cache_lookups_total\{result="miss"\} [1-9]\d*`,
		`gatehouse_db_max_connections\{pool="writer"\} 1`,
		`gatehouse_db_connections\{pool="reader",state="idle"\} \d+`,
		`gatehouse_invalidation_lag_seconds_count 0`,
	} {
		if !regexp.MustCompile("(?m)^" + want + "$").MatchString(out) {
			t.Errorf("metrics do not match %q", want)
		}
	}
	if regexp.MustCompile(`gatehouse_refusals_total\{code="VALID"`).MatchString(out) {
		t.Error("valid calls counted as refusals")
	}
	if t.Failed() {
		t.Logf("%s", regexp.MustCompile(`(?m)^gatehouse_(refusals|verify_cache|db|build|http_requests)\S*.*$`).FindAllString(out, -1))
	}
}
