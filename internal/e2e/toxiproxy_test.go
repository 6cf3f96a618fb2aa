package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// pgProxy is an in-process toxiproxy between gatehouse and PostgreSQL
// (issue 12: fault injection with a real tool).
type pgProxy struct {
	t *testing.T
	p *toxiproxy.Proxy
}

// newPGProxy proxies a free loopback port to upstream (host:port) until
// the test ends.
func newPGProxy(t *testing.T, upstream string) *pgProxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "postgres", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return &pgProxy{t: t, p: p}
}

// proxied returns databaseURL with its host replaced by the proxy's and
// connect_timeout set to connectTimeout seconds, so that a node opened on
// it reaches PostgreSQL only through the proxy.
func (p *pgProxy) proxied(databaseURL string, connectTimeout int) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		p.t.Fatal(err)
	}
	u.Host = p.p.Listen
	u.RawQuery += fmt.Sprintf("&connect_timeout=%d", connectTimeout)
	return u.String()
}

// add installs a toxic; attrs is its JSON attributes object.
func (p *pgProxy) add(name, typ, stream string, toxicity float32, attrs string) {
	p.t.Helper()
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":%g,"attributes":%s}`, name, typ, stream, toxicity, attrs)
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		p.t.Fatalf("add toxic %s: %v", name, err)
	}
}

func (p *pgProxy) remove(name string) {
	p.t.Helper()
	if err := p.p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		p.t.Fatalf("remove toxic %s: %v", name, err)
	}
}

// requestDeadline is the bound issue 12 sets on an API or OAuth request
// ("e.g. 15 s"); a client waiting longer than this (plus slack for the
// answer to travel) has met a request that hangs.
const requestDeadline = 15 * time.Second

