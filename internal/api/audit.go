package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// The tenant's audit log: GET /api/v1/audit-events lists it newest first,
// paged as SPEC §9 fixes (?limit=, default 50, at most 200; "next" is an
// opaque cursor passed back as ?next=), filtered by ?action= (exact, or a
// prefix "pat.*"), ?actor=, ?target= (an id, a name or the summary) and
// ?since= / ?until= (RFC 3339; since inclusive, until exclusive).
// GET /api/v1/audit-events/export?format=csv|jsonl streams every event the
// same filters select. Who controls it: the tenant's owners and admins,
// through a token holding "manage"; the tenant is the token's, never a
// parameter.

// Audit page sizes (SPEC §9).
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 200
)

func (h *handler) auditRoutes() []route {
	return []route{
		{method: http.MethodGet, pattern: Prefix + "/audit-events", serve: h.listAudit},
		{method: http.MethodGet, pattern: Prefix + "/audit-events/export", serve: h.exportAudit},
	}
}

// auditPage is a page of the log; Next, when set, is the ?next= value of
// the following page.
type auditPage struct {
	Items []admin.AuditRecord `json:"items"`
	Next  string              `json:"next,omitempty"`
}

// auditFilter reads the filter parameters. A time that is not RFC 3339 is
// 400; a filter that does not validate is EINVALID (422).
func auditFilter(r *http.Request) (gatehouse.AuditFilter, error) {
	q := r.URL.Query()
	f := gatehouse.AuditFilter{Action: q.Get("action"), Actor: q.Get("actor"), Target: q.Get("target")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return f, badRequest(name + " must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			*dst = t.UTC()
		}
	}
	return f, f.Validate()
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
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	aq := gatehouse.AuditQuery{AuditFilter: f, Limit: limit}
	if aq.Sort, err = gatehouse.ParseSort(q.Get("sort"), gatehouse.AuditSorts); err != nil {
		return &httpx.StatusError{Status: http.StatusBadRequest, Code: gatehouse.EINVALID, Message: err.(*gatehouse.Error).Message}
	}
	if s := q.Get("next"); s != "" {
		if aq.After, err = gatehouse.ParseAuditCursor(s, aq.Sort); err != nil {
			return badRequest(err.(*gatehouse.Error).Message)
		}
	}
	got, err := h.admin.Audit(r.Context(), a, aq)
	if err != nil {
		return err
	}
	page := auditPage{Items: make([]admin.AuditRecord, 0, len(got.Events))}
	for _, e := range got.Events {
		page.Items = append(page.Items, admin.AuditRecordOf(e))
	}
	if got.Next != nil {
		page.Next = got.Next.String()
	}
	httpx.WriteJSON(w, http.StatusOK, page)
	return nil
}

// exportTypes are the media types of the export formats.
var exportTypes = map[string]string{
	admin.ExportCSV:   "text/csv; charset=utf-8",
	admin.ExportJSONL: "application/jsonl; charset=utf-8",
}

// exportAudit streams the filtered log. The answer is written as it is
// read (admin.ExportAudit pages through the store), so it is never held
// whole; an error after the first byte cannot become a status any more,
// so it aborts the response (the client sees a cut transfer, never a file
// that looks complete).
func (h *handler) exportAudit(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = admin.ExportCSV
	}
	ctype, ok := exportTypes[format]
	if !ok {
		return gatehouse.FieldError("format", "format must be csv or jsonl")
	}
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	// Refusals (role) before the first byte: a JSON error, not a file.
	if _, err := h.admin.Audit(r.Context(), a, gatehouse.AuditQuery{AuditFilter: f, Limit: 1}); err != nil {
		return err
	}
	sw := &startWriter{w: w, start: func() {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.%s"`, h.admin.Now().Format("20060102T150405Z"), format))
		w.WriteHeader(http.StatusOK)
	}}
	err = h.admin.ExportAudit(r.Context(), a, f, format, sw)
	if err != nil && sw.started {
		if !errors.Is(err, r.Context().Err()) {
			h.log.ErrorContext(r.Context(), "audit export failed", slog.String("err", err.Error()))
		}
		panic(http.ErrAbortHandler)
	}
	if err == nil && !sw.started {
		sw.start() // an empty JSON-lines export writes nothing
	}
	return err
}

// startWriter writes the answer's header before its first byte.
type startWriter struct {
	w       http.ResponseWriter
	start   func()
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.start()
	}
	return s.w.Write(p)
}
