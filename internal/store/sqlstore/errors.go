package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// errUnavailable is what callers see when the database cannot be reached.
// Verification answers 503 on it and never "valid" (SPEC §9, fail closed).
func errUnavailable(cause error) error {
	// Both are wrapped: ErrorCode finds EUNAVAILABLE, and the driver's text
	// stays in the chain for the log (it never names a hash or a secret).
	return fmt.Errorf("%w: %w", gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unavailable"), cause)
}

// wrap maps a driver error to a gatehouse.Error code and prefixes op, a
// short lower-case description of what failed. what names the object for
// ENOTFOUND and ECONFLICT messages ("credential").
func wrap(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, classify(what, err))
}

// classify turns a database/sql, pgx or SQLite error into a gatehouse.Error.
func classify(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "%s not found", what)
	}

	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return gatehouse.Errorf(gatehouse.ECONFLICT, "%s already exists", what)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return gatehouse.Errorf(gatehouse.ENOTFOUND, "%s refers to a missing object", what)
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
			return gatehouse.Errorf(gatehouse.EINVALID, "invalid %s", what)
		}
		// The primary code is the low byte of the extended one.
		switch le.Code() & 0xff {
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_PERM,
			sqlite3.SQLITE_PROTOCOL:
			return errUnavailable(err)
		}
		return err
	}

	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return gatehouse.Errorf(gatehouse.ECONFLICT, "%s already exists", what)
		case pe.Code == "23503": // foreign_key_violation
			return gatehouse.Errorf(gatehouse.ENOTFOUND, "%s refers to a missing object", what)
		case pe.Code == "23502", pe.Code == "23514", pe.Code == "22P02", pe.Code == "22001":
			return gatehouse.Errorf(gatehouse.EINVALID, "invalid %s", what)
		case pe.Code[:2] == "08", // connection exception
			pe.Code[:2] == "53",                    // insufficient resources (too many connections, disk full)
			pe.Code == "57P01", pe.Code == "57P02", // admin or crash shutdown
			pe.Code == "57P03", // cannot connect now (starting up)
			pe.Code == "25006": // read-only transaction (a standby after failover)
			return errUnavailable(err)
		}
		return err
	}

	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		// The server's side of the connection ended mid-answer (pgx reads
		// EOF from a connection reset or closed under it): a lost
		// connection, not a bug (issue 12, connections reset mid-transaction).
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.As(err, &ne),
		// A deadline that expires in the database (connecting, or a
		// locked row) means it did not answer in time.
		errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err):
		return errUnavailable(err)
	}
	return err
}
