package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

const authCodeColumns = `hash, tenant_id, client_id, user_id, redirect_uri, scopes, code_challenge,
	grant_id, expires_at, created_at, used_at`

// CreateAuthCode stores an authorization code by its hash, assigning
// CreatedAt when zero. A hash already stored is ECONFLICT; a missing
// tenant is ENOTFOUND.
func (db *DB) CreateAuthCode(ctx context.Context, c *gatehouse.AuthCode) error {
	scopes, err := joinScopes(c.Scopes)
	if err != nil {
		return fmt.Errorf("create authorization code: %w", err)
	}
	if len(c.Hash) == 0 {
		return fmt.Errorf("create authorization code: %w", gatehouse.FieldError("hash", "a code hash is required"))
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = normTime(c.CreatedAt)
	c.ExpiresAt = normTime(c.ExpiresAt)
	c.UsedAt = normTimePtr(c.UsedAt)
	_, err = db.exec(ctx, "create authorization code", processCrash, `
		INSERT INTO oauth_codes (`+authCodeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.Hash, c.TenantID, c.ClientID, c.UserID, c.RedirectURI, scopes, c.CodeChallenge,
		c.GrantID, db.d.time(c.ExpiresAt), db.d.time(c.CreatedAt), db.d.timePtr(c.UsedAt))
	return wrap("create authorization code", "authorization code", err)
}

// ConsumeAuthCode marks the code used at now and, in the same
// transaction, stores what issue returns for it. The mark is one
// conditional UPDATE, so of any number of concurrent callers exactly one
// succeeds; on PostgreSQL the others wait for its row lock, on SQLite for
// the single writer, so they find the code used only once its tokens are
// committed. A code already used is returned WITH an ECONFLICT error — both
// results are non-nil, and UsedAt is the first use — so the caller can
// revoke the grant the first redemption started (RFC 6749 §4.1.2). An
// unknown (or pruned) code is ENOTFOUND. When issue returns an error the
// consumption is committed anyway and that error is returned with the code.
func (db *DB) ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time, issue func(*gatehouse.AuthCode) ([]*gatehouse.Credential, error)) (*gatehouse.AuthCode, error) {
	const op = "consume authorization code"
	var (
		code     *gatehouse.AuthCode
		refusal  error
		conflict bool
	)
	err := db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c, err := scanAuthCode(tx.QueryRowContext(ctx, `
			UPDATE oauth_codes SET used_at = $2
			WHERE hash = $1 AND used_at IS NULL
			RETURNING `+authCodeColumns, hash, db.d.time(now)))
		if errors.Is(err, sql.ErrNoRows) {
			// Used already, or unknown: nothing to write.
			c, err = scanAuthCode(tx.QueryRowContext(ctx,
				`SELECT `+authCodeColumns+` FROM oauth_codes WHERE hash = $1`, hash))
			if err != nil {
				return nil, wrap(op, "authorization code", err)
			}
			code, conflict = c, true
			return nil, nil
		}
		if err != nil {
			return nil, wrap(op, "authorization code", err)
		}
		code = c
		if issue == nil {
			return nil, nil
		}
		creds, err := issue(c)
		if err != nil {
			refusal = err // committed: the code is spent either way
			return nil, nil
		}
		for _, cr := range creds {
			scopes, err := prepareCredential(cr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			if err := db.insertCredential(ctx, tx, op, cr, scopes); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	switch {
	case err != nil:
		return nil, err
	case conflict:
		return code, fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ECONFLICT, "authorization code already used"))
	case refusal != nil:
		return code, refusal
	}
	return code, nil
}

// PruneAuthCodes deletes the codes that expired before now, used or not.
// Used codes are kept until then so that a replay within the code's
// lifetime is still recognised.
func (db *DB) PruneAuthCodes(ctx context.Context, now time.Time) error {
	_, err := db.exec(ctx, "prune authorization codes", powerLoss, `DELETE FROM oauth_codes WHERE expires_at < $1`, db.d.time(now))
	return wrap("prune authorization codes", "authorization code", err)
}

func scanAuthCode(s scanner) (*gatehouse.AuthCode, error) {
	var (
		c                      gatehouse.AuthCode
		scopes                 string
		expires, created, used dbTime
	)
	err := s.Scan(&c.Hash, &c.TenantID, &c.ClientID, &c.UserID, &c.RedirectURI, &scopes, &c.CodeChallenge,
		&c.GrantID, &expires, &created, &used)
	if err != nil {
		return nil, err
	}
	c.Scopes = splitScopes(scopes)
	c.ExpiresAt = expires.Time
	c.CreatedAt = created.Time
	c.UsedAt = used.Ptr()
	return &c, nil
}
