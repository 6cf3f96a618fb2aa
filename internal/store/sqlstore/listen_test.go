package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/google/go-cmp/cmp"
)

// changeLog records the Changes a subscriber hears.
type changeLog struct {
	mu   sync.Mutex
	list []gatehouse.Change
}

func (l *changeLog) record(c gatehouse.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, c)
}

func (l *changeLog) snapshot() []gatehouse.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]gatehouse.Change(nil), l.list...)
}

// waitFor polls until the log holds want and returns how long that took.
func (l *changeLog) waitFor(t *testing.T, what string, want gatehouse.Change) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		for _, c := range l.snapshot() {
			if cmp.Equal(c, want) {
				return time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: %+v never arrived; heard %+v", what, want, l.snapshot())
	return 0
}

func (l *changeLog) count(want gatehouse.Change) int {
	n := 0
	for _, c := range l.snapshot() {
		if cmp.Equal(c, want) {
			n++
		}
	}
	return n
}

// TestPostgresListen runs two stores (two nodes) on one schema: the
// listener of one hears the other's changes, not its own twice nor those
// of another schema; after its connection is dropped it reconnects and
// resynchronises (an empty Change); Close ends it.
func TestPostgresListen(t *testing.T) {
	u := sqlstoretest.PostgresURL(t)
	ctx := t.Context()
	open := func(u string) *sqlstore.DB {
		db, err := sqlstore.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(u), open(u)
	other := open(sqlstoretest.PostgresURL(t))

	if pid := b.ListenerPID(); pid != 0 {
		t.Fatalf("listening (pid %d) before any Subscribe", pid)
	}
	var heardA, heardB changeLog
	defer a.Subscribe(heardA.record)()
	defer b.Subscribe(heardB.record)()
	pid := b.ListenerPID()
	if pid == 0 {
		t.Fatal("Subscribe returned before the listener was listening")
	}

	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	if err := a.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	newCred := func(hash string) *gatehouse.Credential {
		c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: []byte(hash)}
		if err := a.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := newCred("0123456789abcdef0123456789abcdef")

	// Another installation's change, committed first, never arrives.
	otn := &gatehouse.Tenant{Slug: "other", Name: "Other", Plan: gatehouse.PlanStandard}
	if err := other.CreateTenant(ctx, otn); err != nil {
		t.Fatal(err)
	}
	if err := other.UpdateTenant(ctx, otn); err != nil {
		t.Fatal(err)
	}

	if err := a.RevokeCredential(ctx, tn.ID, c1.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := gatehouse.Change{TenantID: tn.ID, CredentialID: c1.ID, Hash: c1.Hash}
	t.Logf("revocation heard on the other node after %v", heardB.waitFor(t, "revocation", want))
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	if n := heardA.count(want); n != 1 {
		t.Errorf("the writer heard its own change %d times, want 1", n)
	}
	for _, c := range heardB.snapshot() {
		if c.TenantID == otn.ID {
			t.Errorf("heard another schema's change %+v", c)
		}
		if c.TenantID == "" {
			t.Errorf("resynchronised (%+v) without having lost the connection", c)
		}
	}

	// Drop the listener's connection: it comes back with a new backend
	// and tells the subscribers to drop everything.
	aw, ar := a.Pools()
	if _, err := aw.ExecContext(ctx, "SELECT pg_terminate_backend($1)", int64(pid)); err != nil {
		t.Fatal(err)
	}
	took := heardB.waitFor(t, "resync", gatehouse.Change{})
	newPID := b.ListenerPID()
	if newPID == 0 || newPID == pid {
		t.Fatalf("listener pid after the resync = %d (was %d)", newPID, pid)
	}
	t.Logf("resynchronised %v after the connection was terminated", took)
	c2 := newCred("abcdef0123456789abcdef0123456789")
	if err := a.DeleteCredential(ctx, tn.ID, c2.ID); err != nil {
		t.Fatal(err)
	}
	heardB.waitFor(t, "deletion after reconnect", gatehouse.Change{TenantID: tn.ID, CredentialID: c2.ID, Hash: c2.Hash})

	// Close ends the listener and its connection.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if p := b.ListenerPID(); p != 0 {
		t.Errorf("ListenerPID after Close = %d", p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := ar.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int64(newPID)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener's connection outlived Close")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Subscribing to a closed store starts nothing.
	b.Subscribe(func(gatehouse.Change) {})()
	if b.Listening() {
		t.Error("Subscribe after Close started a listener")
	}
}

// TestSQLiteNoListener: SQLite changes stay in the process; subscribing
// opens nothing.
func TestSQLiteNoListener(t *testing.T) {
	db := sqlstoretest.SQLite(t)
	var heard changeLog
	defer db.Subscribe(heard.record)()
	if db.Listening() || db.ListenerPID() != 0 {
		t.Fatal("SQLite started a listener")
	}
	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	if err := db.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]gatehouse.Change{{TenantID: tn.ID}}, heard.snapshot()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

// TestPostgresLag: the listener reports how long another node's change
// took to arrive, and nothing for a node's own changes.
func TestPostgresLag(t *testing.T) {
	u := sqlstoretest.PostgresURL(t)
	ctx := t.Context()
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	lags := make(chan time.Duration, 16)
	observe := func(d time.Duration) { lags <- d }
	a.SetLagObserver(observe)
	b.SetLagObserver(observe)
	var heard changeLog
	defer a.Subscribe(func(gatehouse.Change) {})()
	defer b.Subscribe(heard.record)()
	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	if err := a.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if err := a.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	heard.waitFor(t, "tenant update", gatehouse.Change{TenantID: tn.ID})
	select {
	case d := <-lags:
		if d < 0 || d > 5*time.Second {
			t.Errorf("lag %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no lag observed")
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(lags); n != 0 {
		t.Errorf("%d more lags observed, want none (the writer's own change)", n)
	}
	st := a.PoolStats()
	if st["writer"].MaxOpenConnections == 0 || st["reader"].MaxOpenConnections == 0 {
		t.Errorf("PoolStats = %+v", st)
	}
}
