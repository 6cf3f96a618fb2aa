package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// auditWalk lists every event of tenantID that passes f, page by page
// with Next, checking each page's size.
func auditWalk(t *testing.T, s gatehouse.Store, tenantID string, f gatehouse.AuditFilter, limit int) []*gatehouse.AuditEvent {
	t.Helper()
	return auditWalkIn(t, s, tenantID, f, "", limit)
}

// auditWalkIn is auditWalk in the order sort.
func auditWalkIn(t *testing.T, s gatehouse.Store, tenantID string, f gatehouse.AuditFilter, sort gatehouse.Sort, limit int) []*gatehouse.AuditEvent {
	t.Helper()
	var all []*gatehouse.AuditEvent
	q := gatehouse.AuditQuery{AuditFilter: f, Sort: sort, Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("the audit walk does not end")
		}
		page, err := s.ListAudit(t.Context(), tenantID, q)
		must(t, err, "list audit page")
		if len(page.Events) > limit {
			t.Fatalf("page of %d events, limit %d", len(page.Events), limit)
		}
		all = append(all, page.Events...)
		if page.Next == nil {
			return all
		}
		if len(page.Events) != limit {
			t.Fatalf("a page of %d events, limit %d, has a next page", len(page.Events), limit)
		}
		q.After = page.Next
	}
}

func testAudit(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	var want []*gatehouse.AuditEvent // newest first
	for i := range 57 {
		e := &gatehouse.AuditEvent{
			TenantID: a.ID,
			// Equal times must still list in append order.
			Time:   base.Add(time.Duration(i/3) * time.Second),
			Actor:  "ana@example.com",
			Action: "pat.create",
			Target: fmt.Sprint("cred_", i),
			IP:     "192.0.2.1",
		}
		if i%5 == 0 {
			e.TargetID, e.TargetName = fmt.Sprint("cred_", i), fmt.Sprint("token ", i)
			e.Details = map[string]string{"reason": "test"}
			e.Changes = []gatehouse.AuditChange{{Field: "enhanced_security", Old: "false", New: "true"}}
		}
		must(t, s.AppendAudit(ctx, e), "append audit")
		want = append([]*gatehouse.AuditEvent{e}, want...)
		if i%10 == 0 {
			must(t, s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: b.ID, Actor: "operator", Action: "tenant.update"}), "append audit of B")
		}
	}
	if want[0].ID == "" {
		t.Fatal("append audit did not assign ID")
	}
	noTime := &gatehouse.AuditEvent{TenantID: b.ID, Action: "settings.update"}
	must(t, s.AppendAudit(ctx, noTime), "append audit without time")
	if noTime.Time.IsZero() {
		t.Error("append audit did not assign Time")
	}
	wantCode(t, s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: "ten_missing", Action: "x"}), gatehouse.ENOTFOUND, "audit of missing tenant")

	got, err := s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{})
	must(t, err, "list audit")
	if diff := cmp.Diff(want[:50], got.Events); diff != "" {
		t.Errorf("list audit with default limit 50 (-want +got):\n%s", diff)
	}
	if got.Next == nil {
		t.Error("the first of two pages has no Next")
	}

	for _, limit := range []int{1, 7, 10, 57, 58, gatehouse.MaxAuditLimit + 10} {
		if diff := cmp.Diff(want, auditWalk(t, s, a.ID, gatehouse.AuditFilter{}, limit)); diff != "" {
			t.Errorf("audit pages of %d (-want +got):\n%s", limit, diff)
		}
	}
	// Oldest first: the same events the other way round, ties in append
	// order; a cursor of one order is refused in the other.
	oldestFirst := slices.Clone(want)
	slices.Reverse(oldestFirst)
	for _, limit := range []int{1, 7, 10, 57, 58} {
		if diff := cmp.Diff(oldestFirst, auditWalkIn(t, s, a.ID, gatehouse.AuditFilter{}, gatehouse.SortOldest, limit)); diff != "" {
			t.Errorf("audit pages of %d, oldest first (-want +got):\n%s", limit, diff)
		}
	}
	first, err := s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{Sort: gatehouse.SortOldest, Limit: 2})
	must(t, err, "list audit oldest first")
	if first.Next == nil || first.Next.Sort != gatehouse.SortOldest {
		t.Fatalf("oldest first: next %+v", first.Next)
	}
	_, err = s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{Limit: 2, After: first.Next})
	wantCode(t, err, gatehouse.EINVALID, "an oldest-first cursor newest first")
	_, err = s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{Sort: gatehouse.SortName})
	wantCode(t, err, gatehouse.EINVALID, "the audit log by name")

	got, err = s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{Limit: 57})
	must(t, err, "list all")
	if got.Next != nil {
		t.Errorf("an exactly full last page has Next %+v", got.Next)
	}

	// After the oldest: nothing. A cursor from B positions, never reveals.
	oldest := want[len(want)-1]
	got, err = s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{After: &gatehouse.AuditCursor{Time: oldest.Time, Seq: 0}})
	must(t, err, "list audit before oldest")
	if len(got.Events) != 0 {
		t.Errorf("list audit before the oldest returned %d events", len(got.Events))
	}
	got, err = s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{After: &gatehouse.AuditCursor{Time: noTime.Time.Add(time.Hour), Seq: 1 << 40}})
	must(t, err, "list audit after a future cursor")
	for _, e := range got.Events {
		if e.TenantID != a.ID {
			t.Errorf("audit of %s lists an event of %s", a.ID, e.TenantID)
		}
	}
	_, err = s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{AuditFilter: gatehouse.AuditFilter{Action: "pat.%"}})
	wantCode(t, err, gatehouse.EINVALID, "an action filter with a LIKE wildcard")
}

