package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Integrations (seed 000). An integration's access tokens are credentials
// of kind integration whose client_id is the integration's id; at most one
// is live at a time.
//
// Lock order: every transaction that changes an integration's tokens
// (UpdateIntegration, DeleteIntegration, IssueIntegrationToken,
// DeactivateIntegration) first locks the integration's row, then writes
// credentials, so on PostgreSQL they are serialised per integration and a
// revocation's UPDATE (a later statement, with a fresh READ COMMITTED
// snapshot) sees a token a concurrent issue committed. SQLite serialises
// every writer anyway. This extends the order in grant.go: an integration
// id is never an OAuth 2.0 client id, so the two never share a row.

const integrationColumns = `id, tenant_id, name, email, callback_url, identity_link_url, all_resources,
	resources, status, consumer_key, consumer_secret, verifier_hash, handshake_at, created_at, updated_at`

// liveIntegrationTokens selects, with $1 the tenant and $2 the integration,
// the integration's access tokens that are not revoked.
const liveIntegrationTokens = `tenant_id = $1 AND client_id = $2 AND kind = 'integration' AND revoked_at IS NULL`

// CreateIntegration stores i, assigning ID, CreatedAt and UpdatedAt when
// empty (UpdatedAt defaults to CreatedAt) and Status inactive when empty.
// A consumer key that is taken, in any tenant, or an id that is, is
// ECONFLICT; a missing tenant is ENOTFOUND; an empty consumer key or secret
// is EINVALID.
func (db *DB) CreateIntegration(ctx context.Context, i *gatehouse.Integration) error {
	const op = "create integration"
	resources, err := prepareIntegration(i)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	stamp(&i.ID, prefixIntegration, &i.CreatedAt)
	if i.UpdatedAt.IsZero() {
		i.UpdatedAt = i.CreatedAt
	}
	i.UpdatedAt = normTime(i.UpdatedAt)
	_, err = db.exec(ctx, "create integration", processCrash, `
		INSERT INTO integrations (`+integrationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		i.ID, i.TenantID, i.Name, i.Email, i.CallbackURL, i.IdentityLinkURL, i.AllResources,
		resources, string(i.Status), i.ConsumerKey, i.ConsumerSecret, nullBytes(i.VerifierHash),
		db.d.timePtr(i.HandshakeAt), db.d.time(i.CreatedAt), db.d.time(i.UpdatedAt))
	return wrap(op, "integration", err)
}

// prepareIntegration checks what the schema needs of i before a write and
// returns its resources as stored.
func prepareIntegration(i *gatehouse.Integration) (resources string, err error) {
	if resources, err = joinWords("resources", i.Resources); err != nil {
		return "", err
	}
	if i.ConsumerKey == "" {
		return "", gatehouse.FieldError("consumer_key", "a consumer key is required")
	}
	if len(i.ConsumerSecret) == 0 {
		return "", gatehouse.FieldError("consumer_secret", "a sealed consumer secret is required")
	}
	if i.Status == "" {
		i.Status = gatehouse.IntegrationInactive
	}
	switch i.Status {
	case gatehouse.IntegrationInactive, gatehouse.IntegrationPending, gatehouse.IntegrationActive:
	default:
		return "", gatehouse.FieldError("status", "unknown integration status %q", i.Status)
	}
	i.HandshakeAt = normTimePtr(i.HandshakeAt)
	return resources, nil
}

