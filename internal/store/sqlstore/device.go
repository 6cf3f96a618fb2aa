package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
)

const deviceColumns = `device_hash, user_hash, tenant_id, client_id, scopes, interval_s, status, user_id,
	grant_id, expires_at, created_at, last_polled_at, decided_at, used_at`

// deviceSlowDown is what RFC 8628 §3.5 adds to the interval on slow_down.
const deviceSlowDown = 5 * time.Second

// CreateDeviceAuthorization stores a pending device authorization request
// (see gatehouse.DeviceStore). In one transaction an expired request
// holding the same user code is deleted, then the row inserted; a live
// holder makes the insert ECONFLICT.
func (db *DB) CreateDeviceAuthorization(ctx context.Context, d *gatehouse.DeviceAuthorization) error {
	const op = "create device authorization"
	scopes, err := joinScopes(d.Scopes)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(d.DeviceHash) == 0 || len(d.UserHash) == 0 {
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("device_code", "device and user code hashes are required"))
	}
	if d.Interval < time.Second {
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("interval", "the interval must be at least 1s"))
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now()
	}
	d.CreatedAt, d.ExpiresAt = normTime(d.CreatedAt), normTime(d.ExpiresAt)
	d.Status, d.UserID, d.GrantID = gatehouse.DevicePending, "", ""
	d.LastPolledAt, d.DecidedAt, d.UsedAt = nil, nil, nil
	return db.tx(ctx, op, processCrash, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_authorizations WHERE user_hash = $1 AND expires_at <= $2`,
			d.UserHash, db.d.time(d.CreatedAt)); err != nil {
			return wrap(op, "device authorization", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_authorizations (`+deviceColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', $8, $9, NULL, NULL, NULL)`,
			d.DeviceHash, d.UserHash, d.TenantID, d.ClientID, scopes, int64(d.Interval/time.Second), d.Status,
			db.d.time(d.ExpiresAt), db.d.time(d.CreatedAt))
		return wrap(op, "device authorization", err)
	})
}

