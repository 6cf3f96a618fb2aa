package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// CreateCredentialWithin stores c unless the tenant already holds limit
// live credentials of its kind for its user (or of any user when c.UserID
// is ""): ECONFLICT then. The count and the insert are one transaction, and
// racing creations for the same user (or tenant) are serialised, so the
// limit holds under concurrency on both backends.
func (db *DB) CreateCredentialWithin(ctx context.Context, c *gatehouse.Credential, limit int) error {
	const op = "create credential"
	if limit <= 0 {
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("limit", "the limit must be positive"))
	}
	scopes, err := prepareCredential(c)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return db.tx(ctx, op, processCrash, func(tx *sql.Tx) error {
		// SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL
		// locks the row the limit belongs to (the membership, or the
		// tenant) until the commit.
		if db.d.forUpdate != "" {
			lock := `SELECT 1 FROM tenants WHERE id = $1` + db.d.forUpdate
			args := []any{c.TenantID}
			if c.UserID != "" {
				lock = `SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2` + db.d.forUpdate
				args = append(args, c.UserID)
			}
			if _, err := tx.ExecContext(ctx, lock, args...); err != nil {
				return wrap(op, "credential", err)
			}
		}
		var n int
		err := tx.QueryRowContext(ctx, `
			SELECT COUNT(*) FROM credentials
			WHERE tenant_id = $1 AND kind = $2 AND COALESCE(user_id, '') = $3
				AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)`,
			c.TenantID, string(c.Kind), c.UserID, db.d.time(c.CreatedAt)).Scan(&n)
		if err != nil {
			return wrap(op, "credential", err)
		}
		if n >= limit {
			return gatehouse.Errorf(gatehouse.ECONFLICT, "the limit of %d live credentials of this kind is reached", limit)
		}
		return db.insertCredential(ctx, tx, op, c, scopes)
	})
}