// FindIntegration returns the tenant's integration with the given id;
// another tenant's is ENOTFOUND.
func (db *DB) FindIntegration(ctx context.Context, tenantID, id string) (*gatehouse.Integration, error) {
	i, err := scanIntegration(db.r.QueryRowContext(ctx,
		`SELECT `+integrationColumns+` FROM integrations WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return i, wrap("find integration", "integration", err)
}

// FindIntegrationByConsumerKey returns the integration with the consumer
// key, in any tenant.
func (db *DB) FindIntegrationByConsumerKey(ctx context.Context, consumerKey string) (*gatehouse.Integration, error) {
	i, err := scanIntegration(db.r.QueryRowContext(ctx,
		`SELECT `+integrationColumns+` FROM integrations WHERE consumer_key = $1`, consumerKey))
	return i, wrap("find integration", "integration", err)
}

// ListIntegrations returns the tenant's integrations that f selects (by
// name or email) in the order f.Page.Sort (newest first by default), by
// keyset on (key, id).
func (db *DB) ListIntegrations(ctx context.Context, tenantID string, f gatehouse.ListFilter) ([]*gatehouse.Integration, error) {
	const op = "list integrations"
	l := newListQuery(db, tenantID, "tenant_id")
	if f.Query != "" {
		l.search(f.Query, "name", "email")
	}
	page, err := l.page(f.Page, integrationOrders, "id")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT `+integrationColumns+` FROM integrations `+page, l.args...)
	if err != nil {
		return nil, wrap(op, "integration", err)
	}
	defer rows.Close()
	var list []*gatehouse.Integration
	for rows.Next() {
		i, err := scanIntegration(rows)
		if err != nil {
			return nil, wrap(op, "integration", err)
		}
		list = append(list, i)
	}
	return list, wrap(op, "integration", rows.Err())
}

// UpdateIntegration saves every mutable field of the tenant's integration
// (all but ID, TenantID and CreatedAt) and sets UpdatedAt to the store's
// clock. In the same transaction the live access tokens whose scopes
// differ from i.Scopes() get them, and subscribers hear of each such
// token, so verifier caches drop the old scopes. Another tenant's
// integration is ENOTFOUND and nothing changes; a consumer key taken by
// another integration is ECONFLICT.
func (db *DB) UpdateIntegration(ctx context.Context, i *gatehouse.Integration) error {
	const op = "update integration"
	resources, err := prepareIntegration(i)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	scopes, err := joinScopes(i.Scopes())
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	at := now()
	err = db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx, `
			UPDATE integrations
			SET name = $3, email = $4, callback_url = $5, identity_link_url = $6, all_resources = $7,
				resources = $8, status = $9, consumer_key = $10, consumer_secret = $11,
				verifier_hash = $12, handshake_at = $13, updated_at = $14
			WHERE tenant_id = $1 AND id = $2`,
			i.TenantID, i.ID, i.Name, i.Email, i.CallbackURL, i.IdentityLinkURL, i.AllResources,
			resources, string(i.Status), i.ConsumerKey, i.ConsumerSecret,
			nullBytes(i.VerifierHash), db.d.timePtr(i.HandshakeAt), db.d.time(at))
		if err := mustAffect(res, err); err != nil {
			return nil, wrap(op, "integration", err)
		}
		rows, err := tx.QueryContext(ctx, `
			UPDATE credentials SET scopes = $3
			WHERE `+liveIntegrationTokens+` AND scopes <> $3
			RETURNING id, hash`,
			i.TenantID, i.ID, scopes)
		changes, err := credentialChanges(i.TenantID, rows, err)
		return changes, wrap(op, "credential", err)
	})
	if err != nil {
		return err
	}
	i.UpdatedAt = at
	return nil
}

// DeleteIntegration deletes the tenant's integration (its request tokens
// and deliveries go with it, by the foreign keys) and, in the same
// transaction, revokes at now its access tokens that are not revoked yet;
// subscribers hear of each. The revoked tokens are kept, as every revoked
// credential is, for the audit trail and the "revoked" answer. Another
// tenant's integration is ENOTFOUND and nothing changes.
func (db *DB) DeleteIntegration(ctx context.Context, tenantID, id string, now time.Time) error {
	const op = "delete integration"
	return db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM integrations WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err := mustAffect(res, err); err != nil {
			return nil, wrap(op, "integration", err)
		}
		changes, err := db.revokeIntegrationTokens(ctx, tx, tenantID, id, now)
		return changes, wrap(op, "credential", err)
	})
}

