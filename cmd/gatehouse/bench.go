package main

import (
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var opts bench.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure verification, gateway and issuance throughput against the machine's ceiling",
		Long: `bench measures, in one process and one run, over loopback with keep-alive
and --concurrency clients, for --duration each:
  (a) ceiling      a plain net/http handler answering 200
  (b) verify       POST /api/v1/verify with a cached valid token
  (c) verify_100k  the same cycling over 100 000 stored tokens, all cached
  (d) gateway      a GET through the gateway to a trivial upstream
  (e) direct       the same upstream called directly
  (f) issuance     POST /oauth2/token, client_credentials
and prints requests/s, p50/p99/p99.9 latency and the ratios b/a, c/a,
d/e, f/a. --floor adds (d)'s GET through the thinnest net/http forwarder
(proxy_floor) and through a bare httputil.ReverseProxy (bare_proxy),
neither checking anything: what a second HTTP hop costs on this machine.

The Gatehouse under test runs in-process on a temporary SQLite file, or on
--database (use a scratch database: the run adds a tenant and 100 000 keys).
With --target URL a running deployment is measured instead: (a) still runs
locally, (b) needs --token (a credential holding "verify"; it verifies
itself), (f) needs --client-id/--client-secret; (c), (d) and (e) are skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Only an explicit --database: GATEHOUSE_DATABASE_URL names the
			// operator's real database, which a benchmark must not fill.
			if cmd.Flags().Changed("database") {
				opts.Database = g.database
			}
			opts.Progress = g.stderr // stdout carries only the report
			rep, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(g.stdout)
			}
			return rep.WriteTable(g.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Target, "target", "", "measure a running Gatehouse at this base URL instead of an in-process one")
	f.DurationVar(&opts.Duration, "duration", bench.DefaultDuration, "measured time of each scenario (after a short warm-up)")
	f.IntVar(&opts.Concurrency, "concurrency", bench.DefaultConcurrency, "concurrent clients, each with a keep-alive connection")
	f.IntVar(&opts.Tokens, "tokens", bench.DefaultTokens, "distinct stored tokens of the verify_100k scenario")
	f.StringVar(&opts.Token, "token", "", "with --target: a credential holding the verify resource")
	f.StringVar(&opts.ClientID, "client-id", "", "with --target: a confidential OAuth app allowed client_credentials")
	f.StringVar(&opts.ClientSecret, "client-secret", "", "with --target: the app's secret")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of each scenario's first round to PREFIX.<scenario>.pprof")
	f.BoolVar(&opts.Floor, "floor", false, "also measure (d)'s GET through the thinnest net/http forwarder and a bare ReverseProxy: what bounds d/e")
	f.BoolVar(&asJSON, "json", false, `print {"results":[…],"ratios":{…}} as JSON`)
	return cmd
}
