package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
)

// The credential commands — `token list|revoke` (personal access tokens)
// and `apikey create|list|revoke` — are one set over admin's generic
// credential path, told apart by kind, as the management API's are
// (internal/api/credentials.go). They act as the operator.

// credentialJSON is a credential in --json output. The field names are
// the management API's (its NameField: "name" for a PAT, "description"
// for an API key), plus kind, and email for a credential a user holds.
type credentialJSON struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	UserID      string     `json:"user_id,omitempty"`
	Email       string     `json:"email,omitempty"`
	Hint        string     `json:"hint"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	CreatedAt   time.Time  `json:"created_at"`
	// Token or Key: the plaintext, in create's output only.
	Token string `json:"token,omitempty"`
	Key   string `json:"key,omitempty"`
}

func credentialOut(c *gatehouse.Credential, email string) credentialJSON {
	spec, _ := c.Kind.Spec()
	o := credentialJSON{
		ID: c.ID, Kind: string(c.Kind), UserID: c.UserID, Email: email, Hint: c.Hint,
		Scopes: c.Scopes, ExpiresAt: utcPtr(c.ExpiresAt), LastUsedAt: utcPtr(c.LastUsedAt), CreatedAt: c.CreatedAt.UTC(),
	}
	if o.Scopes == nil {
		o.Scopes = []string{}
	}
	if spec.NameField == "description" {
		o.Description = c.Name
	} else {
		o.Name = c.Name
	}
	return o
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// operator is the operator acting in tenant t (audit actor "operator").
func operator(t *gatehouse.Tenant) admin.Actor {
	return admin.Actor{TenantID: t.ID, Name: admin.OperatorName, Operator: true}
}

// credentialListCmd is `list --tenant SLUG [--json]` for kind.
func credentialListCmd(g *globals, kind gatehouse.Kind) *cobra.Command {
	spec, _ := kind.Spec()
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tenant's live " + spec.Noun + ", newest first (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: g.inTenant(&tenant, func(ctx context.Context, _ []string, st *sqlstore.DB, svc *admin.Service, t *gatehouse.Tenant) error {
			op := operator(t)
			creds, err := allCredentials(ctx, svc, op, kind)
			if err != nil {
				return err
			}
			emails := map[string]string{}
			if spec.Holder == gatehouse.HolderSelf || spec.Holder == gatehouse.HolderMember {
				members, err := allMembers(ctx, svc, op)
				if err != nil {
					return err
				}
				for _, m := range members {
					emails[m.UserID] = m.Email
				}
			}
			out := make([]credentialJSON, 0, len(creds))
			for _, c := range creds {
				out = append(out, credentialOut(c, emails[c.UserID]))
			}
			if asJSON {
				return writeJSON(g.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintf(g.stdout, "%s has no %s\n", t.Slug, spec.Noun)
				return nil
			}
			tw := table(g.stdout)
			holder := "\tUSER"
			if len(emails) == 0 {
				holder = ""
			}
			fmt.Fprintf(tw, "ID\t%s%s\tHINT\tSCOPES\tEXPIRES\tLAST USED\tCREATED\n", strings.ToUpper(spec.NameField), holder)
			for _, c := range out {
				if holder != "" {
					c.Name += "\t" + c.Email
				}
				fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Description, c.Hint,
					strings.Join(c.Scopes, " "), when(c.ExpiresAt, "never"), when(c.LastUsedAt, "-"), when(&c.CreatedAt, ""))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print a JSON array of {"id","kind",`+`"`+spec.NameField+`",…} (README "Command line")`)
	cmd.MarkFlagRequired("tenant")
	return cmd
}

