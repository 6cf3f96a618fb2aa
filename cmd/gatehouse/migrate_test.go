package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// migrations is how many migrations the schema has (one file per dialect).
func migrations(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("../../internal/store/sqlstore/migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	return len(files)
}

// TestMigrate: migrate says what it did — created a new database (and
// where), applied some migrations, or found it up to date — and creates
// no directory unless asked.
func TestMigrate(t *testing.T) {
	n := migrations(t)
	dir := filepath.Join(t.TempDir(), "new", "data")
	path := filepath.Join(dir, "gatehouse.db")
	db := "sqlite:" + path

	_, err := run(t, "", "migrate", "--database", db)
	if err == nil || !strings.Contains(err.Error(), filepath.Dir(dir)) || !strings.Contains(err.Error(), "--create") {
		t.Fatalf("migrate into a missing directory: error = %v, want one naming it and --create", err)
	}
	if _, err := os.Stat(filepath.Dir(dir)); !os.IsNotExist(err) {
		t.Fatalf("a refused migrate left %s behind: %v", filepath.Dir(dir), err)
	}

	out, err := run(t, "", "migrate", "--create", "--database", db)
	if want := fmt.Sprintf("created a new database at %s, applied %d migrations\n", path, n); err != nil || out != want {
		t.Fatalf("migrate --create = %q, %v; want %q", out, err, want)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v, %v; want mode 0700", fi, err)
	}
	out, err = run(t, "", "migrate", "--database", db)
	if want := fmt.Sprintf("up to date (%d migrations)\n", n); err != nil || out != want {
		t.Fatalf("migrate again = %q, %v; want %q", out, err, want)
	}

	// An existing directory needs no --create.
	db2 := sqlstoretest.SQLiteURL(t)
	if out, err := run(t, "", "migrate", "--database", db2); err != nil || !strings.HasPrefix(out, "created a new database at ") {
		t.Fatalf("migrate into an existing directory = %q, %v", out, err)
	}

	// A database at an older version: only the missing ones are applied.
	db3 := sqlstoretest.SQLiteURL(t)
	raw, _, err := sqlstore.OpenRaw(db3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, os.DirFS("../../internal/store/sqlstore/migrations/sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out, err = run(t, "", "migrate", "--database", db3)
	if want := fmt.Sprintf("applied %d migrations (%d in all)\n", n-2, n); err != nil || out != want {
		t.Fatalf("migrate from version 2 = %q, %v; want %q", out, err, want)
	}

	t.Run("postgres", func(t *testing.T) {
		db := sqlstoretest.PostgresURL(t)
		out, err := run(t, "", "migrate", "--database", db)
		if want := fmt.Sprintf("applied %d migrations (%d in all)\n", n, n); err != nil || out != want {
			t.Fatalf("migrate a fresh schema = %q, %v; want %q", out, err, want)
		}
		out, err = run(t, "", "migrate", "--database", db)
		if want := fmt.Sprintf("up to date (%d migrations)\n", n); err != nil || out != want {
			t.Fatalf("migrate again = %q, %v; want %q", out, err, want)
		}
	})
}

// syncBuffer is a bytes.Buffer a running command writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// serveUntil runs `gatehouse serve args…` until its output contains want
// (or it ends), stops it and returns its output.
func serveUntil(t *testing.T, want string, args ...string) string {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newRootCmd(strings.NewReader(""), &out, &errOut)
	cmd.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(out.String(), want) && !strings.Contains(errOut.String(), "gatehouse listening") {
		select {
		case err := <-done:
			t.Fatalf("serve %v ended: %v\n%s%s", args, err, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("serve %v printed no %q:\n%s%s", args, want, out.String(), errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve %v: %v", args, err)
	}
	return out.String()
}

// TestServeFirstSteps: serve on a database without a tenant prints the
// two commands that create the first tenant and its owner, with the
// database it serves; once there is a tenant it does not.
func TestServeFirstSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	db := sqlstoretest.SQLiteURL(t)
	out := serveUntil(t, "gatehouse user create", "--database", db)
	for _, want := range []string{
		"gatehouse tenant create SLUG --name NAME --database " + db,
		"gatehouse user create --tenant SLUG --email EMAIL --role owner --password-stdin --database " + db,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("serve on an empty database printed no %q:\n%s", want, out)
		}
	}
	if _, err := run(t, "", "tenant", "create", "acme", "--name", "Acme", "--database", db); err != nil {
		t.Fatal(err)
	}
	if out := serveUntil(t, "gatehouse tenant create", "--database", db); strings.Contains(out, "gatehouse tenant create") {
		t.Errorf("serve with a tenant printed the first steps:\n%s", out)
	}
}
