package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"testing"
)

// actionRE bounds the audit actions RefuseAudit takes (they go into SQL).
var actionRE = regexp.MustCompile(`^[a-z_.]+$`)

// RefuseAudit makes the database refuse, from now on, every audit event
// of action (a trigger that raises an error), so tests can show that a
// change whose audit event cannot be stored is not stored either.
func (db *DB) RefuseAudit(tb testing.TB, action string) {
	tb.Helper()
	if !actionRE.MatchString(action) {
		tb.Fatalf("refuse audit: action %q is not a dotted name", action)
	}
	name := "refuse_audit_" + regexp.MustCompile(`\.`).ReplaceAllString(action, "_")
	stmts := []string{fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON audit_events
		WHEN NEW.action = '%s' BEGIN SELECT RAISE(ABORT, 'audit event refused'); END`, name, action)}
	if db.d.forUpdate != "" { // PostgreSQL
		stmts = []string{
			`CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.action = TG_ARGV[0] THEN RAISE EXCEPTION 'audit event refused'; END IF;
				RETURN NEW;
			END $$`,
			fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit('%s')`, name, action),
		}
	}
	for _, s := range stmts {
		if _, err := db.w.ExecContext(context.Background(), s); err != nil {
			tb.Fatalf("refuse audit %s: %v", action, err)
		}
	}
}
