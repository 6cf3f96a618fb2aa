package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// envConfig applies GATEHOUSE_* variables to the configuration through
// the real loading path (Config.FromEnv).
func envConfig(t *testing.T, env map[string]string) func(*config.Config) {
	return func(c *config.Config) {
		if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
	}
}

// call is one request of the load tests: its status, Retry-After and how
// long it took. The client gives up after 10 s, so a request that hangs
// shows as status 0.
type call struct {
	status     int
	retryAfter string
	took       time.Duration
	body       []byte
}

func do(t *testing.T, method, url, token, body string) call {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return call{took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return call{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start), body: b}
}

// createPAT makes a PAT for catalog through the management API.
func createPAT(t *testing.T, g *running, name string) string {
	t.Helper()
	c := do(t, "POST", "http://"+g.addr+"/api/v1/tokens", g.token, `{"name":"`+name+`","scopes":["catalog"]}`)
	if c.status != http.StatusCreated {
		t.Fatalf("create PAT: %d %s", c.status, c.body)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(c.body, &out); err != nil || out.Token == "" {
		t.Fatalf("create PAT: %s", c.body)
	}
	return out.Token
}

// verifyCall asks POST /api/v1/verify about tok for catalog, with the demo
// token (which holds verify) as the caller.
func verifyCall(t *testing.T, g *running, tok string) call {
	t.Helper()
	return do(t, "POST", "http://"+g.addr+"/api/v1/verify", g.token, `{"credential":"`+tok+`","resource":"catalog"}`)
}

func wantValid(t *testing.T, what string, c call, within time.Duration) {
	t.Helper()
	var out struct {
		Code string `json:"code"`
	}
	json.Unmarshal(c.body, &out)
	if c.status != http.StatusOK || out.Code != "VALID" || c.took > within {
		t.Errorf("%s: %d %q after %v; want 200 VALID within %v", what, c.status, c.body, c.took, within)
	}
}

// TestReadsDoNotWaitBehindWrites (issue 12): with the pool set to 4
// through GATEHOUSE_DB_MAX_CONNS and every write blocked in the database
// (a lock held by another session), more writes than any pool has
// connections queue up; a verification miss and an authenticated read of
// the management API still answer at once from the readers' share, and
// every write answers 503 with Retry-After within its request deadline
// (GATEHOUSE_REQUEST_TIMEOUT=1s) instead of hanging.
func TestReadsDoNotWaitBehindWrites(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{
				"GATEHOUSE_DB_MAX_CONNS":    "4",
				"GATEHOUSE_REQUEST_TIMEOUT": "1s",
			}
			if backend == "postgres" {
				env["GATEHOUSE_DATABASE_URL"] = sqlstoretest.PostgresURL(t)
				// Else the key file goes to ./gatehouse-data.
				env["GATEHOUSE_SECRET_KEY"] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
			}
			g := start(t, envConfig(t, env), server.Options{})
			fresh := createPAT(t, g, "uncached")
			app := do(t, "POST", "http://"+g.addr+"/api/v1/oauth-clients", g.token,
				`{"name":"Machine","redirect_uris":["https://app.example/cb"],"scopes":["catalog"],"confidential":true,"grant_types":["client_credentials"]}`)
			if app.status != http.StatusCreated {
				t.Fatalf("create OAuth app: %d %s", app.status, app.body)
			}
			var client struct {
				ID     string `json:"client_id"`
				Secret string `json:"client_secret"`
			}
			json.Unmarshal(app.body, &client)

			release := blockWrites(t, g)
			defer release()

			// More blocked writes than the old single pool (20) had
			// connections.
			const writes = 24
			var wg sync.WaitGroup
			results := make([]call, writes)
			for i := range writes {
				wg.Go(func() {
					results[i] = do(t, "POST", "http://"+g.addr+"/api/v1/tokens", g.token,
						fmt.Sprintf(`{"name":"blocked-%d","scopes":["catalog"]}`, i))
				})
			}
			time.Sleep(200 * time.Millisecond) // the writes hold or wait for every writer
			wantValid(t, "verification miss while writes are blocked", verifyCall(t, g, fresh), 500*time.Millisecond)
			if c := do(t, "GET", "http://"+g.addr+"/api/v1/tokens?limit=5", g.token, ""); c.status != http.StatusOK || c.took > 500*time.Millisecond {
				t.Errorf("GET /api/v1/tokens while writes are blocked: %d after %v; want 200 at once", c.status, c.took)
			}
			// A login reserves its attempt in a write transaction before
			// it hashes: it waits for a writer like any write, within its
			// deadline — served (401 for these credentials) if a writer
			// came free in time, else a 503 page with Retry-After.
			if c := consoleLogin(t, g); !(c.status == http.StatusUnauthorized ||
				c.status == http.StatusServiceUnavailable && c.retryAfter != "") || c.took > 2500*time.Millisecond {
				t.Errorf("console login while writes are blocked: %d Retry-After %q after %v; want 401, or 503 with Retry-After, within the deadline",
					c.status, c.retryAfter, c.took)
			}
			// RFC 6749 §5.2: a token the store cannot write in time is 503
			// temporarily_unavailable with Retry-After.
			start := time.Now()
			resp, err := http.PostForm("http://"+g.addr+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
				"client_id": {client.ID}, "client_secret": {client.Secret}, "scope": {"catalog"}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
				!bytes.Contains(b, []byte(`"temporarily_unavailable"`)) || time.Since(start) > 2500*time.Millisecond {
				t.Errorf("client_credentials token while writes are blocked: %d Retry-After %q after %v (%s); want 503 temporarily_unavailable with Retry-After within the deadline",
					resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start), b)
			}
			wg.Wait()
			for i, c := range results {
				if c.status != http.StatusServiceUnavailable || c.retryAfter == "" || c.took > 2500*time.Millisecond {
					t.Errorf("blocked write %d: %d Retry-After %q after %v (%s); want 503 with Retry-After within the 1s deadline",
						i, c.status, c.retryAfter, c.took, c.body)
				}
			}
			release()
			// Writes work again once the lock is gone: the writes that
			// timed out behind it may still be draining, so a 503 with
			// Retry-After is a fair answer for a moment, but within a few
			// seconds a write is acknowledged.
			var after call
			for deadline := time.Now().Add(5 * time.Second); ; {
				after = do(t, "POST", "http://"+g.addr+"/api/v1/tokens", g.token, `{"name":"after","scopes":["catalog"]}`)
				if after.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if after.status != http.StatusCreated {
				t.Errorf("create PAT after the lock is gone: %d %s", after.status, after.body)
			}
		})
	}
}

