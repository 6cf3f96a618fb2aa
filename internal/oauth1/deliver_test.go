package oauth1

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestDelivererRefusesPrivateAtDial: a callback whose name resolves to a
// loopback address is refused when dialling, before any connection, and
// the stored error is a fixed message (issue 11, hole 7).
func TestDelivererRefusesPrivateAtDial(t *testing.T) {
	var conns atomic.Int64
	cb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cb.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	cb.StartTLS()
	defer cb.Close()
	_, port, _ := net.SplitHostPort(cb.Listener.Addr().String())
	form := url.Values{"oauth_consumer_key": {"k"}, "oauth_consumer_secret": {"s3cr3t"}}
	// "localhost" resolves to 127.0.0.1 (or ::1; the server listens on
	// 127.0.0.1, so either way nothing else answers).
	ctx := context.Background()
	refusing := NewDeliverer(DeliverOptions{Callbacks: admin.CallbackPolicy{AllowHTTP: true}})
	status, err := refusing(ctx, "https://localhost:"+port+"/cb", form)
	if err == nil || status != 0 {
		t.Fatalf("https to a loopback name: %d %v", status, err)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the deliverer connected %d times to a loopback address", n)
	}
	if err.Error() != "the callback could not be reached" {
		t.Fatalf("delivery error %q, want the fixed message", err)
	}
	// An address literal, and the addresses the issue names, likewise.
	for _, u := range []string{cb.URL + "/cb", "https://[::1]:" + port + "/", "https://169.254.169.254/latest/meta-data/",
		"https://10.0.0.1/cb", "https://[fd00::1]/cb", "https://0.0.0.0:" + port + "/"} {
		if _, err := refusing(ctx, u, form); err == nil || err.Error() != "the callback could not be reached" {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the deliverer connected %d times to private addresses", n)
	}
	// With GATEHOUSE_ALLOW_PRIVATE_CALLBACKS the same name is delivered to.
	roots := x509.NewCertPool()
	roots.AddCert(cb.Certificate())
	allowing := NewDeliverer(DeliverOptions{Callbacks: admin.CallbackPolicy{AllowPrivate: true}, RootCAs: roots})
	if status, err := allowing(ctx, "https://127.0.0.1:"+port+"/cb", form); err != nil || status != 200 {
		t.Fatalf("allowed private callback: %d %v", status, err)
	}
	// (httptest's certificate does not name localhost: the name is dialled,
	// and then fails verification.)
	before := conns.Load()
	if _, err := allowing(ctx, "https://localhost:"+port+"/cb", form); err == nil || conns.Load() == before {
		t.Fatalf("allowed private name: not dialled (%v)", err)
	}
	// A failure's stored text is fixed: a closed port reads like a
	// refused address (the detail is the operator's log's).
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := strings.Replace(closed.URL, "http://", "https://", 1)
	closed.Close()
	if _, err := allowing(ctx, closedURL, form); err == nil || err.Error() != "the callback could not be reached" {
		t.Fatalf("closed port: %v", err)
	}
}

// TestDelivererHTTPRefusal: an http callback is refused before any
// connection with the rule and the words saving uses
// (admin.CallbackPolicy.CheckScheme): the stored delivery error is the
// admin's "the callback URL must start with https://", never an operator
// setting's name (issue 14). With AllowHTTP a loopback host is delivered
// to; AllowPrivate does not allow http.
func TestDelivererHTTPRefusal(t *testing.T) {
	var conns atomic.Int64
	cb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cb.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	cb.Start()
	defer cb.Close()
	ctx := context.Background()
	form := url.Values{"oauth_consumer_secret": {"s3cr3t"}}
	for _, p := range []admin.CallbackPolicy{{}, {AllowPrivate: true}, {AllowHTTP: true}} {
		for _, u := range []string{cb.URL + "/cb", "http://erp.example/cb", "ftp://127.0.0.1/cb"} {
			if p.AllowHTTP && u == cb.URL+"/cb" {
				continue
			}
			status, err := NewDeliverer(DeliverOptions{Callbacks: p})(ctx, u, form)
			if err == nil || status != 0 || err.Error() != "the callback URL must start with https://" {
				t.Errorf("%+v, %s: %d %v, want the https refusal", p, u, status, err)
			}
			if err != nil && strings.Contains(err.Error(), "GATEHOUSE_") {
				t.Errorf("%+v, %s: the refusal names an operator setting: %v", p, u, err)
			}
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("refused http callbacks connected %d times", n)
	}
	if status, err := NewDeliverer(DeliverOptions{Callbacks: admin.CallbackPolicy{AllowHTTP: true}})(ctx, cb.URL+"/cb", form); err != nil || status != 200 {
		t.Fatalf("http loopback with AllowHTTP: %d %v", status, err)
	}
}
