package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse"
)

const tenantColumns = `id, slug, name, plan, disabled, created_at`

// findTenantByIDSQL is FindTenantByID's query, run when the verifier's
// tenant snapshot is not cached (a cold cache miss, a token request).
const findTenantByIDSQL = `SELECT ` + tenantColumns + ` FROM tenants WHERE id = $1`

// CreateTenant stores t, assigning ID and CreatedAt when empty.
func (db *DB) CreateTenant(ctx context.Context, t *gatehouse.Tenant) error {
	stamp(&t.ID, prefixTenant, &t.CreatedAt)
	_, err := db.exec(ctx, "create tenant", processCrash,
		`INSERT INTO tenants (`+tenantColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Slug, t.Name, t.Plan, t.Disabled, db.d.time(t.CreatedAt))
	return wrap("create tenant", "tenant", err)
}

// FindTenantByID returns the tenant with the given id.
func (db *DB) FindTenantByID(ctx context.Context, id string) (*gatehouse.Tenant, error) {
	t, err := scanTenant(db.queryRow(ctx, findTenantByIDSQL, id))
	return t, wrap("find tenant", "tenant", err)
}

// FindTenantBySlug returns the tenant with the given slug.
func (db *DB) FindTenantBySlug(ctx context.Context, slug string) (*gatehouse.Tenant, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug))
	return t, wrap("find tenant", "tenant", err)
}

// ListTenants returns every tenant, ordered by slug.
func (db *DB) ListTenants(ctx context.Context) ([]*gatehouse.Tenant, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY slug`)
	if err != nil {
		return nil, wrap("list tenants", "tenant", err)
	}
	defer rows.Close()
	var list []*gatehouse.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, wrap("list tenants", "tenant", err)
		}
		list = append(list, t)
	}
	return list, wrap("list tenants", "tenant", rows.Err())
}

// UpdateTenant saves Name, Plan and Disabled. Disabling a tenant changes
// every verification answer of it, so subscribers hear of it.
func (db *DB) UpdateTenant(ctx context.Context, t *gatehouse.Tenant) error {
	return db.change(ctx, "update tenant", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		res, err := tx.ExecContext(ctx,
			`UPDATE tenants SET name = $2, plan = $3, disabled = $4 WHERE id = $1`,
			t.ID, t.Name, t.Plan, t.Disabled)
		if err := mustAffect(res, err); err != nil {
			return nil, wrap("update tenant", "tenant", err)
		}
		return []gatehouse.Change{{TenantID: t.ID}}, nil
	})
}

// Settings returns the tenant's settings, DefaultSettings until saved.
func (db *DB) Settings(ctx context.Context, tenantID string) (gatehouse.Settings, error) {
	var (
		s                       gatehouse.Settings
		guest, enh, bearer, hdr sql.NullBool
	)
	err := db.r.QueryRowContext(ctx, `
		SELECT s.allow_anonymous_guest_access, s.enhanced_security, s.oauth1_tokens_as_bearer, s.require_client_header
		FROM tenants t LEFT JOIN tenant_settings s ON s.tenant_id = t.id
		WHERE t.id = $1`, tenantID).Scan(&guest, &enh, &bearer, &hdr)
	if err != nil {
		return s, wrap("settings", "tenant", err)
	}
	if !hdr.Valid {
		return gatehouse.DefaultSettings(), nil
	}
	s.AllowAnonymousGuestAccess = guest.Bool
	s.EnhancedSecurity = enh.Bool
	s.OAuth1TokensAsBearer = bearer.Bool
	s.RequireClientHeader = hdr.Bool
	return s, nil
}

// SaveSettings stores the tenant's settings; subscribers hear of it because
// settings change verification answers.
func (db *DB) SaveSettings(ctx context.Context, tenantID string, s gatehouse.Settings) error {
	return db.change(ctx, "save settings", powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO tenant_settings (tenant_id, allow_anonymous_guest_access, enhanced_security, oauth1_tokens_as_bearer, require_client_header)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id) DO UPDATE SET
				allow_anonymous_guest_access = excluded.allow_anonymous_guest_access,
				enhanced_security = excluded.enhanced_security,
				oauth1_tokens_as_bearer = excluded.oauth1_tokens_as_bearer,
				require_client_header = excluded.require_client_header`,
			tenantID, s.AllowAnonymousGuestAccess, s.EnhancedSecurity, s.OAuth1TokensAsBearer, s.RequireClientHeader)
		if err != nil {
			// A missing tenant fails the foreign key: ENOTFOUND.
			return nil, wrap("save settings", "tenant", err)
		}
		return []gatehouse.Change{{TenantID: tenantID}}, nil
	})
}

