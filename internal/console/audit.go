package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// auditPageSize is how many events one audit page shows.
const auditPageSize = 50

// auditView is the view model of pages/audit.html: the tenant's audit log,
// newest first, with an "Older" link.
type auditView struct {
	Base
	Events []*gatehouse.AuditEvent
	Older  string // id to pass as ?before= for the next page, "" at the end
	Paged  bool   // this is not the first page
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	before := r.URL.Query().Get("before")
	if len(before) > 100 {
		before = ""
	}
	events, err := c.admin.Audit(r.Context(), rq.actor, gatehouse.AuditQuery{Before: before, Limit: auditPageSize + 1})
	if err != nil {
		return err
	}
	v := &auditView{Base: Base{Title: msg("audit.title"), Nav: "audit"}, Paged: before != ""}
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		v.Older = events[len(events)-1].ID
	}
	v.Events = events
	return c.render(w, r, rq, http.StatusOK, "audit", v)
}
