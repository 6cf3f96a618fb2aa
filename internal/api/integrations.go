package api

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Integrations (seed 000, Magento-style OAuth 1.0a): /api/v1/integrations.
// Created over the API they need no password (the manage token is the
// proof). Activate and reauthorize answer the four values at once without
// a callback URL, or 202 once the callback URL accepted the POSTed
// credentials (502 callback_failed otherwise; every attempt is recorded
// under /deliveries). Secrets appear only in those answers.

func (h *handler) integrationRoutes() []route {
	const p = Prefix + "/integrations"
	return []route{
		{method: http.MethodPost, pattern: p, serve: h.createIntegration},
		{method: http.MethodGet, pattern: p, serve: h.listIntegrations},
		{method: http.MethodGet, pattern: p + "/{id}", serve: h.getIntegration},
		{method: http.MethodPatch, pattern: p + "/{id}", serve: h.patchIntegration},
		{method: http.MethodDelete, pattern: p + "/{id}", serve: h.deleteIntegration},
		{method: http.MethodPost, pattern: p + "/{id}/activate", serve: h.activateIntegration},
		{method: http.MethodPost, pattern: p + "/{id}/reauthorize", serve: h.reauthorizeIntegration},
		{method: http.MethodGet, pattern: p + "/{id}/deliveries", serve: h.listDeliveries},
	}
}

// Resource access values (Magento's Resource Access: All / Custom).
const (
	accessAll    = "all"
	accessCustom = "custom"
)

// integrationRequest is the body of POST /integrations.
type integrationRequest struct {
	Name            string   `json:"name"`
	Email           string   `json:"email"`
	CallbackURL     string   `json:"callback_url"`
	IdentityLinkURL string   `json:"identity_link_url"`
	ResourceAccess  string   `json:"resource_access"`
	Resources       []string `json:"resources"`
}

// integrationPatch is the body of PATCH /integrations/{id}: absent fields
// keep their value; "" clears an optional one.
type integrationPatch struct {
	Name            *string   `json:"name"`
	Email           *string   `json:"email"`
	CallbackURL     *string   `json:"callback_url"`
	IdentityLinkURL *string   `json:"identity_link_url"`
	ResourceAccess  *string   `json:"resource_access"`
	Resources       *[]string `json:"resources"`
}

