package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

func TestAuditEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		const ip = "203.0.113.7"
		xff := map[string]string{"X-Forwarded-For": ip} // the loopback peer is a trusted proxy

		// One change of each kind, from a known client address.
		res := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, header: xff, body: `{"name":"ci","scopes":["all"]}`})
		expect(t, res, http.StatusCreated, "")
		tok := decode[tokenJSON](t, res.body)
		expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/tokens/" + tok.ID, token: f.token, header: xff}), http.StatusNoContent, "")
		res = e.do(t, req{method: "POST", path: "/api/v1/users", token: f.token, header: xff, body: `{"email":"bob@acme.test","role":"staff"}`})
		expect(t, res, http.StatusCreated, "")
		bob := decode[userJSON](t, res.body)
		expect(t, e.do(t, req{method: "PATCH", path: "/api/v1/users/" + bob.ID, token: f.token, header: xff, body: `{"role":"admin"}`}), http.StatusOK, "")
		expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/users/" + bob.ID, token: f.token, header: xff}), http.StatusNoContent, "")
		expect(t, e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, header: xff, body: `{"enhanced_security":true}`}), http.StatusOK, "")
		// A spoofed header from an untrusted hop further left is not believed.
		e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token,
			header: map[string]string{"X-Forwarded-For": "198.51.100.1, " + ip}, body: `{"enhanced_security":false}`})

		page := decode[auditPage](t, e.get(t, "/api/v1/audit-events", f.token))
		if page.Next != "" {
			t.Errorf("next = %q on the only page", page.Next)
		}
		want := []struct{ action, target string }{
			{"settings.update", "enhanced_security=false"},
			{"settings.update", "enhanced_security=true"},
			{"user.remove", "bob@acme.test"},
			{"user.role", "bob@acme.test role=admin"},
			{"user.create", "bob@acme.test role=staff"},
			{"pat.revoke", tok.ID + " ci"},
			{"pat.create", tok.ID + " ci"},
		}
		if len(page.Items) < len(want) {
			t.Fatalf("events = %+v", page.Items)
		}
		// Targets by name with their id; settings with old → new.
		if it := page.Items[2]; it.TargetID != bob.ID || it.TargetName != "bob@acme.test" {
			t.Errorf("user.remove target = %q %q, want %s bob@acme.test", it.TargetID, it.TargetName, bob.ID)
		}
		if it := page.Items[3]; len(it.Changes) != 1 || it.Changes[0] != (gatehouse.AuditChange{Field: "role", Old: "staff", New: "admin"}) {
			t.Errorf("user.role changes = %+v", it.Changes)
		}
		if it := page.Items[1]; len(it.Changes) != 1 || it.Changes[0] != (gatehouse.AuditChange{Field: "enhanced_security", Old: "false", New: "true"}) {
			t.Errorf("settings.update changes = %+v", it.Changes)
		}
		if it := page.Items[0]; len(it.Changes) != 1 || it.Changes[0] != (gatehouse.AuditChange{Field: "enhanced_security", Old: "true", New: "false"}) {
			t.Errorf("settings.update changes = %+v", it.Changes)
		}
		for i, w := range want {
			got := page.Items[i]
			if got.Action != w.action || got.Target != w.target || got.Actor != f.email || got.IP != ip || got.ID == "" || got.Time.IsZero() {
				t.Errorf("event %d = %+v, want %s %q by %s from %s", i, got, w.action, w.target, f.email, ip)
			}
			if i > 0 && got.Time.After(page.Items[i-1].Time) {
				t.Errorf("event %d is newer than event %d", i, i-1)
			}
		}
		// Older events are the seeding, done by the operator outside HTTP.
		for _, ev := range page.Items[len(want):] {
			if ev.Actor != "operator" && ev.Actor != f.email {
				t.Errorf("seed event = %+v", ev)
			}
		}
	})
}

