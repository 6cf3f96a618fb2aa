package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

func newMigrateCmd(g *globals) *cobra.Command {
	var create bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations, say what was done, and exit",
		Long: `Apply the pending database migrations and say what was done: created a
new database, applied some migrations, or found it up to date. serve also
migrates at start; run migrate once per release to upgrade before the nodes
restart. A SQLite database is created only in a directory that exists,
unless --create.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.configErr(); err != nil {
				return err
			}
			url := config.ResolveDatabaseURL(g.database)
			if !create {
				if err := checkDataDir(url); err != nil {
					return err
				}
			}
			res, err := sqlstore.Migrate(cmd.Context(), url)
			if err != nil {
				return err
			}
			switch {
			case res.Created:
				fmt.Fprintf(g.stdout, "created a new database at %s, applied %d migrations\n", res.Path, res.Applied)
			case res.Applied == 0:
				fmt.Fprintf(g.stdout, "up to date (%d migrations)\n", res.Total)
			default:
				fmt.Fprintf(g.stdout, "applied %d migrations (%d in all)\n", res.Applied, res.Total)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&create, "create", false, "create the SQLite database's directory (0700) when it does not exist")
	return cmd
}

// checkDataDir refuses a SQLite database whose directory does not exist:
// a typo in --database would otherwise create a new, empty database
// somewhere unexpected.
func checkDataDir(url string) error {
	dir, err := sqlstore.DataDir(url)
	if err != nil || dir == "" { // PostgreSQL
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the directory %s does not exist: create it, check --database, or pass --create to create it", dir)
	} else if err != nil {
		return err
	}
	return nil
}

// printFirstSteps prints, when the database has no tenant yet, the two
// commands that create the first tenant and its owner. They name the
// database when serve was given one with --database rather than in
// GATEHOUSE_DATABASE_URL, unless it is a PostgreSQL URL, which may hold a
// password.
func printFirstSteps(ctx context.Context, g *globals, st interface {
	ListTenants(context.Context) ([]*gatehouse.Tenant, error)
}, publicURL string) error {
	tenants, err := st.ListTenants(ctx)
	if err != nil || len(tenants) > 0 {
		return err
	}
	db, note := "", ""
	if g.database != "" && g.database != os.Getenv("GATEHOUSE_DATABASE_URL") {
		if config.IsPostgres(g.database) {
			note = " (each with the --database this server was given)"
		} else {
			db = " --database " + g.database
		}
	}
	fmt.Fprintf(g.stdout, `No tenant yet. Create the first tenant and its owner%s:
  gatehouse tenant create SLUG --name NAME%s
  gatehouse user create --tenant SLUG --email EMAIL --role owner --password-stdin%s
(the second reads the owner's password from standard input); then log in at %s/console/
`, note, db, db, publicURL)
	return nil
}
