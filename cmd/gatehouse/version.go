package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

func newVersionCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this binary",
		Long: `version prints what the binary's build information says: the module
version ("(devel)" for a build from a work tree), the VCS revision and
commit time with "(modified)" when the work tree had uncommitted changes,
and the Go version. /metrics carries the same as gatehouse_build_info.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := metrics.ReadBuild()
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			fmt.Fprintf(g.stdout, "gatehouse %s\n", b.Version)
			if b.Revision != "" {
				mod := ""
				if b.Modified {
					mod = " (modified)"
				}
				fmt.Fprintf(g.stdout, "  revision  %s%s\n", b.Revision, mod)
			}
			if b.Time != "" {
				fmt.Fprintf(g.stdout, "  time      %s\n", b.Time)
			}
			fmt.Fprintf(g.stdout, "  go        %s\n", b.GoVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"version","revision","time","modified","go_version"}`)
	return cmd
}
