package main

import (
	"crypto/tls"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/secret"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Print the effective configuration and every problem in it",
		Long: `check prints every configuration key of serve with its value and where
it came from (default, the file of --config or GATEHOUSE_CONFIG, a
GATEHOUSE_* variable, a flag), secrets masked, then every problem at once:
malformed or unknown keys, values serve would refuse, resources and routes
files that do not load, a secret key that does not parse. It exits 1 when
there is a problem. Flags given to it (--database) count as serve's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkConfig(g)
		},
	})
	return cmd
}

func checkConfig(g *globals) error {
	var problems []error
	if g.cfgErr != nil {
		problems = append(problems, unjoin(g.cfgErr)...)
	}
	cfg := g.cfg
	if err := cfg.Validate(); err != nil {
		problems = append(problems, unjoin(err)...)
	}
	if _, err := config.LoadResources(cfg.Resources); err != nil {
		problems = append(problems, err)
	}
	if cfg.Routes != "" {
		if _, err := gateway.LoadRoutes(cfg.Routes); err != nil {
			problems = append(problems, fmt.Errorf("routes: %w", err))
		}
	}
	if cfg.TLSCert != "" && cfg.TLSKey != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			problems = append(problems, fmt.Errorf("tls: %w", err))
		}
	}
	if cfg.SecretKey != "" {
		if _, err := secret.ParseKey(cfg.SecretKey); err != nil {
			problems = append(problems, fmt.Errorf("secret key: %w", err))
		}
	}

	w := g.stdout
	if g.configPath != "" {
		fmt.Fprintf(w, "configuration file: %s\n\n", g.configPath)
	} else {
		fmt.Fprintf(w, "configuration file: none (--config or %s)\n\n", config.EnvConfig)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, r := range cfg.Effective(g.src) {
		v := r.Value
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Key, v, r.Source)
	}
	tw.Flush()
	if len(problems) == 0 {
		fmt.Fprintln(w, "\nno problems")
		return nil
	}
	fmt.Fprintf(w, "\n%d problem(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(w, "  - %v\n", p)
	}
	return fmt.Errorf("the configuration has %d problem(s)", len(problems))
}

// unjoin splits an errors.Join into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