// walkAudit follows next from path (which has a query) to the end and
// returns every item, checking each page's size.
func walkAudit(t *testing.T, e *testEnv, token, path string, limit int) []admin.AuditRecord {
	t.Helper()
	var all []admin.AuditRecord
	next := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		p := path
		if next != "" {
			p += "&next=" + url.QueryEscape(next)
		}
		page := decode[auditPage](t, e.get(t, p, token))
		if len(page.Items) > limit {
			t.Fatalf("page of %d items with limit %d", len(page.Items), limit)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		if len(page.Items) != limit {
			t.Fatalf("a short page (%d of %d) has a next", len(page.Items), limit)
		}
		next = page.Next
	}
}

func ids(items []admin.AuditRecord) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestAuditPagination(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		for i := range 9 {
			res := e.do(t, req{method: "POST", path: "/api/v1/users", token: f.token, body: fmt.Sprintf(`{"email":"u%d@acme.test","role":"staff"}`, i)})
			expect(t, res, http.StatusCreated, "")
		}
		all := decode[auditPage](t, e.get(t, "/api/v1/audit-events?limit=200", f.token))
		if all.Next != "" || len(all.Items) < 10 {
			t.Fatalf("all = %d items, next %q", len(all.Items), all.Next)
		}
		if all.Items[0].Target != "u8@acme.test role=staff" || all.Items[0].TargetName != "u8@acme.test" || all.Items[0].TargetID == "" {
			t.Errorf("newest = %+v", all.Items[0])
		}
		for _, limit := range []int{1, 2, 3, len(all.Items), len(all.Items) + 1} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				got := walkAudit(t, e, f.token, fmt.Sprintf("/api/v1/audit-events?limit=%d", limit), limit)
				if !slices.Equal(ids(got), ids(all.Items)) {
					t.Errorf("paged ids = %v, want %v", ids(got), ids(all.Items))
				}
			})
		}

		t.Run("default limit", func(t *testing.T) {
			for i := range 50 {
				e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, body: fmt.Sprintf(`{"enhanced_security":%t}`, i%2 == 0)})
			}
			p := decode[auditPage](t, e.get(t, "/api/v1/audit-events", f.token))
			if len(p.Items) != 50 || p.Next == "" {
				t.Errorf("default page = %d items, next %q", len(p.Items), p.Next)
			}
		})

		other := e.newTenant(t, "other")
		otherPage := decode[auditPage](t, e.get(t, "/api/v1/audit-events?limit=1", other.token))
		tests := []struct {
			query  string
			status int
			code   string
		}{
			{"limit=0", 422, gatehouse.EINVALID},
			{"limit=201", 422, gatehouse.EINVALID},
			{"limit=-1", 422, gatehouse.EINVALID},
			{"limit=ten", 400, "bad_request"},
			{"next=aud_nope", 400, "bad_request"},
			{"next=" + strings.Repeat("A", 100), 400, "bad_request"},
			{"next=YTE6eDp5", 400, "bad_request"}, // base64 of a1:x:y
			{"since=yesterday", 400, "bad_request"},
			{"until=2026-13-01T00:00:00Z", 400, "bad_request"},
			{"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", 422, gatehouse.EINVALID},
			{"action=pat.%25", 422, gatehouse.EINVALID},
			{"action=*", 422, gatehouse.EINVALID},
			{"actor=" + strings.Repeat("a", 400), 422, gatehouse.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				expect(t, e.do(t, req{method: "GET", path: "/api/v1/audit-events?" + tt.query, token: f.token}), tt.status, tt.code)
			})
		}
		// Another tenant's cursor only positions in this tenant's log.
		for _, it := range decode[auditPage](t, e.get(t, "/api/v1/audit-events?limit=200&next="+url.QueryEscape(otherPage.Next), f.token)).Items {
			if strings.Contains(it.Actor+it.Target, other.email) {
				t.Errorf("another tenant's cursor shows its event %+v", it)
			}
		}
		if strings.Contains(string(e.get(t, "/api/v1/audit-events?limit=200", f.token)), other.email) {
			t.Error("tenant sees another tenant's audit events")
		}
	})
}

