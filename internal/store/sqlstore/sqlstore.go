// Package sqlstore implements gatehouse.Store on SQLite (modernc.org/sqlite,
// pure Go, the embedded default) and PostgreSQL (pgx, the scale-out engine)
// with one type. The few differences live in a small dialect value; the SQL
// is shared and never rewritten. Both backends pass the conformance suite in
// internal/store/storetest.
//
// The schema is created and upgraded by embedded goose migrations, paired
// across dialects in migrations/sqlite and migrations/postgres.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "modernc.org/sqlite"             // registers driver "sqlite"
)

// NotifyChannel is the PostgreSQL channel every committed Change is sent on
// (pg_notify, in the writing transaction, so it is delivered exactly when
// the write commits). Other nodes LISTEN on it to invalidate their caches;
// the payload is the JSON of NotifyMessage.
const NotifyChannel = "gatehouse_changes"

// NotifyMessage is the JSON payload of a notification on NotifyChannel.
type NotifyMessage struct {
	TenantID     string `json:"tenant_id"`
	CredentialID string `json:"credential_id,omitempty"`
	// Hash is the credential's lookup hash (base64 in JSON): a SHA-256 of a
	// high-entropy secret, which cannot be turned back into the token and
	// does not authenticate anyone, so it may travel to the other nodes.
	Hash []byte `json:"hash,omitempty"`
	// Schema is the writer's schema: the channel is per database, and
	// installations in other schemas of it ignore the message.
	Schema string `json:"schema,omitempty"`
	// Origin identifies the writing DB value (random, per Open), so that
	// its own listener skips what its subscribers already heard.
	Origin string `json:"origin,omitempty"`
	// SentAt is when the writer sent it (Unix nanoseconds, its clock), for
	// the receivers' lag (SetLagObserver).
	SentAt int64 `json:"sent_at,omitempty"`
}

// Change returns the gatehouse.Change the message carries.
func (m NotifyMessage) Change() gatehouse.Change {
	return gatehouse.Change{TenantID: m.TenantID, CredentialID: m.CredentialID, Hash: m.Hash}
}

// DB is a gatehouse.Store backed by SQLite or PostgreSQL. It is safe for
// concurrent use.
type DB struct {
	d *dialect
	// w runs every write and every transaction. On SQLite it is a single
	// connection: SQLite allows one writer at a time anyway, and queueing
	// writers in database/sql (which honours contexts) is fairer and
	// faster than having them spin in SQLite's busy handler.
	w *sql.DB
	// r runs single-statement reads, so that they never wait behind
	// writes for a connection (Options.MaxConns). On SQLite it is a pool of
	// read-only connections (WAL lets them read while w writes); on
	// PostgreSQL a second pool on the same server.
	r *sql.DB
	// wstmts and rstmts are the hot statements prepared on w and r, by
	// their text (SQLite; see hotWrites).
	wstmts, rstmts map[string]*sql.Stmt

	// PostgreSQL: the pool's URL (which the listener also uses), the
	// schema the tables live in, and this value's NotifyMessage.Origin.
	dsn, schema, origin string

	mu     sync.Mutex
	subs   map[uint64]func(gatehouse.Change)
	nextID uint64
	log    *slog.Logger
	lis    *listener // PostgreSQL: started by the first Subscribe
	lag    func(time.Duration)
	closed bool

	// creates groups concurrent CreateCredential calls (SQLite).
	creates group

	// onSync, when set (by tests, before any use), is called in every
	// SQLite write with its op and the PRAGMA synchronous level (1 NORMAL,
	// 2 FULL) read on its connection, inside its transaction if any.
	onSync func(op string, level int)
}

var _ gatehouse.Store = (*DB)(nil)

// Options tune Open.
type Options struct {
	// MaxConns is the most connections the store opens, readers and
	// writers together (GATEHOUSE_DB_MAX_CONNS); 0 means the backend's
	// default, DefaultSQLiteMaxConns or DefaultPostgresMaxConns.
	//
	// Reads never wait behind writes for a connection: single-statement
	// reads (verification misses, logins' lookups, lists) have a pool of
	// their own, so a burst of write transactions cannot take the slots
	// they need. On SQLite the writer pool is one connection (SQLite has
	// one writer anyway) and the readers get the rest; on PostgreSQL the
	// readers get half (rounded down) and the writers the rest. The
	// PostgreSQL change feed's LISTEN connection comes on top.
	MaxConns int
}

