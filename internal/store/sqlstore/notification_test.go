package sqlstore

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestNotificationStoredBeforeMessageIDs: a row written before migration
// 0010 (only its English text) reads back as text, without message id or
// arguments, so the console shows it as before.
func TestNotificationStoredBeforeMessageIDs(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme"}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.w.ExecContext(ctx, `INSERT INTO notifications (id, tenant_id, message, link, created_at) VALUES ($1, $2, $3, $4, $5)`,
		"ntf_old", tn.ID, `Integration "ERP" has been authorized.`, "/console/integrations/int_1", db.d.time(at)); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListNotifications(ctx, tn.ID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Message != `Integration "ERP" has been authorized.` || list[0].MessageID != "" || list[0].Args != nil {
		t.Fatalf("old notification = %+v", list[0])
	}
}
