package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPostgresEnv names the environment variable that holds the URL of a
// PostgreSQL database tests may use, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Without it,
// PostgreSQL tests skip.
const TestPostgresEnv = "GATEHOUSE_TEST_POSTGRES"

// OpenTestSQLite returns a migrated store in a fresh SQLite file under
// tb.TempDir(), closed when the test ends. For other packages' tests that
// want a real database.
func OpenTestSQLite(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatalf("open test sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// OpenTestPostgres returns a migrated store in a fresh schema of the
// database TestPostgresEnv names (see TestPostgresURL), closed when the
// test ends.
func OpenTestPostgres(tb testing.TB) *DB {
	tb.Helper()
	u := TestPostgresURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, u)
	if err != nil {
		tb.Fatalf("open test postgres: %v", err)
	}
	// Registered after the schema's cleanup, so it runs first.
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestPostgresURL creates a fresh schema in the database TestPostgresEnv
// names, drops it when the test ends, and returns a URL whose search_path
// selects it, so tests of several packages (and whole gatehouse processes)
// can share one database in parallel. It skips the test when the variable
// is unset and fails it when the database is unreachable: a configured
// database that does not answer is a broken setup, not a reason to skip.
func TestPostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(TestPostgresEnv)
	if base == "" {
		tb.Skipf("%s is not set", TestPostgresEnv)
	}
	schema := "gh_test_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("postgres at %s: create schema: %v", TestPostgresEnv, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := withSearchPath(base, schema)
	if err != nil {
		tb.Fatalf("%s: %v", TestPostgresEnv, err)
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

// adminExec runs one statement on a connection of its own.
func adminExec(ctx context.Context, url, stmt string) error {
	db, err := sql.Open(postgresDialect.driver, url)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// SetPoolSize caps the connections of the pool every write and
// transaction uses (on PostgreSQL the only pool; SQLite's writer has one
// connection anyway), so tests can show that no store method waits for a
// second connection while it holds one.
func (db *DB) SetPoolSize(n int) {
	db.w.SetMaxOpenConns(n)
	db.w.SetMaxIdleConns(n)
}
