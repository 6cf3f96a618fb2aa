package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Add New Integration and Edit Integration (seed 000): the Integration
// Info tab (Name, Email, Callback URL, Identity Link URL and Your Password)
// and the API tab (Resource Access All or Custom with the resource tree).
// Security: the password is checked on every save, before anything else
// happens, and is never written back into the page.

// integrationFormView is the view model of pages/integration_form.html.
type integrationFormView struct {
	Base
	Edit   bool
	ID     string // the integration being edited
	Form   integrationForm
	Errors *FormErrors
	Tree   []*scopeNode
	Tab    string // the tab shown first: "info" or "api"
	Nonce  string // create only: integrationCreate spends it
}

// integrationForm is what the user typed (never the password).
type integrationForm struct {
	Name            string
	Email           string
	CallbackURL     string
	IdentityLinkURL string
	ResourceAccess  string // "all" or "custom"
	Resources       map[string]bool
}

// integrationFields maps the admin service's error fields to the inputs'
// messages. The resource tree reports unknown resources as "scopes".
var integrationFields = map[string]string{
	"name":              msg("integration.error.name"),
	"email":             msg("integration.error.email"),
	"callback_url":      msg("integration.error.url"),
	"identity_link_url": msg("integration.error.url"),
	"password":          msg("integration.error.password"),
	"resources":         msg("integration.error.resources"),
}

// urlFields are the form's URL inputs.
var urlFields = map[string]bool{"callback_url": true, "identity_link_url": true}

// apiFields are the inputs of the API tab: an error there opens that tab.
var apiFields = []string{"resources", "resource_access"}

func (c *Console) integrationNew(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := requireManager(rq); err != nil {
		return err
	}
	f := integrationForm{ResourceAccess: "custom", Resources: map[string]bool{}}
	return c.renderIntegrationForm(w, r, rq, http.StatusOK, nil, f, nil)
}

