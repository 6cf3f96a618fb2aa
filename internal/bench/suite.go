package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/janitor"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// Scenario names, as they appear in the table and the JSON.
const (
	Ceiling    = "ceiling"     // (a) plain net/http handler answering 200
	Verify     = "verify"      // (b) POST /api/v1/verify, one cached valid token
	Verify100k = "verify_100k" // (c) the same cycling over 100 000 stored tokens, all cached
	Gateway    = "gateway"     // (d) GET through the gateway to a trivial upstream
	Direct     = "direct"      // (e) the same upstream called directly
	Issuance   = "issuance"    // (f) POST /oauth2/token, client_credentials

	// With Options.Floor (floor.go): the same GET as (d) through the
	// thinnest net/http forwarder, and through a bare ReverseProxy.
	ProxyFloor = "proxy_floor"
	BareProxy  = "bare_proxy"
)

// Defaults of Options.
const (
	DefaultDuration    = 10 * time.Second
	DefaultConcurrency = 64
	DefaultTokens      = 100_000
	// MaxDuration and MaxConcurrency bound a run (the command is meant to
	// be run on a live node; it should not be able to run away).
	MaxDuration    = 5 * time.Minute
	MaxConcurrency = 4096
	// inProcessCacheTTL is the verification cache TTL of the in-process
	// Gatehouse. A single node has no other node to miss changes from
	// (its own changes invalidate the cache at once), so the TTL is only
	// a safety net there; with the 5 s default, scenario (c) would measure
	// SQLite re-reads of 100 000 tokens instead of a warm cache.
	inProcessCacheTTL = time.Hour
)

// Options configure a benchmark run.
type Options struct {
	// Duration of each scenario's measurement (DefaultDuration).
	Duration time.Duration
	// Concurrency is the number of client goroutines, each with its own
	// keep-alive connection (DefaultConcurrency).
	Concurrency int
	// Database is where the in-process Gatehouse keeps its data: "" is a
	// temporary SQLite file, or a database URL (postgres://…). The run
	// creates a throwaway tenant with Tokens credentials in it: use a
	// scratch database.
	Database string
	// Tokens is the number of distinct credentials of scenario (c)
	// (DefaultTokens).
	Tokens int

	// Target, when set, measures a running deployment instead of an
	// in-process one: (a) runs locally, (b) needs Token (a credential
	// holding the verify resource; it verifies itself), (f) needs
	// ClientID and ClientSecret (a confidential app allowed
	// client_credentials); (c), (d) and (e) need control of the store and
	// the upstream and are skipped.
	Target                 string
	Token                  string
	ClientID, ClientSecret string

	// CPUProfile, when set, is a path prefix: the first round of each
	// scenario writes a CPU profile of the whole process (client and
	// server) to PREFIX.<scenario>.pprof.
	CPUProfile string

	// Floor adds the proxy_floor and bare_proxy scenarios (floor.go),
	// which show what bounds d/e on this machine.
	Floor bool

	// Progress receives one line per step (default: discarded).
	Progress io.Writer

	// janitor tunes the in-process server's janitor (the soak run).
	janitor janitor.Options
}

// Report is a run's outcome; its JSON is what `gatehouse bench --json`
// prints.
type Report struct {
	Results []Result `json:"results"`
	Ratios  Ratios   `json:"ratios"`
	// GatewayAddedP50 is the gateway's added median latency, d.p50 − e.p50,
	// measured by the latency probe: one client, so that the figure is the
	// hop's own cost. Under the main load (N clients in a closed loop) a
	// median is queueing — by Little's law p50 ≈ N / throughput — so the
	// loaded difference, GatewayAddedP50Loaded, only restates d/e.
	GatewayAddedP50       *float64 `json:"gateway_added_p50_ms,omitempty"`
	GatewayAddedP50Loaded *float64 `json:"gateway_added_p50_loaded_ms,omitempty"`
	// Latency holds the probe's results (gateway and direct, one client).
	Latency []Result `json:"latency,omitempty"`
	Run     RunInfo  `json:"run"`
}