// Pool defaults (Options.MaxConns).
const (
	// DefaultPostgresMaxConns is 10 writers and 10 readers: many nodes
	// share one server, so each node's share stays modest.
	DefaultPostgresMaxConns = 20
	// MinMaxConns is the smallest pool: one writer and one reader.
	MinMaxConns = 2
)

// DefaultSQLiteMaxConns is one writer and a reader per core, at least
// four.
func DefaultSQLiteMaxConns() int { return 1 + max(4, runtime.GOMAXPROCS(0)) }

// Open connects to the database at url ("sqlite:PATH", a plain file path,
// or "postgres://…"), brings its schema up to date and returns the store
// with the default pools (OpenWith with zero Options).
// A database that cannot be reached is EUNAVAILABLE; a malformed url is
// EINVALID.
//
// For SQLite the file and its directory are created when missing.
// PostgreSQL connection strings may set runtime parameters such as
// search_path=myschema to keep the tables in a schema of their own.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with the pools sized by opts.
func OpenWith(ctx context.Context, url string, opts Options) (*DB, error) {
	t, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if opts.MaxConns != 0 && opts.MaxConns < MinMaxConns {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "at least %d database connections are needed, one writer and one reader", MinMaxConns)
	}
	if _, _, err := migrate(ctx, t); err != nil {
		return nil, err
	}
	db := &DB{
		d: t.d, dsn: t.dsn, subs: make(map[uint64]func(gatehouse.Change)), log: slog.Default(),
		creates: group{op: "create credential", d: processCrash},
	}
	if t.path != "" {
		t.guard = newFileGuard(t.path, t.rdsn, db.logger) // see fileGuard
	}
	if db.w, err = open(ctx, t, t.dsn); err != nil {
		return nil, err
	}
	if t.d == &sqliteDialect {
		n := opts.MaxConns
		if n == 0 {
			n = DefaultSQLiteMaxConns()
		}
		db.w.SetMaxOpenConns(1)
		db.w.SetMaxIdleConns(1)
		db.w.SetConnMaxLifetime(0)
		db.w.SetConnMaxIdleTime(0)
		if db.r, err = open(ctx, t, t.rdsn); err != nil {
			db.w.Close()
			return nil, err
		}
		db.r.SetMaxOpenConns(n - 1)
		db.r.SetMaxIdleConns(n - 1)
		db.r.SetConnMaxIdleTime(5 * time.Minute)
		if err := db.prepareHot(ctx); err != nil {
			db.w.Close()
			db.r.Close()
			return nil, err
		}
	} else {
		n := opts.MaxConns
		if n == 0 {
			n = DefaultPostgresMaxConns
		}
		if db.r, err = open(ctx, t, t.dsn); err != nil {
			db.w.Close()
			return nil, err
		}
		for p, size := range map[*sql.DB]int{db.w: n - n/2, db.r: n / 2} {
			p.SetMaxOpenConns(size)
			p.SetMaxIdleConns(size)
			p.SetConnMaxLifetime(30 * time.Minute)
			p.SetConnMaxIdleTime(5 * time.Minute)
		}
		if err := db.w.QueryRowContext(ctx, "SELECT current_schema()").Scan(&db.schema); err != nil {
			db.w.Close()
			db.r.Close()
			return nil, wrap("open database", "schema", err)
		}
		db.origin = rand.Text()
	}
	return db, nil
}

