package admin

import (
	"context"
	"fmt"
	"strconv"
	"strings"

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
	// The tenant's ID is assigned by the store, in the transaction that
	// appends the event.
	ev := func() *gatehouse.AuditEvent {
		return s.eventOn(Actor{TenantID: t.ID, Name: OperatorName, Operator: true}, "tenant.create", auditTarget{Summary: t.Slug, ID: t.ID, Name: t.Name})
	}
	if err := s.store.CreateTenant(gatehouse.WithAudit(ctx, ev), t); err != nil {
		if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
			return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "tenant %q already exists", slug).WithID("error.tenant.exists", "Slug", slug)
		}
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	return t, nil
}

// Settings returns the tenant's settings.
func (s *Service) Settings(ctx context.Context, a Actor) (gatehouse.Settings, error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Settings{}, err
	}
	return s.store.Settings(ctx, a.TenantID)
}

// UpdateSettings saves the tenant's settings: the switches that differ
// from the stored ones are patched (PatchSettings), the others left as
// they are, so a form saved with a stale view does not undo a concurrent
// change of a switch it did not touch.
func (s *Service) UpdateSettings(ctx context.Context, a Actor, next gatehouse.Settings) error {
	if err := requireManager(a); err != nil {
		return err
	}
	prev, err := s.store.Settings(ctx, a.TenantID)
	if err != nil {
		return err
	}
	var p gatehouse.SettingsPatch
	set := func(dst **bool, x, y bool) {
		if x != y {
			*dst = &y
		}
	}
	set(&p.AllowAnonymousGuestAccess, prev.AllowAnonymousGuestAccess, next.AllowAnonymousGuestAccess)
	set(&p.EnhancedSecurity, prev.EnhancedSecurity, next.EnhancedSecurity)
	set(&p.OAuth1TokensAsBearer, prev.OAuth1TokensAsBearer, next.OAuth1TokensAsBearer)
	set(&p.RequireClientHeader, prev.RequireClientHeader, next.RequireClientHeader)
	_, err = s.PatchSettings(ctx, a, p)
	return err
}

// PatchSettings sets the switches p names, and only those, atomically
// (two concurrent patches of different switches both stick), audits them
// in the same transaction and returns the settings after it. A patch
// naming nothing changes nothing.
func (s *Service) PatchSettings(ctx context.Context, a Actor, p gatehouse.SettingsPatch) (gatehouse.Settings, error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Settings{}, err
	}
	if p.Empty() {
		return s.store.Settings(ctx, a.TenantID)
	}
	// The old values are read just before the patch: a concurrent patch
	// of the same switch in between makes one of the two events name the
	// other's value as old (the store keeps no history to do better).
	prev, err := s.store.Settings(ctx, a.TenantID)
	if err != nil {
		return gatehouse.Settings{}, err
	}
	ctx = s.auditedOn(ctx, a, "settings.update", func() auditTarget {
		return auditTarget{Summary: settingsPatchText(p), Changes: settingsChanges(prev, p)}
	})
	next, err := s.store.PatchSettings(ctx, a.TenantID, p)
	if err != nil {
		return gatehouse.Settings{}, fmt.Errorf("patch settings: %w", err)
	}
	return next, nil
}

// settingsChanges is each switch p sets to another value than prev's,
// with its old and new value.
func settingsChanges(prev gatehouse.Settings, p gatehouse.SettingsPatch) []gatehouse.AuditChange {
	var out []gatehouse.AuditChange
	add := func(name string, old bool, v *bool) {
		if v != nil && *v != old {
			out = append(out, gatehouse.AuditChange{Field: name, Old: strconv.FormatBool(old), New: strconv.FormatBool(*v)})
		}
	}
	add("allow_anonymous_guest_access", prev.AllowAnonymousGuestAccess, p.AllowAnonymousGuestAccess)
	add("enhanced_security", prev.EnhancedSecurity, p.EnhancedSecurity)
	add("oauth1_tokens_as_bearer", prev.OAuth1TokensAsBearer, p.OAuth1TokensAsBearer)
	add("require_client_header", prev.RequireClientHeader, p.RequireClientHeader)
	return out
}

// settingsPatchText is the audit target of a patch: the switches it sets.
func settingsPatchText(p gatehouse.SettingsPatch) string {
	var out []string
	add := func(name string, v *bool) {
		if v != nil {
			out = append(out, fmt.Sprintf("%s=%t", name, *v))
		}
	}
	add("allow_anonymous_guest_access", p.AllowAnonymousGuestAccess)
	add("enhanced_security", p.EnhancedSecurity)
	add("oauth1_tokens_as_bearer", p.OAuth1TokensAsBearer)
	add("require_client_header", p.RequireClientHeader)
	return strings.Join(out, " ")
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
	action := "tenant.enable"
	if disabled {
		action = "tenant.disable"
	}
	op := Actor{TenantID: t.ID, Name: OperatorName, Operator: true}
	if err := s.store.UpdateTenant(s.auditedOn(ctx, op, action, on(t.ID, t.Name, t.Slug)), t); err != nil {
		return nil, fmt.Errorf("update tenant: %w", err)
	}
	return t, nil
}
