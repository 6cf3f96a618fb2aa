package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// ReserveLoginAttempt counts a login attempt under every counter of cs, or
// under none when one is full, in one transaction. Counters are locked in
// key order (PostgreSQL: INSERT … ON CONFLICT DO NOTHING, then SELECT …
// FOR UPDATE), so racing reservations on any number of nodes serialise
// per counter without deadlocks; SQLite's BEGIN IMMEDIATE serialises them
// anyway.
func (db *DB) ReserveLoginAttempt(ctx context.Context, cs []gatehouse.LoginCounter, now time.Time, window time.Duration) (time.Duration, error) {
	const op = "reserve login attempt"
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b gatehouse.LoginCounter) int { return strings.Compare(a.Key, b.Key) })
	now = normTime(now)
	var wait time.Duration
	err := db.tx(ctx, op, processCrash, func(tx *sql.Tx) error {
		type state struct {
			n     int
			start time.Time
		}
		states := make([]state, len(cs))
		for i, c := range cs {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO login_attempts (key, n, window_start) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING`,
				c.Key, db.d.time(now)); err != nil {
				return wrap(op, "login attempt", err)
			}
			var start dbTime
			if err := tx.QueryRowContext(ctx,
				`SELECT n, window_start FROM login_attempts WHERE key = $1`+db.d.forUpdate, c.Key).
				Scan(&states[i].n, &start); err != nil {
				return wrap(op, "login attempt", err)
			}
			states[i].start = start.Time
			if !now.Before(start.Time.Add(window)) { // the window ended: start again
				states[i] = state{start: now}
			}
			if c.Limit > 0 && states[i].n >= c.Limit {
				wait = max(wait, states[i].start.Add(window).Sub(now))
			}
		}
		if wait > 0 {
			return errFull // roll back: nothing is counted
		}
		for i, c := range cs {
			if _, err := tx.ExecContext(ctx,
				`UPDATE login_attempts SET n = $2, window_start = $3 WHERE key = $1`,
				c.Key, states[i].n+1, db.d.time(states[i].start)); err != nil {
				return wrap(op, "login attempt", err)
			}
		}
		return nil
	})
	if errors.Is(err, errFull) {
		return wait, nil
	}
	return 0, err
}

// errFull rolls back a reservation that found a full counter.
var errFull = gatehouse.Errorf(gatehouse.ETOOMANY, "a login counter is full")

// ReleaseLoginAttempt takes one back from each counter of keys and deletes
// those of clear, in one transaction.
func (db *DB) ReleaseLoginAttempt(ctx context.Context, keys, clear []string) error {
	const op = "release login attempt"
	keys = slices.Sorted(slices.Values(keys))
	return db.tx(ctx, op, processCrash, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx,
				`UPDATE login_attempts SET n = n - 1 WHERE key = $1 AND n > 0`, k); err != nil {
				return wrap(op, "login attempt", err)
			}
		}
		for _, k := range clear {
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE key = $1`, k); err != nil {
				return wrap(op, "login attempt", err)
			}
		}
		return nil
	})
}

// LoginAddressKnown reports whether email logged in from ip.
func (db *DB) LoginAddressKnown(ctx context.Context, email, ip string) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx,
		`SELECT 1 FROM login_addresses WHERE email = $1 AND ip = $2`, email, ip).Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		return false, nil
	case err != nil:
		return false, wrap("find login address", "login address", err)
	}
	return true, nil
}

// RememberLoginAddress records email's login from ip and forgets all but
// its keep most recent addresses.
func (db *DB) RememberLoginAddress(ctx context.Context, email, ip string, now time.Time, keep int) error {
	const op = "remember login address"
	return db.tx(ctx, op, processCrash, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO login_addresses (email, ip, last_at) VALUES ($1, $2, $3)
			ON CONFLICT (email, ip) DO UPDATE SET last_at = excluded.last_at`,
			email, ip, db.d.time(now)); err != nil {
			return wrap(op, "login address", err)
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM login_addresses WHERE email = $1 AND ip NOT IN (
				SELECT ip FROM login_addresses WHERE email = $1 ORDER BY last_at DESC, ip LIMIT $2)`,
			email, keep); err != nil {
			return wrap(op, "login address", err)
		}
		return nil
	})
}

// PruneLoginAttempts deletes counters whose window started before before.
func (db *DB) PruneLoginAttempts(ctx context.Context, before time.Time) error {
	_, err := db.exec(ctx, "prune login attempts", processCrash,
		`DELETE FROM login_attempts WHERE window_start < $1`, db.d.time(before))
	return wrap("prune login attempts", "login attempt", err)
}
