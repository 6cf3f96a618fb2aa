package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

const pushedColumns = `hash, tenant_id, client_id, params, expires_at, created_at, opened_at, used_at`

// CreatePushedRequest stores a pushed authorization request (RFC 9126 §2)
// by its hash, assigning CreatedAt when zero. A hash already stored is
// ECONFLICT; an app that is not the tenant's (or is gone) is ENOTFOUND, by
// the foreign key.
func (db *DB) CreatePushedRequest(ctx context.Context, r *gatehouse.PushedRequest) error {
	if len(r.Hash) == 0 {
		return fmt.Errorf("create pushed request: %w", gatehouse.FieldError("hash", "a request_uri hash is required"))
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	r.CreatedAt, r.ExpiresAt = normTime(r.CreatedAt), normTime(r.ExpiresAt)
	r.OpenedAt, r.UsedAt = normTimePtr(r.OpenedAt), normTimePtr(r.UsedAt)
	_, err := db.exec(ctx, "create pushed request", processCrash, `
		INSERT INTO oauth_pushed_requests (`+pushedColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.Hash, r.TenantID, r.ClientID, r.Params, db.d.time(r.ExpiresAt), db.d.time(r.CreatedAt),
		db.d.timePtr(r.OpenedAt), db.d.timePtr(r.UsedAt))
	return wrap("create pushed request", "pushed request", err)
}

// OpenPushedRequest returns the app's pushed request (see
// gatehouse.OAuth2Store). One conditional UPDATE both checks and, on the
// first presentation, extends it; a refusal reads the row once more to say
// why (a row only ever moves towards used or expired, so the reason read
// is the one that refused or a later one).
func (db *DB) OpenPushedRequest(ctx context.Context, tenantID, clientID string, hash []byte, now, until time.Time) (*gatehouse.PushedRequest, error) {
	const op = "open pushed request"
	var r *gatehouse.PushedRequest
	now, until = normTime(now), normTime(until)
	err := db.write(ctx, op, processCrash, func(q querier) error {
		var err error
		r, err = scanPushed(q.QueryRowContext(ctx, `
			UPDATE oauth_pushed_requests
			SET opened_at = COALESCE(opened_at, $4),
			    expires_at = CASE WHEN opened_at IS NULL THEN $5 ELSE expires_at END
			WHERE hash = $1 AND tenant_id = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $4
			RETURNING `+pushedColumns, hash, tenantID, clientID, db.d.time(now), db.d.time(until)))
		if errors.Is(err, sql.ErrNoRows) {
			return db.pushedRefusal(ctx, q, tenantID, clientID, hash)
		}
		return err
	})
	return r, wrap(op, "pushed request", err)
}

// ConsumePushedRequest marks the app's pushed request used (see
// gatehouse.OAuth2Store) with one conditional UPDATE: on PostgreSQL racing
// callers wait for the winner's row lock and then find it used; on SQLite
// the single writer serialises them. Durable like a code's consumption.
func (db *DB) ConsumePushedRequest(ctx context.Context, tenantID, clientID string, hash []byte, now time.Time) error {
	const op = "consume pushed request"
	now = normTime(now)
	err := db.write(ctx, op, powerLoss, func(q querier) error {
		res, err := q.ExecContext(ctx, `
			UPDATE oauth_pushed_requests SET used_at = $4
			WHERE hash = $1 AND tenant_id = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $4`,
			hash, tenantID, clientID, db.d.time(now))
		if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
			return db.pushedRefusal(ctx, q, tenantID, clientID, hash)
		} else if err != nil {
			return err
		}
		return nil
	})
	return wrap(op, "pushed request", err)
}

// pushedRefusal says why a pushed request could not be opened or used.
// Security: one of another app or tenant is ENOTFOUND, as an unknown one.
func (db *DB) pushedRefusal(ctx context.Context, q querier, tenantID, clientID string, hash []byte) error {
	r, err := scanPushed(q.QueryRowContext(ctx,
		`SELECT `+pushedColumns+` FROM oauth_pushed_requests WHERE hash = $1`, hash))
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && (r.TenantID != tenantID || r.ClientID != clientID):
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "the request_uri is not known")
	case err != nil:
		return err
	case r.UsedAt != nil:
		return gatehouse.Errorf(gatehouse.ECONFLICT, "the request_uri has been used")
	}
	return gatehouse.Errorf(gatehouse.EINVALID, "the request_uri has expired")
}

func scanPushed(s scanner) (*gatehouse.PushedRequest, error) {
	var (
		r                           gatehouse.PushedRequest
		expires, created, open, use dbTime
	)
	if err := s.Scan(&r.Hash, &r.TenantID, &r.ClientID, &r.Params, &expires, &created, &open, &use); err != nil {
		return nil, err
	}
	r.ExpiresAt, r.CreatedAt, r.OpenedAt, r.UsedAt = expires.Time, created.Time, open.Ptr(), use.Ptr()
	return &r, nil
}