func (c *Console) integrationEdit(w http.ResponseWriter, r *http.Request, rq *request) error {
	i, err := c.admin.Integration(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := integrationForm{
		Name: i.Name, Email: i.Email, CallbackURL: i.CallbackURL, IdentityLinkURL: i.IdentityLinkURL,
		ResourceAccess: "custom", Resources: setOf(i.Resources),
	}
	if i.AllResources {
		f.ResourceAccess = "all"
	}
	return c.renderIntegrationForm(w, r, rq, http.StatusOK, i, f, nil)
}

func (c *Console) renderIntegrationForm(w http.ResponseWriter, r *http.Request, rq *request, status int, i *gatehouse.Integration, f integrationForm, fe *FormErrors) error {
	v := &integrationFormView{
		Base:   Base{Title: msg("integration.new.title"), Nav: "integrations"},
		Form:   f,
		Errors: fe,
		Tree:   scopeTree(c.admin.Tree().Roots(), f.Resources),
		Tab:    "info",
	}
	if i != nil {
		v.Edit, v.ID = true, i.ID
		v.Title = msg("integration.edit.title")
	} else {
		v.Nonce = randomToken(16)
	}
	if fe != nil && !fe.Any() {
		fe = nil
	}
	if fe != nil {
		v.Tab = "api"
		for name := range fe.Fields {
			if !slices.Contains(apiFields, name) {
				v.Tab = "info"
			}
		}
	}
	return c.render(w, r, rq, status, "integration_form", v)
}

// readIntegrationForm reads the posted form into the view's form and the
// admin service's input.
func readIntegrationForm(r *http.Request) (integrationForm, admin.IntegrationInput) {
	resources := r.PostForm["resources"]
	f := integrationForm{
		Name:            r.PostFormValue("name"),
		Email:           r.PostFormValue("email"),
		CallbackURL:     strings.TrimSpace(r.PostFormValue("callback_url")),
		IdentityLinkURL: strings.TrimSpace(r.PostFormValue("identity_link_url")),
		ResourceAccess:  "custom",
		Resources:       setOf(resources),
	}
	if r.PostFormValue("resource_access") == "all" {
		f.ResourceAccess = "all"
	}
	in := admin.IntegrationInput{
		Name: f.Name, Email: f.Email, CallbackURL: f.CallbackURL, IdentityLinkURL: f.IdentityLinkURL,
		AllResources: f.ResourceAccess == "all",
	}
	if !in.AllResources {
		// Without JavaScript a ticked node's ticked descendants are sent
		// too; granting a node grants its subtree either way.
		in.Resources = resources
	}
	return f, in
}

// integrationFormFailed answers a refused save of integration i (nil: a
// new one) with form f: the form again with the error as its messages, or
// err itself when it is not the user's to fix. A throttled password
// confirmation is 429 with Retry-After (RFC 6585 §4), the form kept; a
// node too busy to hash is the 429 page.
func (c *Console) integrationFormFailed(w http.ResponseWriter, r *http.Request, rq *request, i *gatehouse.Integration, f integrationForm, err error) error {
	var (
		te *admin.TargetError
		ge *gatehouse.Error
	)
	status, fe := http.StatusUnprocessableEntity, (*FormErrors)(nil)
	switch {
	case errors.As(err, &te):
		fe = fieldError(te.Err.Field, rq.loc.T(msg("integration.error.url_private")))
	case errors.As(err, &ge) && ge.Code == gatehouse.EINVALID && ge.ID != "" && urlFields[ge.Field]:
		// "The Callback URL must start with https://": the reason, not
		// the generic "enter an absolute URL".
		fe = fieldError(ge.Field, domainText(rq.loc, ge))
	case errors.As(err, &ge) && ge.Code == gatehouse.ETOOMANY && ge.Field == "password":
		httpx.SetRetryAfter(w.Header(), ge.RetryAfter)
		status, fe = http.StatusTooManyRequests, fieldError("password", rq.loc.T(msg("integration.error.password_toomany")))
	default:
		var ok bool
		if status, fe, ok = c.formErrorFor(rq, err, integrationFields); !ok {
			return err
		}
	}
	return c.renderIntegrationForm(w, r, rq, status, i, f, fe)
}

// integrationCreate is Save on Add New Integration: the password first,
// then the integration, saved as Inactive.
func (c *Console) integrationCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := requireManager(rq); err != nil {
		return err
	}
	f, in := readIntegrationForm(r)
	if err := c.admin.ConfirmPassword(r.Context(), rq.actor, r.PostFormValue("password")); err != nil {
		return c.integrationFormFailed(w, r, rq, nil, f, err)
	}
	if ok, err := c.consumeNonce(w, r, rq, Prefix+"/integrations"); !ok || err != nil {
		return err
	}
	created, err := c.admin.CreateIntegration(r.Context(), rq.actor, in)
	if err != nil {
		return c.integrationFormFailed(w, r, rq, nil, f, err)
	}
	return c.flashRedirect(w, r, savedFlash(created.Status), Prefix+"/integrations")
}

// integrationUpdate is Save on Edit Integration; the password is asked
// again. Changed resources apply to a live token at once.
func (c *Console) integrationUpdate(w http.ResponseWriter, r *http.Request, rq *request) error {
	i, err := c.admin.Integration(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, in := readIntegrationForm(r)
	if err := c.admin.ConfirmPassword(r.Context(), rq.actor, r.PostFormValue("password")); err != nil {
		return c.integrationFormFailed(w, r, rq, i, f, err)
	}
	saved, err := c.admin.UpdateIntegration(r.Context(), rq.actor, i.ID, in)
	if err != nil {
		return c.integrationFormFailed(w, r, rq, i, f, err)
	}
	return c.flashRedirect(w, r, savedFlash(saved.Status), Prefix+"/integrations")
}

// savedFlash is the message after a save: it says the status the
// integration has now (an edit leaves an Active one Active).
func savedFlash(s gatehouse.IntegrationStatus) string {
	switch s {
	case gatehouse.IntegrationActive:
		return msg("flash.integration_saved_active")
	case gatehouse.IntegrationPending:
		return msg("flash.integration_saved_pending")
	}
	return msg("flash.integration_saved")
}