// open opens a pool and checks that the database answers.
func open(ctx context.Context, t *target, dsn string) (*sql.DB, error) {
	if t.path != "" {
		if err := prepareSQLiteFile(t.path); err != nil {
			return nil, fmt.Errorf("open database: %w", errUnavailable(err))
		}
	}
	db, err := t.sqlOpen(ctx, dsn)
	if err != nil {
		return nil, wrap("open database", "database", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, wrap("open database", "database", err)
	}
	return db, nil
}

// MigrateResult is what Migrate did.
type MigrateResult struct {
	// Path is the SQLite database file ("" for PostgreSQL); Created says
	// Migrate created it.
	Path    string
	Created bool
	Applied int // migrations applied now
	Total   int // migrations the schema has in all
}

// Migrate brings the schema of the database at url up to date, as Open
// does, and says what it did; it is what `gatehouse migrate` runs.
func Migrate(ctx context.Context, url string) (MigrateResult, error) {
	t, err := parseURL(url)
	if err != nil {
		return MigrateResult{}, err
	}
	res := MigrateResult{Path: t.path}
	if t.path != "" {
		_, err := os.Stat(t.path)
		res.Created = errors.Is(err, fs.ErrNotExist)
	}
	res.Applied, res.Total, err = migrate(ctx, t)
	return res, err
}

// migrate runs the pending migrations on a connection of its own, so goose's
// use of connections cannot collide with the store's pools. It returns how
// many it applied and how many there are.
func migrate(ctx context.Context, t *target) (applied, total int, err error) {
	db, err := open(ctx, t, t.dsn)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if t.d == &postgresDialect {
		// Several nodes may start at once: one migrates, the others wait.
		// The lock is per schema, so separate schemas (tests, several
		// installations on one server) do not wait on each other.
		var schema string
		if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return 0, 0, wrap("migrate", "schema", err)
		}
		h := fnv.New64a()
		h.Write([]byte("gatehouse:" + schema))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
		if err != nil {
			return 0, 0, fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(t.d.goose, db, t.d.migrationFS(), opts...)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	done, err := p.Up(ctx)
	if err != nil {
		return 0, 0, wrap("migrate", "schema", err)
	}
	return len(done), len(p.ListSources()), nil
}

// Ping checks that the database answers, on both pools.
func (db *DB) Ping(ctx context.Context) error {
	if err := ping(ctx, db.r); err != nil {
		return wrap("ping", "database", err)
	}
	if db.r != db.w {
		if err := ping(ctx, db.w); err != nil {
			return wrap("ping", "database", err)
		}
	}
	return nil
}

// ping pings p until a connection answers or none is stale any more:
// database/sql retries getting a connection but not the ping itself, so
// after a database restart each idle connection of a pool nobody else
// used since (the writers, while only reads came) would fail one /readyz.
func ping(ctx context.Context, p *sql.DB) error {
	var err error
	for range p.Stats().MaxOpenConnections + 1 {
		if err = p.PingContext(ctx); !errors.Is(err, driver.ErrBadConn) {
			return err
		}
	}
	return err
}

// SetLogger sets where the store reports the state of its change feed
// (default slog.Default()). Call it before the first Subscribe.
func (db *DB) SetLogger(log *slog.Logger) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if log != nil {
		db.log = log
	}
}

// SetLagObserver sets what is told, for every change of another node
// the listener delivers, how long after its sending it was delivered (by
// the two nodes' clocks). Call it before the first Subscribe. SQLite, and
// this node's own changes, deliver synchronously and report nothing.
func (db *DB) SetLagObserver(fn func(time.Duration)) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.lag = fn
}

// PoolStats reports the statistics of the store's connection pools,
// "writer" (writes and transactions) and "reader" (single reads), for
// the metrics.
func (db *DB) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": db.w.Stats(), "reader": db.r.Stats()}
}

// SetPoolSize caps the connections of the pool every write and
// transaction uses (on PostgreSQL the only pool; SQLite's writer has one
// connection anyway), so tests can show that no store method waits for a
// second connection while it holds one.
func (db *DB) SetPoolSize(n int) {
	db.w.SetMaxOpenConns(n)
	db.w.SetMaxIdleConns(n)
}