// Ratios are issue 6's figures of merit; a ratio whose scenarios did not
// run is absent.
type Ratios struct {
	VerifyVsCeiling     *float64 `json:"verify_vs_ceiling,omitempty"`      // b/a
	Verify100kVsCeiling *float64 `json:"verify_100k_vs_ceiling,omitempty"` // c/a
	GatewayVsDirect     *float64 `json:"gateway_vs_direct,omitempty"`      // d/e
	IssuanceVsCeiling   *float64 `json:"issuance_vs_ceiling,omitempty"`    // f/a
	// With Options.Floor: the same GET as d through the thinnest net/http
	// forwarder, and through a bare ReverseProxy, against direct.
	ProxyFloorVsDirect *float64 `json:"proxy_floor_vs_direct,omitempty"`
	BareProxyVsDirect  *float64 `json:"bare_proxy_vs_direct,omitempty"`
}

// RunInfo records the conditions of the run.
type RunInfo struct {
	Concurrency int      `json:"concurrency"`
	DurationS   float64  `json:"duration_s"`
	GOMAXPROCS  int      `json:"gomaxprocs"`
	NumCPU      int      `json:"num_cpu"`
	Database    string   `json:"database,omitempty"`
	Target      string   `json:"target,omitempty"`
	Tokens      int      `json:"tokens,omitempty"`
	Rounds      int      `json:"rounds"`
	GoVersion   string   `json:"go_version"`
	Skipped     []string `json:"skipped,omitempty"`
}

// Validate checks bounds (zero values are errors: the command's flags
// carry the defaults).
func (o *Options) Validate() error {
	var errs []error
	if o.Duration < 10*time.Millisecond || o.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("duration %v: want 10ms to %v", o.Duration, MaxDuration))
	}
	if o.Concurrency < 1 || o.Concurrency > MaxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1 to %d", o.Concurrency, MaxConcurrency))
	}
	if o.Tokens < 1 || o.Tokens > 10_000_000 {
		errs = append(errs, fmt.Errorf("tokens %d: want 1 to 10000000", o.Tokens))
	}
	if o.Target != "" {
		u, err := url.Parse(o.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("target %q: want an absolute http(s) URL", o.Target))
		}
		if o.Database != "" {
			errs = append(errs, errors.New("--database and --target exclude each other: the target uses its own database"))
		}
		if (o.ClientID == "") != (o.ClientSecret == "") {
			errs = append(errs, errors.New("--client-id and --client-secret go together"))
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return errors.Join(errs...)
}

// rounds is how many turns each scenario takes: five for runs of a
// second or more per scenario, else one.
func (o *Options) rounds() int {
	if o.Duration >= time.Second {
		return 5
	}
	return 1
}

