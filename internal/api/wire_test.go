package api

import "time"

// The shapes the tests read credential answers into: what openapi.json
// documents for each resource, written out apart from credentialJSON so
// that a change to the generic encoder shows up as a failing test rather
// than as a change to the tests' expectations.

// tokenJSON is a personal access token (/api/v1/tokens). Token, the
// plaintext, is set only in the response that creates it.
type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	UserID     string     `json:"user_id"`
	Hint       string     `json:"hint"`
	Scopes     []string   `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Token      string     `json:"token,omitempty"`
}

// apiKeyJSON is an API key (/api/v1/api-keys). Key, the plaintext, is set
// only in the response that creates it.
type apiKeyJSON struct {
	ID          string     `json:"id"`
	Description string     `json:"description"`
	Hint        string     `json:"hint"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	CreatedAt   time.Time  `json:"created_at"`
	Key         string     `json:"key,omitempty"`
}

// staffTokenJSON is a staff API token (/api/v1/users/{id}/api-token).
// Token, the plaintext, is set only in the response that generates it.
type staffTokenJSON struct {
	ID          string          `json:"id"`
	UserID      string          `json:"user_id"`
	Hint        string          `json:"hint"`
	Scopes      []string        `json:"scopes"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	Expired     bool            `json:"expired"`
	LastUsedAt  *time.Time      `json:"last_used_at"`
	CreatedAt   time.Time       `json:"created_at"`
	IPAllowlist []allowListJSON `json:"ip_allowlist"`
	Token       string          `json:"token,omitempty"`
}
