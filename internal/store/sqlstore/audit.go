package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// defaultAuditLimit is the page size of a gatehouse.AuditQuery without one.
const defaultAuditLimit = 50

// AppendAudit appends e to its tenant's log, assigning ID and Time when empty.
func (db *DB) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent) error {
	ctx = gatehouse.WithAudit(ctx, nil) // e is the event
	return wrap("append audit event", "audit event", db.write(ctx, "append audit event", processCrash, func(q querier) error {
		return db.insertAudit(ctx, q, e)
	}))
}

// auditDetails is the JSON of the details column ("" when empty).
type auditDetails struct {
	Details map[string]string       `json:"details,omitempty"`
	Changes []gatehouse.AuditChange `json:"changes,omitempty"`
}

// insertAudit appends e with q, assigning ID and Time when empty.
func (db *DB) insertAudit(ctx context.Context, q querier, e *gatehouse.AuditEvent) error {
	stamp(&e.ID, prefixAudit, &e.Time)
	details := ""
	if len(e.Details) > 0 || len(e.Changes) > 0 {
		b, err := json.Marshal(auditDetails{Details: e.Details, Changes: e.Changes})
		if err != nil {
			return fmt.Errorf("encode audit details: %w", err)
		}
		details = string(b)
	}
	args := []any{e.ID, e.TenantID, db.d.time(e.Time), e.Actor, e.Action, e.Target, e.IP, e.TargetID, e.TargetName, details}
	var err error
	if tx, ok := q.(*sql.Tx); ok {
		_, err = db.execTx(ctx, tx, insertAuditSQL, args...) // an audited write: hot
	} else {
		_, err = q.ExecContext(ctx, insertAuditSQL, args...)
	}
	return err
}

// insertAuditSQL appends an audit event.
const insertAuditSQL = `INSERT INTO audit_events (id, tenant_id, time, actor, action, target, ip, target_id, target_name, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// appendAuditTx appends, in tx, the event that event (from
// gatehouse.WithAudit; nil for none) builds: the write's audit event
// commits with it.
func (db *DB) appendAuditTx(ctx context.Context, tx *sql.Tx, event func() *gatehouse.AuditEvent) error {
	if event == nil {
		return nil
	}
	e := event()
	if e == nil {
		return nil
	}
	return db.insertAudit(ctx, tx, e)
}

// ListAudit returns the tenant's events that pass q's filter, newest
// first by (time, seq) — seq, the order of appending, breaks ties — or
// oldest first (q.Sort), at
// most q.Limit of them (capped at gatehouse.MaxAuditLimit), strictly after
// the position q.After names. The keyset makes a walk with Next see every
// event that existed when it started exactly once, however many are
// appended meanwhile. A filter that does not validate is EINVALID.
func (db *DB) ListAudit(ctx context.Context, tenantID string, q gatehouse.AuditQuery) (gatehouse.AuditPage, error) {
	if err := q.AuditFilter.Validate(); err != nil {
		return gatehouse.AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	sort := q.Sort.Or()
	if sort != gatehouse.SortNewest && sort != gatehouse.SortOldest {
		return gatehouse.AuditPage{}, fmt.Errorf("list audit: %w", gatehouse.FieldError("sort", "the audit log cannot be sorted by %q", q.Sort))
	}
	if q.After != nil && q.After.Sort.Or() != sort {
		return gatehouse.AuditPage{}, fmt.Errorf("list audit: %w", gatehouse.FieldError("next", "the cursor is of sort %s, not %s", q.After.Sort.Or(), sort))
	}
	op, dir := `<`, `DESC`
	if sort == gatehouse.SortOldest {
		op, dir = `>`, `ASC`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, gatehouse.MaxAuditLimit)

	var (
		where strings.Builder
		args  = []any{tenantID}
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where.WriteString(`tenant_id = $1`)
	f := q.AuditFilter
	if p, ok := f.ActionPrefix(); ok {
		fmt.Fprintf(&where, ` AND substr(action, 1, %s) = %s`, arg(utf8.RuneCountInString(p)), arg(p))
	} else if f.Action != "" {
		fmt.Fprintf(&where, ` AND action = %s`, arg(f.Action))
	}
	if f.Actor != "" {
		fmt.Fprintf(&where, ` AND actor = %s`, arg(f.Actor))
	}
	if f.Target != "" {
		// The summary's first word is the id of events that name their
		// target only there ("cred_… name"). substr, not LIKE: exact and
		// case-sensitive on both dialects (SQLite's LIKE ignores case),
		// with no metacharacters to escape; both count characters.
		t, word := arg(f.Target), f.Target+" "
		fmt.Fprintf(&where, ` AND (target_id = %s OR target_name = %s OR target = %s OR substr(target, 1, %s) = %s)`,
			t, t, t, arg(utf8.RuneCountInString(word)), arg(word))
	}
	if !f.Since.IsZero() {
		fmt.Fprintf(&where, ` AND time >= %s`, arg(db.d.time(f.Since)))
	}
	if !f.Until.IsZero() {
		fmt.Fprintf(&where, ` AND time < %s`, arg(db.d.time(f.Until)))
	}
	if c := q.After; c != nil {
		t, s := arg(db.d.time(c.Time)), arg(c.Seq)
		fmt.Fprintf(&where, ` AND (time %s %s OR (time = %s AND seq %s %s))`, op, t, t, op, s)
	}
	// One more than the page tells whether another follows.
	query := `SELECT seq, id, tenant_id, time, actor, action, target, ip, target_id, target_name, details
		FROM audit_events WHERE ` + where.String() + ` ORDER BY time ` + dir + `, seq ` + dir + ` LIMIT ` + arg(limit+1)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return gatehouse.AuditPage{}, wrap("list audit", "audit event", err)
	}
	defer rows.Close()
	var (
		page gatehouse.AuditPage
		last gatehouse.AuditCursor
	)
	for rows.Next() {
		var (
			e       gatehouse.AuditEvent
			t       dbTime
			seq     int64
			details string
		)
		if err := rows.Scan(&seq, &e.ID, &e.TenantID, &t, &e.Actor, &e.Action, &e.Target, &e.IP, &e.TargetID, &e.TargetName, &details); err != nil {
			return gatehouse.AuditPage{}, wrap("list audit", "audit event", err)
		}
		if len(page.Events) == limit {
			page.Next = &last
			break
		}
		e.Time = t.Time
		if details != "" {
			var d auditDetails
			if err := json.Unmarshal([]byte(details), &d); err != nil {
				return gatehouse.AuditPage{}, fmt.Errorf("list audit: decode details of %s: %w", e.ID, err)
			}
			e.Details, e.Changes = d.Details, d.Changes
		}
		page.Events = append(page.Events, &e)
		last = gatehouse.AuditCursor{Sort: sort, Time: e.Time, Seq: seq}
	}
	return page, wrap("list audit", "audit event", rows.Err())
}
