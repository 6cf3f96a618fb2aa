package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// sqliteFiles are the database file and the WAL-mode files beside it.
func sqliteFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// moveFiles renames each of the database's files that exists from one
// directory to another.
func moveFiles(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range sqliteFiles(filepath.Join(from, "g.db")) {
		if err := os.Rename(f, filepath.Join(to, filepath.Base(f))); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond every 50 ms until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openGuarded(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(dir, "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTenant(ctx context.Context, db *DB, slug string) (*gatehouse.Tenant, error) {
	ten := &gatehouse.Tenant{Slug: slug, Name: slug, Plan: gatehouse.PlanStandard}
	return ten, db.CreateTenant(ctx, ten)
}

// TestFileGuardDeleted deletes the database's files under an open store:
// the very next write is refused as EUNAVAILABLE (the check runs at every
// commit, not only on the periodic tick), reads and Ping fail within 5 s,
// and nothing written after the deletion is acknowledged.
func TestFileGuardDeleted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openGuarded(t, dir)
	if _, err := newTenant(ctx, db, "before"); err != nil {
		t.Fatal(err)
	}
	for _, f := range sqliteFiles(filepath.Join(dir, "g.db")) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := newTenant(ctx, db, fmt.Sprintf("after%d", i)); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
			t.Fatalf("write %d after deletion: %v, want EUNAVAILABLE", i, err)
		}
	}
	waitFor(t, 5*time.Second, "Ping fails", func() bool {
		return gatehouse.ErrorCode(db.Ping(ctx)) == gatehouse.EUNAVAILABLE
	})
	if _, err := db.FindTenantBySlug(ctx, "before"); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("read after deletion: %v, want EUNAVAILABLE", err)
	}
	// A new file at the path is not the database that was open.
	if _, err := os.Create(filepath.Join(dir, "g.db")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := db.Ping(ctx); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("Ping with a different file at the path: %v, want EUNAVAILABLE", err)
	}
}

// TestFileGuardMoved moves the database's files away and back: the store
// refuses everything meanwhile and recovers by itself, with every write
// acknowledged before the move still there, also after a reopen.
func TestFileGuardMoved(t *testing.T) {
	ctx := context.Background()
	dir, away := t.TempDir(), t.TempDir()
	db := openGuarded(t, dir)
	if _, err := newTenant(ctx, db, "before"); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	db.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	moveFiles(t, dir, away)
	// The periodic look notices on its own, and the log says why.
	waitFor(t, 5*time.Second, "the log says the files are missing", func() bool {
		return strings.Contains(logs.String(), "g.db is missing (deleted or moved away)")
	})
	if _, err := newTenant(ctx, db, "during"); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("write while moved: %v, want EUNAVAILABLE", err)
	}
	waitFor(t, 5*time.Second, "Ping fails", func() bool {
		return gatehouse.ErrorCode(db.Ping(ctx)) == gatehouse.EUNAVAILABLE
	})
	if _, err := db.FindTenantBySlug(ctx, "before"); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("read while moved: %v, want EUNAVAILABLE", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "g.db")); !os.IsNotExist(err) {
		t.Fatalf("a file appeared at the path while the database was away: %v", err)
	}
	moveFiles(t, away, dir)
	waitFor(t, 5*time.Second, "the log says the files are back", func() bool {
		return strings.Contains(logs.String(), "files are back")
	})
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping after the files returned: %v", err)
	}
	if _, err := newTenant(ctx, db, "after"); err != nil {
		t.Fatalf("write after the files returned: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openGuarded(t, dir)
	for _, slug := range []string{"before", "after"} {
		if _, err := db2.FindTenantBySlug(ctx, slug); err != nil {
			t.Fatalf("%s after reopen: %v", slug, err)
		}
	}
	if _, err := db2.FindTenantBySlug(ctx, "during"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Fatalf("the refused write is there: %v", err)
	}
}

// BenchmarkFileGuardCheck measures what the guard adds to every SQLite
// write: a look at the files before and one after its commit.
func BenchmarkFileGuardCheck(b *testing.B) {
	dir := b.TempDir()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(dir, "g.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(dir, "g.db")
	g := newFileGuard(path, sqliteDSN(path, true), db.logger)
	if err := g.acquire(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer g.release()
	for b.Loop() {
		// What a write adds: a look before and a look after its commit.
		if err := errors.Join(g.check(beforeCommit), g.check(afterCommit)); err != nil {
			b.Fatal(err)
		}
	}
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFileGuardWAL moves only the -wal file away, which holds every commit
// not yet checkpointed: writes are refused at once, and the store serves
// again when it is back.
func TestFileGuardWAL(t *testing.T) {
	ctx := context.Background()
	dir, away := t.TempDir(), t.TempDir()
	db := openGuarded(t, dir)
	if _, err := newTenant(ctx, db, "before"); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, "g.db-wal")
	if err := os.Rename(wal, filepath.Join(away, "g.db-wal")); err != nil {
		t.Fatal(err)
	}
	if _, err := newTenant(ctx, db, "during"); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("write with the WAL gone: %v, want EUNAVAILABLE", err)
	}
	if err := db.Ping(ctx); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("Ping with the WAL gone: %v, want EUNAVAILABLE", err)
	}
	if err := os.Rename(filepath.Join(away, "g.db-wal"), wal); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping with the WAL back: %v", err)
	}
	if _, err := newTenant(ctx, db, "after"); err != nil {
		t.Fatal(err)
	}
}

// TestFileGuardSymlink opens the database through a symbolic link, whose
// WAL files SQLite keeps beside the link's target: pointing the link
// elsewhere is a replacement, and deleting the target's WAL is noticed.
func TestFileGuardSymlink(t *testing.T) {
	ctx := context.Background()
	real, links := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "g.db")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(links, "g.db")); err != nil {
		t.Fatal(err)
	}
	db := openGuarded(t, links)
	if _, err := newTenant(ctx, db, "before"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target + "-wal"); err != nil {
		t.Fatalf("SQLite's WAL is not beside the target: %v", err)
	}
	if err := os.Rename(target+"-wal", target+"-wal.away"); err != nil {
		t.Fatal(err)
	}
	if _, err := newTenant(ctx, db, "during"); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("write with the target's WAL gone: %v, want EUNAVAILABLE", err)
	}
	if err := os.Rename(target+"-wal.away", target+"-wal"); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping with the WAL back: %v", err)
	}
}
