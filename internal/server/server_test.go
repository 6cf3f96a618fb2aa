package server_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

const testRoutes = `
routes:
  - method: POST
    path: /upload
    resource: catalog
  - method: GET
    path: /rest/{rest...}
    resource: catalog
  - method: GET
    path: /ws/{$}
    resource: catalog
    upgrade: websocket
`

type running struct {
	*server.Server
	addr  string // the main listener
	token string // the demo token: catalog, sales, manage, verify
}

// start runs a Gatehouse (testenv, through Server.Run) with the demo
// tenant and a gateway in front of an upstream that answers the SHA-256
// and length of the body it received.
func start(t testing.TB, mod func(*config.Config), opts server.Options) *running {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "websocket" {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
			io.Copy(c, brw)
			return
		}
		if r.URL.Path == "/rest/big" {
			chunk := make([]byte, 1<<20)
			for range bigAnswer >> 20 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		w.Header().Set("X-Upstream-Saw-Request-Id", r.Header.Get("X-Request-Id"))
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	t.Cleanup(up.Close)
	opts.Upstream, _ = url.Parse(up.URL)
	opts.Routes = []byte(testRoutes)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := testenv.New(t, testenv.Options{Config: mod, Server: opts, Run: true, NoTenant: true})
	creds, err := e.Server.SeedDemo(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &running{Server: e.Server, addr: strings.TrimPrefix(e.URL, "http://"), token: creds.Token}
}

// TestSlowBody: a client trickling a request body a byte every 200 ms is
// cut off within the configured bound on every path, whether or not the
// handler reads the body.
func TestSlowBody(t *testing.T) {
	const bound = time.Second
	g := start(t, func(c *config.Config) {
		c.BodyTimeout = bound
		c.GatewayBodyTimeout = bound
	}, server.Options{})
	auth := "Authorization: Bearer " + g.token + "\r\n"
	for _, tc := range []struct {
		name, path, headers string
	}{
		{"gateway", "/upload", auth + "Content-Type: application/octet-stream\r\n"},
		{"gateway, refused", "/upload", "Content-Type: application/octet-stream\r\n"},
		{"gateway, chunked", "/upload", auth + "Transfer-Encoding: chunked\r\n"},
		{"token endpoint", "/oauth2/token", "Content-Type: application/x-www-form-urlencoded\r\n"},
		{"management API", "/api/v1/tokens", auth + "Content-Type: application/json\r\n"},
		{"verify", "/api/v1/verify", auth + "Content-Type: application/json\r\n"},
		{"console", "/console/login", "Content-Type: application/x-www-form-urlencoded\r\n"},
		{"oauth1", "/oauth/token/request", "Content-Type: application/x-www-form-urlencoded\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", g.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			length := "Content-Length: 1000\r\n"
			if strings.Contains(tc.headers, "chunked") {
				length = ""
			}
			if _, err := io.WriteString(c, "POST "+tc.path+" HTTP/1.1\r\nHost: gatehouse.test\r\n"+tc.headers+length+"\r\n"); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				b := []byte("a")
				if length == "" {
					b = []byte("1\r\na\r\n")
				}
				for {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Millisecond):
					}
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}()
			start := time.Now()
			c.SetReadDeadline(start.Add(bound + 5*time.Second))
			answer, err := io.ReadAll(c)
			elapsed := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v (answer so far %q)", elapsed, answer)
			}
			if elapsed > bound+2*time.Second {
				t.Fatalf("cut off after %v, want within %v", elapsed, bound)
			}
			t.Logf("closed after %v: %.40q", elapsed, answer)
		})
	}
}

// trickle is a body that delivers size bytes in chunks at a steady rate.
type trickle struct {
	left, chunk int
	every       time.Duration
	h           interface{ Write([]byte) (int, error) }
	next        time.Time
}

func (b *trickle) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if d := time.Until(b.next); d > 0 {
		time.Sleep(d)
	}
	b.next = time.Now().Add(b.every)
	n := min(len(p), b.chunk, b.left)
	for i := range p[:n] {
		p[i] = byte(b.left - i)
	}
	b.h.Write(p[:n])
	b.left -= n
	return n, nil
}

// TestGatewayStreamsLargeBody: a 20 MiB body streamed steadily for longer
// than the body bounds arrives whole.
func TestGatewayStreamsLargeBody(t *testing.T) {
	g := start(t, func(c *config.Config) {
		c.BodyTimeout = time.Second
		c.GatewayBodyTimeout = time.Second
	}, server.Options{})
	const size = 20 << 20
	h := sha256.New()
	// 20 MiB in 256 KiB chunks every 10 ms: about 2.5 s.
	body := &trickle{left: size, chunk: 256 << 10, every: 10 * time.Millisecond, h: h}
	req, _ := http.NewRequest("POST", "http://"+g.addr+"/upload", io.NopCloser(body))
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.ContentLength = size
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	want := fmt.Sprintf("%d %s", size, hex.EncodeToString(h.Sum(nil)))
	if resp.StatusCode != 200 || string(got) != want {
		t.Fatalf("%d %q, want 200 %q", resp.StatusCode, got, want)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Logf("streamed in %v only: the bound was not exercised", d)
	}
}

