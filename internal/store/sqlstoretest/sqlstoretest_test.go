package sqlstoretest_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// TestRefuseAudit: on both backends, the refused action's events fail and
// other actions' are stored.
func TestRefuseAudit(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		db := sqlstoretest.Open(t, databaseURL)
		ctx := t.Context()
		tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
		if err := db.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		event := func(action string) *gatehouse.AuditEvent {
			return &gatehouse.AuditEvent{TenantID: tn.ID, Time: time.Now(), Actor: "test", Action: action, Target: "x"}
		}
		sqlstoretest.RefuseAudit(t, db, "pat.create")
		if err := db.AppendAudit(ctx, event("pat.create")); err == nil {
			t.Error("a refused action's event was stored")
		}
		if err := db.AppendAudit(ctx, event("pat.revoke")); err != nil {
			t.Errorf("another action's event: %v", err)
		}
	})
}
