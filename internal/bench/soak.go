package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/janitor"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// The soak run (issue 12, `make soak`): a Gatehouse in this process under
// a modest mixed load for a long time, sampled every interval — resident
// memory, goroutines, open files, the p99 latency of the interval and the
// database's size — into a CSV and a PNG, with a verdict per metric: flat
// when the mean of the last third of the samples is within 10 % of the
// first third's (for p99, which spikes on a shared host: the thirds'
// medians, and only growth fails).
//
// The mix: POST /api/v1/verify with a cached PAT, with one of a thousand
// stored API keys, and with unknown tokens (a database read each); GETs
// through the gateway; and, behind it, the rows the janitor exists for —
// authorization codes, single-use marks and console sessions that expire
// ChurnLife after they are written, through the store, ChurnRate of each a
// second. Nothing in the mix creates rows that outlive the run (tokens
// issued over HTTP live an hour), so a database that grows is a janitor
// that does not keep up.

// SoakOptions configure a soak run.
type SoakOptions struct {
	// Duration is the sampled time (after Warmup).
	Duration time.Duration
	// Warmup runs the load before the first sample (caches, pools and the
	// janitor's first rounds settle); default Duration/10, 20 s to 2 min.
	Warmup time.Duration
	// Interval between samples (10 s).
	Interval time.Duration
	// Database: "" is a temporary SQLite file; a postgres:// URL gets a
	// schema of its own, dropped at the end.
	Database string
	// Rate is the HTTP requests per second of the whole mix (200), spread
	// over Concurrency clients (8).
	Rate, Concurrency int
	// ChurnRate rows of each prunable kind a second (10), each expiring
	// ChurnLife (10 s) after it is written.
	ChurnRate int
	ChurnLife time.Duration
	// CSV and PNG are where the samples and the plot go.
	CSV, PNG string
	// Progress receives a line per sample.
	Progress io.Writer
}

// Sample is one row of the CSV.
type Sample struct {
	Elapsed    time.Duration
	RSS        int64 // bytes
	Goroutines int
	OpenFiles  int
	P99        float64 // ms, over the interval
	Requests   int64   // in the interval
	Errors     int64
	DBBytes    int64
}

// Verdict compares a metric's first and last thirds.
type Verdict struct {
	Metric      string
	First, Last float64
	Change      float64 // percent
	Flat        bool
}

// SoakReport is a run's outcome.
type SoakReport struct {
	Database string
	Samples  []Sample
	Verdicts []Verdict
	// FirstError is the first failed request, if any.
	FirstError string
	// Vacuumed: the PostgreSQL server runs without autovacuum, and the
	// soak vacuumed the schema before each sample.
	Vacuumed bool
	// Pruned is the janitor's gatehouse_janitor_pruned_total lines at the
	// end of the run.
	Pruned []string
}

// prunedTotals scrapes the janitor's counters from the metrics handler.
func prunedTotals(h http.Handler) []string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var out []string
	for l := range strings.SplitSeq(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "gatehouse_janitor_pruned_total{") {
			out = append(out, l)
		}
	}
	return out
}