// credentialRevokeCmd is `revoke ID --tenant SLUG [--json]` for kind.
func credentialRevokeCmd(g *globals, kind gatehouse.Kind) *cobra.Command {
	spec, _ := kind.Spec()
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke one of the tenant's " + spec.Noun + " by id: it then answers REVOKED (revoking it again is a no-op)",
		Args:  cobra.ExactArgs(1),
		RunE: g.inTenant(&tenant, func(ctx context.Context, args []string, st *sqlstore.DB, svc *admin.Service, t *gatehouse.Tenant) error {
			if err := svc.RevokeCredential(ctx, operator(t), kind, args[0]); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]any{"id": args[0], "kind": kind, "revoked": true})
			}
			fmt.Fprintf(g.stdout, "revoked %s in %s; %s\n", args[0], t.Slug, g.takesEffect())
			return nil
		}),
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","kind","revoked"} as JSON`)
	cmd.MarkFlagRequired("tenant")
	return cmd
}

func newAPIKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage the tenant's API keys (the API Portal's)"}
	var tenant, description, scopes string
	var expires time.Duration
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Generate an API key for a tenant; it belongs to the tenant, not to a user",
		Args:  cobra.NoArgs,
		RunE: g.inTenant(&tenant, func(ctx context.Context, _ []string, st *sqlstore.DB, svc *admin.Service, t *gatehouse.Tenant) error {
			exp, err := expiry(svc, expires)
			if err != nil {
				return err
			}
			in := admin.CredentialInput{Name: description, Scopes: strings.Fields(scopes), ExpiresAt: exp}
			c, key, err := svc.CreateCredential(ctx, operator(t), gatehouse.KindAPIKey, in)
			if err != nil {
				return err
			}
			if asJSON {
				o := credentialOut(c, "")
				o.Key = key
				return writeJSON(g.stdout, o)
			}
			fmt.Fprintf(g.stdout, "%s\n\nCopy the key now: it is shown only once.\n", key)
			return nil
		}),
	}
	f := create.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug (required)")
	f.StringVar(&description, "description", "", "what the key is for, 1-200 characters (required)")
	f.StringVar(&scopes, "scopes", "", `space-separated resources, e.g. "catalog sales" (default: every resource but manage)`)
	f.DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default: never expires)")
	f.BoolVar(&asJSON, "json", false, `print the key as JSON: the list's fields and "key"`)
	for _, n := range []string{"tenant", "description"} {
		create.MarkFlagRequired(n)
	}
	cmd.AddCommand(create, credentialListCmd(g, gatehouse.KindAPIKey), credentialRevokeCmd(g, gatehouse.KindAPIKey))
	return cmd
}

// expiry is the expiry time of a credential with lifetime d (0: never).
func expiry(svc *admin.Service, d time.Duration) (*time.Time, error) {
	if d < 0 {
		return nil, errors.New("--expires must be positive")
	}
	if d == 0 {
		return nil, nil
	}
	at := svc.Now().Add(d)
	return &at, nil
}

// takesEffect says when a running server sees a change the CLI made
// (issue 11): with PostgreSQL the change is a NOTIFY every node's listener
// hears within a second; a server on an SQLite file is another process
// the CLI cannot tell, so it notices when its cached answer expires.
func (g *globals) takesEffect() string {
	if config.IsPostgres(config.ResolveDatabaseURL(g.database)) {
		return "every node notices within a second"
	}
	return "a running server on this SQLite file notices within its cache TTL (GATEHOUSE_CACHE_TTL, 5s by default)"
}

// table is a tabwriter for the list commands' text output.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// when formats an optional time for a table: UTC to the minute, or none.
func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// allCredentials and allMembers are the whole lists the CLI prints: the
// one place that knows how admin hands them out.
func allCredentials(ctx context.Context, svc *admin.Service, a admin.Actor, kind gatehouse.Kind) ([]*gatehouse.Credential, error) {
	return gatehouse.Collect(func(q gatehouse.PageQuery) (gatehouse.Page[*gatehouse.Credential], error) {
		return svc.Credentials(ctx, a, kind, gatehouse.CredentialFilter{Page: q})
	})
}

func allMembers(ctx context.Context, svc *admin.Service, a admin.Actor) ([]*gatehouse.Member, error) {
	return gatehouse.Collect(func(q gatehouse.PageQuery) (gatehouse.Page[*gatehouse.Member], error) {
		return svc.Members(ctx, a, gatehouse.MemberFilter{Page: q})
	})
}
