// Command gatehouse runs the Gatehouse API access service and administers
// it: serve, migrate, and create tenants, users and tokens (SPEC §6).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

// globals are the flags every subcommand shares.
type globals struct {
	database string
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse: API keys, tokens, OAuth 1.0a and 2.0 for your platform's API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.database, "database", os.Getenv("GATEHOUSE_DATABASE_URL"),
		"database: sqlite:PATH, a file path, or postgres://… (env GATEHOUSE_DATABASE_URL; default SQLite in ./gatehouse-data/)")
	root.AddCommand(newServeCmd(g), newMigrateCmd(g), newTenantCmd(g), newUserCmd(g), newTokenCmd(g), newAPIKeyCmd(g), newHealthcheckCmd(g), newAuditCmd(g), newBenchCmd(g), newSoakCmd(g))
	return root
}

// openStore opens (and migrates) the configured database.
func (g *globals) openStore(ctx context.Context) (*sqlstore.DB, error) {
	return sqlstore.Open(ctx, config.ResolveDatabaseURL(g.database))
}

// openAdmin opens the store and the admin service over it, with the
// resource tree the server uses (GATEHOUSE_RESOURCES or the built-in one).
func (g *globals) openAdmin(ctx context.Context) (*sqlstore.DB, *admin.Service, error) {
	tree, err := config.LoadResources(os.Getenv("GATEHOUSE_RESOURCES"))
	if err != nil {
		return nil, nil, err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return st, admin.New(st, tree, admin.Options{}), nil
}

// openTenant is openAdmin and the tenant of slug (tenantBySlug); nothing
// is left open when it fails.
func (g *globals) openTenant(ctx context.Context, slug string) (*sqlstore.DB, *admin.Service, *gatehouse.Tenant, error) {
	st, svc, err := g.openAdmin(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := tenantBySlug(ctx, st, slug)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, svc, t, nil
}

// tenantBySlug finds a tenant, with a hint when it does not exist.
func tenantBySlug(ctx context.Context, st gatehouse.Store, slug string) (*gatehouse.Tenant, error) {
	t, err := st.FindTenantBySlug(ctx, slug)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, fmt.Errorf("no tenant %q (create it with: gatehouse tenant create %s --name …)", slug, slug)
	}
	return t, err
}
