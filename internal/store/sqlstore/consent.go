package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

const consentColumns = `tenant_id, user_id, client_id, scopes, created_at, updated_at`

// SaveConsent creates or replaces the user's consent for an app. UpdatedAt
// is set to now when zero; a new consent's CreatedAt is UpdatedAt when
// zero, and a replaced one keeps its first CreatedAt, which is written back
// to c. The app must be the tenant's and the user must exist (ENOTFOUND).
func (db *DB) SaveConsent(ctx context.Context, c *gatehouse.Consent) error {
	scopes, err := joinScopes(c.Scopes)
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now()
	}
	c.UpdatedAt = normTime(c.UpdatedAt)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = c.UpdatedAt
	}
	var created dbTime
	// powerLoss: a replaced consent may grant fewer scopes than before.
	err = db.write(ctx, "save consent", powerLoss, func(q querier) error {
		return q.QueryRowContext(ctx, `
		INSERT INTO oauth_consents (`+consentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE SET
			scopes = excluded.scopes,
			updated_at = excluded.updated_at
		RETURNING created_at`,
			c.TenantID, c.UserID, c.ClientID, scopes, db.d.time(c.CreatedAt), db.d.time(c.UpdatedAt)).Scan(&created)
	})
	if err != nil {
		return wrap("save consent", "consent", err)
	}
	c.CreatedAt = created.Time
	return nil
}

// FindConsent returns the user's consent for the tenant's app.
func (db *DB) FindConsent(ctx context.Context, tenantID, userID, clientID string) (*gatehouse.Consent, error) {
	c, err := scanConsent(db.r.QueryRowContext(ctx, `
		SELECT `+consentColumns+` FROM oauth_consents
		WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`, tenantID, userID, clientID))
	return c, wrap("find consent", "consent", err)
}

// ListConsents returns the user's consents in the tenant, newest first.
func (db *DB) ListConsents(ctx context.Context, tenantID, userID string) ([]*gatehouse.Consent, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT `+consentColumns+` FROM oauth_consents
		WHERE tenant_id = $1 AND user_id = $2
		ORDER BY created_at DESC, client_id DESC`, tenantID, userID)
	if err != nil {
		return nil, wrap("list consents", "consent", err)
	}
	defer rows.Close()
	var list []*gatehouse.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, wrap("list consents", "consent", err)
		}
		list = append(list, c)
	}
	return list, wrap("list consents", "consent", rows.Err())
}

// DeleteConsent forgets the consent and, in the same transaction, revokes
// at now every credential of the tenant that the app holds for the user and
// that is not revoked yet; subscribers hear of each. No consent is
// ENOTFOUND and nothing is revoked.
func (db *DB) DeleteConsent(ctx context.Context, tenantID, userID, clientID string, now time.Time) error {
	return db.change(ctx, "delete consent", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM oauth_consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`,
			tenantID, userID, clientID)
		if err := mustAffect(res, err); err != nil {
			return nil, wrap("delete consent", "consent", err)
		}
		rows, err := tx.QueryContext(ctx, `
			UPDATE credentials SET revoked_at = $4
			WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3 AND revoked_at IS NULL
			RETURNING id, hash`,
			tenantID, userID, clientID, db.d.time(now))
		changes, err := credentialChanges(tenantID, rows, err)
		return changes, wrap("delete consent", "credential", err)
	})
}

func scanConsent(s scanner) (*gatehouse.Consent, error) {
	var (
		c                gatehouse.Consent
		scopes           string
		created, updated dbTime
	)
	if err := s.Scan(&c.TenantID, &c.UserID, &c.ClientID, &scopes, &created, &updated); err != nil {
		return nil, err
	}
	c.Scopes = splitScopes(scopes)
	c.CreatedAt = created.Time
	c.UpdatedAt = updated.Time
	return &c, nil
}
