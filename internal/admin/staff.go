package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// StaffTokenInput is the API Auth tab of a staff user (seed 001): the APIs
// it may call and an optional Expired At.
type StaffTokenInput struct {
	Scopes    []string
	ExpiresAt *time.Time // nil = the token never expires
}

// StaffTokenName is the name every staff API token carries.
const StaffTokenName = "API Auth"

// GenerateStaffToken generates the API token of a member of the tenant.
// A user holds at most one live token: generating while one exists —
// expired or not, as the seed asks that an expired token be deleted and
// regenerated — is ECONFLICT. The new token starts with an empty IP
// whitelist. Staff tokens never carry the reserved "manage" resource.
func (s *Service) GenerateStaffToken(ctx context.Context, a Actor, userID string, in StaffTokenInput) (*gatehouse.Credential, string, error) {
	if err := requireManager(a); err != nil {
		return nil, "", err
	}
	m, err := s.member(ctx, a.TenantID, userID)
	if err != nil {
		return nil, "", err
	}
	// Security: admins do not act on owners (as SetRole and RemoveMember
	// refuse); a token in an owner's name would be one an owner never made.
	if m.Role == gatehouse.RoleOwner && !a.Operator && a.Role != gatehouse.RoleOwner {
		return nil, "", gatehouse.Errorf(gatehouse.EFORBIDDEN, "only owners may generate an API token for an owner")
	}
	scopes, err := s.credentialScopes(in.Scopes, "staff API tokens")
	if err != nil {
		return nil, "", err
	}
	exp, err := s.checkExpiry(in.ExpiresAt)
	if err != nil {
		return nil, "", err
	}
	if err := s.CheckDelegation(a, "scopes", scopes, exp); err != nil {
		return nil, "", err
	}
	if _, err := s.liveStaffToken(ctx, a.TenantID, userID); err == nil {
		return nil, "", errStaffTokenExists
	} else if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, "", err
	}
	c, tok, err := s.issue(ctx, a, &gatehouse.Credential{
		TenantID:  a.TenantID,
		Kind:      gatehouse.KindStaff,
		Name:      StaffTokenName,
		UserID:    userID,
		Scopes:    scopes,
		ExpiresAt: exp,
	}, "staff_token.create", m.Email)
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) { // lost a race with another Generate
		return nil, "", errStaffTokenExists
	}
	return c, tok, err
}

var errStaffTokenExists = gatehouse.Errorf(gatehouse.ECONFLICT,
	"the user already has an API token; delete it before generating a new one")

// credentialScopes normalises the scopes of a credential that does not act
// with a user's role, so it may not hold "manage".
func (s *Service) credentialScopes(scopes []string, what string) ([]string, error) {
	out, err := s.tree.NormalizeScopes(scopes)
	if err != nil {
		return nil, err
	}
	if slices.Contains(out, gatehouse.ScopeManage) {
		return nil, gatehouse.FieldError("scopes", "%s cannot hold the %q resource", what, gatehouse.ScopeManage)
	}
	return out, nil
}

// liveStaffToken finds the user's non-revoked staff token.
func (s *Service) liveStaffToken(ctx context.Context, tenantID, userID string) (*gatehouse.Credential, error) {
	list, err := s.store.ListCredentials(ctx, tenantID, gatehouse.CredentialFilter{Kind: gatehouse.KindStaff, UserID: userID})
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if !c.Revoked() {
			return c, nil
		}
	}
	return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "the user has no API token")
}

// StaffToken returns the user's API token (without its secret), with its
// IP whitelist.
func (s *Service) StaffToken(ctx context.Context, a Actor, userID string) (*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	if _, err := s.member(ctx, a.TenantID, userID); err != nil {
		return nil, err
	}
	return s.liveStaffToken(ctx, a.TenantID, userID)
}

// DeleteStaffToken deletes the user's API token and, with it, its whole IP
// whitelist (seed 001: "Are you sure?"). It stops working at once.
func (s *Service) DeleteStaffToken(ctx context.Context, a Actor, userID string) error {
	c, err := s.StaffToken(ctx, a, userID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteCredential(s.audited(ctx, a, "staff_token.delete", is(c.ID)), a.TenantID, c.ID); err != nil {
		return fmt.Errorf("delete staff token: %w", err)
	}
	return nil
}

// tokenForWhitelist is the user's token for a whitelist change; without
// one it is ECONFLICT (the +New IP Whitelist button appears only once a
// token exists).
func (s *Service) tokenForWhitelist(ctx context.Context, a Actor, userID string) (*gatehouse.Credential, error) {
	c, err := s.StaffToken(ctx, a, userID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		if _, merr := s.member(ctx, a.TenantID, userID); merr != nil {
			return nil, merr
		}
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the user has no API token; generate one first")
	}
	return c, err
}

// StaffAllowList returns the IP whitelist of the user's token.
func (s *Service) StaffAllowList(ctx context.Context, a Actor, userID string) ([]gatehouse.AllowEntry, error) {
	c, err := s.tokenForWhitelist(ctx, a, userID)
	if err != nil {
		return nil, err
	}
	return c.AllowList, nil
}

// AddStaffAllowEntry adds a named address or CIDR to the whitelist of the
// user's token: names of at most 20 characters, at most 20 entries.
func (s *Service) AddStaffAllowEntry(ctx context.Context, a Actor, userID, name, cidr string) (*gatehouse.AllowEntry, error) {
	c, err := s.tokenForWhitelist(ctx, a, userID)
	if err != nil {
		return nil, err
	}
	p, err := gatehouse.ParsePrefix(cidr)
	if err != nil {
		return nil, err
	}
	// Names are trimmed as PAT names and API key descriptions are, so a
	// blank name is refused however the front end sent it.
	e := &gatehouse.AllowEntry{Name: strings.TrimSpace(name), Prefix: p}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if len(c.AllowList) >= gatehouse.MaxAllowEntries {
		return nil, gatehouse.FieldError("cidr", "a token has at most %d IP whitelist entries", gatehouse.MaxAllowEntries)
	}
	ctx = s.audited(ctx, a, "ip_whitelist.add", is(fmt.Sprintf("%s %s %s", c.ID, e.Name, e.Prefix)))
	if err := s.store.AddAllowEntry(ctx, a.TenantID, c.ID, e); err != nil {
		return nil, err
	}
	return e, nil
}

// DeleteStaffAllowEntry removes one whitelist entry of the user's token.
func (s *Service) DeleteStaffAllowEntry(ctx context.Context, a Actor, userID, entryID string) error {
	c, err := s.tokenForWhitelist(ctx, a, userID)
	if err != nil {
		return err
	}
	var entry *gatehouse.AllowEntry
	for i := range c.AllowList {
		if c.AllowList[i].ID == entryID {
			entry = &c.AllowList[i]
		}
	}
	if entry == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such IP whitelist entry")
	}
	return s.store.DeleteAllowEntry(s.audited(ctx, a, "ip_whitelist.delete", is(fmt.Sprintf("%s %s %s", c.ID, entry.Name, entry.Prefix))), a.TenantID, c.ID, entryID)
}
