package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

const deliveryColumns = `id, tenant_id, integration_id, time, url, status, error, duration_us`

// AddDelivery records an attempt to POST an integration's credentials to
// its callback URL, assigning ID and Time (the store's clock) when empty.
// Duration is kept to the microsecond. An integration that is not the
// tenant's (or is gone) is ENOTFOUND.
func (db *DB) AddDelivery(ctx context.Context, d *gatehouse.Delivery) error {
	stamp(&d.ID, prefixDelivery, &d.Time)
	d.Duration = d.Duration.Truncate(time.Microsecond)
	_, err := db.exec(ctx, "add delivery", processCrash, `
		INSERT INTO integration_deliveries (`+deliveryColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		d.ID, d.TenantID, d.IntegrationID, db.d.time(d.Time), d.URL, d.Status, d.Error, d.Duration.Microseconds())
	return wrap("add delivery", "delivery", err)
}

// ListDeliveries returns a page of the tenant's integration's deliveries
// (all when p.Limit <= 0), newest (by Time, then by when they were added)
// first; the cursor's ID is a delivery's, whose seq places it. An
// integration not in the tenant is ENOTFOUND.
func (db *DB) ListDeliveries(ctx context.Context, tenantID, integrationID string, p gatehouse.PageQuery) ([]*gatehouse.Delivery, error) {
	const op = "list deliveries"
	q := `SELECT ` + deliveryColumns + ` FROM integration_deliveries
		WHERE tenant_id = $1 AND integration_id = $2`
	args := []any{tenantID, integrationID}
	if c := p.After; c != nil {
		// A cursor's delivery pruned meanwhile has no seq: the page then
		// starts after every delivery of its time.
		args = append(args, db.d.time(c.Time), c.ID)
		q += ` AND (time < $3 OR (time = $3 AND seq < COALESCE(
			(SELECT seq FROM integration_deliveries WHERE tenant_id = $1 AND id = $4), 0)))`
	}
	q += ` ORDER BY time DESC, seq DESC`
	if p.Limit > 0 {
		args = append(args, p.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, "delivery", err)
	}
	defer rows.Close()
	var list []*gatehouse.Delivery
	for rows.Next() {
		var (
			d  gatehouse.Delivery
			t  dbTime
			us int64
		)
		if err := rows.Scan(&d.ID, &d.TenantID, &d.IntegrationID, &t, &d.URL, &d.Status, &d.Error, &us); err != nil {
			return nil, wrap(op, "delivery", err)
		}
		d.Time = t.Time
		d.Duration = time.Duration(us) * time.Microsecond
		list = append(list, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, "delivery", err)
	}
	if len(list) == 0 {
		// Tell "none yet" from "not yours".
		var one int
		err := db.r.QueryRowContext(ctx,
			`SELECT 1 FROM integrations WHERE tenant_id = $1 AND id = $2`, tenantID, integrationID).Scan(&one)
		if err != nil {
			return nil, wrap(op, "integration", err)
		}
	}
	return list, nil
}
