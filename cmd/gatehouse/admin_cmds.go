package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

func newTenantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants"}
	var name, plan string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, svc, err := g.openAdmin(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := svc.CreateTenant(ctx, args[0], name, plan)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]any{"id": t.ID, "slug": t.Slug, "name": t.Name, "plan": t.Plan})
			}
			fmt.Fprintf(g.stdout, "created tenant %s (%s, plan %s)\n", t.Slug, t.Name, t.Plan)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name (required)")
	create.Flags().StringVar(&plan, "plan", gatehouse.PlanStandard, "plan: standard or enterprise")
	create.Flags().BoolVar(&asJSON, "json", false, "print the tenant as JSON")
	create.MarkFlagRequired("name")
	cmd.AddCommand(create, tenantListCmd(g), tenantSwitchCmd(g, "disable", true), tenantSwitchCmd(g, "enable", false))
	return cmd
}

// tenantJSON is a tenant in --json output.
type tenantJSON struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func tenantOut(t *gatehouse.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Slug: t.Slug, Name: t.Name, Plan: t.Plan, Disabled: t.Disabled, CreatedAt: t.CreatedAt.UTC()}
}

// tenantListCmd is `tenant list`: every tenant, by slug. The operator
// sees every tenant, so this reads the store rather than going through
// admin, whose operations are all within one tenant.
func tenantListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every tenant, by slug",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.ListTenants(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]tenantJSON, 0, len(list))
			for _, t := range list {
				out = append(out, tenantOut(t))
			}
			if asJSON {
				return writeJSON(g.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintln(g.stdout, "no tenants yet (create one with: gatehouse tenant create SLUG --name …)")
				return nil
			}
			tw := table(g.stdout)
			fmt.Fprintln(tw, "SLUG\tNAME\tPLAN\tSTATE\tCREATED\tID")
			for _, t := range out {
				state := "active"
				if t.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Slug, t.Name, t.Plan, state, when(&t.CreatedAt, ""), t.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print a JSON array of {"id","slug","name","plan","disabled","created_at"}`)
	return cmd
}

// tenantSwitchCmd is `tenant disable SLUG` or `tenant enable SLUG`.
func tenantSwitchCmd(g *globals, verb string, disabled bool) *cobra.Command {
	// What is true of "when": see takesEffect.
	short := "Disable a tenant: its credentials are refused within a second with PostgreSQL, within the server's cache TTL (GATEHOUSE_CACHE_TTL, 5s by default) with SQLite; nothing is deleted"
	if !disabled {
		short = "Enable a disabled tenant again"
	}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " SLUG",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, svc, t, err := g.openTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			if t, err = svc.SetTenantDisabled(cmd.Context(), t.Slug, disabled); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, tenantOut(t))
			}
			fmt.Fprintf(g.stdout, "tenant %s %sd; %s\n", t.Slug, verb, g.takesEffect())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tenant as JSON (the fields of tenant list)")
	return cmd
}

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var tenant, email, role string
	var passwordStdin, asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user (if the email is new) and make them a member of a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var password string
			if passwordStdin {
				p, err := readPassword(g.stdin)
				if err != nil {
					return err
				}
				password = p
			}
			st, svc, t, err := g.openTenant(ctx, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			op := admin.Actor{TenantID: t.ID, Name: admin.OperatorName, Operator: true}
			m, err := svc.AddMember(ctx, op, admin.NewMember{Email: email, Role: gatehouse.Role(role), Password: password})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]any{"id": m.UserID, "email": m.Email, "role": m.Role, "tenant": t.Slug})
			}
			fmt.Fprintf(g.stdout, "%s is now %s of %s\n", m.Email, m.Role, t.Slug)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug (required)")
	f.StringVar(&email, "email", "", "email address (required)")
	f.StringVar(&role, "role", "", "owner, admin or staff (required)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the new user's password from standard input")
	f.BoolVar(&asJSON, "json", false, "print the user as JSON")
	for _, n := range []string{"tenant", "email", "role"} {
		create.MarkFlagRequired(n)
	}
	cmd.AddCommand(create, userListCmd(g))
	return cmd
}

// memberJSON is a member of a tenant in --json output, as the management
// API shows it: created_at is when the user joined the tenant.
type memberJSON struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Role      gatehouse.Role `json:"role"`
	CreatedAt time.Time      `json:"created_at"`
}

// userListCmd is `user list --tenant SLUG`: the tenant's members.
func userListCmd(g *globals) *cobra.Command {
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the members of a tenant and their roles",
		Args:  cobra.NoArgs,
		RunE: g.inTenant(&tenant, func(ctx context.Context, _ []string, st *sqlstore.DB, svc *admin.Service, t *gatehouse.Tenant) error {
			members, err := allMembers(ctx, svc, operator(t))
			if err != nil {
				return err
			}
			out := make([]memberJSON, 0, len(members))
			for _, m := range members {
				out = append(out, memberJSON{ID: m.UserID, Email: m.Email, Role: m.Role, CreatedAt: m.CreatedAt.UTC()})
			}
			if asJSON {
				return writeJSON(g.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintf(g.stdout, "%s has no members\n", t.Slug)
				return nil
			}
			tw := table(g.stdout)
			fmt.Fprintln(tw, "EMAIL\tROLE\tJOINED\tID")
			for _, m := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Email, m.Role, when(&m.CreatedAt, ""), m.ID)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print a JSON array of {"id","email","role","created_at"}`)
	cmd.MarkFlagRequired("tenant")
	return cmd
}

// readPassword reads one line from r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("--password-stdin: no password on standard input")
	}
	return line, nil
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage personal access tokens"}
	var tenant, email, name, scopes string
	var expires time.Duration
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Generate a personal access token for an owner or admin",
		Args:  cobra.NoArgs,
		RunE: g.inTenant(&tenant, func(ctx context.Context, _ []string, st *sqlstore.DB, svc *admin.Service, t *gatehouse.Tenant) error {
			addr, err := gatehouse.NormalizeEmail(email)
			if err != nil {
				return err
			}
			u, err := st.FindUserByEmail(ctx, addr)
			if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
				return fmt.Errorf("no user %s (create it with: gatehouse user create)", addr)
			} else if err != nil {
				return err
			}
			a, err := svc.ActorFor(ctx, t.ID, u.ID, "")
			if err != nil {
				return err
			}
			a.Name, a.Operator = admin.OperatorName, true
			in := admin.CredentialInput{Name: name, Scopes: strings.Fields(scopes)}
			if in.ExpiresAt, err = expiry(svc, expires); err != nil {
				return err
			}
			c, tok, err := svc.CreateCredential(ctx, a, gatehouse.KindPAT, in)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]any{"id": c.ID, "token": tok, "scopes": c.Scopes, "expires_at": c.ExpiresAt})
			}
			fmt.Fprintf(g.stdout, "%s\n\nCopy the token now: it is shown only once.\n", tok)
			return nil
		}),
	}
	f := create.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug (required)")
	f.StringVar(&email, "email", "", "the owner's or admin's email (required)")
	f.StringVar(&name, "name", "", "token name (required)")
	f.StringVar(&scopes, "scopes", "", `space-separated resources, e.g. "manage verify sales" (required)`)
	f.DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default: never expires)")
	f.BoolVar(&asJSON, "json", false, `print {"id","token","scopes","expires_at"} as JSON`)
	for _, n := range []string{"tenant", "email", "name", "scopes"} {
		create.MarkFlagRequired(n)
	}
	cmd.AddCommand(create, credentialListCmd(g, gatehouse.KindPAT), credentialRevokeCmd(g, gatehouse.KindPAT))
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
