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
	"github.com/spf13/pflag"

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

// globals are the flags every subcommand shares, and the configuration
// they and the command's own flags make.
type globals struct {
	// database is the effective database URL (flag, env, file); empty
	// means the default.
	database   string
	configPath string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer

	// cfg is the configuration (defaults → file → env → flags) and src
	// where each key came from, read before every command runs; cfgErr is
	// what was malformed, reported by the commands that use it.
	cfg    config.Config
	src    config.Sources
	cfgErr error
}

// configFlags marks a command whose flags named like a configuration key
// set that key (serve); other commands' flags are their own, whatever
// their name. --database always sets database_url.
const configFlags = "config-flags"

// readConfig reads the configuration with the flags of cmd that were set
// and name a configuration key.
func (g *globals) readConfig(cmd *cobra.Command) {
	var flags []config.Flag
	own := cmd.Annotations[configFlags] == "true"
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if _, ok := config.FlagKey(f.Name); ok && (own || f.Name == "database") {
			flags = append(flags, config.Flag{Name: f.Name, Value: f.Value.String()})
		}
	})
	g.cfg, g.src, g.cfgErr = config.Read(g.configPath, os.Getenv, flags)
	g.database = g.cfg.DatabaseURL
}

// configErr is the configuration's problems as one error, or nil.
func (g *globals) configErr() error {
	if g.cfgErr != nil {
		return fmt.Errorf("configuration:\n%w", g.cfgErr)
	}
	return nil
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
	root.PersistentFlags().StringVar(&g.database, "database", "",
		"database: sqlite:PATH, a file path, or postgres://… (env GATEHOUSE_DATABASE_URL; default SQLite in ./gatehouse-data/)")
	root.PersistentFlags().StringVar(&g.configPath, "config", os.Getenv(config.EnvConfig),
		"configuration file, YAML with the keys of the GATEHOUSE_* variables (env "+config.EnvConfig+")")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) { g.readConfig(cmd) }
	root.AddCommand(newServeCmd(g), newConfigCmd(g), newVersionCmd(g), newMigrateCmd(g), newTenantCmd(g), newUserCmd(g),
		newTokenCmd(g), newAPIKeyCmd(g), newKeysCmd(g), newAuditCmd(g), newHealthcheckCmd(g), newBenchCmd(g), newSoakCmd(g))
	return root
}

// openStore opens (and migrates) the configured database.
func (g *globals) openStore(ctx context.Context) (*sqlstore.DB, error) {
	if err := g.configErr(); err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, config.ResolveDatabaseURL(g.database))
}

// openAdmin opens the store and the admin service over it, with the
// resource tree the server uses (the resources key or the built-in one).
func (g *globals) openAdmin(ctx context.Context) (*sqlstore.DB, *admin.Service, error) {
	if err := g.configErr(); err != nil {
		return nil, nil, err
	}
	tree, err := config.LoadResources(g.cfg.Resources)
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

// inTenant is the RunE of a command that acts in the tenant *slug (its
// --tenant flag): run gets the store, the admin service and the tenant,
// which are closed after it.
func (g *globals) inTenant(slug *string, run func(ctx context.Context, args []string, st *sqlstore.DB, svc *admin.Service, t *gatehouse.Tenant) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, svc, t, err := g.openTenant(cmd.Context(), *slug)
		if err != nil {
			return err
		}
		defer st.Close()
		return run(cmd.Context(), args, st, svc, t)
	}
}

// tenantBySlug finds a tenant, with a hint when it does not exist.
func tenantBySlug(ctx context.Context, st gatehouse.Store, slug string) (*gatehouse.Tenant, error) {
	t, err := st.FindTenantBySlug(ctx, slug)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, fmt.Errorf("no tenant %q (create it with: gatehouse tenant create %s --name …)", slug, slug)
	}
	return t, err
}
