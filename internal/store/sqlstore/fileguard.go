package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"modernc.org/sqlite"
)

// guardInterval is how often a fileGuard looks at the files on its own,
// between the checks that every write commit makes.
const guardInterval = time.Second

// fileGuard makes sure a SQLite store works only on the files it opened
// (SPEC §9: durability, fail closed). A database file deleted, moved
// away or replaced under a running server is still open: SQLite goes on
// reading it and committing into it, and every write acknowledged from
// then on is gone at the next start (deleted), or lands in a file the
// next start does not open (moved, replaced). So the guard compares the
// files at the configured path (the database, its -wal and its -shm) with
// the ones first seen there, by identity (device and inode on Unix,
// os.SameFile), and while any differs the store refuses everything with
// EUNAVAILABLE, as when PostgreSQL is unreachable: /readyz fails, writes
// answer 503, verification serves only what it has cached.
//
// It looks every guardInterval, on Ping and before opening a connection;
// a write also looks right before and right after its commit, so no write
// committed into a file that is no longer at the path is acknowledged
// (one stat before, two after: BenchmarkFileGuardCheck). When the files
// first seen are back at the path (moved back), the store serves again by
// itself. A different file at the path (a new inode: a restore, a copy)
// is not the database that was open, so the store stays refused until the
// original returns or Gatehouse restarts and opens the new one. Each
// change of state is logged with the reason.
//
// The guard keeps one connection of its own open for its lifetime:
// SQLite deletes the -wal and -shm files when the last connection closes,
// and a WAL created anew would be a different file.
type fileGuard struct {
	path, dsn string
	logger    func() *slog.Logger

	mu    sync.Mutex     // serialises look and its transitions
	names [3]string      // the files looked at (acquire)
	seen  [3]os.FileInfo // the files first seen there (nil: not yet)
	fault atomic.Pointer[guardFault]

	users int         // open pools using the guard (mu)
	held  driver.Conn // the guard's own connection (mu)
	stop  chan struct{}
	done  chan struct{}
}

// guardFault is why the store refuses: reason for the log, err for callers.
type guardFault struct {
	reason string
	err    error
}

// guardSuffixes name the database file and the WAL-mode files beside it.
var guardSuffixes = [3]string{"", "-wal", "-shm"}

func newFileGuard(path, dsn string, logger func() *slog.Logger) *fileGuard {
	return &fileGuard{path: path, dsn: dsn, logger: logger}
}

// err is the current fault, without looking at the files (reads).
func (g *fileGuard) err() error {
	if f := g.fault.Load(); f != nil {
		return f.err
	}
	return nil
}

// How many of guardSuffixes a look compares. A commit looks at the
// database file before (where a deletion or a move shows first: `rm
// gatehouse.db*` and `mv` take it first) and at it and the WAL after,
// which between them hold every committed write; the -shm file is only an
// index SQLite rebuilds, but a new connection must not open a new one
// beside the old, so the periodic look, Ping and Connect compare all three.
const (
	beforeCommit = 1
	afterCommit  = 2
	allFiles     = len(guardSuffixes)
)

