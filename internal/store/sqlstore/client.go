package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

const clientColumns = `id, tenant_id, name, redirect_uris, scopes, confidential, grant_types,
	secret_hash, secret_hint, prev_secret_hash, prev_secret_expires_at, created_at,
	require_pushed_authorization_requests, allowed_origins`

// findClientSQL is FindClient's query, run by every token request.
const findClientSQL = `SELECT ` + clientColumns + ` FROM oauth_clients WHERE id = $1`

// CreateClient stores an OAuth 2.0 app, assigning ID (ClientIDPrefix and
// random characters) and CreatedAt when empty. A client id that is taken,
// in any tenant, is ECONFLICT; a missing tenant is ENOTFOUND.
func (db *DB) CreateClient(ctx context.Context, c *gatehouse.Client) error {
	uris, err := json.Marshal(nonNil(c.RedirectURIs))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	scopes, err := joinScopes(c.Scopes)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	grants, err := joinWords("grant_types", c.GrantTypes)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	origins, err := json.Marshal(nonNil(c.AllowedOrigins))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	if c.ID == "" {
		c.ID = gatehouse.ClientIDPrefix + strings.ToUpper(newID(""))
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = normTime(c.CreatedAt)
	c.PrevSecretExpiresAt = normTimePtr(c.PrevSecretExpiresAt)
	_, err = db.exec(ctx, "create client", processCrash, `
		INSERT INTO oauth_clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.ID, c.TenantID, c.Name, string(uris), scopes, c.Confidential, grants,
		nullBytes(c.SecretHash), c.SecretHint, nullBytes(c.PrevSecretHash), db.d.timePtr(c.PrevSecretExpiresAt),
		db.d.time(c.CreatedAt), c.RequirePAR, string(origins))
	return wrap("create client", "client", err)
}

// FindClient returns the app with the given client id, in any tenant.
func (db *DB) FindClient(ctx context.Context, clientID string) (*gatehouse.Client, error) {
	c, err := scanClient(db.queryRow(ctx, findClientSQL, clientID))
	return c, wrap("find client", "client", err)
}

// ListClients returns the tenant's apps that f selects (by name or client
// id) in the order f.Page.Sort (newest first by default), by keyset on
// (key, id).
func (db *DB) ListClients(ctx context.Context, tenantID string, f gatehouse.ListFilter) ([]*gatehouse.Client, error) {
	l := newListQuery(db, tenantID, "tenant_id")
	if f.Query != "" {
		l.search(f.Query, "name", "id")
	}
	page, err := l.page(f.Page, clientOrders, "id")
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT `+clientColumns+` FROM oauth_clients `+page, l.args...)
	if err != nil {
		return nil, wrap("list clients", "client", err)
	}
	defer rows.Close()
	var list []*gatehouse.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, wrap("list clients", "client", err)
		}
		list = append(list, c)
	}
	return list, wrap("list clients", "client", rows.Err())
}

// UpdateClientSecret saves SecretHash, SecretHint, PrevSecretHash and
// PrevSecretExpiresAt of the tenant's app; another tenant's is ENOTFOUND.
// Tokens already issued stay valid: a secret authenticates the app at the
// token endpoint only.
func (db *DB) UpdateClientSecret(ctx context.Context, c *gatehouse.Client) error {
	c.PrevSecretExpiresAt = normTimePtr(c.PrevSecretExpiresAt)
	res, err := db.exec(ctx, "update client secret", powerLoss, `
		UPDATE oauth_clients
		SET secret_hash = $3, secret_hint = $4, prev_secret_hash = $5, prev_secret_expires_at = $6
		WHERE tenant_id = $1 AND id = $2`,
		c.TenantID, c.ID, nullBytes(c.SecretHash), c.SecretHint, nullBytes(c.PrevSecretHash),
		db.d.timePtr(c.PrevSecretExpiresAt))
	return wrap("update client secret", "client", mustAffect(res, err))
}

// UpdateClient saves the registration an admin edits (Name, RedirectURIs,
// AllowedOrigins, Scopes, GrantTypes, RequirePAR) of the tenant's app, in one statement; the client
// id, the type, the secrets and CreatedAt are not written. Another
// tenant's app, or one a concurrent DeleteClient removed, is ENOTFOUND.
// Tokens already issued keep their own scopes (the token endpoint narrows
// refreshes to the app's scopes as they are now).
func (db *DB) UpdateClient(ctx context.Context, c *gatehouse.Client) error {
	uris, err := json.Marshal(nonNil(c.RedirectURIs))
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	scopes, err := joinScopes(c.Scopes)
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	grants, err := joinWords("grant_types", c.GrantTypes)
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	origins, err := json.Marshal(nonNil(c.AllowedOrigins))
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	res, err := db.exec(ctx, "update client", powerLoss, `
		UPDATE oauth_clients
		SET name = $3, redirect_uris = $4, scopes = $5, grant_types = $6,
		    require_pushed_authorization_requests = $7, allowed_origins = $8
		WHERE tenant_id = $1 AND id = $2`,
		c.TenantID, c.ID, c.Name, string(uris), scopes, grants, c.RequirePAR, string(origins))
	return wrap("update client", "client", mustAffect(res, err))
}

