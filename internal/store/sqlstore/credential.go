package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// credentialSelect reads credentials joined with their allowlists: one
// statement gives a consistent view and one round trip on the verification
// path. Rows of one credential are adjacent; a credential without entries
// has one row with NULL entry columns.
const credentialSelect = credentialColumns + `
	FROM credentials c LEFT JOIN allow_entries a ON a.credential_id = c.id`

// credentialColumns are the columns of credentialSelect.
const credentialColumns = `
	SELECT c.id, c.tenant_id, c.kind, c.name, c.hash, c.hint, c.secret, c.user_id, c.client_id, c.grant_id,
		c.scopes, c.expires_at, c.revoked_at, c.rotated_at, c.last_used_at, c.created_at,
		a.id, a.name, a.cidr, a.created_at`

// findCredentialByHashSQL is the verification lookup.
const findCredentialByHashSQL = credentialSelect + ` WHERE c.hash = $1 ORDER BY a.seq`

// insertCredentialSQL stores a credential's row (its allowlist entries
// are rows of their own).
const insertCredentialSQL = `
	INSERT INTO credentials (id, tenant_id, kind, name, hash, hint, secret, user_id, client_id, grant_id,
		scopes, expires_at, revoked_at, rotated_at, last_used_at, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

// CreateCredential stores c and its AllowList in one transaction, assigning
// IDs and CreatedAt when empty. A hash that is already stored is ECONFLICT.
func (db *DB) CreateCredential(ctx context.Context, c *gatehouse.Credential) error {
	scopes, err := prepareCredential(c)
	if err != nil {
		return fmt.Errorf("create credential: %w", err)
	}
	// Issuance under load is many concurrent creations: on SQLite they
	// share commits.
	return db.grouped(ctx, &db.creates, func(ctx context.Context, tx *sql.Tx) error {
		return db.insertCredential(ctx, tx, db.creates.op, c, scopes)
	})
}

// prepareCredential checks c before an insert and assigns its ID and
// CreatedAt when empty; it returns the scopes as stored.
func prepareCredential(c *gatehouse.Credential) (scopes string, err error) {
	if scopes, err = joinScopes(c.Scopes); err != nil {
		return "", err
	}
	if len(c.AllowList) > gatehouse.MaxAllowEntries {
		return "", gatehouse.FieldError("allow_list",
			"an allowlist holds at most %d entries", gatehouse.MaxAllowEntries)
	}
	for i := range c.AllowList {
		if err := c.AllowList[i].Validate(); err != nil {
			return "", err
		}
	}
	stamp(&c.ID, prefixCredential, &c.CreatedAt)
	c.ExpiresAt = normTimePtr(c.ExpiresAt)
	c.RevokedAt = normTimePtr(c.RevokedAt)
	c.RotatedAt = normTimePtr(c.RotatedAt)
	c.LastUsedAt = normTimePtr(c.LastUsedAt)
	return scopes, nil
}

// insertCredential inserts c, prepared by prepareCredential, and its
// AllowList in tx, after lockCredentialParents: a credential of a revoked
// OAuth 2.0 grant is ECONFLICT.
func (db *DB) insertCredential(ctx context.Context, tx *sql.Tx, op string, c *gatehouse.Credential, scopes string) error {
	if err := db.lockCredentialParents(ctx, tx, c.TenantID, c.ClientID, c.UserID, c.GrantID, c.CreatedAt); err != nil {
		return wrap(op, "credential", err)
	}
	_, err := db.execTx(ctx, tx, insertCredentialSQL,
		c.ID, c.TenantID, string(c.Kind), c.Name, c.Hash, c.Hint, nullBytes(c.Secret), nullString(c.UserID), c.ClientID, c.GrantID,
		scopes, db.d.timePtr(c.ExpiresAt), db.d.timePtr(c.RevokedAt), db.d.timePtr(c.RotatedAt),
		db.d.timePtr(c.LastUsedAt), db.d.time(c.CreatedAt))
	if err != nil {
		return wrap(op, "credential", err)
	}
	for i := range c.AllowList {
		if err := db.insertAllowEntry(ctx, tx, c.ID, &c.AllowList[i], c.CreatedAt); err != nil {
			return wrap(op, "allowlist entry", err)
		}
	}
	return nil
}

// FindCredentialByHash is the verification lookup, across tenants.
func (db *DB) FindCredentialByHash(ctx context.Context, hash []byte) (*gatehouse.Credential, error) {
	c, err := db.findCredential(ctx, findCredentialByHashSQL, hash)
	return c, wrap("find credential", "credential", err)
}

// FindCredential returns the tenant's credential with the given id.
func (db *DB) FindCredential(ctx context.Context, tenantID, id string) (*gatehouse.Credential, error) {
	c, err := db.findCredential(ctx, credentialSelect+` WHERE c.tenant_id = $1 AND c.id = $2 ORDER BY a.seq`, tenantID, id)
	return c, wrap("find credential", "credential", err)
}

// findCredential runs query, a credentialSelect for one credential.
func (db *DB) findCredential(ctx context.Context, query string, args ...any) (*gatehouse.Credential, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	list, err := scanCredentials(rows)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, sql.ErrNoRows
	}
	return list[0], nil
}

// ListCredentials returns the tenant's credentials that f selects in the
// order f.Page.Sort (newest first by default), a page at a time: the page
// is chosen by keyset on (key, id) in an inner query, and only its rows
// are joined with their allowlists.
func (db *DB) ListCredentials(ctx context.Context, tenantID string, f gatehouse.CredentialFilter) ([]*gatehouse.Credential, error) {
	o, err := orderOf(f.Page, credentialOrders)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	var where strings.Builder
	args := []any{tenantID}
	arg := func(v any) int { args = append(args, v); return len(args) }
	where.WriteString(`WHERE c.tenant_id = $1`)
	if f.Kind != "" {
		fmt.Fprintf(&where, ` AND c.kind = $%d`, arg(string(f.Kind)))
	}
	if f.UserID != "" {
		fmt.Fprintf(&where, ` AND c.user_id = $%d`, arg(f.UserID))
	}
	switch f.Status {
	case "":
		if !f.IncludeRevoked {
			where.WriteString(` AND c.revoked_at IS NULL`)
		}
	case gatehouse.StatusActive:
		fmt.Fprintf(&where, ` AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $%d)`, arg(db.d.time(f.At)))
	case gatehouse.StatusExpired:
		fmt.Fprintf(&where, ` AND c.revoked_at IS NULL AND c.expires_at <= $%d`, arg(db.d.time(f.At)))
	case gatehouse.StatusRevoked:
		where.WriteString(` AND c.revoked_at IS NOT NULL`)
	default:
		return nil, gatehouse.FieldError("status", "unknown status %q", f.Status)
	}
	if f.Query != "" {
		fmt.Fprintf(&where, ` AND %s`, db.matches(arg, f.Query, "c.name", "c.hint"))
	}
	if c := f.Page.After; c != nil {
		where.WriteString(` AND ` + o.after(db, arg, c, "c.id"))
	}
	by := o.by(db, "c.id")
	inner := `SELECT * FROM credentials c ` + where.String() + ` ORDER BY ` + by
	if f.Page.Limit > 0 {
		inner += fmt.Sprintf(` LIMIT $%d`, arg(f.Page.Limit))
	}
	rows, err := db.r.QueryContext(ctx, credentialColumns+`
		FROM (`+inner+`) c LEFT JOIN allow_entries a ON a.credential_id = c.id
		ORDER BY `+by+`, a.seq`, args...)
	if err != nil {
		return nil, wrap("list credentials", "credential", err)
	}
	list, err := scanCredentials(rows)
	return list, wrap("list credentials", "credential", err)
}

// matches is the condition that one of columns holds q as a substring,
// ignoring case, with q's own % _ and \ matching themselves; arg adds an
// argument and returns its number. PostgreSQL's LOWER folds every
// script; SQLite's folds ASCII only, so the text as typed is matched as
// well (SQLite's LIKE ignores ASCII case by itself).
func (db *DB) matches(arg func(any) int, q string, columns ...string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	lower, typed := arg("%"+r.Replace(strings.ToLower(q))+"%"), arg("%"+r.Replace(q)+"%")
	var conds []string
	for _, c := range columns {
		conds = append(conds,
			fmt.Sprintf(`LOWER(%s) LIKE $%d ESCAPE '\'`, c, lower),
			fmt.Sprintf(`%s LIKE $%d ESCAPE '\'`, c, typed))
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// RevokeCredential sets RevokedAt; a revoked credential keeps its first
// revocation time.
func (db *DB) RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return db.change(ctx, "revoke credential", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c, err := db.revokeIn(ctx, tx, tenantID, id, at)
		if err != nil {
			return nil, wrap("revoke credential", "credential", err)
		}
		return []gatehouse.Change{c}, nil
	})
}

