package api

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// API keys, the API Portal (seed 003): /api/v1/api-keys. A key belongs to
// the tenant, not to the admin who made it.

func (h *handler) apiKeyRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: Prefix + "/api-keys", serve: h.createAPIKey},
		{method: http.MethodGet, pattern: Prefix + "/api-keys", serve: h.listAPIKeys},
		{method: http.MethodGet, pattern: Prefix + "/api-keys/{id}", serve: h.getAPIKey},
		{method: http.MethodDelete, pattern: Prefix + "/api-keys/{id}", serve: h.revokeAPIKey},
	}
}

// apiKeyRequest is the body of POST /api-keys (the portal's Add New).
type apiKeyRequest struct {
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`     // absent, null or empty = ["all"]
	ExpiresAt   *string  `json:"expires_at"` // RFC 3339; absent or null = never
}

// apiKeyJSON is an API key as the API shows it. Key, the plaintext, is set
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

func apiKeyOut(c *gatehouse.Credential) apiKeyJSON {
	return apiKeyJSON{
		ID:          c.ID,
		Description: c.Name,
		Hint:        c.Hint,
		Scopes:      nonNil(c.Scopes),
		ExpiresAt:   utc(c.ExpiresAt),
		LastUsedAt:  utc(c.LastUsedAt),
		RevokedAt:   utc(c.RevokedAt),
		CreatedAt:   c.CreatedAt.UTC(),
	}
}

// createAPIKey generates a key of the tenant; its plaintext is in this
// response only (the portal's Copy).
func (h *handler) createAPIKey(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req apiKeyRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	exp, err := parseTime("expires_at", req.ExpiresAt)
	if err != nil {
		return err
	}
	c, key, err := h.admin.CreateCredential(r.Context(), a, gatehouse.KindAPIKey, admin.CredentialInput{Name: req.Description, Scopes: req.Scopes, ExpiresAt: exp})
	if err != nil {
		return err
	}
	out := apiKeyOut(c)
	out.Key = key
	w.Header().Set("Location", Prefix+"/api-keys/"+c.ID)
	httpx.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// listAPIKeys lists the tenant's keys that are not revoked, newest first.
func (h *handler) listAPIKeys(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	creds, err := h.admin.Credentials(r.Context(), a, gatehouse.KindAPIKey)
	if err != nil {
		return err
	}
	items := make([]apiKeyJSON, 0, len(creds))
	for _, c := range creds {
		items = append(items, apiKeyOut(c))
	}
	httpx.WriteJSON(w, http.StatusOK, newList(items))
	return nil
}

// getAPIKey shows one key of the tenant, revoked ones included.
func (h *handler) getAPIKey(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	c, err := h.admin.Credential(r.Context(), a, gatehouse.KindAPIKey, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, apiKeyOut(c))
	return nil
}

// revokeAPIKey revokes a key at once; it then answers REVOKED at
// /api/v1/verify. Revoking a revoked key is a no-op.
func (h *handler) revokeAPIKey(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := h.admin.RevokeCredential(r.Context(), a, gatehouse.KindAPIKey, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