// startProfile starts a CPU profile of the first round of a scenario when
// CPUProfile is set; the returned func stops it.
func (o *Options) startProfile(name string, round int) (stop func(), err error) {
	if o.CPUProfile == "" || round > 0 {
		return func() {}, nil
	}
	f, err := os.Create(o.CPUProfile + "." + name + ".pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// warmup is how long each scenario runs before it is first measured.
func (o *Options) warmup() time.Duration {
	return min(time.Second, max(o.Duration/5, 20*time.Millisecond))
}

// Run performs the whole benchmark.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Run: RunInfo{
		Concurrency: opts.Concurrency,
		DurationS:   opts.Duration.Seconds(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		NumCPU:      runtime.NumCPU(),
		Target:      opts.Target,
		GoVersion:   runtime.Version(),
	}}

	// The ceiling and the trivial upstream are plain net/http servers in
	// this process, on loopback, configured like Gatehouse's own.
	ceiling, err := listen(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if err != nil {
		return nil, err
	}
	defer ceiling.Close()
	upstreamBody := []byte(`{"sku":"bench","price":1}`)
	upstream, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(upstreamBody)
	}))
	if err != nil {
		return nil, err
	}
	defer upstream.Close()

	var t *target
	if opts.Target == "" {
		t, err = startInProcess(ctx, &opts, upstream.URL, rep)
		if err != nil {
			return nil, err
		}
		defer t.close()
	} else {
		t = &target{base: strings.TrimRight(opts.Target, "/"), callerToken: opts.Token, token: opts.Token,
			clientID: opts.ClientID, clientSecret: opts.ClientSecret}
	}

	var scenarios []Scenario
	skip := func(name, why string) {
		fmt.Fprintf(opts.Progress, "bench: %-12s skipped: %s\n", name, why)
		rep.Run.Skipped = append(rep.Run.Skipped, name+": "+why)
	}

	scenarios = append(scenarios, Scenario{Name: Ceiling, Title: "plain net/http handler, 200",
		Method: http.MethodGet, URL: ceiling.URL + "/"})

	verifyHeader := func() http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + t.callerToken}}
	}
	if t.token != "" {
		scenarios = append(scenarios, Scenario{Name: Verify, Title: "POST /api/v1/verify, cached valid token",
			Method: http.MethodPost, URL: t.base + "/api/v1/verify", Header: verifyHeader(),
			Bodies: [][]byte{verifyBody(t.token, t.resource)}, Check: checkValid})
	} else {
		skip(Verify, "needs --token with --target")
	}

	if len(t.many) > 0 {
		sc := Scenario{Name: Verify100k, Title: fmt.Sprintf("POST /api/v1/verify, %d stored tokens, all cached", len(t.many)),
			Method: http.MethodPost, URL: t.base + "/api/v1/verify", Header: verifyHeader(),
			Bodies: make([][]byte, len(t.many)), Check: checkValid}
		for i, tok := range t.many {
			sc.Bodies[i] = verifyBody(tok, t.resource)
		}
		fmt.Fprintf(opts.Progress, "bench: %-12s warming the cache with %d tokens\n", sc.Name, len(t.many))
		start := time.Now()
		if err := t.warm(ctx); err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Progress, "bench: %-12s warmed in %v\n", sc.Name, time.Since(start).Round(time.Millisecond))
		scenarios = append(scenarios, sc)
	} else {
		skip(Verify100k, "needs the store: runs in-process only")
	}

	if t.gatewayPath != "" {
		scenarios = append(scenarios,
			Scenario{Name: Gateway, Title: "GET through the gateway to a trivial upstream",
				Method: http.MethodGet, URL: t.base + t.gatewayPath,
				Header: http.Header{"Authorization": {"Bearer " + t.token}}},
			Scenario{Name: Direct, Title: "GET the same upstream directly",
				Method: http.MethodGet, URL: upstream.URL + t.gatewayPath})
		if opts.Floor {
			floor, bare, err := startFloor(upstream.URL)
			if err != nil {
				return nil, err
			}
			defer floor.Close()
			defer bare.Close()
			scenarios = append(scenarios,
				Scenario{Name: ProxyFloor, Title: "the same GET through the thinnest net/http forwarder, no checks",
					Method: http.MethodGet, URL: floor.URL + t.gatewayPath},
				Scenario{Name: BareProxy, Title: "the same GET through a bare ReverseProxy, no checks",
					Method: http.MethodGet, URL: bare.URL + t.gatewayPath})
		}
	} else {
		skip(Gateway, "needs the gateway's upstream: runs in-process only")
		skip(Direct, "runs with the gateway only")
	}

	if t.clientID != "" {
		form := []byte(url.Values{"grant_type": {gatehouse.GrantClientCredentials}}.Encode())
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(url.QueryEscape(t.clientID), url.QueryEscape(t.clientSecret))
		db := "the target's database"
		if opts.Target == "" {
			db = rep.Run.Database
		}
		scenarios = append(scenarios, Scenario{Name: Issuance, Title: "POST /oauth2/token client_credentials on " + db,
			Method: http.MethodPost, URL: t.base + "/oauth2/token",
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": req.Header["Authorization"]},
			Bodies: [][]byte{form}, Check: checkIssued})
	} else {
		skip(Issuance, "needs --client-id and --client-secret with --target")
	}

	// The scenarios take turns in rounds (a b c d e f, a b c d e f, …), so
	// a change in what else the machine is doing during the run weighs on
	// all of them alike instead of skewing the ratios.
	rounds := opts.rounds()
	rep.Run.Rounds = rounds
	recs := make([]recording, len(scenarios))
	for round := range rounds {
		for i, sc := range scenarios {
			l := Load{Concurrency: opts.Concurrency, Duration: opts.Duration / time.Duration(rounds),
				Warmup: opts.warmup()}
			if round > 0 {
				// Connections are open and caches warm: settle briefly.
				l.Warmup = min(l.Warmup, 100*time.Millisecond)
			}
			fmt.Fprintf(opts.Progress, "bench: round %d/%d %-12s %s (%v, %d clients)\n",
				round+1, rounds, sc.Name, sc.Title, l.Duration, l.Concurrency)
			// Each window starts with a clean heap: the garbage of set-up
			// or of the previous scenario is not collected on its time.
			runtime.GC()
			stopProfile, err := opts.startProfile(sc.Name, round)
			if err != nil {
				return nil, err
			}
			rec, err := record(ctx, sc, l)
			stopProfile()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", sc.Name, err)
			}
			recs[i].add(rec)
		}
	}
	for i, sc := range scenarios {
		rep.Results = append(rep.Results, recs[i].result(sc))
	}
	if err := rep.probeLatency(ctx, scenarios, &opts); err != nil {
		return nil, err
	}

	rep.ratios()
	return rep, nil
}

