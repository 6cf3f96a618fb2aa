package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Lock order. Every transaction that adds or revokes OAuth 2.0 credentials
// takes its row locks in this order, so none waits for another in a
// circle: the app (oauth_clients), the user's consent (oauth_consents), the
// user's membership (memberships), an authorization code (oauth_codes),
// the grant (oauth_grants), then credentials. No transaction of these
// calls back into code that could use a second connection. On PostgreSQL the writers that
// add credentials hold the first three while they insert, and the ones that
// revoke take one of them before their revoking UPDATE, so a token added
// concurrently is either seen by that UPDATE (READ COMMITTED gives each
// statement a fresh snapshot) or refused. On SQLite writers are serialised
// and only the grant check matters. OAuth 1.0a integrations follow the same
// rule with the integration's row as the parent (see integration.go).

// upsertGrantSQL records a grant seen for the first time and affects no
// row when the grant has been revoked (or is another tenant's).
const upsertGrantSQL = `
	INSERT INTO oauth_grants (id, tenant_id, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (id) DO UPDATE SET created_at = oauth_grants.created_at
	WHERE oauth_grants.revoked_at IS NULL AND oauth_grants.tenant_id = excluded.tenant_id`

// lockCredentialParents takes, in tx, the locks a write adding a credential
// bound to clientID, userID and grantID needs (see Lock order above). A
// grant that has been revoked is ECONFLICT; a grant seen for the first time
// is recorded.
func (db *DB) lockCredentialParents(ctx context.Context, tx *sql.Tx, tenantID, clientID, userID, grantID string, at time.Time) error {
	if db.d.forShare != "" && clientID != "" {
		// The rows may not exist (an OAuth 1.0a integration id, or a
		// test's made-up app): then there is nothing to lock.
		if _, err := tx.ExecContext(ctx,
			`SELECT 1 FROM oauth_clients WHERE tenant_id = $1 AND id = $2`+db.d.forShare,
			tenantID, clientID); err != nil {
			return err
		}
		if userID != "" {
			if _, err := tx.ExecContext(ctx,
				`SELECT 1 FROM oauth_consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`+db.d.forShare,
				tenantID, userID, clientID); err != nil {
				return err
			}
		}
	}
	if grantID == "" {
		return nil
	}
	res, err := db.execTx(ctx, tx, upsertGrantSQL, grantID, tenantID, db.d.time(at))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return gatehouse.Errorf(gatehouse.ECONFLICT, "grant has been revoked")
	}
	return nil
}

// RevokeGrant revokes at now every credential of the tenant's grant that is
// not revoked yet, and records the grant as revoked, so a credential added
// to it later (by a concurrent code redemption or refresh) is ECONFLICT.
// It is idempotent: an unknown grant is recorded and revokes nothing; a
// grant of another tenant is left alone. An empty grantID is EINVALID.
func (db *DB) RevokeGrant(ctx context.Context, tenantID, grantID string, now time.Time) error {
	if grantID == "" {
		return fmt.Errorf("revoke grant: %w", gatehouse.FieldError("grant_id", "a grant id is required"))
	}
	return db.change(ctx, "revoke grant", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		changes, err := db.revokeGrant(ctx, tx, tenantID, grantID, now)
		return changes, wrap("revoke grant", "grant", err)
	})
}

// revokeGrant is RevokeGrant in tx.
func (db *DB) revokeGrant(ctx context.Context, tx *sql.Tx, tenantID, grantID string, now time.Time) ([]gatehouse.Change, error) {
	// Mark the grant first: this waits for writers adding to it, and
	// refuses those that come after.
	_, err := tx.ExecContext(ctx, `
		INSERT INTO oauth_grants (id, tenant_id, created_at, revoked_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(oauth_grants.revoked_at, excluded.revoked_at)
		WHERE oauth_grants.tenant_id = excluded.tenant_id`,
		grantID, tenantID, db.d.time(now))
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `
		UPDATE credentials SET revoked_at = $3
		WHERE tenant_id = $1 AND grant_id = $2 AND revoked_at IS NULL
		RETURNING id, hash`,
		tenantID, grantID, db.d.time(now))
	return credentialChanges(tenantID, rows, err)
}

// RotateRefreshToken marks the tenant's refresh token oldID rotated
// (RotatedAt = now) and stores next (assigning IDs and CreatedAt as
// CreateCredential does), in one transaction. The mark is a conditional
// UPDATE, so of concurrent rotations of one token exactly one succeeds. A
// token already rotated or revoked, or whose grant has been revoked, is
// ECONFLICT and nothing is stored; an unknown oldID is ENOTFOUND.
// Subscribers hear of the rotated token.
func (db *DB) RotateRefreshToken(ctx context.Context, tenantID, oldID string, now time.Time, next []*gatehouse.Credential) error {
	const op = "rotate refresh token"
	scopes := make([]string, len(next))
	for i, c := range next {
		var err error
		if scopes[i], err = prepareCredential(c); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		var clientID, grantID string
		var userID sql.NullString
		err := tx.QueryRowContext(ctx,
			`SELECT client_id, user_id, grant_id FROM credentials WHERE tenant_id = $1 AND id = $2`,
			tenantID, oldID).Scan(&clientID, &userID, &grantID)
		if err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		if err := db.lockCredentialParents(ctx, tx, tenantID, clientID, userID.String, grantID, now); err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		c := gatehouse.Change{TenantID: tenantID, CredentialID: oldID}
		err = tx.QueryRowContext(ctx, `
			UPDATE credentials SET rotated_at = $3
			WHERE tenant_id = $1 AND id = $2 AND rotated_at IS NULL AND revoked_at IS NULL
			RETURNING hash`,
			tenantID, oldID, db.d.time(now)).Scan(&c.Hash)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", op,
				gatehouse.Errorf(gatehouse.ECONFLICT, "refresh token already rotated or revoked"))
		}
		if err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		for i, n := range next {
			if err := db.insertCredential(ctx, tx, op, n, scopes[i]); err != nil {
				return nil, err
			}
		}
		return []gatehouse.Change{c}, nil
	})
}