// check looks at the first n of the files now, records the outcome and
// returns the fault. Only a look at all of them clears a fault.
func (g *fileGuard) check(n int) error {
	if n < allFiles {
		if err := g.err(); err != nil {
			return err
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	reason := g.compare(n)
	prev := g.fault.Load()
	if reason == "" {
		if prev != nil && n == allFiles {
			g.fault.Store(nil)
			g.logger().Warn("the SQLite database files are back at their path; serving again", "path", g.path)
			return nil
		}
		return g.err()
	}
	if prev != nil && prev.reason == reason {
		return prev.err
	}
	// As errUnavailable, with the time to the next look as Retry-After.
	ge := gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unavailable")
	ge.RetryAfter = guardInterval
	f := &guardFault{reason: reason, err: fmt.Errorf("%w: sqlite database %s: %s", ge, g.path, reason)}
	g.fault.Store(f)
	g.logger().Error("the SQLite database files are not the ones open; refusing reads and writes until they return",
		"path", g.path, "reason", reason)
	return f.err
}

// compare returns why the files at the path are not the ones first seen,
// or "". A file not seen before is adopted (SQLite creates the -wal and
// -shm files at the first read).
func (g *fileGuard) compare(n int) string {
	for i, name := range g.names[:n] {
		fi, err := os.Stat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if g.seen[i] != nil {
				return name + " is missing (deleted or moved away)"
			}
		case err != nil:
			return "cannot check " + name + ": " + err.Error()
		case g.seen[i] == nil:
			g.seen[i] = fi
		case !os.SameFile(g.seen[i], fi):
			return name + " is another file than the one open (replaced); put the original back or restart Gatehouse to open the new one"
		}
	}
	return ""
}

// acquire is called when a pool starts using the guard: the first one
// records the files, opens the guard's connection and starts the ticker.
func (g *fileGuard) acquire(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.users++; g.users > 1 {
		return nil
	}
	// The database is what the path names (a new connection opens it,
	// following links); SQLite keeps the -wal and -shm files beside the
	// file a symbolic link points to.
	real, err := filepath.EvalSymlinks(g.path)
	if err != nil {
		real = g.path
	}
	for i, suffix := range guardSuffixes {
		g.names[i] = real + suffix
	}
	g.names[0] = g.path
	base, err := sqlite.NewConnector(g.dsn)
	if err == nil {
		g.held, err = base.Connect(ctx)
	}
	if err == nil {
		// A read opens the WAL (and creates -wal and -shm).
		var rows driver.Rows
		if rows, err = g.held.(driver.QueryerContext).QueryContext(ctx, "SELECT 1 FROM sqlite_master LIMIT 1", nil); err == nil {
			err = rows.Close()
		}
	}
	if err != nil {
		if g.held != nil {
			g.held.Close()
			g.held = nil
		}
		g.users--
		return err
	}
	if reason := g.compare(allFiles); reason != "" {
		g.held.Close()
		g.held = nil
		g.users--
		return errUnavailable(errors.New(g.path + ": " + reason))
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.watch(g.stop, g.done)
	return nil
}

// release is called when a pool using the guard closes; the last one
// stops the ticker and closes the guard's connection.
func (g *fileGuard) release() error {
	g.mu.Lock()
	if g.users--; g.users > 0 {
		g.mu.Unlock()
		return nil
	}
	stop, done, held := g.stop, g.done, g.held
	g.held = nil
	faulted := g.compare(allFiles) != ""
	g.mu.Unlock()
	close(stop)
	<-done
	if faulted {
		// The last connection to close checkpoints the WAL and unlinks
		// the -wal and -shm files by name, which would be another
		// database's now. Leave it to the process's exit.
		g.logger().Warn("leaving the SQLite connection open: the files at the path are not the ones open", "path", g.path)
		return nil
	}
	return held.Close()
}

func (g *fileGuard) watch(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(guardInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			g.check(allFiles) //nolint:errcheck // recorded in g.fault
		}
	}
}

// sqlOpen opens a pool on dsn, through t.guard when t has one.
func (t *target) sqlOpen(ctx context.Context, dsn string) (*sql.DB, error) {
	if t.guard == nil {
		return sql.Open(t.d.driver, dsn)
	}
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	if err := t.guard.acquire(ctx); err != nil {
		return nil, err
	}
	return sql.OpenDB(&guardConnector{Connector: base, g: t.guard, write: dsn == t.dsn}), nil
}

// guardConnector opens the connections of one pool: none while the files
// are not the ones open (SQLite would create a new, empty database at the
// path), each wrapped in a guardConn.
type guardConnector struct {
	driver.Connector
	g     *fileGuard
	write bool // the writer pool
}

func (c *guardConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := c.g.check(allFiles); err != nil {
		return nil, err
	}
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &guardConn{c: dc, g: c.g, write: c.write}, nil
}

// Close is called by sql.DB.Close.
func (c *guardConnector) Close() error { return c.g.release() }

// guardConn refuses every statement while the guard has a fault and, on
// the writer, looks at the files around every commit. database/sql uses
// a connection from one goroutine at a time, so inTx needs no lock.
type guardConn struct {
	c     driver.Conn // modernc.org/sqlite's, which has every optional interface used here
	g     *fileGuard
	write bool
	inTx  bool
}

var (
	_ driver.ConnBeginTx        = (*guardConn)(nil)
	_ driver.ConnPrepareContext = (*guardConn)(nil)
	_ driver.ExecerContext      = (*guardConn)(nil)
	_ driver.QueryerContext     = (*guardConn)(nil)
	_ driver.Pinger             = (*guardConn)(nil)
	_ driver.SessionResetter    = (*guardConn)(nil)
	_ driver.Validator          = (*guardConn)(nil)
)

// allowed reports whether query may run: always for DB.pin's and
// recordSync's PRAGMA synchronous (per connection, touching no file), so
// that a refused write does not cost the pool its writer connection.
func (c *guardConn) allowed(query string) error {
	if strings.HasPrefix(query, "PRAGMA synchronous") {
		return nil
	}
	return c.g.err()
}

// autocommit reports whether a statement on c commits by itself.
func (c *guardConn) autocommit() bool { return c.write && !c.inTx }

func (c *guardConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *guardConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.g.err(); err != nil {
		return nil, err
	}
	s, err := c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &guardStmt{s: s, c: c}, nil
}

func (c *guardConn) Close() error { return c.c.Close() }

func (c *guardConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *guardConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.g.err(); err != nil {
		return nil, err
	}
	tx, err := c.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &guardTx{tx: tx, c: c}, nil
}

func (c *guardConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.allowed(query); err != nil {
		return nil, err
	}
	pragma := strings.HasPrefix(query, "PRAGMA synchronous")
	return c.commit(!pragma, func() (driver.Result, error) {
		return c.c.(driver.ExecerContext).ExecContext(ctx, query, args)
	})
}

// commit runs exec, which commits by itself when autocommit holds and
// guarded: then the files are looked at right before (so nothing is
// written into a file no longer at the path) and right after (so nothing
// committed into one is acknowledged; the caller sees EUNAVAILABLE).
func (c *guardConn) commit(guarded bool, exec func() (driver.Result, error)) (driver.Result, error) {
	guarded = guarded && c.autocommit()
	if guarded {
		if err := c.g.check(beforeCommit); err != nil {
			return nil, err
		}
	}
	res, err := exec()
	if err != nil {
		return nil, err
	}
	if guarded {
		if err := c.g.check(afterCommit); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (c *guardConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.allowed(query); err != nil {
		return nil, err
	}
	return c.query(!strings.HasPrefix(query, "PRAGMA synchronous"), func() (driver.Rows, error) {
		return c.c.(driver.QueryerContext).QueryContext(ctx, query, args)
	})
}

// query is commit for a query: on the writer outside a transaction it may
// write (INSERT … RETURNING), and SQLite commits it when its rows close.
func (c *guardConn) query(guarded bool, run func() (driver.Rows, error)) (driver.Rows, error) {
	if !guarded || !c.autocommit() {
		return run()
	}
	if err := c.g.check(beforeCommit); err != nil {
		return nil, err
	}
	rows, err := run()
	if err != nil {
		return nil, err
	}
	return &guardRows{Rows: rows, g: c.g}, nil
}

// guardRows looks at the files once its statement has committed.
type guardRows struct {
	driver.Rows
	g *fileGuard
}

func (r *guardRows) Close() error {
	if err := r.Rows.Close(); err != nil {
		return err
	}
	return r.g.check(afterCommit)
}

// Ping looks at the files now: it is what /readyz asks.
func (c *guardConn) Ping(ctx context.Context) error {
	if err := c.g.check(allFiles); err != nil {
		return err
	}
	return c.c.(driver.Pinger).Ping(ctx)
}

func (c *guardConn) ResetSession(ctx context.Context) error {
	return c.c.(driver.SessionResetter).ResetSession(ctx)
}

func (c *guardConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

// guardTx looks at the files right before and right after COMMIT.
type guardTx struct {
	tx driver.Tx
	c  *guardConn
}

func (t *guardTx) Commit() error {
	defer func() { t.c.inTx = false }()
	if t.c.write {
		if err := t.c.g.check(beforeCommit); err != nil {
			return errors.Join(err, t.tx.Rollback())
		}
	}
	if err := t.tx.Commit(); err != nil {
		return err
	}
	if t.c.write {
		return t.c.g.check(afterCommit)
	}
	return nil
}

func (t *guardTx) Rollback() error {
	t.c.inTx = false
	return t.tx.Rollback()
}

// guardStmt is a prepared statement on a guardConn.
type guardStmt struct {
	s driver.Stmt
	c *guardConn
}

var (
	_ driver.StmtExecContext  = (*guardStmt)(nil)
	_ driver.StmtQueryContext = (*guardStmt)(nil)
)

func (s *guardStmt) Close() error  { return s.s.Close() }
func (s *guardStmt) NumInput() int { return s.s.NumInput() }

func (s *guardStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *guardStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *guardStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.c.g.err(); err != nil {
		return nil, err
	}
	return s.c.commit(true, func() (driver.Result, error) {
		return s.s.(driver.StmtExecContext).ExecContext(ctx, args)
	})
}

func (s *guardStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.c.g.err(); err != nil {
		return nil, err
	}
	return s.c.query(true, func() (driver.Rows, error) {
		return s.s.(driver.StmtQueryContext).QueryContext(ctx, args)
	})
}

// named converts positional arguments for the context methods.
func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// logger is the store's logger, for the guard.
func (db *DB) logger() *slog.Logger {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.log
}
