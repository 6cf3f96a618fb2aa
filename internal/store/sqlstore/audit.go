package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// Audit page sizes (gatehouse.AuditQuery).
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

// AppendAudit appends e to its tenant's log, assigning ID and Time when empty.
func (db *DB) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent) error {
	ctx = gatehouse.WithAudit(ctx, nil) // e is the event
	return wrap("append audit event", "audit event", db.write(ctx, "append audit event", processCrash, func(q querier) error {
		return db.insertAudit(ctx, q, e)
	}))
}

// insertAudit appends e with q, assigning ID and Time when empty.
func (db *DB) insertAudit(ctx context.Context, q querier, e *gatehouse.AuditEvent) error {
	stamp(&e.ID, prefixAudit, &e.Time)
	args := []any{e.ID, e.TenantID, db.d.time(e.Time), e.Actor, e.Action, e.Target, e.IP}
	var err error
	if tx, ok := q.(*sql.Tx); ok {
		_, err = db.execTx(ctx, tx, insertAuditSQL, args...) // an audited write: hot
	} else {
		_, err = q.ExecContext(ctx, insertAuditSQL, args...)
	}
	return err
}

// insertAuditSQL appends an audit event.
const insertAuditSQL = `INSERT INTO audit_events (id, tenant_id, time, actor, action, target, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)`

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

// ListAudit returns the tenant's events newest first (in the order they
// were appended, whatever their Time), at most q.Limit of them, older than
// the event q.Before names. An unknown Before, or one of another tenant, is
// EINVALID.
func (db *DB) ListAudit(ctx context.Context, tenantID string, q gatehouse.AuditQuery) ([]*gatehouse.AuditEvent, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)

	// The cursor is the event id; its seq is what orders the log.
	var before int64
	if q.Before != "" {
		err := db.r.QueryRowContext(ctx,
			`SELECT seq FROM audit_events WHERE tenant_id = $1 AND id = $2`, tenantID, q.Before).Scan(&before)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("list audit: %w", gatehouse.FieldError("before", "unknown audit event"))
		}
		if err != nil {
			return nil, wrap("list audit", "audit event", err)
		}
	}
	const cols = `SELECT id, tenant_id, time, actor, action, target, ip FROM audit_events`
	var (
		rows *sql.Rows
		err  error
	)
	if q.Before != "" {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
			tenantID, before, limit)
	} else {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2`,
			tenantID, limit)
	}
	if err != nil {
		return nil, wrap("list audit", "audit event", err)
	}
	defer rows.Close()
	var list []*gatehouse.AuditEvent
	for rows.Next() {
		var (
			e gatehouse.AuditEvent
			t dbTime
		)
		if err := rows.Scan(&e.ID, &e.TenantID, &t, &e.Actor, &e.Action, &e.Target, &e.IP); err != nil {
			return nil, wrap("list audit", "audit event", err)
		}
		e.Time = t.Time
		list = append(list, &e)
	}
	return list, wrap("list audit", "audit event", rows.Err())
}