// FindDeviceAuthorizationByUserCode returns the live, pending request of
// a user code (see gatehouse.DeviceStore).
func (db *DB) FindDeviceAuthorizationByUserCode(ctx context.Context, userHash []byte, at time.Time) (*gatehouse.DeviceAuthorization, error) {
	d, err := scanDevice(db.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM device_authorizations
		WHERE user_hash = $1 AND status = 'pending' AND expires_at > $2`, userHash, db.d.time(normTime(at))))
	return d, wrap("find device authorization", "device authorization", err)
}

// DecideDeviceAuthorization approves or denies a pending request with one
// conditional UPDATE (see gatehouse.DeviceStore): of two decisions racing,
// one changes the row and the other finds it decided.
func (db *DB) DecideDeviceAuthorization(ctx context.Context, d *gatehouse.DeviceDecision) error {
	const op = "decide device authorization"
	status, scopes, grant := gatehouse.DeviceDenied, "", ""
	if d.Allow {
		var err error
		if scopes, err = joinScopes(gatehouse.AppScopes(d.Scopes)); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if d.GrantID == "" {
			return fmt.Errorf("%s: %w", op, gatehouse.FieldError("grant_id", "an approval needs a grant id"))
		}
		status, grant = gatehouse.DeviceApproved, d.GrantID
	}
	at := normTime(d.Now)
	return db.tx(ctx, op, powerLoss, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `
			UPDATE device_authorizations
			SET status = $3, user_id = $4, grant_id = $5, decided_at = $6,
			    scopes = CASE WHEN $3 = 'approved' THEN $7 ELSE scopes END
			WHERE user_hash = $1 AND tenant_id = $2 AND status = 'pending' AND expires_at > $6
			RETURNING 1`, d.UserHash, d.TenantID, status, d.UserID, grant, db.d.time(at), scopes).Scan(&one)
		if !errors.Is(err, sql.ErrNoRows) {
			return wrap(op, "device authorization", err)
		}
		// Nothing changed: say why, without telling another tenant's
		// request from an unknown one.
		var st string
		var exp dbTime
		err = tx.QueryRowContext(ctx, `SELECT status, expires_at FROM device_authorizations
			WHERE user_hash = $1 AND tenant_id = $2`, d.UserHash, d.TenantID).Scan(&st, &exp)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && !at.Before(exp.Time)):
			return fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ENOTFOUND, "device authorization not found"))
		case err != nil:
			return wrap(op, "device authorization", err)
		}
		return fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ECONFLICT, "the request has been %s already", st))
	})
}

// PollDeviceAuthorization answers a device_code token request (see
// gatehouse.DeviceStore). The row is read, the app, consent and
// membership share-locked (Lock order in grant.go: they come before the
// request's row), then the row is read again FOR UPDATE — so concurrent
// polls of one request serialise on it on PostgreSQL, and on the single
// writer on SQLite — and decided on.
func (db *DB) PollDeviceAuthorization(ctx context.Context, r *gatehouse.DevicePoll) (gatehouse.DevicePollResult, error) {
	const op = "poll device authorization"
	var (
		result gatehouse.DevicePollResult
		used   bool
	)
	ref := refusal{op: op}
	at := normTime(r.Now)
	err := db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		first, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM device_authorizations WHERE device_hash = $1`, r.DeviceHash))
		if err != nil {
			return nil, wrap(op, "device authorization", err)
		}
		if first.ClientID != r.ClientID || first.TenantID != r.TenantID {
			// RFC 8628 §3.4: the device code is the client's; another
			// client learns nothing and changes nothing.
			return ref.refuse(gatehouse.EFORBIDDEN, "the device code was issued to another client")
		}
		gone, err := db.lockIssueParents(ctx, tx, first.TenantID, first.ClientID, first.UserID)
		if err != nil {
			return nil, wrap(op, "device authorization", err)
		}
		d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM device_authorizations WHERE device_hash = $1`+db.d.forUpdate, r.DeviceHash))
		if err != nil {
			return nil, wrap(op, "device authorization", err)
		}
		switch {
		case d.UsedAt != nil:
			used = true
			return nil, nil
		case !at.Before(d.ExpiresAt):
			result = gatehouse.DevicePollExpired
			return nil, nil
		case d.Status == gatehouse.DeviceDenied:
			result = gatehouse.DevicePollDenied
			return nil, nil
		case d.Status == gatehouse.DevicePending || d.UserID != first.UserID:
			// Still pending (or approved between the two reads, whose
			// user's rows are not locked: the next poll gets the tokens).
			interval := d.Interval
			result = gatehouse.DevicePollPending
			if d.LastPolledAt != nil && at.Before(d.LastPolledAt.Add(d.Interval)) {
				// RFC 8628 §3.5: slow_down, and the interval grows by 5 s
				// for this and every later request.
				interval += deviceSlowDown
				result = gatehouse.DevicePollSlowDown
			}
			_, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET last_polled_at = $2, interval_s = $3 WHERE device_hash = $1`,
				r.DeviceHash, db.d.time(at), int64(interval/time.Second))
			return nil, wrap(op, "device authorization", err)
		}
		// Approved: spent from here, whatever the answer.
		if _, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET used_at = $2, last_polled_at = $2 WHERE device_hash = $1`,
			r.DeviceHash, db.d.time(at)); err != nil {
			return nil, wrap(op, "device authorization", err)
		}
		if gone != "" {
			return ref.refuse(gatehouse.EINVALID, "%s", gone)
		}
		res, err := db.execTx(ctx, tx, upsertGrantSQL, d.GrantID, d.TenantID, db.d.time(at))
		if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
			return ref.refuse(gatehouse.EINVALID, "the grant has been revoked")
		} else if err != nil {
			return nil, wrap(op, "grant", err)
		}
		scopes := gatehouse.AppScopes(d.Scopes) // SPEC §9: never manage
		for _, cr := range r.Issue {
			cr.UserID, cr.GrantID, cr.Scopes = d.UserID, d.GrantID, slices.Clone(scopes)
			joined, err := prepareCredential(cr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			if err := db.insertCredential(ctx, tx, op, cr, joined); err != nil {
				return nil, err
			}
		}
		result = gatehouse.DevicePollIssued
		return nil, nil
	})
	switch {
	case err != nil:
		return "", err
	case ref.err != nil:
		return "", ref.err
	case used:
		return "", fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ECONFLICT, "the device code has been used already"))
	}
	return result, nil
}

func scanDevice(s scanner) (*gatehouse.DeviceAuthorization, error) {
	var (
		d                                      gatehouse.DeviceAuthorization
		scopes                                 string
		interval                               int64
		expires, created, polled, decided, use dbTime
	)
	err := s.Scan(&d.DeviceHash, &d.UserHash, &d.TenantID, &d.ClientID, &scopes, &interval, &d.Status, &d.UserID,
		&d.GrantID, &expires, &created, &polled, &decided, &use)
	if err != nil {
		return nil, err
	}
	d.Scopes = splitScopes(scopes)
	d.Interval = time.Duration(interval) * time.Second
	d.ExpiresAt, d.CreatedAt = expires.Time, created.Time
	d.LastPolledAt, d.DecidedAt, d.UsedAt = polled.Ptr(), decided.Ptr(), use.Ptr()
	return &d, nil
}
