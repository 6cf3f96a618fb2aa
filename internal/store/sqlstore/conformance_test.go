package sqlstore_test

import (
	"os"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestSQLite runs the conformance suite on a fresh SQLite file per subtest.
func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gatehouse.Store { return sqlstoretest.SQLite(t) })
}

// TestPostgres runs the conformance suite on a fresh schema per subtest of
// the database GATEHOUSE_TEST_POSTGRES names; it skips without one.
func TestPostgres(t *testing.T) {
	if os.Getenv(sqlstoretest.PostgresEnv) == "" {
		t.Skipf("%s is not set", sqlstoretest.PostgresEnv)
	}
	// Fails once, loudly, when the configured database does not answer,
	// rather than once per subtest.
	sqlstoretest.Postgres(t)
	storetest.Run(t, func(t *testing.T) gatehouse.Store { return sqlstoretest.Postgres(t) })
}

// BenchmarkSQLite runs the store benchmarks on SQLite.
func BenchmarkSQLite(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) gatehouse.Store { return sqlstoretest.SQLite(b) })
}

// BenchmarkPostgres runs the store benchmarks on PostgreSQL, when configured.
func BenchmarkPostgres(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) gatehouse.Store { return sqlstoretest.Postgres(b) })
}
