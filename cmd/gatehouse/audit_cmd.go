package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read a tenant's audit log"}
	var tenant, format, since, until string
	var asJSON bool
	export := &cobra.Command{
		Use:   "export",
		Short: "Write a tenant's audit log to standard output, newest first, as JSON lines or CSV",
		Long: `Write a tenant's audit log to standard output, newest first: one JSON
object per line (--format jsonl, the default; --json is the same) or CSV
with a header row (--format csv; cells a spreadsheet would run as formulas
start with '). --since (inclusive) and --until (exclusive) take an RFC 3339
time, a date (2006-01-02, UTC), or a duration before now (24h).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if asJSON {
				format = "jsonl"
			}
			if format != "jsonl" && format != "csv" {
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
			return exportAudit(ctx, svc, operator(t), from, to, format, g.stdout)
		},
	}
	f := export.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug (required)")
	f.StringVar(&format, "format", "jsonl", "jsonl or csv")
	f.BoolVar(&asJSON, "json", false, "the same as --format jsonl")
	f.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, 2006-01-02, or a duration ago such as 24h)")
	f.StringVar(&until, "until", "", "only events before this time (as --since)")
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

// auditColumns are the CSV header and the JSON keys of an export.
var auditColumns = []string{"id", "time", "actor", "action", "target", "ip"}

// exportAudit writes the tenant's events in [from, to) (zero: unbounded),
// newest first, walking admin.Audit's pages.
func exportAudit(ctx context.Context, svc *admin.Service, a admin.Actor, from, to time.Time, format string, w io.Writer) error {
	cw := csv.NewWriter(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if format == "csv" {
		if err := cw.Write(auditColumns); err != nil {
			return err
		}
	}
	const page = 500 // the stores' cap
	q := gatehouse.AuditQuery{Limit: page}
	for {
		events, err := svc.Audit(ctx, a, q)
		if err != nil {
			return err
		}
		for _, e := range events {
			if (!to.IsZero() && !e.Time.Before(to)) || (!from.IsZero() && e.Time.Before(from)) {
				continue
			}
			row := []string{e.ID, e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Target, e.IP}
			if format == "jsonl" {
				obj := make(map[string]string, len(row))
				for i, k := range auditColumns {
					obj[k] = row[i]
				}
				if err := enc.Encode(obj); err != nil {
					return err
				}
				continue
			}
			for i := range row {
				row[i] = csvCell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if len(events) < page {
			return nil
		}
		q.Before = events[len(events)-1].ID
	}
}

// csvCell neutralises a cell a spreadsheet would evaluate. Security
// (OWASP "CSV Injection"): audit text comes from users (token names,
// emails), and a cell starting with =, +, -, @, a tab or a carriage
// return is run as a formula; a leading ' makes it text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
