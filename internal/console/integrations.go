package console

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Integrations (seed 000, Adobe Commerce: System › Extensions ›
// Integrations): the grid of the tenant's Magento-style OAuth 1.0a
// integrations with their status, the "Integration not secure" label and
// the row actions Activate / Reauthorize, Edit and Delete, plus the
// banner of unread notifications ("integration X has been authorized").

// integrationsView is the view model of pages/integrations.html.
type integrationsView struct {
	Base
	Integrations  []integrationRow
	Notifications []notificationRow
	List          *listNav
}

// integrationRow is an integration as the console shows it; it never holds
// a secret (the consumer secret stays sealed in the store).
type integrationRow struct {
	ID              string
	Name            string
	Email           string
	CallbackURL     string
	IdentityLinkURL string
	Status          string // inactive, pending, active
	Insecure        bool   // the "Integration not secure" label
	ConsumerKey     string
	CreatedAt       time.Time
}

// Active reports whether the row offers Reauthorize rather than Activate.
func (r integrationRow) Active() bool { return r.Status == string(gatehouse.IntegrationActive) }

func integrationRowOf(i *gatehouse.Integration) integrationRow {
	return integrationRow{
		ID: i.ID, Name: i.Name, Email: i.Email, CallbackURL: i.CallbackURL, IdentityLinkURL: i.IdentityLinkURL,
		Status: string(i.Status), Insecure: i.Insecure(), ConsumerKey: i.ConsumerKey, CreatedAt: i.CreatedAt,
	}
}

// notificationRow is one unread console notification.
type notificationRow struct {
	Message   string // in the reader's language (noticeText)
	Link      string // a console path, or ""
	CreatedAt time.Time
}

// integrationList is the grid.
func (c *Console) integrationList(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	pq, nav, err := listQuery(r, rq, "/console/integrations", msg("list.search.integrations"), gatehouse.IntegrationSorts)
	if err != nil {
		return err
	}
	list, err := c.admin.Integrations(ctx, rq.actor, gatehouse.ListFilter{Query: nav.Query, Page: pq}) // owners and admins only
	if err != nil {
		return err
	}
	nav.fill(rq, list.Next)
	notes, err := c.admin.Notifications(ctx, rq.actor)
	if err != nil {
		return err
	}
	v := &integrationsView{Base: Base{Title: msg("integration.title"), Nav: "integrations"}, List: nav}
	for _, i := range list.Items {
		v.Integrations = append(v.Integrations, integrationRowOf(i))
	}
	for _, n := range notes {
		link := n.Link
		if SafeRedirect(link) != link { // only console paths become links
			link = ""
		}
		v.Notifications = append(v.Notifications, notificationRow{Message: noticeText(rq.loc, n), Link: link, CreatedAt: n.CreatedAt})
	}
	return c.render(w, r, rq, http.StatusOK, "integrations", v)
}

// noticeMessages are the notification message ids the console renders
// through its catalogue (the test checks English has each).
var noticeMessages = map[string]bool{
	gatehouse.NoticeIntegrationAuthorized:   true,
	gatehouse.NoticeIntegrationReauthorized: true,
}

// noticeText is a notification in the reader's language: its message id
// with its arguments; a notification stored before message ids, or with an
// id this console does not know, shows its stored (English) text.
func noticeText(loc *localizer, n *gatehouse.Notification) string {
	if !noticeMessages[n.MessageID] {
		if n.Message == "" {
			return n.MessageID
		}
		return n.Message
	}
	args := make([]any, 0, 2*len(n.Args))
	for k, v := range n.Args {
		args = append(args, k, v)
	}
	return loc.T(n.MessageID, args...)
}

// integrationDismiss marks the tenant's notifications read.
func (c *Console) integrationDismiss(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.admin.DismissNotifications(r.Context(), rq.actor); err != nil {
		return err
	}
	return c.flashRedirect(w, r, msg("flash.notifications_dismissed"), Prefix+"/integrations")
}

// requireManager refuses staff before a form does any work (a password
// check included); the admin service checks the role again on every call.
func requireManager(rq *request) error {
	if !rq.actor.Role.CanManage() {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "owners and admins only")
	}
	return nil
}