// PatchSettings sets the switches p names in one statement: an upsert
// whose every column keeps the stored value (or, for a tenant without
// saved settings, the default) unless p names it, so concurrent patches
// of different switches never undo each other. Subscribers hear of it.
func (db *DB) PatchSettings(ctx context.Context, tenantID string, p gatehouse.SettingsPatch) (gatehouse.Settings, error) {
	const op = "patch settings"
	var s gatehouse.Settings
	d := gatehouse.DefaultSettings()
	arg := func(v *bool) sql.NullBool {
		if v == nil {
			return sql.NullBool{}
		}
		return sql.NullBool{Bool: *v, Valid: true}
	}
	err := db.change(ctx, op, powerLoss, func(tx *sql.Tx) ([]gatehouse.Change, error) {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO tenant_settings (tenant_id, allow_anonymous_guest_access, enhanced_security, oauth1_tokens_as_bearer, require_client_header)
			VALUES ($1, COALESCE(CAST($2 AS BOOLEAN), CAST($6 AS BOOLEAN)), COALESCE(CAST($3 AS BOOLEAN), CAST($7 AS BOOLEAN)),
				COALESCE(CAST($4 AS BOOLEAN), CAST($8 AS BOOLEAN)), COALESCE(CAST($5 AS BOOLEAN), CAST($9 AS BOOLEAN)))
			ON CONFLICT (tenant_id) DO UPDATE SET
				allow_anonymous_guest_access = COALESCE(CAST($2 AS BOOLEAN), tenant_settings.allow_anonymous_guest_access),
				enhanced_security = COALESCE(CAST($3 AS BOOLEAN), tenant_settings.enhanced_security),
				oauth1_tokens_as_bearer = COALESCE(CAST($4 AS BOOLEAN), tenant_settings.oauth1_tokens_as_bearer),
				require_client_header = COALESCE(CAST($5 AS BOOLEAN), tenant_settings.require_client_header)
			RETURNING allow_anonymous_guest_access, enhanced_security, oauth1_tokens_as_bearer, require_client_header`,
			tenantID, arg(p.AllowAnonymousGuestAccess), arg(p.EnhancedSecurity), arg(p.OAuth1TokensAsBearer), arg(p.RequireClientHeader),
			d.AllowAnonymousGuestAccess, d.EnhancedSecurity, d.OAuth1TokensAsBearer, d.RequireClientHeader,
		).Scan(&s.AllowAnonymousGuestAccess, &s.EnhancedSecurity, &s.OAuth1TokensAsBearer, &s.RequireClientHeader)
		if err != nil {
			// A missing tenant fails the foreign key: ENOTFOUND.
			return nil, wrap(op, "tenant", err)
		}
		return []gatehouse.Change{{TenantID: tenantID}}, nil
	})
	return s, err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanTenant(s scanner) (*gatehouse.Tenant, error) {
	var (
		t       gatehouse.Tenant
		created dbTime
	)
	if err := s.Scan(&t.ID, &t.Slug, &t.Name, &t.Plan, &t.Disabled, &created); err != nil {
		return nil, err
	}
	t.CreatedAt = created.Time
	return &t, nil
}

// mustAffect turns an update or delete that matched no row into
// sql.ErrNoRows, which wrap reports as ENOTFOUND.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
