package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck: `gatehouse healthcheck` (the container's HEALTHCHECK,
// where there is no shell or curl) exits 0 when /healthz answers 200 and
// fails otherwise: another status, no server, a bad URL.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.WriteHeader(status)
	}))
	defer srv.Close()

	if out, err := run(t, "", "healthcheck", "--url", srv.URL+"/healthz"); err != nil || path != "/healthz" {
		t.Fatalf("healthcheck of a healthy server: %q, %v (path %q)", out, err, path)
	}
	status = http.StatusServiceUnavailable
	if _, err := run(t, "", "healthcheck", "--url", srv.URL+"/healthz"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck of a 503: %v, want an error naming the status", err)
	}
	srv.Close()
	if _, err := run(t, "", "healthcheck", "--url", srv.URL+"/healthz", "--timeout", "1s"); err == nil {
		t.Fatal("healthcheck of no server: no error")
	}
	if _, err := run(t, "", "healthcheck", "--url", "ftp://x/healthz"); err == nil {
		t.Fatal("healthcheck of an ftp URL: no error")
	}
}

// TestHealthcheckURL: without --url the probe asks the address serve
// listens on (GATEHOUSE_ADDR), on loopback when that is a wildcard, over
// https when serve has a certificate (GATEHOUSE_TLS_CERT).
func TestHealthcheckURL(t *testing.T) {
	for _, tc := range []struct{ addr, cert, want string }{
		{"", "", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "", "http://127.0.0.1:8080/healthz"},
		{":9000", "", "http://127.0.0.1:9000/healthz"},
		{"[::]:8080", "", "http://[::1]:8080/healthz"},
		{"10.0.0.5:8443", "/etc/tls/cert.pem", "https://10.0.0.5:8443/healthz"},
	} {
		env := map[string]string{"GATEHOUSE_ADDR": tc.addr, "GATEHOUSE_TLS_CERT": tc.cert}
		if got := healthURL(func(k string) string { return env[k] }); got != tc.want {
			t.Errorf("addr %q cert %q: %s, want %s", tc.addr, tc.cert, got, tc.want)
		}
	}
}
