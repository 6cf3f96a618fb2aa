package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Lock order. Every transaction that adds or revokes OAuth 2.0 credentials
// takes its row locks in this order, so none waits for another in a
// circle: the app (oauth_clients), the user's consent (oauth_consents), the
// user's membership (memberships), an authorization code (oauth_codes),
// the grant (oauth_grants), then credentials. No transaction of these
// calls back into code that could use a second connection. On PostgreSQL the writers that
// add credentials hold the first three while they insert, and the ones that
// revoke take one of them before their revoking UPDATE, so a token added
// concurrently is either seen by that UPDATE (READ COMMITTED gives each
// statement a fresh snapshot) or refused. On SQLite writers are serialised
// and only the grant check matters. OAuth 1.0a integrations follow the same
// rule with the integration's row as the parent (see integration.go).

// upsertGrantSQL records a grant seen for the first time and affects no
// row when the grant has been revoked (or is another tenant's).
const upsertGrantSQL = `
	INSERT INTO oauth_grants (id, tenant_id, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (id) DO UPDATE SET created_at = oauth_grants.created_at
	WHERE oauth_grants.revoked_at IS NULL AND oauth_grants.tenant_id = excluded.tenant_id`

// lockCredentialParents takes, in tx, the locks a write adding a credential
// bound to clientID, userID and grantID needs (see Lock order above). A
// grant that has been revoked is ECONFLICT; a grant seen for the first time
// is recorded.
func (db *DB) lockCredentialParents(ctx context.Context, tx *sql.Tx, tenantID, clientID, userID, grantID string, at time.Time) error {
	if db.d.forShare != "" && clientID != "" {
		// The rows may not exist (an OAuth 1.0a integration id, or a
		// test's made-up app): then there is nothing to lock.
		if _, err := tx.ExecContext(ctx,
			`SELECT 1 FROM oauth_clients WHERE tenant_id = $1 AND id = $2`+db.d.forShare,
			tenantID, clientID); err != nil {
			return err
		}
		if userID != "" {
			if _, err := tx.ExecContext(ctx,
				`SELECT 1 FROM oauth_consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`+db.d.forShare,
				tenantID, userID, clientID); err != nil {
				return err
			}
		}
	}
	if grantID == "" {
		return nil
	}
	res, err := db.execTx(ctx, tx, upsertGrantSQL, grantID, tenantID, db.d.time(at))
	if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
		return gatehouse.Errorf(gatehouse.ECONFLICT, "grant has been revoked")
	} else if err != nil {
		return err
	}
	return nil
}

// RevokeGrant revokes at now every credential of the tenant's grant that is
// not revoked yet, and records the grant as revoked, so a credential added
// to it later (by a concurrent code redemption or refresh) is ECONFLICT.
// It is idempotent: an unknown grant is recorded and revokes nothing; a
// grant of another tenant is left alone. An empty grantID is EINVALID.
func (db *DB) RevokeGrant(ctx context.Context, tenantID, grantID string, now time.Time) error {
	if grantID == "" {
		return fmt.Errorf("revoke grant: %w", gatehouse.FieldError("grant_id", "a grant id is required"))
	}
	return db.change(ctx, "revoke grant", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		changes, err := db.revokeGrant(ctx, tx, tenantID, grantID, now)
		return changes, wrap("revoke grant", "grant", err)
	})
}

// revokeGrant is RevokeGrant in tx.
func (db *DB) revokeGrant(ctx context.Context, tx *sql.Tx, tenantID, grantID string, now time.Time) ([]gatehouse.Change, error) {
	// Mark the grant first: this waits for writers adding to it, and
	// refuses those that come after.
	_, err := tx.ExecContext(ctx, `
		INSERT INTO oauth_grants (id, tenant_id, created_at, revoked_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(oauth_grants.revoked_at, excluded.revoked_at)
		WHERE oauth_grants.tenant_id = excluded.tenant_id`,
		grantID, tenantID, db.d.time(now))
	if err != nil {
		return nil, err
	}
	return db.revokeLive(ctx, tx, tenantID, liveOfGrant, grantID, now)
}

