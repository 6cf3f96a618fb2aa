package sqlstore

import (
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/pressly/goose/v3"
)

// migrations holds both dialects' schema; each dialect reads its own directory.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// dialect is everything that differs between SQLite and PostgreSQL. The SQL
// text itself is shared: both accept $1 placeholders, ON CONFLICT, RETURNING
// and the same types as far as the store uses them, so no statement is
// rewritten at run time.
type dialect struct {
	name   string // "sqlite" or "postgres", for messages
	driver string // database/sql driver name
	goose  goose.Dialect
	dir    string // migrations directory in the embedded FS

	// unixTime stores times as INTEGER unix microseconds (SQLite has no
	// time type); otherwise times are timestamptz values.
	unixTime bool
	// forUpdate locks the rows a SELECT reads until the transaction ends.
	// SQLite needs none: write transactions begin IMMEDIATE and so hold the
	// database's single write lock from their first statement.
	forUpdate string
	// forShare locks the rows a SELECT reads against updates and deletes
	// (not against other readers) until the transaction ends; "" means
	// writers are serialised anyway (SQLite) and the lock is skipped.
	forShare string
	// notify emits pg_notify for every Change inside the writing transaction.
	notify bool
	// timeCast types a time parameter where nothing else gives it a type
	// (a VALUES list in PostgreSQL).
	timeCast string
	// syncPragma: connections run PRAGMA synchronous=NORMAL and a
	// powerLoss write raises its own to FULL (see durability).
	syncPragma bool
	// groupCommit: concurrent creations share transactions (see group);
	// the database has a single writer.
	groupCommit bool
	// codePoint follows a text column to order and compare it by code
	// point, as SQLite's default BINARY collation does, whatever the
	// database's collation (sorted lists, identical on both dialects).
	codePoint string
}

var (
	sqliteDialect = dialect{
		name:        "sqlite",
		driver:      "sqlite",
		goose:       goose.DialectSQLite3,
		dir:         "migrations/sqlite",
		unixTime:    true,
		syncPragma:  true,
		groupCommit: true,
	}
	postgresDialect = dialect{
		name:      "postgres",
		driver:    "pgx",
		goose:     goose.DialectPostgres,
		dir:       "migrations/postgres",
		forUpdate: " FOR UPDATE",
		forShare:  " FOR SHARE",
		timeCast:  "::timestamptz",
		notify:    true,
		codePoint: ` COLLATE "C"`,
	}
)

// migrationFS returns the dialect's migrations as a root-level FS, as goose wants.
func (d *dialect) migrationFS() fs.FS {
	sub, err := fs.Sub(migrations, d.dir)
	if err != nil {
		panic("sqlstore: embedded migrations missing: " + err.Error()) // a build defect
	}
	return sub
}

// target is a parsed database URL.
type target struct {
	d    *dialect
	dsn  string // for the writer (PostgreSQL: the only pool)
	rdsn string // SQLite: for the read-only reader pool
	path string // SQLite: the database file
	// guard, when set (Open, SQLite), watches path for the store's pools.
	guard *fileGuard
}

// DataDir is the directory beside a SQLite database where Gatehouse keeps
// generated files (the key file), or "" for PostgreSQL. It reads the URL
// exactly as Open does.
func DataDir(databaseURL string) (string, error) {
	t, err := parseURL(databaseURL)
	if err != nil {
		return "", err
	}
	if t.path == "" {
		return "", nil
	}
	return filepath.Dir(t.path), nil
}

// OpenRaw opens a plain database/sql pool on databaseURL's writer, read
// as Open reads it (driver, DSN, pragmas), for bulk loads that bypass the
// Store (gatehouse bench's seeding); unixTime says the schema stores times
// as unix microseconds (SQLite).
func OpenRaw(databaseURL string) (db *sql.DB, unixTime bool, err error) {
	t, err := parseURL(databaseURL)
	if err != nil {
		return nil, false, err
	}
	db, err = sql.Open(t.d.driver, t.dsn)
	return db, t.d.unixTime, err
}

// parseURL understands "sqlite:PATH", "sqlite://PATH", "postgres://…",
// "postgresql://…" and, as SQLite, a plain file path.
func parseURL(raw string) (*target, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "database URL is malformed")
		}
		q := u.Query()
		// The statements are written for READ COMMITTED, whatever the
		// server's default: after waiting for a FOR UPDATE lock the next
		// statement must see what the previous holder committed, and
		// ConsumeOnce's upsert must wait for a racing insert rather than
		// fail with a serialization error.
		q.Set("default_transaction_isolation", "read committed")
		if !q.Has("synchronous_commit") {
			// SPEC §9: an acknowledged revocation or consumption survives
			// a crash, even on a server whose default is off. pgx sends
			// unknown URL parameters as run-time parameters.
			q.Set("synchronous_commit", "on")
		}
		// pgx does not read "+" as a space; Encode writes a literal "+" as %2B.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return &target{d: &postgresDialect, dsn: u.String()}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		raw = strings.TrimPrefix(raw, "sqlite://")
	case strings.HasPrefix(raw, "sqlite:"):
		raw = strings.TrimPrefix(raw, "sqlite:")
	}
	if raw == "" || strings.Contains(raw, "://") || strings.HasPrefix(raw, "file:") || raw == ":memory:" {
		// An in-memory database would be a different database on every
		// pooled connection; a URL of another scheme is a mistake.
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "database URL must be sqlite:PATH, a file path or postgres://…")
	}
	path, err := filepath.Abs(raw)
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "database path %q: %v", raw, err)
	}
	return &target{
		d:    &sqliteDialect,
		path: path,
		dsn:  sqliteDSN(path, false),
		rdsn: sqliteDSN(path, true),
	}, nil
}

// sqliteDSN builds a modernc.org/sqlite DSN. Every pooled connection runs
// the pragmas when it opens, because most of them are per connection.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// SPEC §9: a commit survives a process crash at NORMAL (WAL mode);
	// the writes that must survive power loss too (revocations,
	// consumptions, …) raise their own transaction to FULL (DB.pin).
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		// Security: readers cannot write even if a method picks the wrong pool.
		q.Set("_query_only", "1")
	} else {
		// BEGIN IMMEDIATE takes the write lock at once, so two
		// read-then-write transactions (of this or another process) cannot
		// both hold a read snapshot and deadlock upgrading it; the loser
		// waits busy_timeout instead.
		q.Set("_txlock", "immediate")
	}
	return "file:" + escapePath(path) + "?" + q.Encode()
}

// escapePath escapes what a SQLite URI filename would otherwise interpret.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

// prepareSQLiteFile creates the database's directory and, for a new
// database, an empty file readable by the owner only: it holds credential
// hashes and sealed secrets. SQLite gives the -wal and -shm files the same
// mode as the database file.
func prepareSQLiteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