// OriginAllowed reports whether some app, of any tenant, lets pages of
// origin read its answers (gatehouse.Client.AllowsOrigin): a CORS
// preflight at the token endpoint carries no client id (docs/cors.md).
// origin must be in NormalizeOrigin's form, else the answer is false.
//
// The query is a prefilter on the stored JSON (the origin quoted in
// allowed_origins, or, for an app with none, a redirect URI that is it or
// continues it with "/", "?" or a port), lower-cased because a host's case
// does not matter; each candidate is then checked exactly. The patterns
// match only apps that allow the origin (or, with ":", name a port), so
// another tenant's apps cannot crowd an origin's out. NormalizeOrigin admits
// no LIKE wildcard (%, _) into origin.
func (db *DB) OriginAllowed(ctx context.Context, origin string) (bool, error) {
	if n, err := gatehouse.NormalizeOrigin(origin); err != nil || n != origin {
		return false, nil
	}
	q := `"` + origin
	rows, err := db.r.QueryContext(ctx, `
		SELECT `+clientColumns+` FROM oauth_clients
		WHERE LOWER(allowed_origins) LIKE $1
		   OR (allowed_origins = '[]' AND (LOWER(redirect_uris) LIKE $1 OR LOWER(redirect_uris) LIKE $2
		       OR LOWER(redirect_uris) LIKE $3 OR LOWER(redirect_uris) LIKE $4))`,
		"%"+q+`"%`, "%"+q+"/%", "%"+q+"?%", "%"+q+":%")
	if err != nil {
		return false, wrap("origin allowed", "client", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return false, wrap("origin allowed", "client", err)
		}
		if c.AllowsOrigin(origin) {
			return true, nil
		}
	}
	return false, wrap("origin allowed", "client", rows.Err())
}

// DeleteClient deletes the tenant's app (its consents go with it, by the
// foreign key) and, in the same transaction, revokes at now every
// credential of the tenant bound to the app that is not revoked yet.
// Subscribers hear of each revoked credential. Another tenant's app is
// ENOTFOUND and nothing changes.
//
// On PostgreSQL, CreateCredential and RotateRefreshToken hold a share lock
// on the app's row while they add its tokens, so the delete waits for them
// and the revocation, a later statement, sees what they committed.
func (db *DB) DeleteClient(ctx context.Context, tenantID, clientID string, now time.Time) error {
	return db.change(ctx, "delete client", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM oauth_clients WHERE tenant_id = $1 AND id = $2`, tenantID, clientID)
		if err := mustAffect(res, err); err != nil {
			return nil, wrap("delete client", "client", err)
		}
		changes, err := db.revokeLive(ctx, tx, tenantID, liveOfClient, clientID, now)
		return changes, wrap("delete client", "credential", err)
	})
}

func scanClient(s scanner) (*gatehouse.Client, error) {
	var (
		c                gatehouse.Client
		uris, scopes, gt string
		origins          string
		prevExpires      dbTime
		created          dbTime
	)
	err := s.Scan(&c.ID, &c.TenantID, &c.Name, &uris, &scopes, &c.Confidential, &gt,
		&c.SecretHash, &c.SecretHint, &c.PrevSecretHash, &prevExpires, &created, &c.RequirePAR, &origins)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("client %s: redirect URIs: %w", c.ID, err)
	}
	if len(c.RedirectURIs) == 0 {
		c.RedirectURIs = nil
	}
	if err := json.Unmarshal([]byte(origins), &c.AllowedOrigins); err != nil {
		return nil, fmt.Errorf("client %s: allowed origins: %w", c.ID, err)
	}
	if len(c.AllowedOrigins) == 0 {
		c.AllowedOrigins = nil
	}
	c.Scopes = splitScopes(scopes)
	c.GrantTypes = splitScopes(gt)
	c.PrevSecretExpiresAt = prevExpires.Ptr()
	c.CreatedAt = created.Time
	return &c, nil
}

// joinWords stores a list of words space-separated; field names the list
// in the EINVALID error when a word is empty or contains white space.
func joinWords(field string, words []string) (string, error) {
	for _, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\r\n") {
			return "", gatehouse.FieldError(field, "%q is not a single word", w)
		}
	}
	return strings.Join(words, " "), nil
}

// nonNil makes a nil list an empty one, which JSON writes as [].
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nullBytes maps nil to NULL, so an absent hash reads back as nil.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
