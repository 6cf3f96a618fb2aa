package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// pgCluster is a PostgreSQL cluster of the test's own, on a port of its
// own, that the test may stop and restart without touching the shared
// server.
type pgCluster struct {
	t    *testing.T
	bin  string   // directory of initdb and pg_ctl
	as   []string // prefix that runs a command as the cluster's owner
	dir  string
	data string
	port int
}

// startPGCluster runs initdb into a fresh directory and starts the
// cluster on a free loopback port; it is stopped and removed when the test
// ends. It skips when no PostgreSQL server binaries are installed. As
// root (initdb refuses to run as root) it runs them as the postgres user.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			bins = []string{p}
		}
	}
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server binaries (initdb, pg_ctl): cannot run a cluster of the test's own")
	}
	sort.Strings(bins)
	c := &pgCluster{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir, c.data = dir, filepath.Join(dir, "data")
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root, and initdb refuses root, but there is no postgres user to run it as: %v", err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skipf("running as root, and initdb refuses root, but there is no runuser: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.as = []string{runuser, "-u", "postgres", "--"}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	c.run(60*time.Second, "initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	// fsync is off to spare the shared machine's disk: the restarts below
	// stop PostgreSQL, not the operating system, so what PostgreSQL had
	// written is still there when it comes back (an immediate stop is a
	// crash of PostgreSQL and is recovered from the WAL like one).
	// synchronous_commit stays on: a commit is acknowledged once it is in
	// the WAL.
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\nfull_page_writes = off\nmax_connections = 100\nshared_buffers = 16MB\n", c.port, c.dir)
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c.pgctl("start")
	t.Cleanup(func() { c.run(60*time.Second, "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop") })
	return c
}

// url is the cluster's database URL.
func (c *pgCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port)
}

// pgctl runs pg_ctl action (start, or restart in mode) and waits for it.
func (c *pgCluster) pgctl(action string, args ...string) {
	c.t.Helper()
	c.run(60*time.Second, "pg_ctl", append([]string{"-D", c.data, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "30"}, append(args, action)...)...)
}

func (c *pgCluster) run(timeout time.Duration, name string, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append(append([]string{}, c.as...), filepath.Join(c.bin, name)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("%s %v: %v\n%s\nserver log:\n%s", name, args, err, out, log)
	}
}

