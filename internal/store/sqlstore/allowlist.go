package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// AddAllowEntry appends e to the tenant's credential's allowlist, assigning
// ID and CreatedAt when empty. The credential must exist in the tenant
// (ENOTFOUND); an entry beyond MaxAllowEntries is EINVALID.
//
// The count and the insert are one transaction holding the credential
// (PostgreSQL: its row, FOR UPDATE; SQLite: the database's write lock), so
// concurrent adds cannot together exceed the limit.
func (db *DB) AddAllowEntry(ctx context.Context, tenantID, credentialID string, e *gatehouse.AllowEntry) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("add allowlist entry: %w", err)
	}
	return db.change(ctx, "add allowlist entry", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c, err := db.lockCredential(ctx, tx, tenantID, credentialID)
		if err != nil {
			return nil, wrap("add allowlist entry", "credential", err)
		}
		var n int
		err = tx.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM allow_entries WHERE credential_id = $1`, credentialID).Scan(&n)
		if err != nil {
			return nil, wrap("add allowlist entry", "allowlist entry", err)
		}
		if n >= gatehouse.MaxAllowEntries {
			return nil, fmt.Errorf("add allowlist entry: %w", gatehouse.FieldError("cidr",
				"an allowlist holds at most %d entries", gatehouse.MaxAllowEntries))
		}
		if err := db.insertAllowEntry(ctx, tx, credentialID, e, now()); err != nil {
			return nil, wrap("add allowlist entry", "allowlist entry", err)
		}
		return []gatehouse.Change{c}, nil
	})
}

// DeleteAllowEntry removes an entry from the tenant's credential's allowlist.
func (db *DB) DeleteAllowEntry(ctx context.Context, tenantID, credentialID, entryID string) error {
	return db.change(ctx, "delete allowlist entry", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c, err := db.lockCredential(ctx, tx, tenantID, credentialID)
		if err != nil {
			return nil, wrap("delete allowlist entry", "credential", err)
		}
		res, err := tx.ExecContext(ctx,
			`DELETE FROM allow_entries WHERE credential_id = $1 AND id = $2`, credentialID, entryID)
		if err := mustAffect(res, err); err != nil {
			return nil, wrap("delete allowlist entry", "allowlist entry", err)
		}
		return []gatehouse.Change{c}, nil
	})
}

// lockCredential reads the tenant's credential inside tx, locking it until
// the transaction ends, and returns the Change a write to it makes.
func (db *DB) lockCredential(ctx context.Context, tx *sql.Tx, tenantID, id string) (gatehouse.Change, error) {
	c := gatehouse.Change{TenantID: tenantID, CredentialID: id}
	err := tx.QueryRowContext(ctx,
		`SELECT hash FROM credentials WHERE tenant_id = $1 AND id = $2`+db.d.forUpdate,
		tenantID, id).Scan(&c.Hash)
	return c, err
}

// insertAllowEntry inserts e (already validated) for the credential,
// assigning ID and CreatedAt (to created) when empty.
func (db *DB) insertAllowEntry(ctx context.Context, tx *sql.Tx, credentialID string, e *gatehouse.AllowEntry, created time.Time) error {
	if e.ID == "" {
		e.ID = newID(prefixAllowEntry)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = created
	}
	e.CreatedAt = normTime(e.CreatedAt)
	_, err := tx.ExecContext(ctx,
		`INSERT INTO allow_entries (id, credential_id, name, cidr, created_at) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, credentialID, e.Name, e.Prefix.String(), db.d.time(e.CreatedAt))
	return err
}
