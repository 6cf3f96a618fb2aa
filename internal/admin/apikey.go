package admin

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// APIKeyInput is the API Portal's Add New (seed 003): a description, and
// optionally scopes (default: all) and an expiry.
type APIKeyInput struct {
	Description string
	Scopes      []string // nil or empty = ["all"]
	ExpiresAt   *time.Time
}

// CreateAPIKey generates an API key of the tenant. The key belongs to the
// tenant, not to the admin who made it, so it survives that person leaving;
// it never carries "manage". The plaintext is returned once.
func (s *Service) CreateAPIKey(ctx context.Context, a Actor, in APIKeyInput) (*gatehouse.Credential, string, error) {
	if err := requireManager(a); err != nil {
		return nil, "", err
	}
	desc := strings.TrimSpace(in.Description)
	if desc == "" || utf8.RuneCountInString(desc) > 200 {
		return nil, "", gatehouse.FieldError("description", "a description of 1-200 characters is required")
	}
	if err := gatehouse.CheckText("description", desc); err != nil {
		return nil, "", err
	}
	scopes := in.Scopes
	if len(scopes) == 0 {
		scopes = []string{gatehouse.ScopeAll}
	}
	scopes, err := s.credentialScopes(scopes, "API keys")
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
	limit := APIKeysPerTokenLimit * s.maxTokens
	c, key, err := s.issueWithin(ctx, a, &gatehouse.Credential{
		TenantID:  a.TenantID,
		Kind:      gatehouse.KindAPIKey,
		Name:      desc,
		Scopes:    scopes,
		ExpiresAt: exp,
	}, limit, "api_key.create", desc)
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		return nil, "", gatehouse.Errorf(gatehouse.ECONFLICT,
			"the tenant already holds %d live API keys, the most allowed; revoke unused ones first", limit)
	}
	return c, key, err
}

// APIKeysPerTokenLimit is how many times Options.MaxTokensPerUser live API
// keys a tenant may hold.
const APIKeysPerTokenLimit = 10

// APIKeys lists the tenant's live API keys, newest first.
func (s *Service) APIKeys(ctx context.Context, a Actor) ([]*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.store.ListCredentials(ctx, a.TenantID, gatehouse.CredentialFilter{Kind: gatehouse.KindAPIKey})
}

// APIKey returns one API key of the tenant.
func (s *Service) APIKey(ctx context.Context, a Actor, id string) (*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.credential(ctx, a.TenantID, id, gatehouse.KindAPIKey)
}

// RevokeAPIKey revokes an API key at once; it then answers REVOKED, so the
// consuming application can prompt for a new key (seed 003).
func (s *Service) RevokeAPIKey(ctx context.Context, a Actor, id string) error {
	return s.revoke(ctx, a, id, gatehouse.KindAPIKey, "api_key.revoke")
}