// lockIssueParents share-locks, in tx, the rows that issuing a token of
// the app clientID for userID ("" for none) depends on — the app, the
// user's consent and membership, in the Lock order — and reports (gone)
// which of them no longer exists, "" when all do. Held to the end of tx,
// the locks make DeleteClient, DeleteConsent and RemoveMembership wait, so
// their revoking UPDATE sees the tokens tx adds.
func (db *DB) lockIssueParents(ctx context.Context, tx *sql.Tx, tenantID, clientID, userID string) (gone string, err error) {
	exists := func(query string, args ...any) (bool, error) {
		var one int
		err := tx.QueryRowContext(ctx, query+db.d.forShare, args...).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
	ok, err := exists(`SELECT 1 FROM oauth_clients WHERE tenant_id = $1 AND id = $2`, tenantID, clientID)
	if err != nil || !ok {
		return "the app has been deleted", err
	}
	if userID == "" {
		return "", nil
	}
	ok, err = exists(`SELECT 1 FROM oauth_consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`, tenantID, userID, clientID)
	if err != nil || !ok {
		return "the user has withdrawn the consent", err
	}
	ok, err = exists(`SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
	if err != nil || !ok {
		return "the user who authorized the app is no longer a member of the tenant", err
	}
	return "", nil
}

// RotateRefreshToken exchanges a public client's refresh token (see
// gatehouse.OAuth2Store). In one transaction: the token's parents are
// share-locked and checked, its grant row locked — so every rotation of
// one grant waits for the one before it, on PostgreSQL on that row, on
// SQLite for the single writer — and the token's state read afresh (READ
// COMMITTED gives each statement a new snapshot) before anything is
// decided. Subscribers hear of the token marked rotated.
func (db *DB) RotateRefreshToken(ctx context.Context, r *gatehouse.RefreshRotation) error {
	const op = "rotate refresh token"
	var conflict bool
	ref := refusal{op: op}
	now := normTime(r.Now)
	err := db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		var (
			kind, clientID, grantID string
			userID                  sql.NullString
		)
		err := tx.QueryRowContext(ctx,
			`SELECT kind, client_id, user_id, grant_id FROM credentials WHERE tenant_id = $1 AND id = $2`,
			r.TenantID, r.ID).Scan(&kind, &clientID, &userID, &grantID)
		if err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		if kind != string(gatehouse.KindOAuth2Refresh) || clientID != r.ClientID || grantID == "" {
			// RFC 6749 §6: the token must have been issued to this client.
			return ref.refuse(gatehouse.EFORBIDDEN, "the refresh token was issued to another client")
		}
		gone, err := db.lockIssueParents(ctx, tx, r.TenantID, clientID, userID.String)
		if err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		if gone != "" {
			return ref.refuse(gatehouse.EINVALID, "%s", gone)
		}
		res, err := db.execTx(ctx, tx, upsertGrantSQL, grantID, r.TenantID, db.d.time(now))
		if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
			return ref.refuse(gatehouse.EINVALID, "the grant has been revoked")
		} else if err != nil {
			return nil, wrap(op, "grant", err)
		}
		// The grant is locked: the state read now is the last committed.
		state := func(id string) (rotated, revoked dbTime, successor sql.NullString, err error) {
			err = tx.QueryRowContext(ctx, `
				SELECT rotated_at, revoked_at, successor_id FROM credentials
				WHERE tenant_id = $1 AND id = $2`+db.d.forUpdate, r.TenantID, id).Scan(&rotated, &revoked, &successor)
			return
		}
		rotated, revoked, successor, err := state(r.ID)
		if err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		if revoked.Valid {
			return ref.refuse(gatehouse.EINVALID, "the refresh token has been revoked")
		}
		target := r.ID // the token this exchange retires
		if rotated.Valid {
			live := false
			if successor.Valid && now.Before(rotated.Time.Add(r.Grace)) {
				// SPEC §9: a response lost on the way. Honoured only while
				// the successor it carried has never been presented.
				srot, srev, _, err := state(successor.String)
				if err != nil {
					return nil, wrap(op, "refresh token", err)
				}
				live = !srot.Valid && !srev.Valid
			}
			if !live {
				// Security: RFC 9700 §4.14.2 — a rotated token used again
				// means it leaked (or the client is broken); nobody can
				// tell which copy is legitimate, so the whole grant goes.
				conflict = true
				changes, err := db.revokeGrant(ctx, tx, r.TenantID, grantID, now)
				return changes, wrap(op, "grant", err)
			}
			target = successor.String
		}
		var next string
		for _, c := range r.Next {
			c.UserID, c.GrantID = userID.String, grantID
			joined, err := prepareCredential(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			if c.Kind == gatehouse.KindOAuth2Refresh {
				next = c.ID
			}
			if err := db.insertCredential(ctx, tx, op, c, joined); err != nil {
				return nil, err
			}
		}
		ch := gatehouse.Change{TenantID: r.TenantID, CredentialID: target}
		err = tx.QueryRowContext(ctx, `
			UPDATE credentials SET rotated_at = $3, successor_id = $4
			WHERE tenant_id = $1 AND id = $2 AND rotated_at IS NULL AND revoked_at IS NULL
			RETURNING hash`, r.TenantID, target, db.d.time(now), nullString(next)).Scan(&ch.Hash)
		if err != nil {
			return nil, wrap(op, "refresh token", err)
		}
		if target != r.ID {
			// The presented token's successor is now the new one; its
			// grace still runs from its own rotation.
			if _, err := tx.ExecContext(ctx, `UPDATE credentials SET successor_id = $3 WHERE tenant_id = $1 AND id = $2`,
				r.TenantID, r.ID, nullString(next)); err != nil {
				return nil, wrap(op, "refresh token", err)
			}
		}
		return []gatehouse.Change{ch}, nil
	})
	switch {
	case err != nil:
		return err
	case conflict:
		return fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.ECONFLICT, "the refresh token was already used; the grant is revoked"))
	}
	return ref.err
}

// issueStateSQL reads, in one statement, what issuing tokens of app $2
// for user $3 ("" for the app itself) in tenant $1 depends on: whether the
// tenant is disabled and whether the app, the user's consent and the
// user's membership exist. No row: no such tenant.
const issueStateSQL = `
	SELECT t.disabled,
		EXISTS (SELECT 1 FROM oauth_clients WHERE tenant_id = $1 AND id = $2),
		$3 = '' OR EXISTS (SELECT 1 FROM oauth_consents WHERE tenant_id = $1 AND user_id = $3 AND client_id = $2),
		$3 = '' OR EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $3)
	FROM tenants t WHERE t.id = $1`

// IssueTokens stores the tokens of one token response (see
// gatehouse.OAuth2Store). In one transaction: on PostgreSQL the app, the
// user's consent and membership are share-locked first (lockIssueParents,
// the Lock order), so a deletion waits for the issue or the issue sees
// it; then one statement reads the tenant's and the parents' state, and
// every token is inserted. Like CreateCredential, concurrent issues share
// commits on SQLite (one prepared check statement each); a refused one
// fails alone.
func (db *DB) IssueTokens(ctx context.Context, r *gatehouse.TokenIssue) error {
	const op = "issue tokens"
	scopes := make([]string, len(r.Tokens))
	for i, c := range r.Tokens {
		if c.TenantID != r.TenantID || c.ClientID != r.ClientID || c.UserID != r.UserID {
			return fmt.Errorf("%s: %w", op, gatehouse.FieldError("tokens", "every token must be of the issue's tenant, app and user"))
		}
		var err error
		if scopes[i], err = prepareCredential(c); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	refuse := func(msg string) error {
		return fmt.Errorf("%s: %w", op, gatehouse.Errorf(gatehouse.EINVALID, "%s", msg))
	}
	return db.grouped(ctx, &db.creates, func(ctx context.Context, tx *sql.Tx) error {
		if db.d.forShare != "" {
			if _, err := db.lockIssueParents(ctx, tx, r.TenantID, r.ClientID, r.UserID); err != nil {
				return wrap(op, "credential", err)
			}
		}
		var disabled, app, consent, member bool
		err := db.queryRowTx(ctx, tx, issueStateSQL, r.TenantID, r.ClientID, r.UserID).Scan(&disabled, &app, &consent, &member)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return refuse("the app's tenant does not exist")
		case err != nil:
			return wrap(op, "tenant", err)
		case disabled:
			return refuse("the app's tenant is disabled")
		case !app:
			return refuse("the app has been deleted")
		case !consent:
			return refuse("the user has withdrawn the consent")
		case !member:
			return refuse("the user who authorized the app is no longer a member of the tenant")
		}
		for i, c := range r.Tokens {
			if err := db.insertCredential(ctx, tx, op, c, scopes[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
