package console

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// One integration: its details, the resources it may call and the
// attempts to deliver its credentials to the callback URL, each with its
// time, URL, HTTP status and error, and Retry — Magento gives integrators
// nothing here. The identity link popup's success_call_back lands here too.

// integrationView is the view model of pages/integration.html.
type integrationView struct {
	Base
	Integration integrationRow
	Scopes      []consentScope
	Deliveries  []*deliveryRow
	// ExchangeBy is when a Pending integration's consumer must have started
	// the token exchange ("Consumer key has expired" after it).
	ExchangeBy *time.Time
	Expired    bool
	Nonce      string // for Retry
}

func (c *Console) integrationPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	i, err := c.admin.Integration(ctx, rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := c.admin.Deliveries(ctx, rq.actor, i.ID, gatehouse.PageQuery{Limit: 20})
	if err != nil {
		return err
	}
	v := &integrationView{
		Base:        Base{Title: msg("integration.page.title"), Nav: "integrations"},
		Integration: integrationRowOf(i),
		Scopes:      c.consentScopes(i.Scopes()),
		Nonce:       randomToken(16),
	}
	for _, d := range ds.Items {
		v.Deliveries = append(v.Deliveries, deliveryRowOf(d))
	}
	if by, ok := c.admin.HandshakeDeadline(i); ok {
		v.ExchangeBy, v.Expired = &by, c.now().After(by)
	}
	return c.render(w, r, rq, http.StatusOK, "integration", v)
}

// integrationDeleteView is the view model of pages/integration_delete.html.
type integrationDeleteView struct {
	Base
	Integration integrationRow
}

// integrationDeleteConfirm is the seed's "click OK to confirm" step.
func (c *Console) integrationDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	i, err := c.admin.Integration(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &integrationDeleteView{Base: Base{Title: msg("integration.delete.title"), Nav: "integrations"}, Integration: integrationRowOf(i)}
	return c.render(w, r, rq, http.StatusOK, "integration_delete", v)
}

// integrationDelete deletes the integration once OK is posted; its tokens
// stop working at once.
func (c *Console) integrationDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.admin.DeleteIntegration(r.Context(), rq.actor, r.PathValue("id")); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.integration_deleted"), Prefix+"/integrations")
}
