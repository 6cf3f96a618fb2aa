package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/fnv"

	"time"

	"github.com/gatehouse/gatehouse"
)

// pruneSQL is, by kind, one DELETE of at most $2 rows dead at $1 (see
// gatehouse.PruneKind). Each selects its victims by primary key in a
// subquery with LIMIT, which both databases accept, so a batch is bounded
// however many rows are dead.
var pruneSQL = map[gatehouse.PruneKind]string{
	gatehouse.PruneCodes: `DELETE FROM oauth_codes WHERE hash IN (
		SELECT hash FROM oauth_codes WHERE expires_at < $1 LIMIT $2)`,
	gatehouse.PruneDeviceAuthorizations: `DELETE FROM device_authorizations WHERE device_hash IN (
		SELECT device_hash FROM device_authorizations WHERE expires_at < $1 LIMIT $2)`,
	gatehouse.PruneMarks: `DELETE FROM consumed WHERE (namespace, key) IN (
		SELECT namespace, key FROM consumed WHERE expires_at < $1 LIMIT $2)`,
	gatehouse.PruneRequestTokens: `DELETE FROM oauth1_request_tokens WHERE hash IN (
		SELECT hash FROM oauth1_request_tokens WHERE expires_at < $1 LIMIT $2)`,
	gatehouse.PruneSessions: `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)`,
	gatehouse.PruneIdleSessions: `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE last_seen_at < $1 LIMIT $2)`,
	gatehouse.PruneAccessTokens: `DELETE FROM credentials WHERE id IN (
		SELECT id FROM credentials WHERE kind = 'oauth2' AND expires_at < $1 LIMIT $2)`,
	// Security: only tokens of a grant that is over. A rotated token of a
	// grant that still has a live refresh token is what detects a reuse
	// (RotateRefreshToken revokes the grant when it is presented), so it
	// stays as long as the grant lives.
	gatehouse.PruneRefreshTokens: `DELETE FROM credentials WHERE id IN (
		SELECT c.id FROM credentials c
		WHERE c.kind = 'oauth2_refresh' AND c.grant_id <> ''
		  AND (c.revoked_at < $1 OR c.rotated_at < $1)
		  AND NOT EXISTS (
			SELECT 1 FROM credentials l
			WHERE l.tenant_id = c.tenant_id AND l.grant_id = c.grant_id AND l.kind = 'oauth2_refresh'
			  AND l.revoked_at IS NULL AND l.rotated_at IS NULL
			  AND (l.expires_at IS NULL OR l.expires_at >= $1))
		LIMIT $2)`,
	// A revoked grant's row refuses credentials added to it later; once no
	// credential and no code names it, nothing can add to it.
	gatehouse.PruneGrants: `DELETE FROM oauth_grants WHERE id IN (
		SELECT g.id FROM oauth_grants g
		WHERE g.revoked_at < $1
		  AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.tenant_id = g.tenant_id AND c.grant_id = g.id)
		  AND NOT EXISTS (SELECT 1 FROM oauth_codes a WHERE a.tenant_id = g.tenant_id AND a.grant_id = g.id)
		LIMIT $2)`,
	gatehouse.PruneDeliveries: `DELETE FROM integration_deliveries WHERE seq IN (
		SELECT seq FROM integration_deliveries WHERE time < $1 LIMIT $2)`,
	gatehouse.PruneNotifications: `DELETE FROM notifications WHERE seq IN (
		SELECT seq FROM notifications WHERE created_at < $1 LIMIT $2)`,
	// A key removed from the JWKS verifies nothing any more.
	gatehouse.PruneSigningKeys: `DELETE FROM signing_keys WHERE id IN (
		SELECT id FROM signing_keys WHERE remove_after < $1 LIMIT $2)`,
	gatehouse.PruneAudit: `DELETE FROM audit_events WHERE seq IN (
		SELECT seq FROM audit_events WHERE time < $1 ORDER BY seq LIMIT $2)`,
}

// PruneBatch deletes at most limit rows of kind dead at cutoff. Losing a
// batch to a crash loses nothing (the rows are dead; the next round
// deletes them), so it is written at processCrash durability.
func (db *DB) PruneBatch(ctx context.Context, kind gatehouse.PruneKind, cutoff time.Time, limit int) (int, error) {
	op := "prune " + string(kind)
	q, ok := pruneSQL[kind]
	if !ok {
		return 0, fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.EINVALID, "unknown prune kind %q", kind))
	}
	if limit < 1 {
		return 0, fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.EINVALID, "batch limit must be at least 1"))
	}
	res, err := db.exec(ctx, op, processCrash, q, db.d.time(cutoff), limit)
	if err != nil {
		return 0, wrap(op, "row", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(op, "row", err)
	}
	return int(n), nil
}

// TryJanitorLock takes the janitor lock. On PostgreSQL it is a
// session-level advisory lock, per schema (installations sharing a server
// do not exclude each other), held on a connection of its own until
// release; a node that dies frees it with its connection. On SQLite one
// process serves the file and the lock is not needed.
func (db *DB) TryJanitorLock(ctx context.Context) (release func(), ok bool, err error) {
	if !db.d.notify { // SQLite
		return func() {}, true, nil
	}
	const op = "janitor lock"
	h := fnv.New64a()
	h.Write([]byte("gatehouse-janitor:" + db.schema))
	id := int64(h.Sum64())
	c, err := db.w.Conn(ctx)
	if err != nil {
		return nil, false, wrap(op, "connection", err)
	}
	if err := c.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok); err != nil || !ok {
		c.Close()
		return nil, false, wrap(op, "lock", err)
	}
	return func() {
		// Not cancelled with ctx: a lock left on a pooled connection
		// would keep every other node from pruning.
		if _, err := c.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, id); err != nil {
			c.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // discard the connection, and the lock with it
		}
		c.Close()
	}, true, nil
}
