package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateSession stores a console login, assigning ID and CreatedAt when
// empty (and LastSeenAt, to CreatedAt). Only the hash of the cookie value
// is stored.
func (db *DB) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	if s.ID == "" {
		s.ID = newID(prefixSession)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	s.CreatedAt = normTime(s.CreatedAt)
	s.ExpiresAt = normTime(s.ExpiresAt)
	s.LastSeenAt = normTime(s.LastSeenAt)
	_, err := db.exec(ctx, "create session", processCrash, `
		INSERT INTO sessions (id, hash, user_id, tenant_id, csrf_key, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.ID, s.Hash, s.UserID, nullString(s.TenantID), s.CSRFKey, db.d.time(s.CreatedAt), db.d.time(s.ExpiresAt),
		db.d.time(s.LastSeenAt))
	return wrap("create session", "session", err)
}

// FindSessionByHash returns the session whose cookie hashes to hash. It
// returns expired sessions too: the caller compares ExpiresAt with its clock.
func (db *DB) FindSessionByHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	var (
		s                      gatehouse.Session
		tenantID               sql.NullString
		created, expires, seen dbTime
	)
	err := db.r.QueryRowContext(ctx, `
		SELECT id, hash, user_id, tenant_id, csrf_key, created_at, expires_at, last_seen_at
		FROM sessions WHERE hash = $1`, hash).
		Scan(&s.ID, &s.Hash, &s.UserID, &tenantID, &s.CSRFKey, &created, &expires, &seen)
	if err != nil {
		return nil, wrap("find session", "session", err)
	}
	s.TenantID = tenantID.String
	s.CreatedAt = created.Time
	s.ExpiresAt = expires.Time
	s.LastSeenAt = seen.Time
	return &s, nil
}

// SetSessionTenant switches the session's current tenant ("" for none).
func (db *DB) SetSessionTenant(ctx context.Context, id, tenantID string) error {
	res, err := db.exec(ctx, "set session tenant", powerLoss,
		`UPDATE sessions SET tenant_id = $2 WHERE id = $1`, id, nullString(tenantID))
	return wrap("set session tenant", "session", mustAffect(res, err))
}

// TouchSession moves the session's last_seen_at forward to at. One
// conditional UPDATE: writes from several nodes may arrive in any order and
// never move it back. A missing session (logged out meanwhile) is no error.
// Losing a touch in a crash only makes the session idle out sooner.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := db.exec(ctx, "touch session", processCrash,
		`UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, id, db.d.time(normTime(at)))
	return wrap("touch session", "session", err)
}

// DeleteSession removes a session (logout); a missing one is ENOTFOUND.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	res, err := db.exec(ctx, "delete session", powerLoss, `DELETE FROM sessions WHERE id = $1`, id)
	return wrap("delete session", "session", mustAffect(res, err))
}

// DeleteExpiredSessions removes the sessions that expired at or before now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := db.exec(ctx, "delete expired sessions", powerLoss, `DELETE FROM sessions WHERE expires_at <= $1`, db.d.time(now))
	return wrap("delete expired sessions", "session", err)
}