func (o *SoakOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Warmup <= 0 {
		o.Warmup = min(2*time.Minute, max(20*time.Second, o.Duration/10))
	}
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.ChurnRate <= 0 {
		o.ChurnRate = 10
	}
	if o.ChurnLife <= 0 {
		o.ChurnLife = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Soak runs the soak test and writes opts.CSV and opts.PNG.
func Soak(ctx context.Context, opts SoakOptions) (*SoakReport, error) {
	opts.defaults()
	if opts.Duration < 3*opts.Interval {
		return nil, fmt.Errorf("duration %v: want at least three intervals (%v)", opts.Duration, 3*opts.Interval)
	}
	rep := &SoakReport{}
	db := opts.Database
	if config.IsPostgres(db) {
		u, drop, err := soakSchema(ctx, db)
		if err != nil {
			return nil, err
		}
		defer drop()
		db = u
	}
	upstreamBody := []byte(`{"sku":"soak","price":1}`)
	upstream, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(upstreamBody)
	}))
	if err != nil {
		return nil, err
	}
	defer upstream.Close()
	bopts := &Options{Database: db, Tokens: 1000, Progress: opts.Progress,
		// Prune what the churn writes soon after it dies, so a run of
		// minutes reaches its steady state.
		janitor: janitor.Options{Interval: opts.ChurnLife / 2, Skew: opts.ChurnLife / 2}}
	brep := &Report{}
	t, err := startInProcess(ctx, bopts, upstream.URL, brep)
	if err != nil {
		return nil, err
	}
	defer t.close()
	rep.Database = brep.Run.Database

	// PostgreSQL reuses the space of deleted rows once they are vacuumed:
	// autovacuum's work, on by default. Test servers often turn it off;
	// then the soak vacuums before each sample, as autovacuum would.
	if config.IsPostgres(db) {
		if rep.Vacuumed, err = autovacuumOff(ctx, db); err != nil {
			return nil, err
		}
	}
	size, closeSize, err := dbSize(t.srv.Config.DatabaseURL, &rep.Vacuumed)
	if err != nil {
		return nil, err
	}
	defer closeSize()

	header := func() http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + t.callerToken}}
	}
	unknown := make([][]byte, 1000)
	for i := range unknown {
		unknown[i] = verifyBody(secret.NewToken(gatehouse.KindPAT), t.resource)
	}
	many := make([][]byte, len(t.many))
	for i, tok := range t.many {
		many[i] = verifyBody(tok, t.resource)
	}
	checkUnknown := func(status int, body []byte) error {
		if status != http.StatusOK || !bytes.Contains(body, []byte(`"UNKNOWN"`)) {
			return fmt.Errorf("verify unknown: status %d: %.200s", status, body)
		}
		return nil
	}
	mix := []Scenario{
		{Name: "verify", Method: http.MethodPost, URL: t.base + "/api/v1/verify", Header: header(),
			Bodies: [][]byte{verifyBody(t.token, t.resource)}, Check: checkValid},
		{Name: "verify_many", Method: http.MethodPost, URL: t.base + "/api/v1/verify", Header: header(),
			Bodies: many, Check: checkValid},
		{Name: "verify_unknown", Method: http.MethodPost, URL: t.base + "/api/v1/verify", Header: header(),
			Bodies: unknown, Check: checkUnknown},
		{Name: "gateway", Method: http.MethodGet, URL: t.base + t.gatewayPath,
			Header: http.Header{"Authorization": {"Bearer " + t.token}}},
	}

	var (
		mu       sync.Mutex
		window   []int64
		requests int64
		errs     int64
	)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	per := time.Duration(float64(time.Second) * float64(opts.Concurrency) / float64(opts.Rate))
	for w := range opts.Concurrency {
		sc := mix[w%len(mix)]
		tmpl, err := newTemplate(sc)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &worker{id: w, conn: conn{t: tmpl}}
			defer wk.conn.close()
			next := time.Now()
			for k := 0; loadCtx.Err() == nil; k++ {
				var body []byte
				if len(sc.Bodies) > 0 {
					body = sc.Bodies[(w+k*opts.Concurrency)%len(sc.Bodies)]
				}
				t0 := time.Now()
				err := wk.do(sc, body)
				d := time.Since(t0)
				mu.Lock()
				requests++
				if err != nil {
					errs++
					if rep.FirstError == "" {
						rep.FirstError = sc.Name + ": " + err.Error()
					}
				} else {
					window = append(window, int64(d))
				}
				mu.Unlock()
				next = next.Add(per)
				sleep(loadCtx, time.Until(next))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		churn(loadCtx, t.srv.Store, opts.ChurnRate, opts.ChurnLife)
	}()

	fmt.Fprintf(opts.Progress, "soak: %s, %d req/s over %d clients, warming up for %v\n", rep.Database, opts.Rate, opts.Concurrency, opts.Warmup)
	sleep(ctx, opts.Warmup)
	mu.Lock()
	window, requests, errs = window[:0], 0, 0
	mu.Unlock()
	start := time.Now()
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for time.Since(start) < opts.Duration-opts.Interval/2 {
		select {
		case <-ctx.Done():
			stopLoad()
			wg.Wait()
			return nil, ctx.Err()
		case <-tick.C:
		}
		mu.Lock()
		lat := window
		window = make([]int64, 0, len(lat))
		s := Sample{Elapsed: time.Since(start).Round(time.Second), Requests: requests, Errors: errs}
		requests, errs = 0, 0
		mu.Unlock()
		slices.Sort(lat)
		s.P99 = quantile(lat, 0.99)
		s.RSS, s.OpenFiles = procStats()
		s.Goroutines = runtime.NumGoroutine()
		if s.DBBytes, err = size(ctx); err != nil {
			return nil, fmt.Errorf("database size: %w", err)
		}
		rep.Samples = append(rep.Samples, s)
		fmt.Fprintf(opts.Progress, "soak: %6v rss %6.1f MiB  goroutines %4d  files %3d  p99 %6.2f ms  req %6d  err %d  db %7.1f KiB\n",
			s.Elapsed, float64(s.RSS)/(1<<20), s.Goroutines, s.OpenFiles, s.P99, s.Requests, s.Errors, float64(s.DBBytes)/1024)
	}
	stopLoad()
	wg.Wait()
	rep.verdicts()
	rep.Pruned = prunedTotals(t.srv.Metrics.Handler())
	if opts.CSV != "" {
		if err := rep.writeCSV(opts.CSV); err != nil {
			return nil, err
		}
	}
	if opts.PNG != "" {
		if err := writePlot(opts.PNG, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// churn writes, rate times a second each, an authorization code, a
// single-use mark and a console session that die life later.
func churn(ctx context.Context, st gatehouse.Store, rate int, life time.Duration) {
	tn := &gatehouse.Tenant{Slug: "soak-churn-" + hex.EncodeToString(randomBytes(4)), Name: "soak churn", Plan: gatehouse.PlanStandard}
	u := &gatehouse.User{Email: tn.Slug + "@soak.test"}
	if st.CreateTenant(ctx, tn) != nil || st.CreateUser(ctx, u) != nil {
		return
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		h := sha256.Sum256(randomBytes(16))
		st.CreateAuthCode(ctx, &gatehouse.AuthCode{Hash: h[:], TenantID: tn.ID, ClientID: "APIK-SOAK", UserID: u.ID,
			RedirectURI: "https://app.example.com/cb", GrantID: "soak", ExpiresAt: now.Add(life), CreatedAt: now})
		st.ConsumeOnce(ctx, "soak", hex.EncodeToString(h[:]), now, now.Add(life))
		s := sha256.Sum256(h[:])
		st.CreateSession(ctx, &gatehouse.Session{Hash: s[:], UserID: u.ID, CSRFKey: h[:], CreatedAt: now, ExpiresAt: now.Add(life)})
	}
}

// procStats reads this process's resident set size and open descriptors.
func procStats() (rss int64, files int) {
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				rss = kb << 10
			}
		}
		f.Close()
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		files = len(ents)
	}
	return rss, files
}

