package admin

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// CreateTenant creates a tenant with default settings (operator only).
func (s *Service) CreateTenant(ctx context.Context, slug, name, plan string) (*gatehouse.Tenant, error) {
	if plan == "" {
		plan = gatehouse.PlanStandard
	}
	t := &gatehouse.Tenant{Slug: slug, Name: name, Plan: plan}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
			return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "tenant %q already exists", slug)
		}
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	op := Actor{TenantID: t.ID, Name: OperatorName, Operator: true}
	return t, s.audit(ctx, op, "tenant.create", t.Slug)
}

// Settings returns the tenant's settings.
func (s *Service) Settings(ctx context.Context, a Actor) (gatehouse.Settings, error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Settings{}, err
	}
	return s.store.Settings(ctx, a.TenantID)
}

// UpdateSettings saves the tenant's settings and audits what changed.
func (s *Service) UpdateSettings(ctx context.Context, a Actor, next gatehouse.Settings) error {
	if err := requireManager(a); err != nil {
		return err
	}
	prev, err := s.store.Settings(ctx, a.TenantID)
	if err != nil {
		return err
	}
	if prev == next {
		return nil
	}
	if err := s.store.SaveSettings(ctx, a.TenantID, next); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return s.audit(ctx, a, "settings.update", settingsDiff(prev, next))
}

func settingsDiff(a, b gatehouse.Settings) string {
	var out string
	add := func(name string, x, y bool) {
		if x != y {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s=%t", name, y)
		}
	}
	add("allow_anonymous_guest_access", a.AllowAnonymousGuestAccess, b.AllowAnonymousGuestAccess)
	add("enhanced_security", a.EnhancedSecurity, b.EnhancedSecurity)
	add("oauth1_tokens_as_bearer", a.OAuth1TokensAsBearer, b.OAuth1TokensAsBearer)
	add("require_client_header", a.RequireClientHeader, b.RequireClientHeader)
	return out
}

// SetTenantDisabled disables or re-enables a tenant (operator only). A
// disabled tenant's credentials answer TENANT_DISABLED: at once on this
// process's verifier, within a second on every PostgreSQL node (the store
// NOTIFYs), and, for a server on an SQLite file this process cannot tell,
// once its cached tenant snapshot expires (its cache TTL). Nothing is
// deleted, so enabling restores them.
func (s *Service) SetTenantDisabled(ctx context.Context, slug string, disabled bool) (*gatehouse.Tenant, error) {
	t, err := s.store.FindTenantBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	if t.Disabled == disabled {
		return t, nil
	}
	t.Disabled = disabled
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return nil, fmt.Errorf("update tenant: %w", err)
	}
	action := "tenant.enable"
	if disabled {
		action = "tenant.disable"
	}
	op := Actor{TenantID: t.ID, Name: OperatorName, Operator: true}
	return t, s.audit(ctx, op, action, t.Slug)
}
