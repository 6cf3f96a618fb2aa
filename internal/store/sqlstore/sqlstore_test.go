package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
)

// openSQLite opens a migrated store in a fresh SQLite file (this
// package's internal tests cannot use sqlstoretest, which imports it).
func openSQLite(t *testing.T) *DB {
	t.Helper()
	return openGuarded(t, t.TempDir())
}

// TestMigrationsPaired fails when a migration exists for one dialect only:
// the schemas must evolve in step.
func TestMigrationsPaired(t *testing.T) {
	names := func(d *dialect) []string {
		var list []string
		err := fs.WalkDir(d.migrationFS(), ".", func(path string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				list = append(list, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(list)
		return list
	}
	sqlite, postgres := names(&sqliteDialect), names(&postgresDialect)
	if len(sqlite) == 0 {
		t.Fatal("no migrations embedded")
	}
	if diff := cmp.Diff(sqlite, postgres); diff != "" {
		t.Errorf("migrations differ between dialects (-sqlite +postgres):\n%s", diff)
	}
}

// TestParseURL checks which database a URL selects.
func TestParseURL(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		in, dialect, path string
	}{
		{"sqlite:data/gh.db", "sqlite", abs("data/gh.db")},
		{"sqlite:///var/lib/gh.db", "sqlite", "/var/lib/gh.db"},
		{"/var/lib/gh.db", "sqlite", "/var/lib/gh.db"},
		{"gh.db", "sqlite", abs("gh.db")},
		{"postgres://u@h/db", "postgres", ""},
		{"postgresql://u@h/db?sslmode=disable", "postgres", ""},
	} {
		got, err := parseURL(tc.in)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.in, err)
			continue
		}
		if got.d.name != tc.dialect || got.path != tc.path {
			t.Errorf("parseURL(%q) = %s %q, want %s %q", tc.in, got.d.name, got.path, tc.dialect, tc.path)
		}
	}
	for _, bad := range []string{"", "sqlite:", "mysql://u@h/db", ":memory:", "sqlite::memory:", "file:x.db"} {
		_, err := parseURL(bad)
		if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("parseURL(%q) = %v, want EINVALID", bad, err)
		}
	}
}

// TestSQLiteSetup checks what Open promises about the file: pragmas on
// every connection, a private new file in a created directory.
func TestSQLiteSetup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "gh.db")
	db, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	for name, pool := range map[string]*sql.DB{"writer": db.w, "reader": db.r} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"foreign_keys": "1",
			"synchronous":  "1", // NORMAL; powerLoss writes raise their own to FULL
			"busy_timeout": "5000",
		} {
			var got string
			if err := pool.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if strings.ToLower(got) != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", name, pragma, got, want)
			}
		}
	}
	// Readers cannot write.
	if _, err := db.r.ExecContext(t.Context(), "DELETE FROM tenants"); err == nil {
		t.Error("reader pool accepted a write")
	}
	// Opening again finds the schema in place.
	db2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db2.Close()
	if res, err := Migrate(t.Context(), path); err != nil || res.Applied != 0 || res.Created || res.Total == 0 {
		t.Fatalf("migrate migrated database: %+v, %v", res, err)
	}
}

