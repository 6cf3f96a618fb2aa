package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/bench"
)

func newSoakCmd(g *globals) *cobra.Command {
	var opts bench.SoakOptions
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run Gatehouse under a modest mixed load for a long time and check that it stays flat",
		Long: `soak runs a Gatehouse in this process (a temporary SQLite file, or a schema
of its own in the PostgreSQL --database) under --rate requests/s of mixed
load — verification of a cached token, of stored keys and of unknown
tokens, gateway calls — while authorization codes, single-use marks and
console sessions that expire within seconds are written for the janitor
to prune. Every --interval it samples resident memory, goroutines, open
files, the interval's p99 and the database's size into --csv, draws
--png, and prints the first and last thirds' means of each: flat means
within 10 %. It exits non-zero when something is not flat.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("database") {
				opts.Database = g.database
			}
			opts.Progress = g.stderr
			rep, err := bench.Soak(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := rep.WriteSummary(g.stdout); err != nil {
				return err
			}
			if !rep.Flat() {
				return errors.New("soak: not flat")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Duration, "duration", 30*time.Minute, "sampled time, after the warm-up")
	f.DurationVar(&opts.Interval, "interval", 10*time.Second, "time between samples")
	f.IntVar(&opts.Rate, "rate", 200, "HTTP requests per second of the whole mix")
	f.IntVar(&opts.Concurrency, "concurrency", 8, "clients, each with a keep-alive connection")
	f.StringVar(&opts.CSV, "csv", "soak.csv", "where the samples go")
	f.StringVar(&opts.PNG, "png", "soak.png", "where the plot goes")
	return cmd
}
