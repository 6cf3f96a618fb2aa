package sqlstore

import (
	"context"
	"database/sql"
)

// hotWrites and hotReads are the statements of token issuance and of a
// verification cache miss. On SQLite they are prepared once, at Open:
// modernc.org/sqlite parses an unprepared statement again on every call,
// which cost client_credentials issuance a fifth of its time. database/sql
// prepares a *sql.Stmt on each connection of its pool as the connection
// first runs it, again on a connection that replaced a broken one, and
// finalizes it when the connection closes. PostgreSQL needs none of this:
// pgx caches prepared statements per connection by itself.
var (
	hotWrites = []string{insertCredentialSQL, upsertGrantSQL, issueStateSQL, insertAuditSQL}
	hotReads  = []string{findCredentialByHashSQL, findClientSQL, findTenantByIDSQL}
)

// prepareHot prepares hotWrites on the writer and hotReads on the readers.
func (db *DB) prepareHot(ctx context.Context) (err error) {
	if db.wstmts, err = prepareAll(ctx, db.w, hotWrites); err != nil {
		return wrap("open database", "statement", err)
	}
	db.rstmts, err = prepareAll(ctx, db.r, hotReads)
	return wrap("open database", "statement", err)
}

// prepareAll prepares queries on pool, keyed by their text. Closing the
// pool finalizes them.
func prepareAll(ctx context.Context, pool *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		m[q] = s
	}
	return m, nil
}

// execTx runs query in tx, from its prepared statement when it is hot.
func (db *DB) execTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := db.wstmts[query]; s != nil {
		return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// queryRowTx runs a single-row query in tx, from its prepared statement
// when it is hot.
func (db *DB) queryRowTx(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if s := db.wstmts[query]; s != nil {
		return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// query runs a read on the reader pool, from its prepared statement when
// it is hot.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := db.rstmts[query]; s != nil {
		return s.QueryContext(ctx, args...)
	}
	return db.r.QueryContext(ctx, query, args...)
}

// queryRow is query for a single row.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s := db.rstmts[query]; s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return db.r.QueryRowContext(ctx, query, args...)
}
