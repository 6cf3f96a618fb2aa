package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestPostgresNotify checks that a committed change is sent on
// NotifyChannel, where other nodes will LISTEN.
func TestPostgresNotify(t *testing.T) {
	u := sqlstoretest.PostgresURL(t)
	db := sqlstoretest.Open(t, u)
	_, r := db.Pools()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	var schema string
	if err := r.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+sqlstore.NotifyChannel); err != nil {
		t.Fatal(err)
	}

	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: []byte("0123456789abcdef0123456789abcdef")}
	if err := db.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	// A failed write notifies nothing; the revocation after it does.
	if err := db.RevokeCredential(ctx, tn.ID, "cred_missing", time.Now()); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("revoke missing: %v", err)
	}
	if err := db.RevokeCredential(ctx, tn.ID, c.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The channel is per database: skip other schemas' tests.
	var got sqlstore.NotifyMessage
	for got.Schema != schema {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = sqlstore.NotifyMessage{}
		if err := json.Unmarshal([]byte(n.Payload), &got); err != nil {
			t.Fatalf("payload %q: %v", n.Payload, err)
		}
	}
	if got.Origin == "" || got.Origin != db.Origin() {
		t.Errorf("origin = %q, want the store's %q", got.Origin, db.Origin())
	}
	// The settings Open adds to the URL reached the server.
	for param, want := range map[string]string{
		"synchronous_commit":            "on",
		"default_transaction_isolation": "read committed",
	} {
		var got string
		if err := r.QueryRowContext(ctx, "SHOW "+param).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", param, got, err, want)
		}
	}

	want := gatehouse.Change{TenantID: tn.ID, CredentialID: c.ID, Hash: c.Hash}
	if diff := cmp.Diff(want, got.Change()); diff != "" {
		t.Errorf("notification (-want +got):\n%s", diff)
	}
}

// TestSQLiteTwoHandles races two stores (as two processes would be) on one
// file: BEGIN IMMEDIATE and busy_timeout must keep single use and the
// allowlist limit, with no SQLITE_BUSY reaching the caller.
func TestSQLiteTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gh.db")
	var dbs [2]*sqlstore.DB
	for i := range dbs {
		db, err := sqlstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	ctx := t.Context()
	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	if err := dbs[0].CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	c := &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindStaff, Hash: []byte("0123456789abcdef0123456789abcdef")}
	if err := dbs[1].CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}

	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		consumed, entries int
	)
	for i := range 30 {
		db := dbs[i%2]
		wg.Go(func() {
			err := db.ConsumeOnce(ctx, "code", "k", time.Now(), time.Now().Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				consumed++
			case !gatehouse.IsCode(err, gatehouse.ECONFLICT):
				t.Errorf("consume: %v", err)
			}
		})
		wg.Go(func() {
			err := db.AddAllowEntry(ctx, tn.ID, c.ID, &gatehouse.AllowEntry{
				Name: fmt.Sprint("e", i), Prefix: netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i)),
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				entries++
			case !gatehouse.IsCode(err, gatehouse.EINVALID):
				t.Errorf("add allowlist entry: %v", err)
			}
		})
	}
	wg.Wait()
	if consumed != 1 || entries != gatehouse.MaxAllowEntries {
		t.Errorf("consumed %d times (want 1), added %d entries (want %d)", consumed, entries, gatehouse.MaxAllowEntries)
	}
}