// dbSize returns a function measuring the database: the SQLite file with
// its -wal and -shm, or the PostgreSQL schema's relations (tables, their
// indexes and TOAST: pg_total_relation_size).
// With *vacuum set (PostgreSQL without autovacuum) it vacuums the schema
// before it measures.
func dbSize(databaseURL string, vacuum *bool) (func(context.Context) (int64, error), func(), error) {
	if !config.IsPostgres(databaseURL) {
		path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite://"), "sqlite:")
		return func(context.Context) (int64, error) {
			var n int64
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if fi, err := os.Stat(path + suffix); err == nil {
					n += fi.Size()
				} else if suffix == "" {
					return 0, err
				}
			}
			return n, nil
		}, func() {}, nil
	}
	db, _, err := sqlstore.OpenRaw(databaseURL)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	return func(ctx context.Context) (int64, error) {
		if *vacuum {
			if err := vacuumSchema(ctx, db); err != nil {
				return 0, err
			}
		}
		var n int64
		err := db.QueryRowContext(ctx, `
			SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
		return n, err
	}, func() { db.Close() }, nil
}

// vacuumSchema runs a plain VACUUM (no lock against readers or writers)
// on every table of the schema: what autovacuum does where it is on.
func vacuumSchema(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, `VACUUM "`+strings.ReplaceAll(t, `"`, `""`)+`"`); err != nil {
			return err
		}
	}
	return nil
}

// autovacuumOff reports whether the PostgreSQL server runs without
// autovacuum (test servers often do).
func autovacuumOff(ctx context.Context, databaseURL string) (bool, error) {
	db, _, err := sqlstore.OpenRaw(databaseURL)
	if err != nil {
		return false, err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, `SHOW autovacuum`).Scan(&v); err != nil {
		return false, err
	}
	return v == "off", nil
}

