package api

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Personal access tokens (seed 002): /api/v1/tokens.

func (h *handler) tokenRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: Prefix + "/tokens", serve: h.createToken},
		{method: http.MethodGet, pattern: Prefix + "/tokens", serve: h.listTokens},
		{method: http.MethodGet, pattern: Prefix + "/tokens/{id}", serve: h.getToken},
		{method: http.MethodDelete, pattern: Prefix + "/tokens/{id}", serve: h.revokeToken},
	}
}

// tokenRequest is the body of POST /tokens.
type tokenRequest struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"` // RFC 3339; absent or null = never
}

// tokenJSON is a personal access token as the API shows it. Token, the
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

func tokenOut(c *gatehouse.Credential) tokenJSON {
	return tokenJSON{
		ID:         c.ID,
		Name:       c.Name,
		UserID:     c.UserID,
		Hint:       c.Hint,
		Scopes:     nonNil(c.Scopes),
		ExpiresAt:  utc(c.ExpiresAt),
		LastUsedAt: utc(c.LastUsedAt),
		RevokedAt:  utc(c.RevokedAt),
		CreatedAt:  c.CreatedAt.UTC(),
	}
}

// createToken generates a PAT for the caller; its plaintext is in this
// response only.
func (h *handler) createToken(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req tokenRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	exp, err := parseTime("expires_at", req.ExpiresAt)
	if err != nil {
		return err
	}
	c, tok, err := h.admin.CreateCredential(r.Context(), a, gatehouse.KindPAT, admin.CredentialInput{Name: req.Name, Scopes: req.Scopes, ExpiresAt: exp})
	if err != nil {
		return err
	}
	out := tokenOut(c)
	out.Token = tok
	w.Header().Set("Location", Prefix+"/tokens/"+c.ID)
	httpx.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// listTokens lists the tenant's personal access tokens that are not
// revoked, newest first.
func (h *handler) listTokens(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	creds, err := h.admin.Credentials(r.Context(), a, gatehouse.KindPAT)
	if err != nil {
		return err
	}
	items := make([]tokenJSON, 0, len(creds))
	for _, c := range creds {
		items = append(items, tokenOut(c))
	}
	httpx.WriteJSON(w, http.StatusOK, newList(items))
	return nil
}

// getToken shows one token of the tenant, revoked ones included.
func (h *handler) getToken(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	c, err := h.admin.Credential(r.Context(), a, gatehouse.KindPAT, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, tokenOut(c))
	return nil
}

// revokeToken revokes a token at once; revoking a revoked token is a no-op.
func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := h.admin.RevokeCredential(r.Context(), a, gatehouse.KindPAT, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