// testAuditFilter: each filter alone and together, with paging.
func testAuditFilter(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	actions := []string{"pat.create", "pat.revoke", "patx.create", "pat_x.create", "settings.update", "login.failure"}
	var all []*gatehouse.AuditEvent // oldest first
	for i := range 60 {
		e := &gatehouse.AuditEvent{
			TenantID:   a.ID,
			Time:       base.Add(time.Duration(i) * time.Minute),
			Actor:      []string{"ana@example.com", "bob@example.com", "operator"}[i%3],
			Action:     actions[i%len(actions)],
			TargetID:   fmt.Sprint("cred_", i%4),
			TargetName: fmt.Sprint("name ", i%5),
			Target:     fmt.Sprint("summary", i%7, " of_%", i%2),
		}
		must(t, s.AppendAudit(ctx, e), "append audit")
		all = append(all, e)
		must(t, s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: b.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, TargetID: e.TargetID}), "append B")
	}
	for _, f := range []gatehouse.AuditFilter{
		{Action: "pat.create"},
		{Action: "pat.*"},
		{Action: "pat_x.*"},
		{Action: "login.*"},
		{Action: "nothing.*"},
		{Actor: "bob@example.com"},
		{Target: "cred_2"},
		{Target: "name 3"},
		{Target: "summary6 of_%1"},
		{Target: "summary6"},
		{Target: "summary"},
		{Target: "summar_6"},
		{Target: "Summary6"},
		{Target: "summary6 of_%"},
		{Since: base.Add(10 * time.Minute)},
		{Until: base.Add(10 * time.Minute)},
		{Since: base.Add(10 * time.Minute), Until: base.Add(40 * time.Minute), Action: "pat.*", Actor: "ana@example.com"},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []*gatehouse.AuditEvent
			for i := len(all) - 1; i >= 0; i-- {
				if f.Matches(all[i]) {
					want = append(want, all[i])
				}
			}
			for _, limit := range []int{1, 4, 100} {
				if diff := cmp.Diff(want, auditWalk(t, s, a.ID, f, limit)); diff != "" {
					t.Errorf("limit %d (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
	// The prefix is dotted words: "pat.*" is not "pat_x" nor "patx".
	for _, e := range auditWalk(t, s, a.ID, gatehouse.AuditFilter{Action: "pat.*"}, 100) {
		if e.Action != "pat.create" && e.Action != "pat.revoke" {
			t.Errorf("pat.* lists %s", e.Action)
		}
	}
	for _, bad := range []gatehouse.AuditFilter{
		{Action: "PAT.create"}, {Action: "pat*"}, {Action: "pat.%"}, {Action: "*"},
		{Since: base, Until: base},
	} {
		_, err := s.ListAudit(ctx, a.ID, gatehouse.AuditQuery{AuditFilter: bad})
		wantCode(t, err, gatehouse.EINVALID, fmt.Sprintf("filter %+v", bad))
	}
}

// testAuditWalkConcurrent: a walk with Next while events are appended
// sees each event that existed when it started exactly once.
func testAuditWalkConcurrent(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	before := map[string]bool{}
	for i := range 80 {
		e := &gatehouse.AuditEvent{TenantID: tn.ID, Actor: "ana@example.com", Action: "pat.create", Target: fmt.Sprint(i)}
		if i%2 == 0 {
			e.Time = base.Add(time.Duration(i) * time.Second)
		}
		must(t, s.AppendAudit(ctx, e), "append audit")
		before[e.ID] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.AppendAudit(ctx, &gatehouse.AuditEvent{TenantID: tn.ID, Actor: "bob@example.com", Action: "pat.revoke", Target: fmt.Sprint("new ", i)}); err != nil {
				t.Errorf("append during the walk: %v", err)
				return
			}
		}
	}()
	seen := map[string]int{}
	for _, e := range auditWalk(t, s, tn.ID, gatehouse.AuditFilter{}, 7) {
		seen[e.ID]++
	}
	close(stop)
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s seen %d times", id, n)
		}
	}
	for id := range before {
		if seen[id] != 1 {
			t.Errorf("event %s, there before the walk, seen %d times", id, seen[id])
		}
	}
}