// soakSchema creates a schema of its own in the PostgreSQL database and
// returns a URL selecting it, and a func dropping it.
func soakSchema(ctx context.Context, raw string) (string, func(), error) {
	schema := "gh_soak_" + hex.EncodeToString(randomBytes(6))
	admin, err := sql.Open("pgx", raw)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create soak schema: %w", err)
	}
	drop := func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}
	u, err := url.Parse(raw)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// metricsOf are the plotted and judged series, in the plot's order (top
// to bottom).
var metricsOf = []struct {
	name  string
	value func(Sample) float64
}{
	{"rss_bytes", func(s Sample) float64 { return float64(s.RSS) }},
	{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }},
	{"open_files", func(s Sample) float64 { return float64(s.OpenFiles) }},
	{"db_bytes", func(s Sample) float64 { return float64(s.DBBytes) }},
	{"p99_ms", func(s Sample) float64 { return s.P99 }},
}

func (r *SoakReport) verdicts() {
	n := len(r.Samples)
	third := max(1, n/3)
	mean := func(ss []Sample, f func(Sample) float64) float64 {
		sum := 0.0
		for _, s := range ss {
			sum += f(s)
		}
		return sum / float64(len(ss))
	}
	median := func(ss []Sample, f func(Sample) float64) float64 {
		vs := make([]float64, len(ss))
		for i, s := range ss {
			vs[i] = f(s)
		}
		slices.Sort(vs)
		return vs[len(vs)/2]
	}
	for _, m := range metricsOf {
		first, last := mean(r.Samples[:third], m.value), mean(r.Samples[n-third:], m.value)
		if m.name == "p99_ms" {
			// A p99 of 10 s on a shared host has single-window spikes (a
			// neighbour's burst, a GC): the thirds' medians say whether
			// latency drifts; and only growth is a failure.
			first, last = median(r.Samples[:third], m.value), median(r.Samples[n-third:], m.value)
		}
		change := 0.0
		if first != 0 {
			change = (last - first) / first * 100
		}
		flat := math.Abs(change) <= 10
		if m.name == "p99_ms" {
			flat = change <= 10
		}
		r.Verdicts = append(r.Verdicts, Verdict{Metric: m.name, First: first, Last: last, Change: change, Flat: flat})
	}
}

// Flat reports whether every judged metric is flat.
func (r *SoakReport) Flat() bool {
	for _, v := range r.Verdicts {
		if !v.Flat {
			return false
		}
	}
	return len(r.Verdicts) > 0
}

func (r *SoakReport) writeCSV(path string) error {
	var b strings.Builder
	b.WriteString("elapsed_s,rss_bytes,goroutines,open_files,p99_ms,requests,errors,db_bytes\n")
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "%d,%d,%d,%d,%.3f,%d,%d,%d\n", int(s.Elapsed.Seconds()), s.RSS, s.Goroutines, s.OpenFiles,
			s.P99, s.Requests, s.Errors, s.DBBytes)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// WriteSummary prints one line per metric: the first and last thirds'
// means, the change and the verdict.
func (r *SoakReport) WriteSummary(w io.Writer) error {
	var errs []error
	p := func(format string, args ...any) {
		_, err := fmt.Fprintf(w, format, args...)
		errs = append(errs, err)
	}
	var total, failed int64
	for _, s := range r.Samples {
		total += s.Requests
		failed += s.Errors
	}
	p("soak summary: %s, %d samples, %d requests, %d failed\n", r.Database, len(r.Samples), total, failed)
	for _, v := range r.Verdicts {
		verdict := "flat"
		if !v.Flat {
			verdict = "NOT FLAT"
		}
		p("  %-11s first third %14.2f  last third %14.2f  change %+7.2f %%  %s\n", v.Metric, v.First, v.Last, v.Change, verdict)
	}
	if r.Vacuumed {
		p("  autovacuum is off on this server: the soak ran VACUUM on the schema before each sample\n")
	}
	p("  plot panels, top to bottom: rss, goroutines, open files, database size, p99 (band: ±10 %% of the first third)\n")
	for _, l := range r.Pruned {
		p("  %s\n", l)
	}
	if r.FirstError != "" {
		p("  first error: %s\n", r.FirstError)
	}
	return errors.Join(errs...)
}
