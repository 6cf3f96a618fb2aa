package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// AddMembership gives a user a role in a tenant; ECONFLICT when the user is
// already a member, ENOTFOUND when the tenant or the user does not exist.
func (db *DB) AddMembership(ctx context.Context, m *gatehouse.Membership) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	m.CreatedAt = normTime(m.CreatedAt)
	_, err := db.exec(ctx, "add membership", processCrash,
		`INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		m.TenantID, m.UserID, string(m.Role), db.d.time(m.CreatedAt))
	return wrap("add membership", "membership", err)
}

// FindMembership returns the user's membership of the tenant.
func (db *DB) FindMembership(ctx context.Context, tenantID, userID string) (*gatehouse.Membership, error) {
	var (
		m       gatehouse.Membership
		created dbTime
	)
	err := db.r.QueryRowContext(ctx,
		`SELECT tenant_id, user_id, role, created_at FROM memberships WHERE tenant_id = $1 AND user_id = $2`,
		tenantID, userID).Scan(&m.TenantID, &m.UserID, &m.Role, &created)
	if err != nil {
		return nil, wrap("find membership", "membership", err)
	}
	m.CreatedAt = created.Time
	return &m, nil
}

// ListMembers returns the tenant's members that f selects, with their
// emails, in the order f.Page.Sort (newest member first by default), by
// keyset on (key, user_id).
func (db *DB) ListMembers(ctx context.Context, tenantID string, f gatehouse.MemberFilter) ([]*gatehouse.Member, error) {
	l := newListQuery(db, tenantID, "m.tenant_id")
	if f.Role != "" {
		l.and(`m.role = $%d`, string(f.Role))
	}
	if f.Query != "" {
		l.search(f.Query, "u.email")
	}
	page, err := l.page(f.Page, memberOrders, "m.user_id")
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT m.tenant_id, m.user_id, m.role, m.created_at, u.email
		FROM memberships m JOIN users u ON u.id = m.user_id
		`+page, l.args...)
	if err != nil {
		return nil, wrap("list members", "membership", err)
	}
	defer rows.Close()
	var list []*gatehouse.Member
	for rows.Next() {
		var (
			m       gatehouse.Member
			created dbTime
		)
		if err := rows.Scan(&m.TenantID, &m.UserID, &m.Role, &created, &m.Email); err != nil {
			return nil, wrap("list members", "membership", err)
		}
		m.CreatedAt = created.Time
		list = append(list, &m)
	}
	return list, wrap("list members", "membership", rows.Err())
}

// ListUserTenants returns the user's memberships with their tenants,
// ordered by tenant slug, for the console's tenant switcher.
func (db *DB) ListUserTenants(ctx context.Context, userID string) ([]*gatehouse.TenantMembership, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT m.tenant_id, m.user_id, m.role, m.created_at,
			t.id, t.slug, t.name, t.plan, t.disabled, t.created_at
		FROM memberships m JOIN tenants t ON t.id = m.tenant_id
		WHERE m.user_id = $1
		ORDER BY t.slug`, userID)
	if err != nil {
		return nil, wrap("list user tenants", "membership", err)
	}
	defer rows.Close()
	var list []*gatehouse.TenantMembership
	for rows.Next() {
		var (
			m                 gatehouse.TenantMembership
			created, tcreated dbTime
		)
		if err := rows.Scan(&m.TenantID, &m.UserID, &m.Role, &created,
			&m.Tenant.ID, &m.Tenant.Slug, &m.Tenant.Name, &m.Tenant.Plan, &m.Tenant.Disabled, &tcreated); err != nil {
			return nil, wrap("list user tenants", "membership", err)
		}
		m.CreatedAt = created.Time
		m.Tenant.CreatedAt = tcreated.Time
		list = append(list, &m)
	}
	return list, wrap("list user tenants", "membership", rows.Err())
}

// SetMembershipRole changes a member's role. Verification answers for the
// member's credentials may depend on the role, so subscribers hear of each.
func (db *DB) SetMembershipRole(ctx context.Context, tenantID, userID string, role gatehouse.Role) error {
	return db.change(ctx, "set membership role", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx,
			`UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2`,
			tenantID, userID, string(role))
		if err := mustAffect(res, err); err != nil {
			return nil, wrap("set membership role", "membership", err)
		}
		rows, err := tx.QueryContext(ctx,
			`SELECT id, hash FROM credentials WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL ORDER BY id`,
			tenantID, userID)
		changes, err := credentialChanges(tenantID, rows, err)
		return changes, wrap("set membership role", "credential", err)
	})
}

// RemoveMembership deletes the membership and, in the same transaction,
// revokes (at now) every credential the user still holds in that tenant, so
// a person who leaves cannot keep using a staff token or PAT.
func (db *DB) RemoveMembership(ctx context.Context, tenantID, userID string, now time.Time) error {
	return db.change(ctx, "remove membership", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		if err := mustAffect(res, err); err != nil {
			return nil, wrap("remove membership", "membership", err)
		}
		changes, err := db.revokeLive(ctx, tx, tenantID, liveOfUser, userID, now)
		return changes, wrap("remove membership", "credential", err)
	})
}

// credentialChanges reads (id, hash) rows into one Change each.
// The live credentials of one holder, for revokeLive ($1 the tenant, $2
// the holder).
const (
	liveOfClient = `tenant_id = $1 AND client_id = $2 AND revoked_at IS NULL`
	liveOfUser   = `tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL`
	liveOfGrant  = `tenant_id = $1 AND grant_id = $2 AND revoked_at IS NULL`
)

// revokeLive revokes at now, in tx, the credentials that where (one of
// the live… conditions, never input) selects for the tenant and holder,
// and returns the changes to publish when tx commits.
func (db *DB) revokeLive(ctx context.Context, tx *sql.Tx, tenantID, where, holder string, now time.Time) ([]gatehouse.Change, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE credentials SET revoked_at = $3 WHERE `+where+` RETURNING id, hash`,
		tenantID, holder, db.d.time(now))
	return credentialChanges(tenantID, rows, err)
}

func credentialChanges(tenantID string, rows *sql.Rows, err error) ([]gatehouse.Change, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var changes []gatehouse.Change
	for rows.Next() {
		c := gatehouse.Change{TenantID: tenantID}
		if err := rows.Scan(&c.CredentialID, &c.Hash); err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	return changes, rows.Err()
}
