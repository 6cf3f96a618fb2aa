package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// OAuth 1.0a request tokens (RFC 5849 §2.1). There is no pruning: a
// request token lives minutes, the provider checks ExpiresAt, and a used or
// expired token grants nothing; the rows go with their integration (the
// foreign key cascades), and a used one kept until then lets a replay be
// recognised as such.

const requestTokenColumns = `hash, tenant_id, integration_id, secret, expires_at, created_at, used_at`

// CreateRequestToken stores a request token by its hash, assigning
// CreatedAt when zero. A hash already stored is ECONFLICT; an integration
// that is not the tenant's (or is gone) is ENOTFOUND; an empty hash or
// secret is EINVALID.
func (db *DB) CreateRequestToken(ctx context.Context, t *gatehouse.OAuth1Token) error {
	const op = "create request token"
	switch {
	case len(t.Hash) == 0:
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("hash", "a token hash is required"))
	case len(t.Secret) == 0:
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("secret", "a sealed token secret is required"))
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.CreatedAt = normTime(t.CreatedAt)
	t.ExpiresAt = normTime(t.ExpiresAt)
	t.UsedAt = normTimePtr(t.UsedAt)
	_, err := db.exec(ctx, "create request token", processCrash, `
		INSERT INTO oauth1_request_tokens (`+requestTokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Hash, t.TenantID, t.IntegrationID, t.Secret,
		db.d.time(t.ExpiresAt), db.d.time(t.CreatedAt), db.d.timePtr(t.UsedAt))
	return wrap(op, "request token", err)
}

// FindRequestToken returns the request token with the hash, in any tenant,
// used or not, so its secret can check a signature before
// ConsumeRequestToken. Expiry is the caller's to check.
func (db *DB) FindRequestToken(ctx context.Context, hash []byte) (*gatehouse.OAuth1Token, error) {
	t, err := scanRequestToken(db.r.QueryRowContext(ctx,
		`SELECT `+requestTokenColumns+` FROM oauth1_request_tokens WHERE hash = $1`, hash))
	return t, wrap("find request token", "request token", err)
}

// ConsumeRequestToken marks the request token used at now and returns it.
// The mark is one conditional UPDATE, so of any number of concurrent
// callers exactly one succeeds. A token already used is returned WITH an
// ECONFLICT error — both results non-nil, UsedAt the first use — as
// RedeemAuthCode does with a replayed code; an unknown one is ENOTFOUND. Expiry is the
// caller's to check (RFC 5849 §2.3: the request token is exchanged once).
func (db *DB) ConsumeRequestToken(ctx context.Context, hash []byte, now time.Time) (*gatehouse.OAuth1Token, error) {
	const op = "consume request token"
	var t *gatehouse.OAuth1Token
	used := false
	err := db.write(ctx, op, powerLoss, func(q querier) error {
		var err error
		t, err = scanRequestToken(q.QueryRowContext(ctx, `
			UPDATE oauth1_request_tokens SET used_at = $2
			WHERE hash = $1 AND used_at IS NULL
			RETURNING `+requestTokenColumns, hash, db.d.time(now)))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Used already, or unknown. A used token stays used, so reading
		// it outside the UPDATE's transaction cannot disagree with it.
		used = true
		t, err = scanRequestToken(q.QueryRowContext(ctx,
			`SELECT `+requestTokenColumns+` FROM oauth1_request_tokens WHERE hash = $1`, hash))
		return err
	})
	if err != nil {
		return nil, wrap(op, "request token", err)
	}
	if used {
		return t, fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ECONFLICT, "request token already used"))
	}
	return t, nil
}

func scanRequestToken(s scanner) (*gatehouse.OAuth1Token, error) {
	var (
		t                      gatehouse.OAuth1Token
		expires, created, used dbTime
	)
	if err := s.Scan(&t.Hash, &t.TenantID, &t.IntegrationID, &t.Secret, &expires, &created, &used); err != nil {
		return nil, err
	}
	t.ExpiresAt = expires.Time
	t.CreatedAt = created.Time
	t.UsedAt = used.Ptr()
	return &t, nil
}
