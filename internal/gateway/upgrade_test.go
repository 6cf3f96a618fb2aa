package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

const upgradeRoutes = `
routes:
  - method: GET
    path: /ws/{$}
    resource: catalog
    upgrade: websocket
  - method: GET
    path: /rest/V1/products/{sku}
    resource: catalog.products
`

// TestGatewayUpgrade: a protocol upgrade switches only on a route that
// allows it, only to websocket, and only after the credential was checked;
// every other upgrade is refused before the upstream hears of it.
func TestGatewayUpgrade(t *testing.T) {
	e := verifytest.New(t)
	var calls atomic.Int64
	var tenant atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		tenant.Store(r.Header.Get(gateway.HeaderTenant))
		if r.Header.Get("Upgrade") == "" {
			io.WriteString(w, "plain")
			return
		}
		// Whatever was asked, switch and echo: the gateway alone decides.
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + r.Header.Get("Upgrade") + "\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	}))
	defer up.Close()
	routes, err := gateway.ParseRoutes([]byte(upgradeRoutes))
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(e.DB, e.Tree, verify.Options{Now: e.Clock.Now})
	defer v.Close()
	u, _ := url.Parse(up.URL)
	g, err := gateway.New(gateway.Config{Upstream: u, Routes: routes, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog"}})

	// dial sends one request by hand and reads the answer's header.
	dial := func(t *testing.T, method, path, headers string) (net.Conn, *bufio.Reader, *http.Response) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: gw.test\r\n"+headers+"\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, br, resp
	}
	auth := "Authorization: Bearer " + tok + "\r\n"
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\n"

	for _, tc := range []struct {
		name, method, path, headers string
		status                      int
		code                        string
	}{
		{"websocket on a route without upgrade", "GET", "/rest/V1/products/x", auth + ws, 403, gateway.CodeUpgradeNotAllowed},
		{"h2c on the websocket route", "GET", "/ws/", auth + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n", 403, gateway.CodeUpgradeNotAllowed},
		{"h2c elsewhere", "GET", "/rest/V1/products/x", auth + "Connection: Upgrade\r\nUpgrade: h2c\r\n", 403, gateway.CodeUpgradeNotAllowed},
		{"two protocols", "GET", "/ws/", auth + "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n", 403, gateway.CodeUpgradeNotAllowed},
		{"websocket without a credential", "GET", "/ws/", ws, 401, "MISSING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			c, br, resp := dial(t, tc.method, tc.path, tc.headers)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			if resp.StatusCode != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if calls.Load() != before {
				t.Fatal("the refused upgrade reached the upstream")
			}
			if tc.status == 403 {
				// The connection is closed: bytes written after the upgrade
				// request are never read as a request of their own.
				io.WriteString(c, "GET /rest/V1/products/y HTTP/1.1\r\nHost: gw.test\r\n"+auth+"\r\n")
				if n, err := br.Read(make([]byte, 1)); err == nil {
					t.Fatalf("read %d bytes after the refusal, want the connection closed", n)
				}
			}
		})
	}

	t.Run("websocket on its route", func(t *testing.T) {
		c, br, resp := dial(t, "GET", "/ws/", auth+ws)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%d, want 101", resp.StatusCode)
		}
		if got := tenant.Load(); got != "acme" {
			t.Errorf("upstream saw tenant %q", got)
		}
		io.WriteString(c, "ping")
		b := make([]byte, 4)
		if _, err := io.ReadFull(br, b); err != nil || string(b) != "ping" {
			t.Fatalf("tunnel echoed %q, %v", b, err)
		}
	})
}

func TestParseRoutesUpgrade(t *testing.T) {
	for _, v := range []string{"h2c", "tcp", "websocket, h2c"} {
		if _, err := gateway.ParseRoutes([]byte("routes:\n  - path: /x\n    resource: sales\n    upgrade: " + v + "\n")); err == nil || !strings.Contains(err.Error(), "only \"websocket\"") {
			t.Errorf("upgrade %q: %v, want it refused", v, err)
		}
	}
}
