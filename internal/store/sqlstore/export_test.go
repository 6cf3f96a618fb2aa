package sqlstore

import "database/sql"

// Pools returns the writer and the readers' pool, for the external tests
// (which open their databases through sqlstoretest).
func (db *DB) Pools() (w, r *sql.DB) { return db.w, db.r }

// Origin is the store's NotifyMessage.Origin.
func (db *DB) Origin() string { return db.origin }

// Listening reports whether the store runs a PostgreSQL listener.
func (db *DB) Listening() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.lis != nil
}