// revokeIn sets the credential's revoked_at within tx, keeping a first
// revocation time, and returns the change that invalidates its caches.
func (db *DB) revokeIn(ctx context.Context, tx *sql.Tx, tenantID, id string, at time.Time) (gatehouse.Change, error) {
	c := gatehouse.Change{TenantID: tenantID, CredentialID: id}
	err := tx.QueryRowContext(ctx, `
		UPDATE credentials SET revoked_at = COALESCE(revoked_at, $3)
		WHERE tenant_id = $1 AND id = $2
		RETURNING hash`, tenantID, id, db.d.time(at)).Scan(&c.Hash)
	return c, err
}

// RetireCredential revokes the credential and removes its allowlist in
// one transaction, so a failure leaves neither a live token without its
// whitelist nor a revoked one with it half gone.
func (db *DB) RetireCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return db.change(ctx, "retire credential", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c, err := db.revokeIn(ctx, tx, tenantID, id, at)
		if err != nil {
			return nil, wrap("retire credential", "credential", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM allow_entries WHERE credential_id = $1`, id); err != nil {
			return nil, fmt.Errorf("retire credential: allowlist: %w", err)
		}
		return []gatehouse.Change{c}, nil
	})
}

// DeleteCredential removes the credential; its allowlist goes with it (the
// foreign key cascades).
func (db *DB) DeleteCredential(ctx context.Context, tenantID, id string) error {
	return db.change(ctx, "delete credential", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		c := gatehouse.Change{TenantID: tenantID, CredentialID: id}
		err := tx.QueryRowContext(ctx,
			`DELETE FROM credentials WHERE tenant_id = $1 AND id = $2 RETURNING hash`,
			tenantID, id).Scan(&c.Hash)
		if err != nil {
			return nil, wrap("delete credential", "credential", err)
		}
		return []gatehouse.Change{c}, nil
	})
}

// TouchCredentials records last use times; a time never moves
// last_used_at backwards, so batches from several nodes may arrive in any
// order, and a batch that fails part-way can be written again whole.
// Credentials deleted meanwhile are skipped.
func (db *DB) TouchCredentials(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	// A fixed order keeps two concurrent batches on PostgreSQL from
	// locking the same rows in opposite orders (a deadlock).
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// One statement and one short transaction per touchChunk credentials:
	// a batch may hold every credential used in the flush interval, and
	// one transaction for all of them would keep SQLite's single writer
	// (token issuance, revocations) waiting for the whole batch.
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), touchChunk)]
		q, args := db.touchQuery(chunk, used)
		err := db.tx(ctx, "touch credentials", processCrash, func(tx *sql.Tx) error {
			if db.d.forUpdate != "" {
				// PostgreSQL: lock the rows in id order first. The
				// UPDATE's join locks them in whatever order its plan
				// visits them, and two batches (or a batch and a
				// revocation) locking in different orders deadlock.
				rows, err := tx.QueryContext(ctx, `SELECT id FROM credentials WHERE id = ANY($1) ORDER BY id`+db.d.forUpdate, chunk)
				if err != nil {
					return wrap("touch credentials", "credential", err)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return wrap("touch credentials", "credential", err)
				}
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return wrap("touch credentials", "credential", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ids = ids[len(chunk):]
	}
	return nil
}

// touchChunk is the number of credentials one TouchCredentials statement
// updates (two parameters each, well under both databases' limits).
const touchChunk = 500

// touchQuery is the UPDATE of last_used_at for ids: a VALUES list joined
// to credentials (both databases name its columns column1, column2). A
// time only moves forward: a late batch from a slower node loses.
func (db *DB) touchQuery(ids []string, used map[string]time.Time) (string, []any) {
	var b strings.Builder
	b.WriteString(`UPDATE credentials SET last_used_at = v.column2 FROM (VALUES `)
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "($%d, $%d%s)", 2*i+1, 2*i+2, db.d.timeCast)
		args = append(args, id, db.d.time(used[id]))
	}
	b.WriteString(`) AS v WHERE credentials.id = v.column1
		AND (credentials.last_used_at IS NULL OR credentials.last_used_at < v.column2)`)
	return b.String(), args
}

// scanCredentials reads credentialSelect rows, grouping adjacent rows of
// one credential, and closes rows.
func scanCredentials(rows *sql.Rows) ([]*gatehouse.Credential, error) {
	defer rows.Close()
	var list []*gatehouse.Credential
	for rows.Next() {
		var (
			c                                            gatehouse.Credential
			kind, scopes                                 string
			userID                                       sql.NullString
			expires, revoked, rotated, lastUsed, created dbTime
			eID, eName, eCIDR                            sql.NullString
			eCreated                                     dbTime
		)
		err := rows.Scan(&c.ID, &c.TenantID, &kind, &c.Name, &c.Hash, &c.Hint, &c.Secret, &userID, &c.ClientID, &c.GrantID,
			&scopes, &expires, &revoked, &rotated, &lastUsed, &created,
			&eID, &eName, &eCIDR, &eCreated)
		if err != nil {
			return nil, err
		}
		cur := &c
		if n := len(list); n > 0 && list[n-1].ID == c.ID {
			cur = list[n-1]
		} else {
			c.Kind = gatehouse.Kind(kind)
			c.UserID = userID.String
			c.Scopes = splitScopes(scopes)
			c.ExpiresAt = expires.Ptr()
			c.RevokedAt = revoked.Ptr()
			c.RotatedAt = rotated.Ptr()
			c.LastUsedAt = lastUsed.Ptr()
			c.CreatedAt = created.Time
			list = append(list, cur)
		}
		if eID.Valid {
			p, err := netip.ParsePrefix(eCIDR.String)
			if err != nil {
				return nil, fmt.Errorf("allowlist entry %s: %w", eID.String, err)
			}
			cur.AllowList = append(cur.AllowList, gatehouse.AllowEntry{
				ID: eID.String, Name: eName.String, Prefix: p, CreatedAt: eCreated.Time,
			})
		}
	}
	return list, rows.Err()
}

// joinScopes stores scopes space-separated, as OAuth 2.0 writes them, so
// each scope must be a non-empty word.
func joinScopes(scopes []string) (string, error) {
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			return "", gatehouse.FieldError("scopes", "scope %q is not a resource id", s)
		}
	}
	return strings.Join(scopes, " "), nil
}

// splitScopes is the inverse of joinScopes; no scopes is nil.
func splitScopes(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}
