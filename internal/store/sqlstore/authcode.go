package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"

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

// refusal is the answer of a change that decided, inside its transaction,
// to refuse: the transaction still commits what it did (a code is spent
// whatever the answer), and the caller returns err afterwards.
type refusal struct {
	op  string
	err error
}

// refuse records the refusal and ends the transaction's function.
func (r *refusal) refuse(code, format string, args ...any) ([]gatehouse.Change, error) {
	r.err = fmt.Errorf("%s: %w", r.op, gatehouse.Errorf(code, format, args...))
	return nil, nil
}

// RedeemAuthCode redeems an authorization code (see gatehouse.OAuth2Store).
// Everything happens in one transaction that runs only its own statements:
// the code is read, its client compared, the app, consent and membership
// rows share-locked and checked (see Lock order in grant.go), then the
// code is marked used by one conditional UPDATE — on PostgreSQL concurrent
// redemptions wait there for the winner's row lock, on SQLite for the
// single writer, and then find it used — and finally the tokens are
// inserted. A replay revokes the grant in the same transaction.
func (db *DB) RedeemAuthCode(ctx context.Context, r *gatehouse.CodeRedemption) (*gatehouse.AuthCode, error) {
	const op = "redeem authorization code"
	var (
		code     *gatehouse.AuthCode
		conflict bool
	)
	ref := refusal{op: op}
	now := normTime(r.Now)
	err := db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c, err := scanAuthCode(tx.QueryRowContext(ctx,
			`SELECT `+authCodeColumns+` FROM oauth_codes WHERE hash = $1`, r.Hash))
		if err != nil {
			return nil, wrap(op, "authorization code", err)
		}
		code = c
		if c.ClientID != r.ClientID || c.TenantID != r.TenantID {
			// RFC 6749 §4.1.3: only the code's own client may consume it
			// or, replaying it, revoke what it issued.
			return ref.refuse(gatehouse.EFORBIDDEN, "the authorization code was issued to another client")
		}
		gone, err := db.lockIssueParents(ctx, tx, c.TenantID, c.ClientID, c.UserID)
		if err != nil {
			return nil, wrap(op, "authorization code", err)
		}
		var used dbTime
		err = tx.QueryRowContext(ctx, `
			UPDATE oauth_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL
			RETURNING used_at`, r.Hash, db.d.time(now)).Scan(&used)
		if errors.Is(err, sql.ErrNoRows) {
			// Used already (by a concurrent caller, if the first read saw
			// it unused): RFC 6749 §4.1.2, revoke what it issued.
			if err := tx.QueryRowContext(ctx, `SELECT used_at FROM oauth_codes WHERE hash = $1`, r.Hash).Scan(&used); err != nil {
				return nil, wrap(op, "authorization code", err)
			}
			code.UsedAt, conflict = used.Ptr(), true
			if c.GrantID == "" {
				return nil, nil
			}
			changes, err := db.revokeGrant(ctx, tx, c.TenantID, c.GrantID, now)
			return changes, wrap(op, "grant", err)
		}
		if err != nil {
			return nil, wrap(op, "authorization code", err)
		}
		code.UsedAt = used.Ptr()
		// From here the code is spent, whatever the answer.
		switch {
		case !now.Before(c.ExpiresAt):
			return ref.refuse(gatehouse.EINVALID, "the authorization code has expired")
		case r.RedirectURI != c.RedirectURI:
			// RFC 6749 §4.1.3: identical to the authorization request's.
			return ref.refuse(gatehouse.EINVALID, "redirect_uri does not match the authorization request's")
		case c.CodeChallenge == "" && r.Challenge != "":
			// RFC 9700 §2.1.1: a verifier for a code without a challenge
			// is a PKCE downgrade.
			return ref.refuse(gatehouse.EINVALID, "code_verifier was sent but the authorization request had no code_challenge")
		case c.CodeChallenge != "" && r.Challenge == "":
			return ref.refuse(gatehouse.EINVALID, "code_verifier is missing")
		case subtle.ConstantTimeCompare([]byte(c.CodeChallenge), []byte(r.Challenge)) != 1:
			// RFC 7636 §4.6.
			return ref.refuse(gatehouse.EINVALID, "code_verifier does not match the code_challenge")
		case gone != "":
			return ref.refuse(gatehouse.EINVALID, "%s", gone)
		}
		if c.GrantID != "" {
			// Lock the grant (Lock order) and refuse one revoked before
			// the code was redeemed, keeping the consumption.
			res, err := db.execTx(ctx, tx, upsertGrantSQL, c.GrantID, c.TenantID, db.d.time(now))
			if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
				return ref.refuse(gatehouse.EINVALID, "the grant has been revoked")
			} else if err != nil {
				return nil, wrap(op, "grant", err)
			}
		}
		scopes := gatehouse.AppScopes(c.Scopes) // SPEC §9: never manage
		for _, cr := range r.Issue {
			cr.UserID, cr.GrantID, cr.Scopes = c.UserID, c.GrantID, slices.Clone(scopes)
			joined, err := prepareCredential(cr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			if err := db.insertCredential(ctx, tx, op, cr, joined); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	switch {
	case err != nil:
		return nil, err
	case conflict:
		return code, fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ECONFLICT, "the authorization code was already used; the tokens it issued are revoked"))
	case ref.err != nil:
		if gatehouse.IsCode(ref.err, gatehouse.EFORBIDDEN) {
			return nil, ref.err
		}
		return code, ref.err
	}
	return code, nil
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
