package admin

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// audit appends an event that describes no store change of its own (an
// attempt, such as starting an activation or a refused login); a failure
// fails the operation and is logged. An event of a change goes with the
// change: auditedOn.
func (s *Service) audit(ctx context.Context, e *gatehouse.AuditEvent) error {
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "tenant", e.TenantID, "action", e.Action, "target", e.Target, "err", err)
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// auditTarget is what an event says about its object: the one-line
// summary, its id and its name at the time, facts and changed fields.
type auditTarget struct {
	Summary, ID, Name string
	Details           map[string]string
	Changes           []gatehouse.AuditChange
}

// auditedOn returns ctx for the one store write that action is: the store
// appends its audit event in the write's transaction (gatehouse.WithAudit),
// so the change and its event commit together or neither does — an event
// that cannot be stored fails the change. t (the event's target) is
// called in that transaction, once the write has assigned its IDs.
func (s *Service) auditedOn(ctx context.Context, a Actor, action string, t func() auditTarget) context.Context {
	return gatehouse.WithAudit(ctx, func() *gatehouse.AuditEvent { return s.eventOn(a, action, t()) })
}

// on is an auditTarget func for an object known in advance: its id, its
// name, and the summary the log has always shown for it.
func on(id, name, summary string) func() auditTarget {
	return func() auditTarget { return auditTarget{Summary: summary, ID: id, Name: name} }
}

// eventOn is the audit event of a's action on t, now.
func (s *Service) eventOn(a Actor, action string, t auditTarget) *gatehouse.AuditEvent {
	return &gatehouse.AuditEvent{
		TenantID:   a.TenantID,
		Time:       s.Now(),
		Actor:      a.Name,
		Action:     action,
		Target:     t.Summary,
		TargetID:   t.ID,
		TargetName: t.Name,
		IP:         a.IP,
		Details:    t.Details,
		Changes:    t.Changes,
	}
}

// Audit lists a page of the tenant's audit log, newest first, filtered
// (owners and admins only).
func (s *Service) Audit(ctx context.Context, a Actor, q gatehouse.AuditQuery) (gatehouse.AuditPage, error) {
	if err := requireManager(a); err != nil {
		return gatehouse.AuditPage{}, err
	}
	if err := q.AuditFilter.Validate(); err != nil {
		return gatehouse.AuditPage{}, err
	}
	return s.store.ListAudit(ctx, a.TenantID, q)
}

// AuditRetention is how long the janitor keeps audit events
// (GATEHOUSE_AUDIT_RETENTION); 0 keeps them for ever.
func (s *Service) AuditRetention() time.Duration { return s.auditRetention }

// Export formats of ExportAudit.
const (
	ExportCSV   = "csv"
	ExportJSONL = "jsonl"
)

// AuditExportColumns are the columns of a CSV export, in order (its
// header row) and the keys of a JSON-lines export.
var AuditExportColumns = []string{"id", "time", "actor", "action", "target_id", "target_name", "target", "ip", "details", "changes"}

// AuditRecord is one audit event as the API and exports show it.
type AuditRecord struct {
	ID         string                  `json:"id"`
	Time       time.Time               `json:"time"`
	Actor      string                  `json:"actor"`
	Action     string                  `json:"action"`
	TargetID   string                  `json:"target_id"`
	TargetName string                  `json:"target_name"`
	Target     string                  `json:"target"`
	IP         string                  `json:"ip"`
	Details    map[string]string       `json:"details,omitempty"`
	Changes    []gatehouse.AuditChange `json:"changes,omitempty"`
}

// AuditRecordOf is e as the API and exports show it.
func AuditRecordOf(e *gatehouse.AuditEvent) AuditRecord {
	return AuditRecord{
		ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action,
		TargetID: e.TargetID, TargetName: e.TargetName, Target: e.Target, IP: e.IP,
		Details: e.Details, Changes: e.Changes,
	}
}

// exportPage is how many events an export reads per query.
const exportPage = gatehouse.MaxAuditLimit

