package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateSession stores a console login, assigning ID and CreatedAt when
// empty. Only the hash of the cookie value is stored.
func (db *DB) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	if s.ID == "" {
		s.ID = newID(prefixSession)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	s.CreatedAt = normTime(s.CreatedAt)
	s.ExpiresAt = normTime(s.ExpiresAt)
	_, err := db.exec(ctx, "create session", processCrash, `
		INSERT INTO sessions (id, hash, user_id, tenant_id, csrf_key, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, s.Hash, s.UserID, nullString(s.TenantID), s.CSRFKey, db.d.time(s.CreatedAt), db.d.time(s.ExpiresAt))
	return wrap("create session", "session", err)
}

// FindSessionByHash returns the session whose cookie hashes to hash. It
// returns expired sessions too: the caller compares ExpiresAt with its clock.
func (db *DB) FindSessionByHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	var (
		s                gatehouse.Session
		tenantID         sql.NullString
		created, expires dbTime
	)
	err := db.r.QueryRowContext(ctx, `
		SELECT id, hash, user_id, tenant_id, csrf_key, created_at, expires_at
		FROM sessions WHERE hash = $1`, hash).
		Scan(&s.ID, &s.Hash, &s.UserID, &tenantID, &s.CSRFKey, &created, &expires)
	if err != nil {
		return nil, wrap("find session", "session", err)
	}
	s.TenantID = tenantID.String
	s.CreatedAt = created.Time
	s.ExpiresAt = expires.Time
	return &s, nil
}

// SetSessionTenant switches the session's current tenant ("" for none).
func (db *DB) SetSessionTenant(ctx context.Context, id, tenantID string) error {
	res, err := db.exec(ctx, "set session tenant", powerLoss,
		`UPDATE sessions SET tenant_id = $2 WHERE id = $1`, id, nullString(tenantID))
	return wrap("set session tenant", "session", mustAffect(res, err))
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
