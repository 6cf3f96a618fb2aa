package admin

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// PATInput describes a personal access token to generate (seed 002:
// name, expiration date, scopes).
type PATInput struct {
	Name      string
	Scopes    []string
	ExpiresAt *time.Time // nil = never expires
}

// CreatePAT generates a personal access token for the actor's user. The
// plaintext token is returned once and only its hash is stored. Only
// owners and admins hold PATs (staff get staff API tokens).
func (s *Service) CreatePAT(ctx context.Context, a Actor, in PATInput) (*gatehouse.Credential, string, error) {
	if err := requireManager(a); err != nil {
		return nil, "", err
	}
	if a.UserID == "" || !a.Role.CanManage() {
		return nil, "", gatehouse.Errorf(gatehouse.EFORBIDDEN, "personal access tokens belong to owners and admins")
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, "", gatehouse.FieldError("name", "name must be 1-100 characters")
	}
	if err := gatehouse.CheckText("name", name); err != nil {
		return nil, "", err
	}
	scopes, err := s.tree.NormalizeScopes(in.Scopes)
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
	c, tok, err := s.issueWithin(ctx, a, &gatehouse.Credential{
		TenantID:  a.TenantID,
		Kind:      gatehouse.KindPAT,
		Name:      name,
		UserID:    a.UserID,
		Scopes:    scopes,
		ExpiresAt: exp,
	}, s.maxTokens, "pat.create", name)
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		return nil, "", gatehouse.Errorf(gatehouse.ECONFLICT,
			"you already hold %d live personal access tokens in this tenant, the most allowed; revoke unused ones first", s.maxTokens)
	}
	return c, tok, err
}

// issue generates the token of a validated credential of kind c.Kind,
// stores only its hash, audits action and returns the plaintext, once.
func (s *Service) issue(ctx context.Context, a Actor, c *gatehouse.Credential, action, target string) (*gatehouse.Credential, string, error) {
	return s.issueWithin(ctx, a, c, 0, action, target)
}

// issueWithin is issue, refused with ECONFLICT when the tenant already
// holds limit live credentials of c's kind for c's user (for the tenant
// when c has no user); limit 0 is no limit. Security: a cap on live
// tokens bounds what one account can make the store and every list carry.
// The audit event is stored in the credential's transaction: a credential
// whose event cannot be written is not stored either, so no live token
// exists whose secret was never shown.
func (s *Service) issueWithin(ctx context.Context, a Actor, c *gatehouse.Credential, limit int, action, target string) (*gatehouse.Credential, string, error) {
	tok := secret.NewToken(c.Kind)
	c.Hash, c.Hint = secret.HashBytes(tok), secret.Hint(tok)
	c.CreatedAt = s.Now()
	create := s.store.CreateCredential
	if limit > 0 {
		create = func(ctx context.Context, c *gatehouse.Credential) error {
			return s.store.CreateCredentialWithin(ctx, c, limit)
		}
	}
	ctx = s.audited(ctx, a, action, func() string { return c.ID + " " + target })
	if err := create(ctx, c); err != nil {
		return nil, "", fmt.Errorf("create %s: %w", c.Kind, err)
	}
	return c, tok, nil
}

// checkExpiry refuses expiry times in the past and normalises to UTC.
func (s *Service) checkExpiry(t *time.Time) (*time.Time, error) {
	if t == nil || t.IsZero() {
		return nil, nil
	}
	if !t.After(s.Now()) {
		return nil, gatehouse.FieldError("expires_at", "the expiry must be in the future")
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u, nil
}

// PATs lists the tenant's live personal access tokens (owners and admins).
func (s *Service) PATs(ctx context.Context, a Actor) ([]*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.store.ListCredentials(ctx, a.TenantID, gatehouse.CredentialFilter{Kind: gatehouse.KindPAT})
}

// PAT returns one personal access token of the tenant.
func (s *Service) PAT(ctx context.Context, a Actor, id string) (*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.credential(ctx, a.TenantID, id, gatehouse.KindPAT)
}

// credential finds a credential of the tenant and kind; any other is ENOTFOUND.
func (s *Service) credential(ctx context.Context, tenantID, id string, kind gatehouse.Kind) (*gatehouse.Credential, error) {
	c, err := s.store.FindCredential(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if c.Kind != kind {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such %s", kind)
	}
	return c, nil
}

// RevokePAT revokes a personal access token at once, on every node.
func (s *Service) RevokePAT(ctx context.Context, a Actor, id string) error {
	return s.revoke(ctx, a, id, gatehouse.KindPAT, "pat.revoke")
}

// revoke revokes a credential of the tenant and kind, idempotently, and
// audits it.
func (s *Service) revoke(ctx context.Context, a Actor, id string, kind gatehouse.Kind, action string) error {
	if err := requireManager(a); err != nil {
		return err
	}
	c, err := s.credential(ctx, a.TenantID, id, kind)
	if err != nil {
		return err
	}
	if c.Revoked() {
		return nil
	}
	if err := s.store.RevokeCredential(s.audited(ctx, a, action, is(c.ID+" "+c.Name)), a.TenantID, id, s.Now()); err != nil {
		return fmt.Errorf("revoke %s: %w", kind, err)
	}
	return nil
}

// DefaultMaxTokensPerUser is how many live personal access tokens a user
// may hold in a tenant unless Options.MaxTokensPerUser says otherwise.
const DefaultMaxTokensPerUser = 100