// ExportAudit writes every event of the tenant's log that passes f, newest
// first, to w as CSV (a header row, then one row per event) or JSON lines
// (one object per line), page by page: memory stays flat however long the
// log. Owners and admins only; an unknown format or a bad filter is
// EINVALID before anything is written. Security: CSV cells that a
// spreadsheet would read as a formula are neutralised (csvCell).
func (s *Service) ExportAudit(ctx context.Context, a Actor, f gatehouse.AuditFilter, format string, w io.Writer) error {
	if err := requireManager(a); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	var write func(AuditRecord) error
	var flush func() error
	switch format {
	case ExportCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(AuditExportColumns); err != nil {
			return err
		}
		write = func(r AuditRecord) error {
			details, changes := "", ""
			if len(r.Details) > 0 {
				details = detailsText(r.Details)
			}
			for i, c := range r.Changes {
				if i > 0 {
					changes += "; "
				}
				changes += fmt.Sprintf("%s: %s → %s", c.Field, c.Old, c.New)
			}
			row := []string{r.ID, r.Time.Format(time.RFC3339Nano), r.Actor, r.Action, r.TargetID, r.TargetName, r.Target, r.IP, details, changes}
			for i := range row {
				row[i] = csvCell(row[i])
			}
			return cw.Write(row)
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	case ExportJSONL:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(r AuditRecord) error { return enc.Encode(r) }
		flush = func() error { return nil }
	default:
		return gatehouse.FieldError("format", "format must be csv or jsonl").WithID("error.audit.format")
	}
	q := gatehouse.AuditQuery{AuditFilter: f, Limit: exportPage}
	for {
		page, err := s.store.ListAudit(ctx, a.TenantID, q)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := write(AuditRecordOf(e)); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if page.Next == nil {
			return nil
		}
		q.After = page.Next
	}
}

// detailsText is details as "k=v" pairs in key order.
func detailsText(d map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(d)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + d[k])
	}
	return b.String()
}

// csvCell neutralises a cell a spreadsheet would evaluate. Security
// (OWASP "CSV Injection"): audit text comes from users (token names,
// emails, integration names), and a cell starting with =, +, -, @, a tab
// or a carriage return is run as a formula by Excel, LibreOffice and
// Sheets; a leading ' makes it text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Audit actions of the console's consent page and tenant switcher.
const (
	ActionConsentAllow = "oauth_consent.allow"
	ActionConsentDeny  = "oauth_consent.deny"
	ActionTenantSwitch = "tenant.switch"
)

// ConsentAudited returns ctx for the store write that saves a's consent
// to app (oauth2.Provider.Approve's SaveConsent): the oauth_consent.allow
// event, naming the app and the scopes, commits with it.
func (s *Service) ConsentAudited(ctx context.Context, a Actor, app *gatehouse.Client, scopes []string) context.Context {
	return s.auditedOn(ctx, a, ActionConsentAllow, func() auditTarget {
		return auditTarget{Summary: app.ID + " " + app.Name, ID: app.ID, Name: app.Name,
			Details: map[string]string{"scopes": strings.Join(scopes, " ")}}
	})
}

// ConsentDenied records that a refused app the scopes it asked for (no
// store change: the event is the record).
func (s *Service) ConsentDenied(ctx context.Context, a Actor, app *gatehouse.Client, scopes []string) error {
	return s.audit(ctx, s.eventOn(a, ActionConsentDeny, auditTarget{Summary: app.ID + " " + app.Name, ID: app.ID, Name: app.Name,
		Details: map[string]string{"scopes": strings.Join(scopes, " ")}}))
}

// TenantSwitchAudited returns ctx for the store write that moves a's
// console session to a's tenant (SetSessionTenant): the tenant.switch
// event, in the log of the tenant entered, commits with it. Security: it
// does not name the tenant left — one tenant's log never shows another
// tenant's names or ids, even of a tenant its member also belongs to.
func (s *Service) TenantSwitchAudited(ctx context.Context, a Actor) (context.Context, error) {
	to, err := s.store.FindTenantByID(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	return s.auditedOn(ctx, a, ActionTenantSwitch, on(to.ID, to.Name, to.Slug)), nil
}
