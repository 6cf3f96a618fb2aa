package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// The tenant's audit log: /api/v1/audit-events, newest first, paged with
// ?limit= and the ?before= cursor that "next" hands out.

// Audit page sizes.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

func (h *handler) auditRoutes() []route {
	return []route{
		{method: http.MethodGet, pattern: Prefix + "/audit-events", serve: h.listAudit},
	}
}

// auditJSON is one audit event as the API shows it.
type auditJSON struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	IP     string    `json:"ip"`
}

// auditPage is a page of the log; Next, when set, is the ?before= value
// of the following page.
type auditPage struct {
	Items []auditJSON `json:"items"`
	Next  string      `json:"next,omitempty"`
}

func (h *handler) listAudit(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	q := r.URL.Query()
	limit := defaultAuditLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return badRequest("limit must be an integer")
		}
		if n < 1 || n > maxAuditLimit {
			return gatehouse.FieldError("limit", "limit must be between 1 and %d", maxAuditLimit)
		}
		limit = n
	}
	// Ask for one more than the page to learn whether another follows;
	// at the stores' cap a full page is taken to mean "maybe more".
	ask := min(limit+1, maxAuditLimit)
	events, err := h.admin.Audit(r.Context(), a, gatehouse.AuditQuery{Before: q.Get("before"), Limit: ask})
	if err != nil {
		return err
	}
	page := auditPage{Items: make([]auditJSON, 0, min(len(events), limit))}
	more := len(events) > limit || (ask == limit && len(events) == limit)
	if len(events) > limit {
		events = events[:limit]
	}
	for _, e := range events {
		page.Items = append(page.Items, auditJSON{
			ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP,
		})
	}
	if more && len(events) > 0 {
		page.Next = events[len(events)-1].ID
	}
	httpx.WriteJSON(w, http.StatusOK, page)
	return nil
}
