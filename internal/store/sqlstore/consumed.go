package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// ConsumeOnce marks key in namespace used at now: exactly one caller
// succeeds, every other is ECONFLICT. It is a single statement, atomic on
// both databases: the insert wins, or the conflicting mark is replaced only
// when it expired strictly before now (then this use succeeds), or nothing
// changes (the key is taken). RFC 6749 §4.1.2: authorization codes are
// single use; RFC 5849 §3.3: nonces too.
//
// Security: a mark lives through its expires inclusive, as the janitor's PruneMarks
// keeps it, so a caller that passes the last instant at which the key may
// be presented (the end of an OAuth 1.0a timestamp window) is protected at
// that instant too. Times are kept to the microsecond; now is truncated,
// never rounded up, so the edge errs towards refusing.
func (db *DB) ConsumeOnce(ctx context.Context, namespace, key string, now, expires time.Time) error {
	res, err := db.exec(ctx, "consume", powerLoss, `
		INSERT INTO consumed (namespace, key, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE consumed.expires_at < $4`,
		namespace, key, db.d.time(expires), db.d.time(now))
	if err != nil {
		return wrap("consume", "mark", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("consume", "mark", err)
	}
	if n == 0 {
		return gatehouse.Errorf(gatehouse.ECONFLICT, "already used")
	}
	return nil
}