// TestToxiproxyResetMidTransaction creates and revokes PATs from 16
// clients while toxiproxy resets connections to PostgreSQL (reset_peer)
// and black-holes them (timeout) at random moments, mid-transaction
// included: every client gets the committed answer or 503, and afterwards
// the database holds every acknowledged PAT and revocation, each with its
// audit event, and the acknowledged PATs verify as they should.
func TestToxiproxyResetMidTransaction(t *testing.T) {
	direct := sqlstoretest.PostgresURL(t)
	proxy := newPGProxy(t, pgHost(t, direct))
	n := startFaultNode(t, proxy.proxied(direct, 2), func(c *config.Config) { c.MaxTokensPerUser = 100000 })
	ft := newFaultTenant(t, n, "resets").withApp()
	codes := make(chan authCode, 128)
	for _, c := range ft.mintCodes(cap(codes)) {
		codes <- c
	}
	close(codes)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	l := newLedger()
	client := &http.Client{Timeout: requestDeadline + 5*time.Second}
	var wg sync.WaitGroup
	// Code redemption: a fresh code is redeemed (200) or 503, never
	// refused; what was redeemed is checked below.
	for range 4 {
		wg.Go(func() {
			for c := range codes {
				if ctx.Err() != nil {
					return
				}
				start := time.Now()
				tok, err := ft.exchange(context.Background(), client, c)
				status := 200
				if err != nil {
					status = oauthStatus(err)
				}
				l.count("redeem", status, start)
				if err == nil {
					l.mu.Lock()
					l.tokens = append(l.tokens, tok.AccessToken)
					l.mu.Unlock()
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
	for w := range 12 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				l.createAndMaybeRevoke(context.Background(), ft, client, n, fmt.Sprintf("fault-%d-%d", w, i), i%2 == 0)
			}
		})
	}
	// The faults: in rounds, some connections are reset as soon as data
	// flows (after 0-20 ms: in the middle of a transaction, or of its
	// COMMIT), others swallow everything and are closed 200 ms later.
	faults := 0
	for ctx.Err() == nil {
		time.Sleep(150 * time.Millisecond)
		proxy.add("reset", "reset_peer", "upstream", 0.3, fmt.Sprintf(`{"timeout":%d}`, rand.IntN(20)))
		time.Sleep(100 * time.Millisecond)
		proxy.remove("reset")
		time.Sleep(150 * time.Millisecond)
		proxy.add("blackhole", "timeout", "downstream", 0.2, `{"timeout":200}`)
		time.Sleep(300 * time.Millisecond) // longer than the timeout: every link it took is closed
		proxy.remove("blackhole")
		faults += 2
	}
	wg.Wait()
	t.Logf("%d fault rounds", faults)
	l.wantOnly(t, "create 201", "create 503", "revoke 204", "revoke 503", "redeem 200", "redeem 503")
	if l.statuses["create 503"]+l.statuses["revoke 503"] == 0 {
		t.Errorf("no request met a fault: the toxics did nothing")
	}
	if l.statuses["redeem 200"] == 0 {
		t.Errorf("no redemption succeeded: %v", l.statuses)
	}
	// A redemption is whole: a code is used if and only if its grant's
	// access and refresh tokens were stored.
	db, err := sql.Open("pgx", direct)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var used, torn int
	if err := db.QueryRow(`
		SELECT count(*) FILTER (WHERE o.used_at IS NOT NULL),
			count(*) FILTER (WHERE (o.used_at IS NOT NULL) <> (
				EXISTS (SELECT 1 FROM credentials c WHERE c.grant_id = o.grant_id AND c.kind = 'oauth2') AND
				EXISTS (SELECT 1 FROM credentials c WHERE c.grant_id = o.grant_id AND c.kind = 'oauth2_refresh')))
		FROM oauth_codes o WHERE o.tenant_id = $1`, ft.tenant.ID).Scan(&used, &torn); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d codes used, %d acknowledged", used, l.statuses["redeem 200"])
	if torn > 0 || used < l.statuses["redeem 200"] {
		t.Errorf("%d redemptions half-written (code used without its tokens, or tokens without the code used); %d codes used for %d acknowledged",
			torn, used, l.statuses["redeem 200"])
	}
	// A node that never saw the faults checks what was acknowledged.
	wantWhole(t, l.checkAcknowledged(t, direct, ft, startFaultNode(t, direct, nil)))
}

// TestToxiproxyLatency adds 2 s to every answer from PostgreSQL: requests
// still answer within their deadline (the acknowledgement or 503, never
// a hang), and verification of a cached credential answers at once.
func TestToxiproxyLatency(t *testing.T) {
	direct := sqlstoretest.PostgresURL(t)
	proxy := newPGProxy(t, pgHost(t, direct))
	// Connecting takes several round trips: with 2 s each, a 2 s connect
	// timeout would turn every new connection into a 503.
	n := startFaultNode(t, proxy.proxied(direct, 20), func(c *config.Config) { c.CacheTTL = time.Minute })
	ft := newFaultTenant(t, n, "latency")
	ctx := context.Background()
	client := &http.Client{Timeout: requestDeadline + 4*time.Second}
	status, _, cached := ft.createPAT(ctx, client, n, "fault-cached")
	if status != http.StatusCreated {
		t.Fatalf("create: %d", status)
	}
	status, _, uncached := ft.createPAT(ctx, client, n, "fault-uncached")
	if status != http.StatusCreated {
		t.Fatalf("create: %d", status)
	}
	for range 2 {
		if got := verifyCode(ctx, client, n, cached); got != string(gatehouse.CodeValid) {
			t.Fatalf("verify before the latency: %s", got)
		}
	}
	// Open the pool's connections before the latency, as a running node
	// has them.
	var warm sync.WaitGroup
	for i := range 8 {
		warm.Go(func() { ft.createPAT(ctx, client, n, fmt.Sprintf("fault-warm-%d", i)) })
	}
	warm.Wait()

	proxy.add("latency", "latency", "downstream", 1, `{"latency":2000}`)
	start := time.Now()
	l := newLedger()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { l.createAndMaybeRevoke(ctx, ft, client, n, fmt.Sprintf("fault-%d", i), i%2 == 0) })
	}
	wg.Go(func() {
		vstart := time.Now()
		got := verifyCode(ctx, client, n, uncached)
		l.count("verify "+got, 200, vstart)
		if got != string(gatehouse.CodeValid) && got != http.StatusText(http.StatusServiceUnavailable) {
			t.Errorf("uncached verify under latency: %s", got)
		}
	})
	// The cached answer does not wait for the database.
	for i := 0; i < 20; i++ {
		vstart := time.Now()
		got := verifyCode(ctx, client, n, cached)
		if d := time.Since(vstart); got != string(gatehouse.CodeValid) || d > 500*time.Millisecond {
			t.Errorf("cached verify under latency: %s after %v", got, d.Round(time.Millisecond))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	proxy.remove("latency")
	t.Logf("under 2 s of latency: everything answered within %v; slowest answers %v", time.Since(start).Round(time.Millisecond), l.slowest)
	// No answer at all (0) is a client that gave up: late, below.
	l.wantOnly(t, "create 201", "create 503", "create 0", "revoke 204", "revoke 503", "revoke 0", "verify VALID 200", "verify Service Unavailable 200")
	// Every request may have met its deadline (503): then there is no
	// acknowledgement to check.
	var half []string
	if len(l.created) > 0 {
		half = l.checkAcknowledged(t, direct, ft, startFaultNode(t, direct, nil))
	}
	var late []string
	for op, d := range l.slowest {
		if d > requestDeadline+2*time.Second {
			late = append(late, fmt.Sprintf("%s after %v", op, d.Round(time.Millisecond)))
		}
	}
	if len(late) > 0 {
		t.Errorf("under 2 s of database latency, answers came past the %v request deadline: %v", requestDeadline, late)
	}
	wantWhole(t, half)
}

// TestToxiproxyOutage cuts node B off PostgreSQL for 10 s (the proxy is
// disabled: connections refused, open ones closed) while node A revokes
// tokens B has cached: B fails closed (a credential it has not cached is
// 503, never VALID), its change feed comes back with a resynchronisation,
// and within a second of the database's return B refuses every token
// revoked while it was cut off (its cache TTL is far longer: only the
// resynchronisation can have dropped them).
func TestToxiproxyOutage(t *testing.T) {
	direct := sqlstoretest.PostgresURL(t)
	proxy := newPGProxy(t, pgHost(t, direct))
	a := startFaultNode(t, direct, nil)
	b := startFaultNode(t, proxy.proxied(direct, 2), func(c *config.Config) { c.CacheTTL = time.Minute })
	if b.s.Store.ListenerPID() == 0 {
		t.Fatal("node B is not listening for changes")
	}
	ft := newFaultTenant(t, a, "outage")
	ctx := context.Background()
	client := &http.Client{Timeout: requestDeadline + 5*time.Second}
	mint := func(name string) (id, tok string) {
		t.Helper()
		status, id, tok := ft.createPAT(ctx, client, a, name)
		if status != http.StatusCreated {
			t.Fatalf("create on A: %d", status)
		}
		return id, tok
	}
	type pat struct{ id, tok string }
	var cached []pat
	for i := range 6 {
		id, tok := mint(fmt.Sprintf("fault-%d", i))
		for range 2 {
			if got := verifyCode(ctx, client, b, tok); got != string(gatehouse.CodeValid) {
				t.Fatalf("B before the outage: %s", got)
			}
		}
		cached = append(cached, pat{id, tok})
	}
	_, unseen := mint("fault-unseen")

	proxy.p.Stop()
	cut := time.Now()
	for b.s.Store.ListenerPID() != 0 {
		if time.Since(cut) > 5*time.Second {
			t.Fatal("node B's listener did not notice the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Revocations on A while B is cut off: their notifications never
	// reach B.
	for _, p := range cached[:4] {
		if status := ft.revokePAT(ctx, client, a, p.id); status != http.StatusNoContent {
			t.Fatalf("revoke on A: %d", status)
		}
	}
	// B fails closed for what it has not cached, all through the outage.
	for time.Since(cut) < 10*time.Second {
		vstart := time.Now()
		if got := verifyCode(ctx, client, b, unseen); got != http.StatusText(http.StatusServiceUnavailable) {
			t.Fatalf("B cut off answers %s for a credential it has not cached, want 503", got)
		}
		if d := time.Since(vstart); d > requestDeadline {
			t.Fatalf("B cut off took %v to answer", d)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := proxy.p.Start(); err != nil {
		t.Fatalf("restore the proxy: %v", err)
	}
	restored := time.Now()
	// Within a second of the database's return, B refuses every revoked
	// token and still accepts the others.
	pending := map[string]bool{}
	for _, p := range cached[:4] {
		pending[p.tok] = true
	}
	for len(pending) > 0 {
		if time.Since(restored) > pushDeadline {
			t.Fatalf("%v after the database returned, node B still does not refuse %d of 4 revoked tokens (listener pid %d)",
				time.Since(restored).Round(time.Millisecond), len(pending), b.s.Store.ListenerPID())
		}
		for tok := range pending {
			if verifyCode(ctx, client, b, tok) == string(gatehouse.CodeRevoked) {
				delete(pending, tok)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("B refused every token revoked during the 10 s outage %v after the database returned", time.Since(restored).Round(time.Millisecond))
	if b.s.Store.ListenerPID() == 0 {
		t.Error("node B refuses the revoked tokens but does not listen again")
	}
	for _, p := range cached[4:] {
		if got := verifyCode(ctx, client, b, p.tok); got != string(gatehouse.CodeValid) {
			t.Errorf("B after the outage: %s for a live token", got)
		}
	}
	if got := verifyCode(ctx, client, b, unseen); got != string(gatehouse.CodeValid) {
		t.Errorf("B after the outage: %s for a live token it had not cached", got)
	}
	// And a revocation after the outage reaches B through the feed.
	if status := ft.revokePAT(ctx, client, a, cached[4].id); status != http.StatusNoContent {
		t.Fatalf("revoke on A: %d", status)
	}
	revoked := time.Now()
	for verifyCode(ctx, client, b, cached[4].tok) != string(gatehouse.CodeRevoked) {
		if time.Since(revoked) > pushDeadline {
			t.Fatal("after the outage, a revocation on A did not reach B within a second")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTerminateListenerDuringRevocations revokes 40 PATs on node A, one
// every 25 ms, while node B's LISTEN connection is killed with
// pg_terminate_backend in the middle: B, whose cache TTL is a minute,
// refuses every one of them within a second of its revocation.
func TestTerminateListenerDuringRevocations(t *testing.T) {
	direct := sqlstoretest.PostgresURL(t)
	a := startFaultNode(t, direct, nil)
	b := startFaultNode(t, direct, func(c *config.Config) { c.CacheTTL = time.Minute })
	ft := newFaultTenant(t, a, "terminate")
	ctx := context.Background()
	client := &http.Client{Timeout: requestDeadline + 5*time.Second}
	type pat struct {
		id, tok string
		at      time.Time // revocation acknowledged
	}
	pats := make([]*pat, 40)
	for i := range pats {
		status, id, tok := ft.createPAT(ctx, client, a, fmt.Sprintf("fault-%d", i))
		if status != http.StatusCreated {
			t.Fatalf("create on A: %d", status)
		}
		for range 2 {
			if got := verifyCode(ctx, client, b, tok); got != string(gatehouse.CodeValid) {
				t.Fatalf("B before the burst: %s", got)
			}
		}
		pats[i] = &pat{id: id, tok: tok}
	}
	pg, err := sql.Open("pgx", direct)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	acked := make(chan *pat, len(pats))
	var terminatedPID uint32
	go func() {
		defer close(acked)
		for i, p := range pats {
			if i == len(pats)/3 {
				terminatedPID = b.s.Store.ListenerPID()
				var ok bool
				if err := pg.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", int64(terminatedPID)).Scan(&ok); err != nil || !ok {
					t.Errorf("pg_terminate_backend(%d) = %v, %v", terminatedPID, ok, err)
				}
			}
			if status := ft.revokePAT(ctx, client, a, p.id); status != http.StatusNoContent {
				t.Errorf("revoke on A: %d", status)
				return
			}
			p.at = time.Now()
			acked <- p
			time.Sleep(25 * time.Millisecond)
		}
	}()
	// One checker cycles over the revoked tokens B has not refused yet.
	var pending []*pat
	var worst time.Duration
	refused := 0
	for open := true; open || len(pending) > 0; {
		for more := true; more; {
			select {
			case p, ok := <-acked:
				if !ok {
					open, more = false, false
					break
				}
				pending = append(pending, p)
			default:
				more = false
			}
		}
		kept := pending[:0]
		for _, p := range pending {
			got := verifyCode(ctx, client, b, p.tok)
			d := time.Since(p.at)
			switch {
			case got == string(gatehouse.CodeRevoked):
				worst = max(worst, d)
				refused++
			case d > pushDeadline:
				t.Fatalf("node B still answers %s for a token revoked %v ago (listener pid %d, terminated %d)",
					got, d.Round(time.Millisecond), b.s.Store.ListenerPID(), terminatedPID)
			default:
				kept = append(kept, p)
			}
		}
		pending = kept
		time.Sleep(5 * time.Millisecond)
	}
	if refused != len(pats) {
		t.Fatalf("%d of %d revocations checked", refused, len(pats))
	}
	if pid := b.s.Store.ListenerPID(); pid == 0 || pid == terminatedPID {
		t.Fatalf("node B's listener is not back on a new connection (pid %d)", pid)
	}
	t.Logf("B refused all %d revoked tokens, the slowest %v after its revocation", refused, worst.Round(time.Millisecond))
}

// pgHost is the host:port of a PostgreSQL URL.
func pgHost(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
