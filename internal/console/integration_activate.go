package console

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// Activate and Reauthorize (seed 000). Activate shows the resources the
// integration asks for; Allow then either shows the four tokens at once
// (no callback URL) or POSTs the consumer credentials to the callback URL
// and opens the identity link in a popup. Reauthorize asks first, because
// the current access token stops working at once, and then goes the same
// way. Security: secrets are rendered only in the response to the POST
// (Cache-Control: no-store), and a single-use nonce stops a reload from
// activating again.

// integrationAllowView is the view model of pages/integration_activate.html
// (the resources and Allow) and pages/integration_reauthorize.html (the
// confirmation before Reauthorize).
type integrationAllowView struct {
	Base
	Integration integrationRow
	Scopes      []consentScope
	Nonce       string
}

// integrationActivatedView is the view model of
// pages/integration_activated.html, the answer to Allow, Reauthorize and
// Retry.
type integrationActivatedView struct {
	Base
	Integration  integrationRow
	Reauthorized bool
	// Without a callback URL: the tokens, shown once.
	ConsumerKey       string
	ConsumerSecret    string
	AccessToken       string
	AccessTokenSecret string
	// With a callback URL: what the delivery did.
	Delivery        *deliveryRow
	Delivered       bool
	IdentityLinkURL string
	Expiry          time.Duration // the consumer must start the exchange within it
	Nonce           string        // for Retry
}

// deliveryRow is one attempt to POST the credentials to the callback URL.
type deliveryRow struct {
	Time   time.Time
	URL    string
	Status int // 0: no response
	Error  string
}

func deliveryRowOf(d *gatehouse.Delivery) *deliveryRow {
	return &deliveryRow{Time: d.Time, URL: d.URL, Status: d.Status, Error: d.Error}
}

func (c *Console) allowView(r *http.Request, rq *request, title string) (*integrationAllowView, error) {
	i, err := c.admin.Integration(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return &integrationAllowView{
		Base:        Base{Title: title, Nav: "integrations"},
		Integration: integrationRowOf(i),
		Scopes:      c.consentScopes(i.Scopes()),
		Nonce:       randomToken(16),
	}, nil
}

// integrationActivatePage lists the requested resources with Allow.
func (c *Console) integrationActivatePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	v, err := c.allowView(r, rq, msg("integration.activate.title"))
	if err != nil {
		return err
	}
	return c.render(w, r, rq, http.StatusOK, "integration_activate", v)
}

// integrationReauthorizePage asks before the access token is replaced.
func (c *Console) integrationReauthorizePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	v, err := c.allowView(r, rq, msg("integration.reauthorize.title"))
	if err != nil {
		return err
	}
	return c.render(w, r, rq, http.StatusOK, "integration_reauthorize", v)
}

// integrationActivate is Allow (and Retry of a failed delivery).
func (c *Console) integrationActivate(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.handshake(w, r, rq, false)
}

// integrationReauthorize is Reauthorize on the confirmation page.
func (c *Console) integrationReauthorize(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.handshake(w, r, rq, true)
}

func (c *Console) handshake(w http.ResponseWriter, r *http.Request, rq *request, reauthorize bool) error {
	id := r.PathValue("id")
	// The integration must be the tenant's before the nonce is spent.
	if _, err := c.admin.Integration(r.Context(), rq.actor, id); err != nil {
		return err
	}
	if ok, err := c.consumeNonce(w, r, rq, Prefix+"/integrations/"+id); !ok || err != nil {
		return err
	}
	var act *admin.Activation
	var err error
	if reauthorize {
		act, err = c.admin.ReauthorizeIntegration(r.Context(), rq.actor, id)
	} else {
		act, err = c.admin.ActivateIntegration(r.Context(), rq.actor, id)
	}
	if err != nil {
		return err
	}
	v := &integrationActivatedView{
		Base:              Base{Title: msg("integration.tokens.title"), Nav: "integrations"},
		Integration:       integrationRowOf(act.Integration),
		Reauthorized:      reauthorize,
		ConsumerKey:       act.ConsumerKey,
		ConsumerSecret:    act.ConsumerSecret,
		AccessToken:       act.AccessToken,
		AccessTokenSecret: act.AccessTokenSecret,
		IdentityLinkURL:   act.IdentityLinkURL,
		Delivered:         act.Delivered(),
		Expiry:            c.admin.HandshakeExpiry(),
		Nonce:             randomToken(16),
	}
	if act.Delivery != nil {
		v.Title = msg("integration.delivery.title")
		v.Delivery = deliveryRowOf(act.Delivery)
	}
	return c.render(w, r, rq, http.StatusOK, "integration_activated", v)
}