// IssueIntegrationToken, in one transaction, locks the tenant's
// integration, revokes its live access tokens at now, stores c (assigning
// ID and CreatedAt as CreateCredential does; CreatedAt defaults to now),
// and marks the integration active with its verifier cleared and UpdatedAt
// now. c.Scopes are set to the integration's Scopes() as stored, read
// under the lock, so a concurrent UpdateIntegration cannot leave the new
// token with the old resources. c's TenantID, ClientID and Kind default to
// tenantID, integrationID and integration; other values are EINVALID.
// Subscribers hear of each revoked token. An integration not in the
// tenant is ENOTFOUND and nothing changes; a hash already stored is
// ECONFLICT.
func (db *DB) IssueIntegrationToken(ctx context.Context, tenantID, integrationID string, c *gatehouse.Credential, now time.Time) error {
	const op = "issue integration token"
	if c.TenantID == "" {
		c.TenantID = tenantID
	}
	if c.ClientID == "" {
		c.ClientID = integrationID
	}
	if c.Kind == "" {
		c.Kind = gatehouse.KindIntegration
	}
	switch {
	case c.Kind != gatehouse.KindIntegration:
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("kind", "an integration token must be of kind integration"))
	case c.TenantID != tenantID || c.ClientID != integrationID:
		return fmt.Errorf("%s: %w", op, gatehouse.FieldError("client_id", "the token belongs to another integration"))
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	return db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		var (
			stored    gatehouse.Integration
			resources string
		)
		err := tx.QueryRowContext(ctx,
			`SELECT all_resources, resources FROM integrations WHERE tenant_id = $1 AND id = $2`+db.d.forUpdate,
			tenantID, integrationID).Scan(&stored.AllResources, &resources)
		if err != nil {
			return nil, wrap(op, "integration", err)
		}
		stored.Resources = splitScopes(resources)
		c.Scopes = stored.Scopes()
		scopes, err := prepareCredential(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		changes, err := db.revokeIntegrationTokens(ctx, tx, tenantID, integrationID, now)
		if err != nil {
			return nil, wrap(op, "credential", err)
		}
		if err := db.insertCredential(ctx, tx, op, c, scopes); err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE integrations SET status = $3, verifier_hash = NULL, updated_at = $4
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, integrationID, string(gatehouse.IntegrationActive), db.d.time(now))
		if err != nil {
			return nil, wrap(op, "integration", err)
		}
		return changes, nil
	})
}

// DeactivateIntegration revokes at now the live access tokens of the
// tenant's integration and marks it inactive with its verifier cleared
// and UpdatedAt now (Reauthorize), in one transaction; subscribers hear of
// each revoked token. An integration not in the tenant is ENOTFOUND.
func (db *DB) DeactivateIntegration(ctx context.Context, tenantID, integrationID string, now time.Time) error {
	const op = "deactivate integration"
	return db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		var one int
		err := tx.QueryRowContext(ctx,
			`SELECT 1 FROM integrations WHERE tenant_id = $1 AND id = $2`+db.d.forUpdate,
			tenantID, integrationID).Scan(&one)
		if err != nil {
			return nil, wrap(op, "integration", err)
		}
		changes, err := db.revokeIntegrationTokens(ctx, tx, tenantID, integrationID, now)
		if err != nil {
			return nil, wrap(op, "credential", err)
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE integrations SET status = $3, verifier_hash = NULL, updated_at = $4
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, integrationID, string(gatehouse.IntegrationInactive), db.d.time(now))
		return changes, wrap(op, "integration", err)
	})
}

// revokeIntegrationTokens revokes, in tx, the integration's live access
// tokens at now and returns the Changes. The caller holds the
// integration's row (see Lock order above).
func (db *DB) revokeIntegrationTokens(ctx context.Context, tx *sql.Tx, tenantID, integrationID string, now time.Time) ([]gatehouse.Change, error) {
	return db.revokeLive(ctx, tx, tenantID, liveIntegrationTokens, integrationID, now)
}

func scanIntegration(s scanner) (*gatehouse.Integration, error) {
	var (
		i                 gatehouse.Integration
		resources, status string
		handshake         dbTime
		created, updated  dbTime
	)
	err := s.Scan(&i.ID, &i.TenantID, &i.Name, &i.Email, &i.CallbackURL, &i.IdentityLinkURL, &i.AllResources,
		&resources, &status, &i.ConsumerKey, &i.ConsumerSecret, &i.VerifierHash, &handshake, &created, &updated)
	if err != nil {
		return nil, err
	}
	i.Resources = splitScopes(resources)
	i.Status = gatehouse.IntegrationStatus(status)
	i.HandshakeAt = handshake.Ptr()
	i.CreatedAt = created.Time
	i.UpdatedAt = updated.Time
	return &i, nil
}
