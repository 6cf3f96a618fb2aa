package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// OAuth 2.0 apps (seed 002: Integrations › API › Activate):
// /api/v1/oauth-clients. Owners and admins of an Enterprise-plan tenant
// register apps; the client secret of a confidential app is in the
// response that creates (or rotates) it, and only there.

func (h *handler) oauthClientRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: Prefix + "/oauth-clients", serve: h.createOAuthClient},
		{method: http.MethodGet, pattern: Prefix + "/oauth-clients", serve: h.listOAuthClients},
		{method: http.MethodGet, pattern: Prefix + "/oauth-clients/{client_id}", serve: h.getOAuthClient},
		{method: http.MethodPatch, pattern: Prefix + "/oauth-clients/{client_id}", serve: h.patchOAuthClient},
		{method: http.MethodDelete, pattern: Prefix + "/oauth-clients/{client_id}", serve: h.deleteOAuthClient},
		{method: http.MethodPost, pattern: Prefix + "/oauth-clients/{client_id}/rotate-secret", serve: h.rotateOAuthClientSecret},
	}
}

// oauthClientRequest is the body of POST /oauth-clients.
type oauthClientRequest struct {
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	// AllowedOrigins: absent or empty, the redirect URIs' origins (CORS).
	AllowedOrigins []string `json:"allowed_origins"`
	Scopes         []string `json:"scopes"`
	Confidential   bool     `json:"confidential"`
	GrantTypes     []string `json:"grant_types"` // absent or empty: authorization_code and refresh_token
	RequirePAR     bool     `json:"require_pushed_authorization_requests"`
}

// oauthClientJSON is an app as the API shows it. ClientSecret is set only
// in the response that creates a confidential app.
type oauthClientJSON struct {
	ClientID                string     `json:"client_id"`
	Name                    string     `json:"name"`
	RedirectURIs            []string   `json:"redirect_uris"`
	AllowedOrigins          []string   `json:"allowed_origins"`   // [] when the default applies
	EffectiveOrigins        []string   `json:"effective_origins"` // what CORS allows: the above, or the default
	Scopes                  []string   `json:"scopes"`
	Confidential            bool       `json:"confidential"`
	GrantTypes              []string   `json:"grant_types"`
	SecretHint              *string    `json:"secret_hint"` // null for a public app
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	ClientSecret            string     `json:"client_secret,omitempty"`
	RequirePAR              bool       `json:"require_pushed_authorization_requests"` // RFC 9126 §6
}