// blockWrites makes every write of g's database wait: SQLite's write lock
// (BEGIN IMMEDIATE) or, on PostgreSQL, an EXCLUSIVE lock on credentials
// (reads still pass) held by a session of the test's own.
func blockWrites(t *testing.T, g *running) (release func()) {
	t.Helper()
	ctx := context.Background()
	u := g.Config.DatabaseURL
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(u, "sqlite:"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	} else {
		db, err = sql.Open("pgx", u)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lock := "LOCK TABLE credentials IN EXCLUSIVE MODE"
	begin := "BEGIN"
	if strings.HasPrefix(u, "sqlite:") {
		begin, lock = "BEGIN IMMEDIATE", "SELECT 1"
	}
	for _, q := range []string{begin, lock} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
}

// TestLoadShedding (issue 12): with GATEHOUSE_MAX_INFLIGHT=2 and two slow
// management API requests in flight, the next API, OAuth and console
// requests are refused at once with 503 and Retry-After rather than
// queued, while /api/v1/verify keeps answering a cached token VALID and
// the gateway keeps forwarding; once the slow requests end, the API
// serves again.
func TestLoadShedding(t *testing.T) {
	g := start(t, envConfig(t, map[string]string{"GATEHOUSE_MAX_INFLIGHT": "2"}), server.Options{})
	cached := createPAT(t, g, "cached")
	wantValid(t, "verify before the burst", verifyCall(t, g, cached), time.Second)

	// Two requests whose bodies arrive slowly hold both slots.
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /api/v1/tokens HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{", g.token)
		conns = append(conns, c)
	}
	time.Sleep(200 * time.Millisecond)

	base := "http://" + g.addr
	for _, r := range []struct{ method, path, body, want string }{
		{"GET", "/api/v1/tokens", "", `"unavailable"`},
		{"POST", "/oauth2/token", "", `"temporarily_unavailable"`},
		{"GET", "/console/login", "", ""},
	} {
		c := do(t, r.method, base+r.path, g.token, r.body)
		if c.status != http.StatusServiceUnavailable || c.retryAfter == "" || c.took > 500*time.Millisecond ||
			!bytes.Contains(c.body, []byte(r.want)) {
			t.Errorf("%s %s past the in-flight limit: %d Retry-After %q after %v (%s); want 503 %s with Retry-After at once",
				r.method, r.path, c.status, c.retryAfter, c.took, c.body, r.want)
		}
	}
	wantValid(t, "cached verify past the in-flight limit", verifyCall(t, g, cached), 500*time.Millisecond)
	if c := do(t, "GET", base+"/rest/x", g.token, ""); c.status != http.StatusOK {
		t.Errorf("gateway past the in-flight limit: %d %s; want 200", c.status, c.body)
	}
	// A gateway path that the mux routes (its first segment is one of
	// Gatehouse's own) is not counted either.
	if c := do(t, "GET", base+"/api/v2/x", g.token, ""); c.status == http.StatusServiceUnavailable {
		t.Errorf("gateway through the mux past the in-flight limit: %d %s; want the gateway's answer", c.status, c.body)
	}
	if c := do(t, "GET", base+"/healthz", "", ""); c.status != http.StatusOK {
		t.Errorf("/healthz past the in-flight limit: %d; want 200", c.status)
	}

	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := do(t, "GET", base+"/api/v1/tokens", g.token, "")
		if c.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API after the slow requests ended: %d; want 200", c.status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consoleLogin fetches the login form (for its CSRF token and cookie) and
// posts a login with it.
func consoleLogin(t *testing.T, g *running) call {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + g.addr
	resp, err := client.Get(base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("login page without a CSRF token: %d", resp.StatusCode)
	}
	start := time.Now()
	resp, err = client.PostForm(base+"/console/login", url.Values{
		"csrf_token": {string(m[1])}, "email": {"nobody@example.test"}, "password": {"wrong password"}})
	if err != nil {
		return call{took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return call{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start), body: b}
}