// Close stops the change feed and closes the database's connections.
func (db *DB) Close() error {
	db.mu.Lock()
	db.closed = true
	lis := db.lis
	db.lis = nil
	db.mu.Unlock()
	if lis != nil {
		lis.stop()
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Subscribe registers fn to be called after every committed change that can
// alter a verification answer.
//
// Changes made through this DB reach fn synchronously in the writing
// goroutine, after the commit. That is all there is on SQLite: the
// embedded database serves one process, so nothing crosses processes.
//
// On PostgreSQL every change is also sent on NotifyChannel, and the first
// Subscribe starts a listener (one dedicated connection, until Close) that
// hands fn, from its own goroutine, the changes of the other nodes (DB
// values) sharing the schema; this DB's own notifications are skipped. The
// first Subscribe returns once LISTEN is in effect (or its first attempt
// failed). When the connection is lost the listener reconnects with
// backoff (100 ms doubling to 5 s), and once LISTEN is re-established fn
// gets an empty Change: notifications sent meanwhile are lost, so anything
// may have changed. Until then caches rely on their TTL. Commands that
// never subscribe never open the extra connection.
func (db *DB) Subscribe(fn func(gatehouse.Change)) (unsubscribe func()) {
	db.mu.Lock()
	id := db.nextID
	db.nextID++
	db.subs[id] = fn
	if db.d.notify && db.lis == nil && !db.closed {
		db.lis = startListener(db.dsn, db.schema, db.origin, db.log, func(c gatehouse.Change) {
			db.publish([]gatehouse.Change{c})
		})
		db.lis.lag = db.lag
	}
	lis := db.lis
	db.mu.Unlock()
	if lis != nil {
		// LISTEN is in effect (or its first attempt failed, and the
		// resynchronisation after the eventual success covers the gap)
		// before fn can have cached anything it would otherwise miss.
		<-lis.ready
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			db.mu.Lock()
			delete(db.subs, id)
			db.mu.Unlock()
		})
	}
}

// ListenerPID reports the PostgreSQL backend PID of the connection that
// listens for other nodes' changes, or 0 when it is not listening (SQLite,
// no subscriber yet, or the connection is down and being re-established).
// Tests use it to drop the connection with pg_terminate_backend.
func (db *DB) ListenerPID() uint32 {
	db.mu.Lock()
	lis := db.lis
	db.mu.Unlock()
	if lis == nil {
		return 0
	}
	return lis.pid.Load()
}

// publish tells the subscribers about committed changes. It copies the list
// first so a subscriber may unsubscribe (or subscribe) from its callback.
func (db *DB) publish(changes []gatehouse.Change) {
	if len(changes) == 0 {
		return
	}
	db.mu.Lock()
	fns := make([]func(gatehouse.Change), 0, len(db.subs))
	for _, fn := range db.subs {
		fns = append(fns, fn)
	}
	db.mu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}

// durability is how much a write must survive once it is acknowledged
// (SPEC §9). Every write method states it when it calls tx, change or
// write, so the choice is visible where the write is.
//
// On PostgreSQL both are the same: every commit waits for the WAL flush
// (synchronous_commit=on, set in parseURL). On SQLite (WAL mode) the writer
// connection runs synchronous=NORMAL, the DSN default, which keeps a
// committed transaction through a process crash but may lose the last
// commits to an OS crash or power loss; a powerLoss write raises its own
// transaction to synchronous=FULL, which syncs the WAL at its commit (and
// with it every earlier commit, so a revocation that survives never refers
// to a creation that was lost).
type durability bool

const (
	// processCrash: creations and bookkeeping, which survive SIGKILL.
	processCrash durability = false
	// powerLoss: anything that revokes, deletes, consumes, rotates or
	// narrows access; when in doubt, this one.
	powerLoss durability = true
)

// querier runs statements: the writer pool, a pinned connection or a
// transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// pinned reports whether a write of durability d runs on a connection
// pinned for it: on SQLite when it must raise synchronous, or when a test
// records the level (the level is per connection, so it is read on the
// connection the write uses).
func (db *DB) pinned(d durability) bool {
	return db.d.syncPragma && (d == powerLoss || db.onSync != nil)
}

// pin takes the writer connection for one write; done hands it back. For
// a powerLoss write on SQLite it sets synchronous=FULL now and NORMAL in
// done. SQLite refuses to change the level inside a transaction, and the
// writer pool has one connection, so pinning it is what confines FULL to
// exactly this write: no other write can use the connection between the
// two pragmas. The caller must end every transaction it begins before
// done. Errors are the driver's, for the caller to wrap.
func (db *DB) pin(ctx context.Context, d durability) (c *sql.Conn, done func(), err error) {
	if c, err = db.w.Conn(ctx); err != nil {
		return nil, nil, err
	}
	if d != powerLoss { // pinned only to record the level (onSync)
		return c, func() { c.Close() }, nil
	}
	done = func() {
		// Not cancelled with ctx: the connection must not go back to the
		// pool at FULL (slow) or in an unknown state. If the reset fails
		// anyway, discard it; its replacement opens at the DSN's NORMAL.
		if _, err := c.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=NORMAL"); err != nil {
			c.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // ErrBadConn by design
		}
		c.Close()
	}
	if _, err := c.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
		done()
		return nil, nil, err
	}
	return c, done, nil
}