// TestPostgresRestartUnderLoad drives 64 clients of mixed traffic (PAT
// creation and revocation, authorization-code redemption, refresh,
// verification) at one node for 20 s while its PostgreSQL is restarted
// twice, once cleanly and once as a crash (issue 12): afterwards every
// acknowledged creation verifies, every acknowledged revocation is
// refused, every acknowledged redemption stays consumed and no code was
// redeemed twice, and the node answers VALID and 201 again by itself.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if os.Getenv(sqlstoretest.PostgresEnv) == "" {
		t.Skipf("%s is not set (PostgreSQL tests are off)", sqlstoretest.PostgresEnv)
	}
	if testing.Short() {
		t.Skip("starts and restarts a PostgreSQL cluster")
	}
	testStart := time.Now()
	c := startPGCluster(t)
	t.Logf("cluster up on port %d in %v", c.port, time.Since(testStart).Round(time.Millisecond))
	n := startFaultNode(t, c.url(), func(cfg *config.Config) {
		cfg.MaxTokensPerUser = 100000
		cfg.CacheTTL = time.Second // verification goes to the database often
	})
	ft := newFaultTenant(t, n, "restart").withApp()
	ctx := context.Background()
	setup := &http.Client{Timeout: 10 * time.Second}

	const (
		patClients     = 16
		redeemClients  = 16
		refreshClients = 8
		verifyClients  = 24
		loadFor        = 20 * time.Second
	)
	codes := ft.mintCodes(redeemClients*20 + refreshClients)
	var live []string // PATs verification asks about, never revoked
	for i := range 8 {
		status, _, tok := ft.createPAT(ctx, setup, n, fmt.Sprintf("fault-live-%d", i))
		if status != http.StatusCreated {
			t.Fatalf("create: %d", status)
		}
		live = append(live, tok)
	}
	refreshers := make([]*oauth2.Token, refreshClients)
	for i := range refreshers {
		tok, err := ft.exchange(ctx, setup, codes[len(codes)-1-i])
		if err != nil {
			t.Fatal(err)
		}
		refreshers[i] = tok
	}
	codes = codes[:len(codes)-refreshClients]
	t.Logf("set up in %v", time.Since(testStart).Round(time.Millisecond))

	l := newLedger()
	client := &http.Client{Timeout: requestDeadline + 5*time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	loadCtx, stopLoad := context.WithTimeout(ctx, loadFor)
	defer stopLoad()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var violations []string
	violate := func(format string, args ...any) {
		mu.Lock()
		violations = append(violations, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	pace := func(d time.Duration) {
		select {
		case <-loadCtx.Done():
		case <-time.After(d):
		}
	}

	// PAT creation and revocation; a PAT whose revocation was
	// acknowledged is never VALID on this node afterwards.
	for w := range patClients {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				tok, revoked := l.createAndMaybeRevoke(ctx, ft, client, n, fmt.Sprintf("fault-%d-%d", w, i), i%2 == 0)
				if revoked {
					if got := verifyCode(ctx, client, n, tok); got != string(gatehouse.CodeRevoked) && got != http.StatusText(http.StatusServiceUnavailable) {
						violate("a PAT whose revocation was acknowledged verifies %s on the same node", got)
					}
				}
				pace(200 * time.Millisecond)
			}
		})
	}
	// Code redemption: every fourth code is redeemed by two clients at
	// once; at most one may succeed.
	jobs := make(chan authCode, len(codes))
	for _, code := range codes {
		jobs <- code
	}
	close(jobs)
	redeemed := map[string]int{} // code -> 200 answers
	var raced []authCode
	var redeemedOnce []authCode
	var jobN atomic.Int64
	for range redeemClients {
		wg.Go(func() {
			for code := range jobs {
				if loadCtx.Err() != nil {
					return
				}
				racers := 1
				if jobN.Add(1)%4 == 0 {
					racers = 2
				}
				var rwg sync.WaitGroup
				for range racers {
					rwg.Go(func() {
						start := time.Now()
						tok, err := ft.exchange(ctx, client, code)
						status := 200
						if err != nil {
							status = oauthStatus(err)
						}
						l.count("redeem", status, start)
						if err != nil {
							if racers == 1 && status != http.StatusServiceUnavailable {
								violate("a fresh code redeemed once answered %v", err)
							}
							return
						}
						mu.Lock()
						redeemed[code.code]++
						mu.Unlock()
						if racers == 1 {
							l.mu.Lock()
							l.tokens = append(l.tokens, tok.AccessToken)
							l.mu.Unlock()
						}
					})
				}
				rwg.Wait()
				mu.Lock()
				if racers == 2 {
					raced = append(raced, code)
				} else if redeemed[code.code] == 1 {
					redeemedOnce = append(redeemedOnce, code)
				}
				mu.Unlock()
				pace(time.Second)
			}
		})
	}
	// Refresh (the app is confidential: its refresh token does not rotate).
	for _, tok := range refreshers {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				start := time.Now()
				fresh, err := ft.refresh(ctx, client, tok)
				status := 200
				if err != nil {
					status = oauthStatus(err)
				}
				l.count("refresh", status, start)
				if err == nil {
					l.mu.Lock()
					l.tokens = append(l.tokens, fresh.AccessToken)
					l.mu.Unlock()
				}
				pace(500 * time.Millisecond)
			}
		})
	}
	// Verification of live tokens: VALID, or 503 while the database is
	// down; never a refusal.
	for w := range verifyClients {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				start := time.Now()
				got := verifyCode(ctx, client, n, live[(w+i)%len(live)])
				l.count("verify "+got, 200, start)
				if got != string(gatehouse.CodeValid) && got != http.StatusText(http.StatusServiceUnavailable) {
					violate("verification of a live PAT answered %s", got)
				}
				pace(50 * time.Millisecond)
			}
		})
	}

	// Two restarts: a clean one (fast: sessions are terminated) and a
	// crash (immediate: recovered from the WAL).
	time.Sleep(5 * time.Second)
	r1 := time.Now()
	c.pgctl("restart", "-m", "fast")
	t.Logf("restart 1 (fast) took %v", time.Since(r1).Round(time.Millisecond))
	time.Sleep(6 * time.Second)
	r2 := time.Now()
	c.pgctl("restart", "-m", "immediate")
	r2done := time.Now()
	t.Logf("restart 2 (immediate) took %v", r2done.Sub(r2).Round(time.Millisecond))
	wg.Wait()
	// The node recovered by itself, soon: its last 503 (or unanswered
	// request) came shortly after PostgreSQL was back.
	l.mu.Lock()
	lastFail := l.lastFail
	l.mu.Unlock()
	t.Logf("the last refusal came %v after restart 2 finished", lastFail.Sub(r2done).Round(time.Millisecond))
	if lastFail.Sub(r2done) > 5*time.Second {
		t.Errorf("the node still refused requests %v after PostgreSQL was back", lastFail.Sub(r2done).Round(time.Millisecond))
	}
	t.Logf("load ran %v", time.Since(r1.Add(-5*time.Second)).Round(time.Millisecond))
	for _, v := range violations {
		t.Error(v)
	}
	if len(violations) > 5 {
		t.Fatalf("%d violations", len(violations))
	}

	// The node recovers by itself: VALID and 201 again.
	rec := time.Now()
	for {
		status, _, _ := ft.createPAT(ctx, setup, n, "fault-after")
		if status == http.StatusCreated && verifyCode(ctx, setup, n, live[0]) == string(gatehouse.CodeValid) {
			break
		}
		if time.Since(rec) > 20*time.Second {
			t.Fatalf("20 s after the last restart the node still does not answer 201 and VALID (last %d)", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the node answered 201 and VALID again %v after the load ended", time.Since(rec).Round(time.Millisecond))

	l.wantOnly(t, "create 201", "create 503", "revoke 204", "revoke 503",
		"redeem 200", "redeem 400", "redeem 503", "refresh 200", "refresh 503",
		"verify VALID 200", "verify Service Unavailable 200")
	for code, ok := range redeemed {
		if ok > 1 {
			t.Errorf("a code was redeemed %d times: %.8s…", ok, code)
		}
	}
	if len(redeemedOnce) == 0 || l.statuses["refresh 200"] == 0 || l.statuses["revoke 204"] == 0 {
		t.Fatalf("the load exercised too little: %v", l.statuses)
	}
	half := l.checkAcknowledged(t, c.url(), ft, n)
	// Every acknowledged redemption stayed consumed across the restarts:
	// replaying it is refused (and, RFC 6749 §4.1.2, revokes its tokens:
	// hence last).
	for _, code := range redeemedOnce {
		if _, err := ft.exchange(ctx, setup, code); !isOAuthError(err, "invalid_grant") {
			t.Errorf("an acknowledged redemption was lost: replaying the code answered %v", err)
		}
	}
	t.Logf("%d codes redeemed once, %d raced by two clients; total %v", len(redeemedOnce), len(raced), time.Since(testStart).Round(time.Millisecond))
	wantWhole(t, half)
}

// oauthStatus is the HTTP status of a failed golang.org/x/oauth2 token
// request (0: no answer).
func oauthStatus(err error) int {
	if re, ok := err.(*oauth2.RetrieveError); ok && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}