// integrationJSON is an integration as the API shows it. The consumer key
// is an identifier; its secret is never shown here.
type integrationJSON struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Email           string    `json:"email"`
	CallbackURL     string    `json:"callback_url"`
	IdentityLinkURL string    `json:"identity_link_url"`
	ResourceAccess  string    `json:"resource_access"`
	Resources       []string  `json:"resources"` // [] with resource_access "all"
	Status          string    `json:"status"`
	Insecure        bool      `json:"insecure"`
	ConsumerKey     string    `json:"consumer_key"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func integrationOut(i *gatehouse.Integration) integrationJSON {
	out := integrationJSON{
		ID: i.ID, Name: i.Name, Email: i.Email, CallbackURL: i.CallbackURL, IdentityLinkURL: i.IdentityLinkURL,
		ResourceAccess: accessCustom, Resources: nonNil(i.Resources), Status: string(i.Status), Insecure: i.Insecure(),
		ConsumerKey: i.ConsumerKey, CreatedAt: i.CreatedAt.UTC(), UpdatedAt: i.UpdatedAt.UTC(),
	}
	if i.AllResources {
		out.ResourceAccess, out.Resources = accessAll, []string{}
	}
	return out
}

// resourceInput checks resource_access against resources.
func resourceInput(access string, resources []string) (all bool, custom []string, err error) {
	switch access {
	case accessAll:
		if len(resources) > 0 {
			return false, nil, gatehouse.FieldError("resources", `resources must be empty with resource_access "all"`)
		}
		return true, nil, nil
	case accessCustom:
		if len(resources) == 0 {
			return false, nil, gatehouse.FieldError("resources", `resource_access "custom" needs at least one resource`)
		}
		return false, resources, nil
	}
	return false, nil, gatehouse.FieldError("resource_access", `resource_access must be "all" or "custom"`)
}

// integrationError gives every "no such integration" one answer.
// Security: another tenant's id must be indistinguishable from one that
// does not exist.
func integrationError(err error) error {
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such integration")
	}
	return err
}

// delegatedResources refuses (SPEC §9) resources wider than the caller's
// token holds.
func (h *handler) delegatedResources(a admin.Actor, all bool, resources []string) error {
	scopes := resources
	if all {
		scopes = []string{gatehouse.ScopeAll}
	}
	if norm, err := h.admin.Tree().NormalizeScopes(scopes); err == nil {
		return h.admin.CheckDelegatedScopes(a, "resources", norm)
	}
	return nil // admin reports the unknown resource
}

// checkHandshake refuses (SPEC §9) an activation or reauthorization whose
// access token would outlive the caller's token (integration tokens never
// expire) or hold resources it does not.
func (h *handler) checkHandshake(r *http.Request, a admin.Actor) error {
	if a.Via == nil {
		return nil
	}
	if err := admin.CheckLasting(a, "integration access tokens"); err != nil {
		return err
	}
	i, err := h.admin.Integration(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return integrationError(err)
	}
	if err := h.admin.CheckDelegatedScopes(a, "resources", i.Scopes()); err != nil {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s", gatehouse.ErrorMessage(err))
	}
	return nil
}

// createIntegration saves a new integration as inactive.
func (h *handler) createIntegration(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req integrationRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	all, resources, err := resourceInput(req.ResourceAccess, req.Resources)
	if err != nil {
		return err
	}
	if err := h.delegatedResources(a, all, resources); err != nil {
		return err
	}
	i, err := h.admin.CreateIntegration(r.Context(), a, admin.IntegrationInput{
		Name: req.Name, Email: req.Email, CallbackURL: req.CallbackURL, IdentityLinkURL: req.IdentityLinkURL,
		AllResources: all, Resources: resources,
	})
	if err != nil {
		return integrationError(err)
	}
	w.Header().Set("Location", Prefix+"/integrations/"+i.ID)
	httpx.WriteJSON(w, http.StatusCreated, integrationOut(i))
	return nil
}

func (h *handler) listIntegrations(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	f, err := listFilter(r, a, gatehouse.IntegrationSorts)
	if err != nil {
		return err
	}
	page, err := h.admin.Integrations(r.Context(), a, f)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, pageOut(r, a, page, integrationOut))
	return nil
}

func (h *handler) getIntegration(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	i, err := h.admin.Integration(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return integrationError(err)
	}
	httpx.WriteJSON(w, http.StatusOK, integrationOut(i))
	return nil
}

// patchIntegration changes the given fields. resources alone switches to
// custom access; changed resources apply to the live token at once.
func (h *handler) patchIntegration(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req integrationPatch
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	i, err := h.admin.Integration(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return integrationError(err)
	}
	in := admin.IntegrationInput{
		Name: i.Name, Email: i.Email, CallbackURL: i.CallbackURL, IdentityLinkURL: i.IdentityLinkURL,
		AllResources: i.AllResources, Resources: i.Resources,
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.Name, req.Name)
	set(&in.Email, req.Email)
	set(&in.CallbackURL, req.CallbackURL)
	set(&in.IdentityLinkURL, req.IdentityLinkURL)
	if req.ResourceAccess != nil || req.Resources != nil {
		access := accessCustom
		if req.ResourceAccess != nil {
			access = *req.ResourceAccess
		}
		var resources []string
		switch {
		case req.Resources != nil:
			resources = *req.Resources
		case access == accessCustom && !i.AllResources:
			resources = i.Resources
		}
		if in.AllResources, in.Resources, err = resourceInput(access, resources); err != nil {
			return err
		}
		// Changed resources apply to the live token at once.
		if err := h.delegatedResources(a, in.AllResources, in.Resources); err != nil {
			return err
		}
	}
	i, err = h.admin.UpdateIntegration(r.Context(), a, i.ID, in)
	if err != nil {
		return integrationError(err)
	}
	httpx.WriteJSON(w, http.StatusOK, integrationOut(i))
	return nil
}

// deleteIntegration deletes it; its tokens stop working at once.
func (h *handler) deleteIntegration(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := h.admin.DeleteIntegration(r.Context(), a, r.PathValue("id")); err != nil {
		return integrationError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// activationJSON is the answer of activate and reauthorize.
type activationJSON struct {
	Status            string `json:"status,omitempty"`
	ConsumerKey       string `json:"consumer_key,omitempty"`
	ConsumerSecret    string `json:"consumer_secret,omitempty"`
	AccessToken       string `json:"access_token,omitempty"`
	AccessTokenSecret string `json:"access_token_secret,omitempty"`
}

func (h *handler) activateIntegration(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := emptyBody(w, r); err != nil {
		return err
	}
	if err := h.checkHandshake(r, a); err != nil {
		return err
	}
	act, err := h.admin.ActivateIntegration(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return integrationError(err)
	}
	if act.Delivery == nil {
		httpx.WriteJSON(w, http.StatusOK, activationJSON{
			Status: string(gatehouse.IntegrationActive), ConsumerKey: act.ConsumerKey, ConsumerSecret: act.ConsumerSecret,
			AccessToken: act.AccessToken, AccessTokenSecret: act.AccessTokenSecret,
		})
		return nil
	}
	return delivered(w, act)
}

func (h *handler) reauthorizeIntegration(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := emptyBody(w, r); err != nil {
		return err
	}
	if err := h.checkHandshake(r, a); err != nil {
		return err
	}
	act, err := h.admin.ReauthorizeIntegration(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return integrationError(err)
	}
	if act.Delivery == nil {
		httpx.WriteJSON(w, http.StatusOK, activationJSON{AccessToken: act.AccessToken, AccessTokenSecret: act.AccessTokenSecret})
		return nil
	}
	return delivered(w, act)
}

// delivered answers a handshake that went to the callback URL: 202 once it
// accepted the POST, else 502 callback_failed with what went wrong.
func delivered(w http.ResponseWriter, act *admin.Activation) error {
	if !act.Delivered() {
		return &httpx.StatusError{Status: http.StatusBadGateway, Code: "callback_failed",
			Message: "the callback URL did not accept the credentials: " + act.Delivery.Error}
	}
	httpx.WriteJSON(w, http.StatusAccepted, activationJSON{Status: string(gatehouse.IntegrationPending)})
	return nil
}

// emptyBody accepts no body or a JSON object without fields ({}).
func emptyBody(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var none struct{}
	return httpx.DecodeJSON(w, r, &none)
}

// deliveryJSON is one attempt to POST the credentials to the callback URL.
type deliveryJSON struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	URL        string    `json:"url"`
	Status     int       `json:"status"` // 0: no response
	Error      string    `json:"error"`  // "" when accepted
	DurationMS int64     `json:"duration_ms"`
}

// listDeliveries lists a page of the integration's deliveries, newest first.
func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	p, err := pageQuery(r, a, nil)
	if err != nil {
		return err
	}
	page, err := h.admin.Deliveries(r.Context(), a, r.PathValue("id"), p)
	if err != nil {
		return integrationError(err)
	}
	httpx.WriteJSON(w, http.StatusOK, pageOut(r, a, page, func(d *gatehouse.Delivery) deliveryJSON {
		return deliveryJSON{ID: d.ID, Time: d.Time.UTC(), URL: d.URL, Status: d.Status, Error: d.Error, DurationMS: d.Duration.Milliseconds()}
	}))
	return nil
}
