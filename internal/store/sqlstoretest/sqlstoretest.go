// Package sqlstoretest opens real databases for tests: a migrated store in
// a fresh SQLite file, or in a fresh schema of the PostgreSQL database
// PostgresEnv names. It lives outside sqlstore so that the gatehouse
// binary does not link the testing package.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// PostgresEnv names the environment variable that holds the URL of a
// PostgreSQL database tests may use, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Without it,
// PostgreSQL tests skip.
const PostgresEnv = "GATEHOUSE_TEST_POSTGRES"

// Backend is a database tests run on: its name (a subtest's) and the
// URL of a fresh database of that kind.
type Backend struct {
	Name string
	URL  func(testing.TB) string
}

// Backends are SQLite always and PostgreSQL when PostgresEnv is set (its
// URL skips the test otherwise).
func Backends() []Backend {
	return []Backend{{"sqlite", SQLiteURL}, {"postgres", PostgresURL}}
}

// Each runs f as a subtest per backend with a fresh database's URL.
func Each(t *testing.T, f func(t *testing.T, databaseURL string)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b.URL(t)) })
	}
}

// SQLite returns a migrated store in a fresh SQLite file under
// tb.TempDir(), closed when the test ends.
func SQLite(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	return Open(tb, SQLiteURL(tb))
}

// Postgres returns a migrated store in a fresh schema of the database
// PostgresEnv names (see PostgresURL), closed when the test ends.
func Postgres(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	return Open(tb, PostgresURL(tb))
}

// SQLiteURL is the URL of a SQLite file under tb.TempDir() that does not
// exist yet.
func SQLiteURL(tb testing.TB) string {
	return "sqlite:" + filepath.Join(tb.TempDir(), "gatehouse.db")
}

// opened maps the stores Open returned to their URLs, for RefuseAudit.
var opened sync.Map // *sqlstore.DB → string

// Open opens (and migrates) the database at databaseURL, closed when the
// test ends.
func Open(tb testing.TB, databaseURL string) *sqlstore.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	opened.Store(db, databaseURL)
	// Registered after a schema's cleanup, so it runs first.
	tb.Cleanup(func() {
		opened.Delete(db)
		db.Close()
	})
	return db
}

// PostgresURL creates a fresh schema in the database PostgresEnv names,
// drops it when the test ends, and returns a URL whose search_path
// selects it, so tests of several packages (and whole gatehouse processes)
// can share one database in parallel. It skips the test when the variable
// is unset and fails it when the database is unreachable: a configured
// database that does not answer is a broken setup, not a reason to skip.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skipf("%s is not set", PostgresEnv)
	}
	schema := "gh_test_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("postgres at %s: create schema: %v", PostgresEnv, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := withSearchPath(base, schema)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresEnv, err)
	}
	return u
}

// withSearchPath adds search_path=schema to a PostgreSQL URL; pgx sends
// unknown URL parameters to the server as run-time parameters.
func withSearchPath(raw, schema string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads "+" literally
	return u.String(), nil
}

// exec runs statements in order on a connection of their own to the
// database at databaseURL, read as sqlstore reads it.
func exec(ctx context.Context, databaseURL string, stmts ...string) error {
	db, _, err := sqlstore.OpenRaw(databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// actionRE bounds the audit actions RefuseAudit takes (they go into SQL).
var actionRE = regexp.MustCompile(`^[a-z_.]+$`)

// RefuseAudit makes db's database refuse, from now on, every audit event
// of action (a trigger that raises an error), so tests can show that a
// change whose audit event cannot be stored is not stored either. db must
// come from this package (Open, SQLite or Postgres).
func RefuseAudit(tb testing.TB, db *sqlstore.DB, action string) {
	tb.Helper()
	if !actionRE.MatchString(action) {
		tb.Fatalf("refuse audit: action %q is not a dotted name", action)
	}
	u, ok := opened.Load(db)
	if !ok {
		tb.Fatalf("refuse audit: the store was not opened by sqlstoretest")
	}
	databaseURL := u.(string)
	name := "refuse_audit_" + strings.ReplaceAll(action, ".", "_")
	stmts := []string{fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON audit_events
		WHEN NEW.action = '%s' BEGIN SELECT RAISE(ABORT, 'audit event refused'); END`, name, action)}
	if strings.HasPrefix(databaseURL, "postgres") {
		stmts = []string{
			`CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.action = TG_ARGV[0] THEN RAISE EXCEPTION 'audit event refused'; END IF;
				RETURN NEW;
			END $$`,
			fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit('%s')`, name, action),
		}
	}
	if err := exec(context.Background(), databaseURL, stmts...); err != nil {
		tb.Fatalf("refuse audit %s: %v", action, err)
	}
}
