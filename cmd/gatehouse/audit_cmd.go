package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read a tenant's audit log"}
	var tenant, format, since, until, action, actor, target string
	var asJSON bool
	export := &cobra.Command{
		Use:   "export",
		Short: "Write a tenant's audit log to standard output, newest first, as JSON lines or CSV",
		Long: `Write a tenant's audit log to standard output, newest first: one JSON
object per line (--format jsonl, the default; --json is the same) or CSV
with a header row (--format csv; cells a spreadsheet would run as formulas
start with '). --since (inclusive) and --until (exclusive) take an RFC 3339
time, a date (2006-01-02, UTC), or a duration before now (24h); --action,
--actor and --target filter as the console's audit page does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if asJSON {
				format = admin.ExportJSONL
			}
			if format != admin.ExportJSONL && format != admin.ExportCSV {
				return fmt.Errorf("--format %q: want jsonl or csv", format)
			}
			now := time.Now()
			from, err := parseWhen("--since", since, now)
			if err != nil {
				return err
			}
			to, err := parseWhen("--until", until, now)
			if err != nil {
				return err
			}
			if !from.IsZero() && !to.IsZero() && !from.Before(to) {
				return fmt.Errorf("--until must be after --since")
			}
			st, svc, t, err := g.openTenant(ctx, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			f := gatehouse.AuditFilter{Action: action, Actor: actor, Target: target, Since: from, Until: to}
			return svc.ExportAudit(ctx, operator(t), f, format, g.stdout)
		},
	}
	f := export.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug (required)")
	f.StringVar(&format, "format", "jsonl", "jsonl or csv")
	f.BoolVar(&asJSON, "json", false, "the same as --format jsonl")
	f.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, 2006-01-02, or a duration ago such as 24h)")
	f.StringVar(&until, "until", "", "only events before this time (as --since)")
	f.StringVar(&action, "action", "", "only this action (pat.create) or actions with this prefix (pat.*)")
	f.StringVar(&actor, "actor", "", "only events by this actor (an email, operator, a credential id)")
	f.StringVar(&target, "target", "", "only events on this target (its id or name)")
	export.MarkFlagRequired("tenant")
	cmd.AddCommand(export)
	return cmd
}

// parseWhen reads a --since or --until value: an RFC 3339 time, a date
// (midnight UTC), or a positive duration before now; "" is no bound.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time, a date (2006-01-02) or a positive duration such as 24h", flag, s)
}
