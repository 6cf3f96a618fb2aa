package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// auditPageSize is how many events one audit page shows.
const auditPageSize = 50

// auditTimeForm is the layout of the filter form's datetime-local inputs,
// read as UTC (the form says so).
const auditTimeForm = "2006-01-02T15:04"

// auditView is the view model of pages/audit.html: the tenant's audit log,
// newest first, filtered by the form, with paging and download links.
type auditView struct {
	Base
	Events []*gatehouse.AuditEvent
	Form   auditForm
	Error  string // message id of a filter the log refused
	// Filtered is whether any filter is set; NewestURL, OlderURL (""
	// at the end), CSVURL and JSONLURL the links that keep the filters.
	Filtered                              bool
	NewestURL, OlderURL, CSVURL, JSONLURL template.URL
	Paged                                 bool // this is not the first page
	Oldest                                bool // sorted oldest first: NewestURL is the first page, OlderURL the next
	// Retention is GATEHOUSE_AUDIT_RETENTION (0: kept for ever).
	Retention     time.Duration
	RetentionDays int
}

// auditForm is the filter form as submitted, for redisplay; Sort is
// "newest" (the default, left out of links) or "oldest".
type auditForm struct {
	Action, Actor, Target, Since, Until, Sort string
}

// Sorts are the options of the form's sort select.
func (auditForm) Sorts() []statusOption {
	var opts []statusOption
	for _, s := range gatehouse.AuditSorts {
		opts = append(opts, statusOption{Value: string(s), Label: sortLabels[s]})
	}
	return opts
}

// auditQuery reads the filter form (GET parameters) into a filter; a
// field that does not parse is an EINVALID naming it.
func auditQuery(q url.Values) (auditForm, gatehouse.AuditFilter, error) {
	form := auditForm{
		Action: strings.TrimSpace(q.Get("action")), Actor: strings.TrimSpace(q.Get("actor")), Target: strings.TrimSpace(q.Get("target")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")), Sort: q.Get("sort"),
	}
	if _, err := gatehouse.ParseSort(form.Sort, gatehouse.AuditSorts); err != nil {
		return form, gatehouse.AuditFilter{}, err
	}
	f := gatehouse.AuditFilter{Action: form.Action, Actor: form.Actor, Target: form.Target}
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"since", form.Since, &f.Since}, {"until", form.Until, &f.Until}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(auditTimeForm, t.v)
		if err != nil {
			if v, err = time.Parse(time.RFC3339, t.v); err != nil {
				return form, f, gatehouse.FieldError(t.name, "not a time")
			}
		}
		*t.dst = v.UTC()
	}
	return form, f, f.Validate()
}

// values is the form as query parameters, empty fields left out.
func (f auditForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"action": f.Action, "actor": f.Actor, "target": f.Target, "since": f.Since, "until": f.Until, "sort": f.Sort} {
		if s != "" && !(k == "sort" && s == string(gatehouse.SortNewest)) {
			v.Set(k, s)
		}
	}
	return v
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	v := &auditView{Base: Base{Title: msg("audit.title"), Nav: "audit"}, Retention: c.admin.AuditRetention()}
	v.RetentionDays = int(v.Retention / (24 * time.Hour))
	form, f, err := auditQuery(q)
	v.Form = form
	fv := form.values()
	v.Filtered = len(fv) > 0
	link := func(path string, extra url.Values) template.URL {
		all := url.Values{}
		for k, s := range fv {
			all[k] = s
		}
		for k, s := range extra {
			all[k] = s
		}
		if len(all) == 0 {
			return template.URL(path)
		}
		return template.URL(path + "?" + all.Encode()) // #nosec: built from url.Values
	}
	v.NewestURL = link(Prefix+"/audit", nil)
	v.CSVURL = link(Prefix+"/audit/export", url.Values{"format": {admin.ExportCSV}})
	v.JSONLURL = link(Prefix+"/audit/export", url.Values{"format": {admin.ExportJSONL}})
	status := http.StatusOK
	if err != nil {
		// A filter that does not parse shows the form with its reason and
		// no events (never the unfiltered log as if it were the answer).
		if !gatehouse.IsCode(err, gatehouse.EINVALID) {
			return err
		}
		v.Error, status = auditFilterError(err), http.StatusBadRequest
		return c.render(w, r, rq, status, "audit", v)
	}
	aq := gatehouse.AuditQuery{AuditFilter: f, Limit: auditPageSize, Sort: gatehouse.Sort(form.Sort).Or()}
	v.Oldest = aq.Sort == gatehouse.SortOldest
	if s := q.Get("next"); s != "" {
		if aq.After, err = gatehouse.ParseAuditCursor(s, aq.Sort); err != nil {
			aq.After = nil // a stale or edited link, or one of the other order: start from the first
		}
		v.Paged = aq.After != nil
	}
	page, err := c.admin.Audit(r.Context(), rq.actor, aq)
	if err != nil {
		return err
	}
	v.Events = page.Events
	if page.Next != nil {
		v.OlderURL = link(Prefix+"/audit", url.Values{"next": {page.Next.String()}})
	}
	return c.render(w, r, rq, status, "audit", v)
}

// auditFilterError is the message id of a refused filter.
func auditFilterError(err error) string {
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		switch ge.Field {
		case "action":
			return msg("audit.filter.error.action")
		case "since", "until":
			return msg("audit.filter.error.time")
		}
	}
	return msg("audit.filter.error")
}

// auditExport downloads the filtered log (?format=csv or jsonl) through
// admin.ExportAudit, streamed. Owners and admins only, like the page.
func (c *Console) auditExport(w http.ResponseWriter, r *http.Request, rq *request) error {
	format := r.URL.Query().Get("format")
	ctype := map[string]string{admin.ExportCSV: "text/csv; charset=utf-8", admin.ExportJSONL: "application/jsonl; charset=utf-8"}[format]
	if ctype == "" {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such export format")
	}
	_, f, err := auditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	// Refusals before the first byte, as a page.
	if _, err := c.admin.Audit(r.Context(), rq.actor, gatehouse.AuditQuery{AuditFilter: f, Limit: 1}); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.%s"`, c.now().UTC().Format("20060102T150405Z"), format))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := c.admin.ExportAudit(r.Context(), rq.actor, f, format, w); err != nil {
		c.log.ErrorContext(r.Context(), "console: audit export failed", "err", err)
		panic(http.ErrAbortHandler) // a cut transfer, not a file that looks whole
	}
	return nil
}
