package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Lists page the way the API's do (SPEC §9): newest first, a page at a
// time, by a cursor that the "Next page" link carries; "First page" drops
// it. A search box (q) and, on credential lists, a status filter narrow
// the list, a sort select orders it; all are kept by both links.

// consolePageLimit is how many rows a console list shows at once.
const consolePageLimit = gatehouse.DefaultPageLimit

// listNav is the view model of the list_nav and list_search partials.
type listNav struct {
	URL         string // the list's page
	Placeholder string // message ID: what the search box searches
	Query       string
	Status      string         // credential lists only
	UserID      string         // a list of credentials users hold: only this user's
	Owner       string         // UserID's e-mail, shown with the filter
	Statuses    []statusOption // the status filter's options; none: no filter
	Sort        gatehouse.Sort // the order; "" or newest is the default
	Sorts       []statusOption // the sort select's options; none: no select
	Next        string         // the URL of the next page, or ""
	First       string         // the URL of the first page, when this is a later one
}

// statusOption is one option of a credential list's status filter.
type statusOption struct {
	Value string
	Label string // message ID
}

// credentialStatuses are the options of the status filter; "" is the
// list without a filter: the credentials not revoked.
var credentialStatuses = []statusOption{
	{"", msg("list.status.current")},
	{string(gatehouse.StatusActive), msg("list.status.active")},
	{string(gatehouse.StatusExpired), msg("list.status.expired")},
	{string(gatehouse.StatusRevoked), msg("list.status.revoked")},
}

// sortLabels are the message IDs of the orders.
var sortLabels = map[gatehouse.Sort]string{
	gatehouse.SortNewest:   msg("list.sort.newest"),
	gatehouse.SortOldest:   msg("list.sort.oldest"),
	gatehouse.SortName:     msg("list.sort.name"),
	gatehouse.SortEmail:    msg("list.sort.email"),
	gatehouse.SortExpires:  msg("list.sort.expires"),
	gatehouse.SortLastUsed: msg("list.sort.last_used"),
}

// Filtered reports whether a search or a filter narrows the list.
func (n *listNav) Filtered() bool { return n.Query != "" || n.Status != "" || n.UserID != "" }

// OwnerLink is the list of only the user's credentials, with the search
// and the filter kept.
func (n *listNav) OwnerLink(userID string) string {
	m := *n
	m.UserID = userID
	return m.link(nil)
}

// listQuery reads the list parameters of r (q, status, sort, next) for
// the list at path, which sorts by sorts; it returns the page to read and
// the navigation to fill in once read (fill). Security: the user controls
// all four; a search text longer than gatehouse.MaxQueryLen, an unknown
// status or sort or a cursor that is not this tenant's list's in this
// order is EINVALID (the error page), never a read.
func listQuery(r *http.Request, rq *request, path, placeholder string, sorts []gatehouse.Sort) (gatehouse.PageQuery, *listNav, error) {
	q := r.URL.Query()
	nav := &listNav{URL: path, Placeholder: placeholder, Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	p := gatehouse.PageQuery{Limit: consolePageLimit}
	if err := gatehouse.CheckQuery(nav.Query); err != nil {
		return p, nil, err
	}
	var err error
	if p.Sort, err = gatehouse.ParseSort(q.Get("sort"), sorts); err != nil {
		return p, nil, err
	}
	if p.Sort != gatehouse.SortNewest {
		nav.Sort = p.Sort
	}
	for _, s := range sorts {
		nav.Sorts = append(nav.Sorts, statusOption{Value: string(s), Label: sortLabels[s]})
	}
	if s := q.Get("next"); s != "" {
		c, err := gatehouse.ParseCursor(s, listScope(rq, path), p.Sort)
		if err != nil {
			return p, nil, err
		}
		p.After = c
		nav.First = nav.link(nil)
	}
	return p, nav, nil
}

// listScope names a console list for its cursors.
func listScope(rq *request, path string) string {
	return rq.actor.TenantID + " console " + path
}

// fill sets the link to the next page, if any.
func (n *listNav) fill(rq *request, next *gatehouse.Cursor) {
	if next != nil {
		n.Next = n.link(url.Values{"next": {next.Encode(listScope(rq, n.URL))}})
	}
}

// link is the list's URL with its search and filter and extra.
func (n *listNav) link(extra url.Values) string {
	v := url.Values{}
	if n.Query != "" {
		v.Set("q", n.Query)
	}
	if n.Status != "" {
		v.Set("status", n.Status)
	}
	if n.UserID != "" {
		v.Set("user_id", n.UserID)
	}
	if n.Sort != "" && n.Sort != gatehouse.SortNewest {
		v.Set("sort", string(n.Sort))
	}
	for k, vs := range extra {
		v[k] = vs
	}
	if len(v) == 0 {
		return n.URL
	}
	return n.URL + "?" + v.Encode()
}
