package e2e

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// tcpProxy forwards a local port to PostgreSQL and can be cut and restored,
// to play a database outage without touching the shared server.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, addr: freeAddr(t), target: target, conns: map[net.Conn]bool{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// stop refuses new connections and cuts the open ones: the database is gone.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestFailClosedPostgres cuts the connection to PostgreSQL under a running
// server: verification and the gateway answer 503 and forward nothing,
// /readyz fails while /healthz passes, and service resumes by itself when
// the database returns.
func TestFailClosedPostgres(t *testing.T) {
	direct := sqlstoretest.PostgresURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	u.RawQuery += "&connect_timeout=2"

	var forwarded atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()
	upURL, _ := url.Parse(upstream.URL)

	te := testenv.New(t, testenv.Options{
		DatabaseURL: u.String(),
		Config:      func(c *config.Config) { c.CacheTTL = 0 }, // every answer comes from the database
		Server: server.Options{
			Upstream: upURL,
			Routes:   []byte("routes:\n  - path: /rest/V1/orders\n    resource: sales.orders\n"),
		},
		Tenant: testenv.Seed{Slug: "outage", Name: "Outage", Email: "o@outage.test", Plan: gatehouse.PlanStandard},
	})
	ctx, s, srvURL, a := te.Ctx, te.Server, te.URL, te.Owner
	_, tok, err := s.Admin.CreateCredential(ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: "t", Scopes: []string{"sales", "verify"}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 15 * time.Second}
	check := func(wantVerify, wantGateway, wantReady int) {
		t.Helper()
		var ans verifyAnswer
		status, err := doJSON(ctx, client, "POST", srvURL+"/api/v1/verify", tok, map[string]string{"credential": tok, "resource": "sales.orders"}, &ans)
		if err != nil || status != wantVerify {
			t.Fatalf("verify: %d %v (want %d)", status, err, wantVerify)
		}
		if status == 200 && !ans.Valid {
			t.Fatalf("verify answered %+v", ans)
		}
		req, _ := http.NewRequest("GET", srvURL+"/rest/V1/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != wantGateway {
			t.Fatalf("gateway: %d, want %d", resp.StatusCode, wantGateway)
		}
		for path, want := range map[string]int{"/readyz": wantReady, "/healthz": 200} {
			resp, err := client.Get(srvURL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("%s: %d, want %d", path, resp.StatusCode, want)
			}
		}
	}

	check(200, 200, 200)
	before := forwarded.Load()

	proxy.stop()
	check(503, 503, 503)
	if n := forwarded.Load(); n != before {
		t.Fatalf("the gateway forwarded %d requests while the database was down", n-before)
	}

	proxy.start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ans verifyAnswer
		status, err := doJSON(ctx, client, "POST", srvURL+"/api/v1/verify", tok, map[string]string{"credential": tok}, &ans)
		if err == nil && status == 200 && ans.Valid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not resume: %d %v", status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	check(200, 200, 200)
}