// recordSync hands db.onSync the synchronous level q runs at (tests only).
func (db *DB) recordSync(ctx context.Context, op string, q querier) error {
	if db.onSync == nil {
		return nil
	}
	var level int
	if err := q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		return err
	}
	db.onSync(op, level)
	return nil
}

// write runs fn's statements at durability d outside a transaction (each
// commits on its own). Errors are fn's or the driver's, for the caller to
// wrap.
func (db *DB) write(ctx context.Context, op string, d durability, fn func(q querier) error) error {
	if gatehouse.AuditOf(ctx) != nil {
		// The event must commit with the statements: one transaction.
		return db.tx(ctx, op, d, func(tx *sql.Tx) error { return fn(tx) })
	}
	if !db.pinned(d) {
		return fn(db.w)
	}
	c, done, err := db.pin(ctx, d)
	if err != nil {
		return err
	}
	defer done()
	if err := db.recordSync(ctx, op, c); err != nil {
		return err
	}
	return fn(c)
}

// exec runs one statement at durability d; see write.
func (db *DB) exec(ctx context.Context, op string, d durability, query string, args ...any) (res sql.Result, err error) {
	err = db.write(ctx, op, d, func(q querier) error {
		res, err = q.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// tx runs fn in a write transaction at durability d and commits it when fn
// returns nil, with the audit event ctx carries (gatehouse.WithAudit).
func (db *DB) tx(ctx context.Context, op string, d durability, fn func(tx *sql.Tx) error) error {
	begin := db.w.BeginTx
	if db.pinned(d) {
		c, done, err := db.pin(ctx, d)
		if err != nil {
			return wrap(op, "transaction", err)
		}
		defer done() // after the deferred Rollback below
		begin = c.BeginTx
	}
	tx, err := begin(ctx, nil)
	for i := 0; err != nil && !db.pinned(d) && i < db.w.Stats().MaxOpenConnections && retryBegin(err); i++ {
		tx, err = begin(ctx, nil)
	}
	if err != nil {
		return wrap(op, "transaction", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := db.recordSync(ctx, op, tx); err != nil {
		return wrap(op, "transaction", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := db.appendAuditTx(ctx, tx, gatehouse.AuditOf(ctx)); err != nil {
		return wrap(op, "audit event", err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, "transaction", err)
	}
	return nil
}

// retryBegin reports whether a failed BEGIN may be tried on another
// connection. It did nothing either way; but database/sql retries only
// driver.ErrBadConn, which pgx's BeginTx returns only for a connection it
// already knew was closed, so after a database restart each writer that
// died while idle would fail one transaction. A failure to connect, an
// answer from the server and an ended context are not retried.
func retryBegin(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	return !errors.As(err, &ce) && !errors.As(err, &pe) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// change runs fn in a write transaction that alters verification answers:
// fn returns the Changes it made; they are sent with pg_notify inside the
// transaction (PostgreSQL) and to the subscribers after the commit. d is
// as for tx.
func (db *DB) change(ctx context.Context, op string, d durability, fn func(tx *sql.Tx) ([]gatehouse.Change, error)) error {
	var changes []gatehouse.Change
	committing := false
	err := db.tx(ctx, op, d, func(tx *sql.Tx) error {
		var err error
		if changes, err = fn(tx); err != nil {
			return err
		}
		if db.d.notify {
			for _, c := range changes {
				payload, err := json.Marshal(NotifyMessage{
					TenantID: c.TenantID, CredentialID: c.CredentialID, Hash: c.Hash,
					Schema: db.schema, Origin: db.origin, SentAt: time.Now().UnixNano(),
				})
				if err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, string(payload)); err != nil {
					return wrap(op, "notification", err)
				}
			}
		}
		committing = true
		return nil
	})
	if err != nil {
		if committing {
			// Security: a failed COMMIT (a connection lost before its
			// answer) may still have committed, and other nodes may be
			// told; our own listener skips our notifications, so
			// invalidate here: a needless invalidation only costs a read.
			db.publish(changes)
		}
		return err
	}
	db.publish(changes)
	return nil
}

// now is the store's clock for times the interface does not pass in.
func now() time.Time { return normTime(time.Now()) }

// nullString maps "" to NULL, for optional foreign keys.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