func oauthClientOut(c *gatehouse.Client) oauthClientJSON {
	out := oauthClientJSON{
		ClientID:                c.ID,
		Name:                    c.Name,
		RedirectURIs:            nonNil(c.RedirectURIs),
		AllowedOrigins:          nonNil(c.AllowedOrigins),
		EffectiveOrigins:        nonNil(c.EffectiveOrigins()),
		Scopes:                  nonNil(c.Scopes),
		Confidential:            c.Confidential,
		GrantTypes:              nonNil(c.GrantTypes),
		PreviousSecretExpiresAt: utc(c.PrevSecretExpiresAt),
		CreatedAt:               c.CreatedAt.UTC(),
		RequirePAR:              c.RequirePAR,
	}
	if c.Confidential && c.SecretHint != "" {
		hint := c.SecretHint
		out.SecretHint = &hint
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// createOAuthClient registers an app (Activate).
func (h *handler) createOAuthClient(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req oauthClientRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	// SPEC §9: an app's scopes are a ceiling for its tokens, so a token
	// registers no app wider than itself; and a confidential app allowed
	// client_credentials mints tokens from a secret that never expires.
	if scopes, err := h.admin.Tree().NormalizeScopes(req.Scopes); err == nil {
		if err := h.admin.CheckDelegatedScopes(a, "scopes", scopes); err != nil {
			return err
		}
	}
	if req.Confidential && slices.Contains(req.GrantTypes, gatehouse.GrantClientCredentials) {
		if err := admin.CheckLasting(a, "client_credentials app secrets"); err != nil {
			return err
		}
	}
	c, sec, err := h.admin.CreateClient(r.Context(), a, admin.ClientInput{
		Name:           req.Name,
		RedirectURIs:   req.RedirectURIs,
		AllowedOrigins: req.AllowedOrigins,
		Scopes:         req.Scopes,
		Confidential:   req.Confidential,
		GrantTypes:     req.GrantTypes,
		RequirePAR:     req.RequirePAR,
	})
	if err != nil {
		return err
	}
	out := oauthClientOut(c)
	out.ClientSecret = sec
	w.Header().Set("Location", Prefix+"/oauth-clients/"+c.ID)
	httpx.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// listOAuthClients lists the tenant's apps, without secrets.
func (h *handler) listOAuthClients(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	f, err := listFilter(r, a, gatehouse.ClientSorts)
	if err != nil {
		return err
	}
	page, err := h.admin.Clients(r.Context(), a, f)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, pageOut(r, a, page, oauthClientOut))
	return nil
}

// getOAuthClient shows one app of the tenant; another tenant's is 404.
func (h *handler) getOAuthClient(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	c, err := h.admin.Client(r.Context(), a, r.PathValue("client_id"))
	if err != nil {
		return notFoundApp(err)
	}
	httpx.WriteJSON(w, http.StatusOK, oauthClientOut(c))
	return nil
}

// oauthClientPatch is the body of PATCH /oauth-clients/{client_id}: absent
// fields keep their value. Confidential is there only to refuse a change
// with a clear message (a client that sends the app back unchanged is
// fine); the client id and secret are not fields at all.
type oauthClientPatch struct {
	Name         *string   `json:"name"`
	RedirectURIs *[]string `json:"redirect_uris"`
	// AllowedOrigins: [] returns to the default.
	AllowedOrigins *[]string `json:"allowed_origins"`
	Scopes         *[]string `json:"scopes"`
	GrantTypes     *[]string `json:"grant_types"`
	Confidential   *bool     `json:"confidential"`
	RequirePAR     *bool     `json:"require_pushed_authorization_requests"`
}

// patchOAuthClient changes an app's name, redirect URIs, scopes or grant
// types; its client id and secret stay.
func (h *handler) patchOAuthClient(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req oauthClientPatch
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := h.admin.Client(r.Context(), a, r.PathValue("client_id"))
	if err != nil {
		return notFoundApp(err)
	}
	if req.Confidential != nil && *req.Confidential != c.Confidential {
		return gatehouse.FieldError("confidential", "the type of an app cannot change (it is %s); register a new app instead", clientType(c))
	}
	// SPEC §9, as for registration: a token widens no app beyond itself,
	// and an expiring token does not give a never-expiring secret the
	// client_credentials grant.
	if req.Scopes != nil {
		if scopes, err := h.admin.Tree().NormalizeScopes(*req.Scopes); err == nil {
			if err := h.admin.CheckDelegatedScopes(a, "scopes", scopes); err != nil {
				return err
			}
		}
	}
	if req.GrantTypes != nil && c.Confidential && !c.AllowsGrant(gatehouse.GrantClientCredentials) &&
		slices.Contains(*req.GrantTypes, gatehouse.GrantClientCredentials) {
		if err := admin.CheckLasting(a, "client_credentials app secrets"); err != nil {
			return err
		}
	}
	c, err = h.admin.UpdateClient(r.Context(), a, c.ID, admin.ClientUpdate{
		Name: req.Name, RedirectURIs: req.RedirectURIs, Scopes: req.Scopes, GrantTypes: req.GrantTypes,
		RequirePAR:     req.RequirePAR,
		AllowedOrigins: req.AllowedOrigins,
	})
	if err != nil {
		return notFoundApp(err)
	}
	httpx.WriteJSON(w, http.StatusOK, oauthClientOut(c))
	return nil
}

// clientType names an app's type in an error message.
func clientType(c *gatehouse.Client) string {
	if c.Confidential {
		return "confidential"
	}
	return "public"
}

// deleteOAuthClient deletes an app: every token it issued stops working.
func (h *handler) deleteOAuthClient(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := h.admin.DeleteClient(r.Context(), a, r.PathValue("client_id")); err != nil {
		return notFoundApp(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateSecretRequest is the optional body of POST …/rotate-secret.
type rotateSecretRequest struct {
	// GracePeriod is a Go duration ("24h", "90m", "0s"): how long the old
	// secret keeps working; absent, null or "" = not at all. At most 168h.
	GracePeriod *string `json:"grace_period"`
}

// rotateSecretJSON is the answer of POST …/rotate-secret.
type rotateSecretJSON struct {
	ClientID                string     `json:"client_id"`
	ClientSecret            string     `json:"client_secret"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"` // null: the old secret stopped at once
}

// rotateOAuthClientSecret gives a confidential app a new secret (in this
// response only); a public app has none (409).
func (h *handler) rotateOAuthClientSecret(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req rotateSecretRequest
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	grace, err := parseGrace(req.GracePeriod)
	if err != nil {
		return err
	}
	if a.Via != nil {
		c, err := h.admin.Client(r.Context(), a, r.PathValue("client_id"))
		if err != nil {
			return notFoundApp(err)
		}
		if c.AllowsGrant(gatehouse.GrantClientCredentials) {
			if err := admin.CheckLasting(a, "client_credentials app secrets"); err != nil {
				return err
			}
		}
	}
	c, sec, err := h.admin.RotateClientSecret(r.Context(), a, r.PathValue("client_id"), grace)
	if err != nil {
		return notFoundApp(err)
	}
	httpx.WriteJSON(w, http.StatusOK, rotateSecretJSON{ClientID: c.ID, ClientSecret: sec, PreviousSecretExpiresAt: utc(c.PrevSecretExpiresAt)})
	return nil
}

// notFoundApp gives every "no such app" one answer. Security: another
// tenant's client id must be indistinguishable from one that does not
// exist, whatever message the layer below chose.
func notFoundApp(err error) error {
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such OAuth app")
	}
	return err
}

// parseGrace reads grace_period: a Go duration string such as "24h".
func parseGrace(s *string) (time.Duration, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(*s))
	if err != nil {
		return 0, gatehouse.FieldError("grace_period", "grace_period must be a duration such as \"24h\" (at most %s)", admin.MaxSecretGrace)
	}
	return d, nil
}