// ratios computes the ratios from the results that exist.
func (r *Report) ratios() {
	by := map[string]Result{}
	for _, res := range r.Results {
		by[res.Name] = res
	}
	ratio := func(num, den string) *float64 {
		n, ok1 := by[num]
		d, ok2 := by[den]
		if !ok1 || !ok2 || d.RPS == 0 {
			return nil
		}
		v := n.RPS / d.RPS
		return &v
	}
	r.Ratios = Ratios{
		VerifyVsCeiling:     ratio(Verify, Ceiling),
		Verify100kVsCeiling: ratio(Verify100k, Ceiling),
		GatewayVsDirect:     ratio(Gateway, Direct),
		IssuanceVsCeiling:   ratio(Issuance, Ceiling),

		ProxyFloorVsDirect: ratio(ProxyFloor, Direct),
		BareProxyVsDirect:  ratio(BareProxy, Direct),
	}
	r.GatewayAddedP50Loaded = addedP50(r.Results)
	r.GatewayAddedP50 = addedP50(r.Latency)
}

// addedP50 is the gateway's p50 minus the direct p50 in results, nil
// unless both ran.
func addedP50(results []Result) *float64 {
	var d, e *Result
	for i := range results {
		switch results[i].Name {
		case Gateway:
			d = &results[i]
		case Direct:
			e = &results[i]
		}
	}
	if d == nil || e == nil {
		return nil
	}
	v := d.P50 - e.P50
	return &v
}

