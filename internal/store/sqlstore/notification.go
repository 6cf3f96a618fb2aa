package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

const notificationColumns = `id, tenant_id, message_id, args, message, link, created_at, read_at`

// AddNotification stores a console notification of the tenant, assigning
// ID and CreatedAt (the store's clock) when empty. A missing tenant is
// ENOTFOUND; neither a message id nor a message, or an argument without a
// name, is EINVALID. Args are stored as a JSON object.
func (db *DB) AddNotification(ctx context.Context, n *gatehouse.Notification) error {
	if n.Message == "" && n.MessageID == "" {
		return fmt.Errorf("add notification: %w", gatehouse.FieldError("message", "a message or a message id is required"))
	}
	if _, ok := n.Args[""]; ok {
		return fmt.Errorf("add notification: %w", gatehouse.FieldError("args", "every argument needs a name"))
	}
	args, err := json.Marshal(n.Args)
	if err != nil || len(n.Args) == 0 {
		args = []byte("{}")
	}
	stamp(&n.ID, prefixNotification, &n.CreatedAt)
	n.ReadAt = normTimePtr(n.ReadAt)
	_, err = db.exec(ctx, "add notification", processCrash, `
		INSERT INTO notifications (`+notificationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		n.ID, n.TenantID, n.MessageID, string(args), n.Message, n.Link, db.d.time(n.CreatedAt), db.d.timePtr(n.ReadAt))
	return wrap("add notification", "notification", err)
}

// ListNotifications returns the tenant's latest limit notifications (all
// when limit <= 0), only the unread ones when unreadOnly, newest (by
// CreatedAt, then by when they were added) first.
func (db *DB) ListNotifications(ctx context.Context, tenantID string, unreadOnly bool, limit int) ([]*gatehouse.Notification, error) {
	const op = "list notifications"
	q := `SELECT ` + notificationColumns + ` FROM notifications WHERE tenant_id = $1`
	if unreadOnly {
		q += ` AND read_at IS NULL`
	}
	q += ` ORDER BY created_at DESC, seq DESC`
	args := []any{tenantID}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, "notification", err)
	}
	defer rows.Close()
	var list []*gatehouse.Notification
	for rows.Next() {
		var (
			n             gatehouse.Notification
			args          string
			created, read dbTime
		)
		if err := rows.Scan(&n.ID, &n.TenantID, &n.MessageID, &args, &n.Message, &n.Link, &created, &read); err != nil {
			return nil, wrap(op, "notification", err)
		}
		if err := json.Unmarshal([]byte(args), &n.Args); err != nil {
			return nil, fmt.Errorf("%s: args of %s: %w", op, n.ID, err)
		}
		if len(n.Args) == 0 {
			n.Args = nil
		}
		n.CreatedAt = created.Time
		n.ReadAt = read.Ptr()
		list = append(list, &n)
	}
	return list, wrap(op, "notification", rows.Err())
}

// MarkNotificationsRead marks the tenant's unread notifications read at
// now; those read before keep their time. Other tenants' are untouched.
func (db *DB) MarkNotificationsRead(ctx context.Context, tenantID string, now time.Time) error {
	_, err := db.exec(ctx, "mark notifications read", processCrash,
		`UPDATE notifications SET read_at = $2 WHERE tenant_id = $1 AND read_at IS NULL`,
		tenantID, db.d.time(now))
	return wrap("mark notifications read", "notification", err)
}
