package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// errNotRotated ends a rotation's transaction without a change.
var errNotRotated = errors.New("not rotated")

// RotateSigningKey stores r.Next as its issuer's next key generation (see
// gatehouse.SigningKeyStore). Security: exactly one key per rotation, on
// both databases: the newest key is read inside the write transaction,
// and (issuer, generation) is unique, so of two transactions that read the
// same newest key (PostgreSQL, READ COMMITTED) the second's insert waits
// for the first and fails; it then stores nothing. On SQLite write
// transactions are serialised and the second reads the first's key. It is
// written at powerLoss durability: a key lost after it signed something
// would leave those tokens unverifiable.
func (db *DB) RotateSigningKey(ctx context.Context, r *gatehouse.SigningKeyRotation) (bool, error) {
	const op = "rotate signing key"
	k := r.Next
	if k == nil || k.ID == "" || k.Issuer == "" || k.Alg == "" || len(k.Sealed) == 0 || len(k.PublicJWK) == 0 || k.UseAfter.IsZero() {
		return false, fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.EINVALID, "incomplete signing key"))
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	k.CreatedAt, k.UseAfter = normTime(k.CreatedAt), normTime(k.UseAfter)
	err := db.tx(ctx, op, powerLoss, func(tx *sql.Tx) error {
		var (
			prevID  string
			gen     int
			created dbTime
		)
		err := tx.QueryRowContext(ctx, `
			SELECT id, generation, created_at FROM signing_keys
			WHERE issuer = $1 ORDER BY generation DESC LIMIT 1`, k.Issuer).Scan(&prevID, &gen, &created)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			prevID, gen = "", 0
		case err != nil:
			return wrap(op, "signing key", err)
		case !r.DueBefore.IsZero() && created.Time.After(normTime(r.DueBefore)):
			return errNotRotated
		}
		k.Generation = gen + 1
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO signing_keys (id, issuer, generation, alg, sealed, public_jwk, created_at, use_after)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Issuer, k.Generation, k.Alg, k.Sealed, string(k.PublicJWK),
			db.d.time(k.CreatedAt), db.d.time(k.UseAfter)); err != nil {
			if err := wrap(op, "signing key", err); gatehouse.ErrorCode(err) == gatehouse.ECONFLICT {
				return errNotRotated // another rotation stored this generation
			}
			return wrap(op, "signing key", err)
		}
		if prevID == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE signing_keys SET retire_at = $2, remove_after = $3 WHERE id = $1`,
			prevID, db.d.time(k.UseAfter), db.d.time(k.UseAfter.Add(r.Retention)))
		return wrap(op, "signing key", err)
	})
	if errors.Is(err, errNotRotated) {
		k.Generation = 0
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// ListSigningKeys returns issuer's keys, newest first.
func (db *DB) ListSigningKeys(ctx context.Context, issuer string) ([]*gatehouse.SigningKey, error) {
	const op = "list signing keys"
	rows, err := db.r.QueryContext(ctx, `
		SELECT id, issuer, generation, alg, sealed, public_jwk, created_at, use_after, retire_at, remove_after
		FROM signing_keys WHERE issuer = $1 ORDER BY generation DESC`, issuer)
	if err != nil {
		return nil, wrap(op, "signing key", err)
	}
	defer rows.Close()
	var keys []*gatehouse.SigningKey
	for rows.Next() {
		var (
			k                         gatehouse.SigningKey
			jwk                       string
			created, use, retire, rem dbTime
		)
		if err := rows.Scan(&k.ID, &k.Issuer, &k.Generation, &k.Alg, &k.Sealed, &jwk, &created, &use, &retire, &rem); err != nil {
			return nil, wrap(op, "signing key", err)
		}
		k.PublicJWK = []byte(jwk)
		k.CreatedAt, k.UseAfter = created.Time, use.Time
		k.RetireAt, k.RemoveAfter = retire.Ptr(), rem.Ptr()
		keys = append(keys, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, "signing key", err)
	}
	return keys, nil
}
