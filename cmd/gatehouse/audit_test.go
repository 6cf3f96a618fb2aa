package main

import (
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// TestAuditExport: `audit export` writes the tenant's audit log, newest
// first, as JSON lines or CSV (a header row, formula-looking cells made
// text), bounded by --since (inclusive) and --until (exclusive) and
// filtered by --action, --actor and --target (admin.ExportAudit); it
// refuses bad formats, times and filters.
func TestAuditExport(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, db string) {
		c := cli{t, db}
		c.ok("", "tenant", "create", "acme", "--name", "Acme")
		c.ok("", "tenant", "create", "beta", "--name", "Beta")
		c.ok("", "user", "create", "--tenant", "acme", "--email", "=1+2@acme.test", "--role", "owner")
		c.ok("", "user", "create", "--tenant", "beta", "--email", "b@beta.test", "--role", "owner")
		var pat credDoc
		c.json(&pat, "token", "create", "--tenant", "acme", "--email", "=1+2@acme.test", "--name", "ci", "--scopes", "sales")
		c.ok("", "token", "revoke", pat.ID, "--tenant", "acme")

		lines := strings.Split(strings.TrimSpace(c.ok("", "audit", "export", "--tenant", "acme")), "\n")
		var events []map[string]any
		for _, l := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("jsonl line %q: %v", l, err)
			}
			events = append(events, e)
		}
		var actions []string
		for _, e := range events {
			actions = append(actions, e["action"].(string))
			if e["actor"] != "operator" || e["id"] == "" || e["time"] == "" {
				t.Errorf("event %v: want the operator as actor, an id and a time", e)
			}
			if s, _ := e["target"].(string); strings.Contains(s, "b@beta.test") {
				t.Errorf("acme's export holds beta's event %v", e)
			}
		}
		if !slices.Equal(actions, []string{"pat.revoke", "pat.create", "user.create", "tenant.create"}) {
			t.Fatalf("export actions = %q, want newest first", actions)
		}
		// --json is --format jsonl.
		if out := c.ok("", "audit", "export", "--tenant", "acme", "--json"); strings.Join(lines, "\n")+"\n" != out {
			t.Errorf("--json printed %q, want the jsonl export", out)
		}

		rows, err := csv.NewReader(strings.NewReader(c.ok("", "audit", "export", "--tenant", "acme", "--format", "csv"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		for _, h := range []string{"id", "time", "actor", "action", "target", "ip"} {
			if _, ok := col[h]; !ok {
				t.Fatalf("CSV header %q has no %q", rows[0], h)
			}
		}
		if len(rows) != 5 || rows[1][col["action"]] != "pat.revoke" || rows[4][col["action"]] != "tenant.create" {
			t.Fatalf("CSV rows = %q", rows)
		}
		// The user.create event's target is the email "=1+2@acme.test".
		if cell := rows[3][col["target"]]; !strings.HasPrefix(cell, "'=1+2@acme.test") {
			t.Errorf("CSV cell %q: want a formula-looking cell made text", cell)
		}
		if e := events[2]; !strings.HasPrefix(e["target"].(string), "=1+2@acme.test") {
			t.Errorf("jsonl target %q: want it as it is", e["target"])
		}

		// The newest event's time bounds the range: --until excludes it,
		// --since keeps only it.
		newest := events[0]["time"].(string)
		count := func(args ...string) int {
			out := strings.TrimSpace(c.ok("", append([]string{"audit", "export", "--tenant", "acme"}, args...)...))
			if out == "" {
				return 0
			}
			return len(strings.Split(out, "\n"))
		}
		if n := count("--until", newest); n != 3 {
			t.Errorf("--until the newest event: %d events, want 3", n)
		}
		if n := count("--since", newest); n != 1 {
			t.Errorf("--since the newest event: %d events, want 1", n)
		}
		if n := count("--since", "1h"); n != 4 {
			t.Errorf("--since 1h: %d events, want 4", n)
		}
		if n := count("--until", "2000-01-01"); n != 0 {
			t.Errorf("--until 2000-01-01: %d events, want 0", n)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if n := count("--since", future); n != 0 {
			t.Errorf("--since an hour ahead: %d events, want 0", n)
		}

		// The filters of the console's audit page.
		if n := count("--action", "pat.*"); n != 2 {
			t.Errorf("--action pat.*: %d events, want 2", n)
		}
		if n := count("--action", "user.create", "--actor", "operator"); n != 1 {
			t.Errorf("--action user.create --actor operator: %d events, want 1", n)
		}
		if n := count("--actor", "someone@else.test"); n != 0 {
			t.Errorf("--actor someone@else.test: %d events, want 0", n)
		}
		if n := count("--target", pat.ID); n != 2 {
			t.Errorf("--target %s: %d events, want its create and revoke", pat.ID, n)
		}

		for _, bad := range []struct {
			want string
			args []string
		}{
			{"format", []string{"--format", "xml"}},
			{"since", []string{"--since", "yesterday"}},
			{"until", []string{"--since", newest, "--until", newest}},
			{"until", []string{"--until", "-1h"}},
			{"action", []string{"--action", "not an action"}},
		} {
			c.fails(bad.want, append([]string{"audit", "export", "--tenant", "acme"}, bad.args...)...)
		}
		c.fails("no tenant", "audit", "export", "--tenant", "nope")
	})
}