// TestAuditWalkWithWrites: a walk with next while changes are audited
// sees every event that existed when it started exactly once.
func TestAuditWalkWithWrites(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		for i := range 30 {
			expect(t, e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, body: fmt.Sprintf(`{"enhanced_security":%t}`, i%2 == 0)}), http.StatusOK, "")
		}
		before := decode[auditPage](t, e.get(t, "/api/v1/audit-events?limit=200", f.token))
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, body: fmt.Sprintf(`{"require_client_header":%t}`, i%2 == 0)})
			}
		}()
		got := walkAudit(t, e, f.token, "/api/v1/audit-events?limit=4", 4)
		close(stop)
		<-done
		seen := map[string]int{}
		for _, id := range ids(got) {
			seen[id]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s seen %d times", id, n)
			}
		}
		for _, id := range ids(before.Items) {
			if seen[id] != 1 {
				t.Errorf("event %s seen %d times, want once", id, seen[id])
			}
		}
	})
}

// TestAuditFilters: each filter of the list narrows it as documented.
func TestAuditFilters(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		res := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: `{"name":"ci","scopes":["all"]}`})
		expect(t, res, http.StatusCreated, "")
		tok := decode[tokenJSON](t, res.body)
		expect(t, e.do(t, req{method: "DELETE", path: "/api/v1/tokens/" + tok.ID, token: f.token}), http.StatusNoContent, "")
		res = e.do(t, req{method: "POST", path: "/api/v1/users", token: f.token, body: `{"email":"bob@acme.test","role":"staff"}`})
		expect(t, res, http.StatusCreated, "")
		bob := decode[userJSON](t, res.body)
		// An event of another actor, in the past.
		old := &gatehouse.AuditEvent{TenantID: f.tenant.ID, Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "operator", Action: "pat.create", Target: "x"}
		if err := e.db.AppendAudit(t.Context(), old); err != nil {
			t.Fatal(err)
		}
		actions := func(q string) []string {
			var out []string
			for _, it := range walkAudit(t, e, f.token, "/api/v1/audit-events?limit=200&"+q, 200) {
				out = append(out, it.Action)
			}
			return out
		}
		for _, tt := range []struct {
			query string
			want  []string
		}{
			// The fixture's own token is the first pat.create.
			{"action=pat.create&actor=" + url.QueryEscape(f.email), []string{"pat.create", "pat.create"}},
			{"action=pat.*&actor=" + url.QueryEscape(f.email), []string{"pat.revoke", "pat.create", "pat.create"}},
			{"action=pat.*", []string{"pat.revoke", "pat.create", "pat.create", "pat.create"}},
			{"action=pat.*&since=2021-01-01T00:00:00Z", []string{"pat.revoke", "pat.create", "pat.create"}},
			{"action=pat.*&until=2021-01-01T00:00:00Z", []string{"pat.create"}},
			{"target=" + bob.ID, []string{"user.create"}},
			{"target=" + tok.ID, []string{"pat.revoke", "pat.create"}}, // the summary's first word
			{"target=ci", []string{"pat.revoke", "pat.create"}},        // the token's name (TargetName)
			{"target=c", nil}, // not a name, nor an id
			{"target=bob@acme.test", []string{"user.create"}},
			{"actor=operator&since=2020-01-01T00:00:00Z&until=2020-01-01T00:00:01Z", []string{"pat.create"}},
			{"actor=nobody@acme.test", nil},
		} {
			t.Run(tt.query, func(t *testing.T) {
				if got := actions(tt.query); !slices.Equal(got, tt.want) {
					t.Errorf("actions = %v, want %v", got, tt.want)
				}
			})
		}
		// Filters with paging: every page keeps the filter.
		for range 5 {
			expect(t, e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: `{"name":"ci","scopes":["all"]}`}), http.StatusCreated, "")
		}
		got := walkAudit(t, e, f.token, "/api/v1/audit-events?limit=2&action=pat.create", 2)
		if len(got) != 8 {
			t.Errorf("%d pat.create events over pages, want 8", len(got))
		}
		for _, it := range got {
			if it.Action != "pat.create" {
				t.Errorf("a filtered page lists %s", it.Action)
			}
		}
	})
}