// probeLatency measures the gateway and the direct scenario again with a
// single client, in alternating rounds, for the gateway's added latency
// (each gets a fifth of Duration).
func (r *Report) probeLatency(ctx context.Context, scenarios []Scenario, opts *Options) error {
	var probe []Scenario
	for _, sc := range scenarios {
		if sc.Name == Gateway || sc.Name == Direct {
			probe = append(probe, sc)
		}
	}
	if len(probe) != 2 {
		return nil
	}
	rounds := opts.rounds()
	recs := make([]recording, len(probe))
	for round := range rounds {
		for i, sc := range probe {
			l := Load{Concurrency: 1, Duration: opts.Duration / time.Duration(5*rounds), Warmup: min(opts.warmup(), 100*time.Millisecond)}
			fmt.Fprintf(opts.Progress, "bench: round %d/%d %-12s latency probe (%v, 1 client)\n", round+1, rounds, sc.Name, l.Duration)
			rec, err := record(ctx, sc, l)
			if err != nil {
				return fmt.Errorf("%s latency: %w", sc.Name, err)
			}
			recs[i].add(rec)
		}
	}
	for i, sc := range probe {
		res := recs[i].result(sc)
		res.Title += " (1 client)"
		r.Latency = append(r.Latency, res)
	}
	return nil
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "gatehouse bench: %d clients, %gs per scenario, GOMAXPROCS %d (%d CPUs), %s",
		r.Run.Concurrency, r.Run.DurationS, r.Run.GOMAXPROCS, r.Run.NumCPU, r.Run.GoVersion)
	if r.Run.Target != "" {
		fmt.Fprintf(&b, ", target %s", r.Run.Target)
	} else {
		fmt.Fprintf(&b, ", in-process on %s", r.Run.Database)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "%-12s %12s %9s %9s %9s %8s  %s\n", "scenario", "requests/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "what")
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-12s %12.0f %9.3f %9.3f %9.3f %8d  %s\n", res.Name, res.RPS, res.P50, res.P99, res.P999, res.Errors, res.Title)
	}
	b.WriteString("\n")
	line := func(name, formula string, v *float64, goal string) {
		if v == nil {
			fmt.Fprintf(&b, "%-24s %-6s %8s\n", name, formula, "—")
			return
		}
		fmt.Fprintf(&b, "%-24s %-6s %8.3f   (issue 6: %s)\n", name, formula, *v, goal)
	}
	line("verify_vs_ceiling", "b/a", r.Ratios.VerifyVsCeiling, "≥ 0.70")
	line("verify_100k_vs_ceiling", "c/a", r.Ratios.Verify100kVsCeiling, "≥ 0.65")
	line("gateway_vs_direct", "d/e", r.Ratios.GatewayVsDirect, "≥ 0.50")
	line("issuance_vs_ceiling", "f/a", r.Ratios.IssuanceVsCeiling, "≥ 0.08 on SQLite")
	if r.Ratios.ProxyFloorVsDirect != nil {
		fmt.Fprintf(&b, "%-24s %-6s %8.3f   (the bound on d/e: a second net/http hop, nothing else)\n",
			"proxy_floor_vs_direct", "", *r.Ratios.ProxyFloorVsDirect)
	}
	if r.Ratios.BareProxyVsDirect != nil {
		fmt.Fprintf(&b, "%-24s %-6s %8.3f   (httputil.ReverseProxy as the gateway's, no checks)\n",
			"bare_proxy_vs_direct", "", *r.Ratios.BareProxyVsDirect)
	}
	if r.GatewayAddedP50 != nil {
		fmt.Fprintf(&b, "%-24s %-6s %8.0f µs (issue 6: ≤ 150 µs; 1 client: gateway p50 %.0f µs, direct %.0f µs)\n",
			"gateway_added_p50", "d−e", *r.GatewayAddedP50*1000, r.Latency[0].P50*1000, r.Latency[1].P50*1000)
	}
	if r.GatewayAddedP50Loaded != nil {
		fmt.Fprintf(&b, "%-24s %-6s %8.0f µs (at %d clients: queueing, ≈ clients/throughput)\n",
			"gateway_added_p50_loaded", "d−e", *r.GatewayAddedP50Loaded*1000, r.Run.Concurrency)
	}
	for _, s := range r.Run.Skipped {
		fmt.Fprintf(&b, "skipped: %s\n", s)
	}
	for _, res := range r.Results {
		if res.FirstError != "" {
			fmt.Fprintf(&b, "%s: first error: %s\n", res.Name, res.FirstError)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteJSON prints the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func verifyBody(token, resource string) []byte {
	b, _ := json.Marshal(map[string]string{"credential": token, "resource": resource, "ip": "127.0.0.1"})
	return b
}

var validTrue = []byte(`"valid":true`)

func checkValid(status int, body []byte) error {
	if status != http.StatusOK || !bytes.Contains(body, validTrue) {
		return fmt.Errorf("verify: status %d: %.200s", status, body)
	}
	return nil
}

var accessToken = []byte(`"access_token"`)

func checkIssued(status int, body []byte) error {
	if status != http.StatusOK || !bytes.Contains(body, accessToken) {
		return fmt.Errorf("token: status %d: %.200s", status, body)
	}
	return nil
}

// local is a plain HTTP server on a loopback port.
type local struct {
	URL string
	srv *http.Server
}

func listen(h http.Handler) (*local, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go srv.Serve(ln)
	return &local{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (l *local) Close() error { return l.srv.Close() }

// target is the Gatehouse under test and the credentials to use on it.
type target struct {
	base         string
	callerToken  string // Bearer of /api/v1/verify (holds "verify")
	token        string // the credential verified in (b) and sent through the gateway
	resource     string // resource asked for in (b) and (c)
	many         []string
	gatewayPath  string
	clientID     string
	clientSecret string

	srv  *server.Server
	stop func()
	dir  string
}

func (t *target) close() {
	if t.stop != nil {
		t.stop()
	}
	if t.srv != nil {
		t.srv.Close()
	}
	if t.dir != "" {
		os.RemoveAll(t.dir)
	}
}

// warm verifies every token once so that (c) measures a warm cache. It
// asks the in-process verifier directly (much faster than over HTTP, and
// it fills the same cache: entries are keyed by the token's hash, not by
// the question); (c) runs in-process only.
func (t *target) warm(ctx context.Context) error {
	errc := make(chan error, runtime.GOMAXPROCS(0)*2)
	n := cap(errc)
	for w := range n {
		go func() {
			for i := w; i < len(t.many); i += n {
				res, err := t.srv.Verifier.Verify(ctx, verify.Request{Credential: t.many[i]})
				if err == nil && !res.Valid() {
					err = fmt.Errorf("warming token %d: %s", i, res.Code)
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	var errs []error
	for range n {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Warming used every token once, and each first use is written to
	// last_used_at; settle that write now rather than in a measured round.
	return t.srv.Verifier.Flush(ctx)
}

const gatewayRoutes = `routes:
  - method: GET
    path: /rest/V1/products/{sku}
    resource: catalog.products
`

// startInProcess starts a Gatehouse with server.New on a loopback port,
// with its gateway in front of upstream, and seeds a tenant, a verify
// caller token, a PAT, an OAuth app and opts.Tokens API keys.
func startInProcess(ctx context.Context, opts *Options, upstream string, rep *Report) (_ *target, err error) {
	t := &target{resource: "catalog.products", gatewayPath: "/rest/V1/products/bench"}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	db := opts.Database
	if db == "" {
		if t.dir, err = os.MkdirTemp("", "gatehouse-bench-"); err != nil {
			return nil, err
		}
		db = "sqlite:" + filepath.Join(t.dir, "gatehouse.db")
		rep.Run.Database = "SQLite (temporary file)"
	} else if config.IsPostgres(db) {
		rep.Run.Database = "PostgreSQL"
	} else {
		rep.Run.Database = "SQLite " + strings.TrimPrefix(db, "sqlite:")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	key := randomBytes(32)
	cfg := config.Default()
	cfg.Addr = ln.Addr().String()
	cfg.DatabaseURL = db
	cfg.SecretKey = hex.EncodeToString(key) // never write a key file
	cfg.CacheTTL = inProcessCacheTTL
	cfg.LogLevel = "error"
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return nil, err
	}
	up, _ := url.Parse(upstream)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	fmt.Fprintf(opts.Progress, "bench: starting Gatehouse on %s (%s)\n", cfg.Addr, rep.Run.Database)
	// The cache must hold every token of (c) with room to spare: its
	// shards evict at random once over their share.
	cacheSize := max(verify.DefaultCacheSize, 2*opts.Tokens)
	s, err := server.New(ctx, cfg, server.Options{Log: log, Upstream: up, Routes: []byte(gatewayRoutes), VerifyCacheSize: cacheSize,
		Janitor: opts.janitor})
	if err != nil {
		ln.Close()
		return nil, err
	}
	t.srv = s
	t.base = "http://" + cfg.Addr
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx, ln)
	}()
	t.stop = func() { cancel(); <-done }

	if err := t.seed(ctx, s, opts, rep); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *target) seed(ctx context.Context, s *server.Server, opts *Options, rep *Report) error {
	slug := "bench-" + hex.EncodeToString(randomBytes(4))
	tenant, err := s.Admin.CreateTenant(ctx, slug, "gatehouse bench", gatehouse.PlanEnterprise)
	if err != nil {
		return fmt.Errorf("bench tenant: %w", err)
	}
	op := admin.Actor{TenantID: tenant.ID, Name: admin.OperatorName, Operator: true}
	m, err := s.Admin.AddMember(ctx, op, admin.NewMember{Email: "bench@" + slug + ".test", Role: gatehouse.RoleOwner})
	if err != nil {
		return fmt.Errorf("bench owner: %w", err)
	}
	owner, err := s.Admin.ActorFor(ctx, tenant.ID, m.UserID, "")
	if err != nil {
		return err
	}
	if _, t.callerToken, err = s.Admin.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "bench caller", Scopes: []string{gatehouse.ScopeVerify}}); err != nil {
		return fmt.Errorf("bench caller token: %w", err)
	}
	if _, t.token, err = s.Admin.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "bench", Scopes: []string{"catalog", "sales"}}); err != nil {
		return fmt.Errorf("bench token: %w", err)
	}
	c, sec, err := s.Admin.CreateClient(ctx, owner, admin.ClientInput{Name: "bench", Scopes: []string{"catalog"},
		Confidential: true, GrantTypes: []string{gatehouse.GrantClientCredentials}})
	if err != nil {
		return fmt.Errorf("bench app: %w", err)
	}
	t.clientID, t.clientSecret = c.ID, sec

	fmt.Fprintf(opts.Progress, "bench: storing %d API keys\n", opts.Tokens)
	start := time.Now()
	if t.many, err = insertAPIKeys(ctx, s.Config.DatabaseURL, tenant.ID, opts.Tokens); err != nil {
		return fmt.Errorf("bench keys: %w", err)
	}
	fmt.Fprintf(opts.Progress, "bench: stored %d API keys in %v\n", opts.Tokens, time.Since(start).Round(time.Millisecond))
	rep.Run.Tokens = opts.Tokens
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
