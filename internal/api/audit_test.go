package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
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

func TestAuditPagination(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		for i := range 9 {
			res := e.do(t, req{method: "POST", path: "/api/v1/users", token: f.token, body: fmt.Sprintf(`{"email":"u%d@acme.test","role":"staff"}`, i)})
			expect(t, res, http.StatusCreated, "")
		}
		all := decode[auditPage](t, e.get(t, "/api/v1/audit-events?limit=500", f.token))
		if all.Next != "" || len(all.Items) < 10 {
			t.Fatalf("all = %d items, next %q", len(all.Items), all.Next)
		}
		if all.Items[0].Target != "u8@acme.test role=staff" {
			t.Errorf("newest = %+v", all.Items[0])
		}

		for _, limit := range []int{1, 2, 3, len(all.Items), len(all.Items) + 1} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				var ids []string
				path := fmt.Sprintf("/api/v1/audit-events?limit=%d", limit)
				for pages := 0; ; pages++ {
					if pages > len(all.Items) {
						t.Fatal("pagination does not end")
					}
					p := decode[auditPage](t, e.get(t, path, f.token))
					if len(p.Items) > limit || len(p.Items) == 0 {
						t.Fatalf("page of %d items with limit %d", len(p.Items), limit)
					}
					for _, it := range p.Items {
						ids = append(ids, it.ID)
					}
					if p.Next == "" {
						break
					}
					if p.Next != p.Items[len(p.Items)-1].ID {
						t.Errorf("next = %q, want the last item's id", p.Next)
					}
					path = fmt.Sprintf("/api/v1/audit-events?limit=%d&before=%s", limit, p.Next)
				}
				var want []string
				for _, it := range all.Items {
					want = append(want, it.ID)
				}
				if !slices.Equal(ids, want) {
					t.Errorf("paged ids = %v, want %v", ids, want)
				}
			})
		}

		t.Run("default limit", func(t *testing.T) {
			for i := range 50 {
				e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, body: fmt.Sprintf(`{"enhanced_security":%t}`, i%2 == 0)})
			}
			p := decode[auditPage](t, e.get(t, "/api/v1/audit-events", f.token))
			if len(p.Items) != 50 || p.Next != p.Items[49].ID {
				t.Errorf("default page = %d items, next %q", len(p.Items), p.Next)
			}
		})

		other := e.newTenant(t, "other")
		otherEvents := decode[auditPage](t, e.get(t, "/api/v1/audit-events", other.token))
		tests := []struct {
			query  string
			status int
			code   string
		}{
			{"limit=0", 422, gatehouse.EINVALID},
			{"limit=501", 422, gatehouse.EINVALID},
			{"limit=-1", 422, gatehouse.EINVALID},
			{"limit=ten", 400, "bad_request"},
			{"before=aud_nope", 422, gatehouse.EINVALID},
			{"before=" + otherEvents.Items[0].ID, 422, gatehouse.EINVALID}, // another tenant's cursor
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				expect(t, e.do(t, req{method: "GET", path: "/api/v1/audit-events?" + tt.query, token: f.token}), tt.status, tt.code)
			})
		}
		if strings.Contains(string(e.get(t, "/api/v1/audit-events?limit=500", f.token)), other.email) {
			t.Error("tenant sees another tenant's audit events")
		}
	})
}