// bigAnswer is the size of what the upstream answers to /rest/big.
const bigAnswer = 64 << 20

// TestSlowReader: a client that stops reading a large answer is cut off
// after the write bound, rather than holding the gateway's goroutine and
// upstream connection for as long as it likes.
func TestSlowReader(t *testing.T) {
	const bound = time.Second
	g := start(t, func(c *config.Config) { c.WriteTimeout = bound }, server.Options{})
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /rest/big HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer "+g.token+"\r\n\r\n")
	time.Sleep(bound + 2*time.Second) // not reading
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("still open after reading %d bytes", n)
	}
	if n >= bigAnswer {
		t.Fatalf("read the whole answer (%d bytes): the write bound did not cut off a client that stopped reading", n)
	}
	t.Logf("cut off after %d of %d bytes", n, bigAnswer)
}

// TestWebSocketOutlivesBounds: a websocket the route allows is tunnelled
// with none of the listener's request deadlines carried into it.
func TestWebSocketOutlivesBounds(t *testing.T) {
	const bound = 500 * time.Millisecond
	g := start(t, func(c *config.Config) {
		c.BodyTimeout, c.GatewayBodyTimeout, c.WriteTimeout, c.ReadHeaderTimeout = bound, bound, bound, bound
	}, server.Options{})
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws/ HTTP/1.1\r\nHost: gatehouse.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer "+g.token+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v %v, want 101", resp, err)
	}
	for i := range 2 {
		time.Sleep(3 * bound)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "ping")
		b := make([]byte, 4)
		if _, err := io.ReadFull(br, b); err != nil || string(b) != "ping" {
			t.Fatalf("echo %d after %v: %q %v", i, 3*bound, b, err)
		}
	}
}

// rawGet sends a GET with extra header lines and returns the status.
func rawGet(t *testing.T, addr, path, headers string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gatehouse.test\r\n"+headers+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHeaderLimits: too many header fields, or too many header bytes, is
// 431 on every path.
func TestHeaderLimits(t *testing.T) {
	g := start(t, func(c *config.Config) {
		c.MaxHeaders = 20
		c.MaxHeaderBytes = 8 << 10
	}, server.Options{})
	auth := "Authorization: Bearer " + g.token + "\r\n"
	many := strings.Repeat("X-Filler: x\r\n", 20)
	big := "X-Big: " + strings.Repeat("b", 16<<10) + "\r\n"
	for _, path := range []string{"/rest/V1/products", "/healthz", "/console/login"} {
		if st := rawGet(t, g.addr, path, auth); st == http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%s: 431 for an ordinary request", path)
		}
		if st := rawGet(t, g.addr, path, auth+many); st != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s with 21 header fields: %d, want 431", path, st)
		}
		if st := rawGet(t, g.addr, path, auth+big); st != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s with 16 KiB of header: %d, want 431", path, st)
		}
	}
}

// TestRouting: paths outside Gatehouse's own endpoints go to the gateway
// (whose refusals carry Gatehouse's security headers), and Gatehouse's
// own keep the mux's behaviour.
func TestRouting(t *testing.T) {
	g := start(t, nil, server.Options{})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path     string
		status   int
		location string
	}{
		{"/rest/V1/products/x", 401, ""},
		{"/nowhere", 404, ""},
		{"/rest/V1/../V1/products/x", 404, ""}, // the gateway matches canonical paths only
		{"/healthz", 200, ""},
		{"/console", 307, "/console/"},
		{"/", 302, "/console/"},
		{"/api/v1/tokens", 401, ""},
	} {
		req, _ := http.NewRequest("GET", "http://"+g.addr+tc.path, nil)
		req.URL.Opaque = tc.path // as written, not cleaned by the client
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing: %v", tc.path, resp.Header)
		}
	}
}

func getMetrics(t *testing.T, addr, token string) int {
	t.Helper()
	h := ""
	if token != "" {
		h = "Authorization: Bearer " + token + "\r\n"
	}
	return rawGet(t, addr, "/metrics", h)
}

// TestMetricsToken: with GATEHOUSE_METRICS_TOKEN set, /metrics answers
// only the bearer of that token.
func TestMetricsToken(t *testing.T) {
	tok := strings.Repeat("m", 40)
	g := start(t, func(c *config.Config) { c.MetricsToken = tok }, server.Options{})
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {tok + "x", 401}, {g.token, 401}, {tok, 200}} {
		if st := getMetrics(t, g.addr, tc.token); st != tc.want {
			t.Errorf("token %.10q: %d, want %d", tc.token, st, tc.want)
		}
	}
}

// TestMetricsListener: with GATEHOUSE_METRICS_ADDR set, /metrics is served
// there and not on the main listener.
func TestMetricsListener(t *testing.T) {
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := start(t, func(c *config.Config) { c.MetricsAddr = mln.Addr().String() }, server.Options{MetricsListener: mln})
	if st := getMetrics(t, mln.Addr().String(), ""); st != 200 {
		t.Errorf("metrics listener: %d, want 200", st)
	}
	if st := getMetrics(t, g.addr, ""); st == 200 {
		t.Errorf("main listener still serves /metrics")
	}
}