// TestSQLiteDurability checks the synchronous level each kind of write
// runs at (SPEC §9): NORMAL for creations, FULL for revocations and
// consumptions, and NORMAL again after them, even after a failed one.
func TestSQLiteDurability(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	var got []string
	db.onSync = func(op string, level int) { got = append(got, fmt.Sprintf("%s=%d", op, level)) }
	const normal, full = 1, 2
	check := func(want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("levels (-want +got):\n%s", diff)
		}
		got = nil
	}
	level := func(op string, l int) string { return fmt.Sprintf("%s=%d", op, l) }

	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: []byte("0123456789abcdef0123456789abcdef")}
	if err := db.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	check(level("create tenant", normal), level("create credential", normal))

	if err := db.RevokeCredential(ctx, tn.ID, c.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemAuthCode(ctx, &gatehouse.CodeRedemption{Hash: []byte("no such code"), Now: time.Now()}); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("redeem unknown code: %v", err)
	}
	if err := db.ConsumeOnce(ctx, "nonce", "n1", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConsumeRequestToken(ctx, []byte("no such token"), time.Now()); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("consume unknown request token: %v", err)
	}
	if err := db.DeleteSession(ctx, "sess_missing"); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("delete missing session: %v", err)
	}
	// The writer is back at NORMAL for the next creation.
	c2 := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: []byte("fedcba9876543210fedcba9876543210")}
	if err := db.CreateCredential(ctx, c2); err != nil {
		t.Fatal(err)
	}
	check(level("revoke credential", full), level("redeem authorization code", full),
		level("consume", full), level("consume request token", full),
		level("delete session", full), level("create credential", normal))

	// A durable write that fails (its context is done) leaves no FULL behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.RevokeCredential(cctx, tn.ID, c2.ID, time.Now()); err == nil {
		t.Fatal("revoke with a cancelled context succeeded")
	}
	if err := db.TouchCredentials(ctx, map[string]time.Time{c2.ID: time.Now()}); err != nil {
		t.Fatal(err)
	}
	check(level("touch credentials", normal))
	var sync int
	if err := db.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != normal {
		t.Errorf("writer left at synchronous=%d (%v), want %d", sync, err, normal)
	}

	// Why the level is set between transactions: SQLite refuses to change
	// it inside one.
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "PRAGMA synchronous=FULL"); err == nil {
		t.Error("PRAGMA synchronous changed inside a transaction")
	}
}

// TestUnavailable checks that a database that cannot be reached is
// EUNAVAILABLE, which verification turns into 503 (fail closed).
func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// A directory where the file should be cannot be opened.
	dir := t.TempDir()
	_, err := Open(ctx, "sqlite:"+dir)
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Errorf("open a directory as sqlite: %v, want EUNAVAILABLE", err)
	}
	// Nothing listens on port 1.
	_, err = Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Errorf("open unreachable postgres: %v, want EUNAVAILABLE", err)
	}

}

// TestClassify checks the driver errors that decide 404, 409 and 503.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no rows", sql.ErrNoRows, gatehouse.ENOTFOUND},
		{"pg unique", &pgconn.PgError{Code: "23505"}, gatehouse.ECONFLICT},
		{"pg foreign key", &pgconn.PgError{Code: "23503"}, gatehouse.ENOTFOUND},
		{"pg starting up", &pgconn.PgError{Code: "57P03"}, gatehouse.EUNAVAILABLE},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, gatehouse.EUNAVAILABLE},
		{"pg syntax", &pgconn.PgError{Code: "42601"}, gatehouse.EINTERNAL},
		{"bad conn", fmt.Errorf("query: %w", driver.ErrBadConn), gatehouse.EUNAVAILABLE},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, gatehouse.EUNAVAILABLE},
		{"deadline", context.DeadlineExceeded, gatehouse.EUNAVAILABLE},
		{"canceled", context.Canceled, gatehouse.EINTERNAL},
	} {
		err := wrap("op", "thing", tc.err)
		if got := gatehouse.ErrorCode(err); got != tc.want {
			t.Errorf("%s: code %q (%v), want %q", tc.name, got, err, tc.want)
		}
		if !errors.Is(err, tc.err) && tc.want != gatehouse.ENOTFOUND && tc.want != gatehouse.ECONFLICT {
			t.Errorf("%s: %v does not wrap the cause", tc.name, err)
		}
	}
}

// TestDataDir: the key file's directory is read from the URL as Open reads it.
func TestDataDir(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for url, want := range map[string]string{
		"sqlite:gatehouse-data/gatehouse.db": abs("gatehouse-data"),
		"sqlite://data/gh.db":                abs("data"),
		"/tmp/a/b.db":                        "/tmp/a",
		"postgres://x@h/y":                   "",
	} {
		got, err := DataDir(url)
		if err != nil || got != want {
			t.Errorf("DataDir(%q) = %q, %v; want %q", url, got, err, want)
		}
	}
	if _, err := DataDir(":memory:"); err == nil {
		t.Error("DataDir(:memory:) accepted")
	}
}