// TestAuditExport: both formats parse with the standard decoders, hold
// the filtered events newest first, neutralise formulas, and only the
// caller's tenant; a staff token and a bad format are refused.
func TestAuditExport(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		other := e.newTenant(t, "other")
		// Names an admin types reach the export: as an integration's
		// target_name, a cell of their own.
		for _, name := range []string{"=HYPERLINK(\"http://evil.test\")", "+1", "-2", "@SUM(A1)", "plain, \"quoted\" name"} {
			body, _ := json.Marshal(map[string]any{"name": name, "scopes": []string{"all"}})
			expect(t, e.do(t, req{method: "POST", path: "/api/v1/tokens", token: f.token, body: body}), http.StatusCreated, "")
			body, _ = json.Marshal(map[string]any{"name": name, "email": "erp@acme.test", "resource_access": "all"})
			expect(t, e.do(t, req{method: "POST", path: "/api/v1/integrations", token: f.token, body: body}), http.StatusCreated, "")
		}
		list := walkAudit(t, e, f.token, "/api/v1/audit-events?limit=200", 200)

		res := e.do(t, req{method: "GET", path: "/api/v1/audit-events/export?format=csv", token: f.token})
		if res.status != http.StatusOK || res.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("export = %d %v %s", res.status, res.header, res.body)
		}
		if ct := res.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if cd := res.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"audit-") {
			t.Errorf("Content-Disposition = %q", cd)
		}
		rows, err := csv.NewReader(bytes.NewReader(res.body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, res.body)
		}
		if !slices.Equal(rows[0], admin.AuditExportColumns) {
			t.Errorf("header = %v", rows[0])
		}
		if len(rows)-1 != len(list) {
			t.Fatalf("%d csv rows, %d events", len(rows)-1, len(list))
		}
		for i, row := range rows[1:] {
			if row[0] != list[i].ID || row[3] != list[i].Action {
				t.Errorf("row %d = %v, want %s %s", i, row, list[i].ID, list[i].Action)
			}
			for j, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("row %d cell %d = %q: a spreadsheet formula", i, j, cell)
				}
			}
		}
		if !strings.Contains(string(res.body), "'=HYPERLINK") || !strings.Contains(string(res.body), "'@SUM(A1)") {
			t.Errorf("formula cells not prefixed with ':\n%s", res.body)
		}

		res = e.do(t, req{method: "GET", path: "/api/v1/audit-events/export?format=jsonl&action=pat.*", token: f.token})
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/jsonl; charset=utf-8" {
			t.Fatalf("export = %d %v %s", res.status, res.header, res.body)
		}
		dec := json.NewDecoder(bytes.NewReader(res.body))
		var n int
		for {
			var r admin.AuditRecord
			if err := dec.Decode(&r); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("jsonl: %v", err)
			}
			if r.Action != "pat.create" || r.TargetID == "" && r.Target == "" {
				t.Errorf("jsonl record = %+v", r)
			}
			n++
		}
		if n != 6 || bytes.Count(res.body, []byte("\n")) != 6 { // 5 and the fixture's
			t.Errorf("%d jsonl records, %d lines, want 6", n, bytes.Count(res.body, []byte("\n")))
		}
		if strings.Contains(string(e.get(t, "/api/v1/audit-events/export?format=jsonl", f.token)), other.email) {
			t.Error("the export shows another tenant's events")
		}

		for _, q := range []string{"format=xml", "format=csv&action=*", "format=csv&since=nope"} {
			res := e.do(t, req{method: "GET", path: "/api/v1/audit-events/export?" + q, token: f.token})
			if res.status != 400 && res.status != 422 {
				t.Errorf("export?%s = %d %s", q, res.status, res.body)
			}
		}
		// A manage token whose holder was made staff since acts as staff.
		staff := e.addMember(t, f.tenant.ID, "staff@acme.test", gatehouse.RoleAdmin)
		_, staffToken := e.newPAT(t, f.tenant.ID, staff, "manage")
		if _, err := e.svc.SetRole(t.Context(), operator(f.tenant.ID), staff, gatehouse.RoleStaff); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/api/v1/audit-events/export?format=csv", "/api/v1/audit-events"} {
			res := e.do(t, req{method: "GET", path: path, token: staffToken})
			if res.status != http.StatusForbidden {
				t.Errorf("staff GET %s = %d %s", path, res.status, res.body)
			}
		}
		if res := e.do(t, req{method: "GET", path: "/api/v1/audit-events/export?format=csv"}); res.status != http.StatusUnauthorized {
			t.Errorf("anonymous export = %d", res.status)
		}
	})
}
