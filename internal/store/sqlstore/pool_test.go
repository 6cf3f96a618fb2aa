package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// TestPoolSizes (issue 12): Options.MaxConns is split between the
// writers and a readers' pool of their own on both backends, so reads
// never wait behind writes for a connection.
func TestPoolSizes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		backend  string
		maxConns int
		w, r     int
	}{
		{"sqlite", 4, 1, 3},
		{"sqlite", 0, 1, sqlstore.DefaultSQLiteMaxConns() - 1},
		{"postgres", 4, 2, 2},
		{"postgres", 5, 3, 2},
		{"postgres", 0, 10, 10},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			u := "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
			if tc.backend == "postgres" {
				u = sqlstoretest.PostgresURL(t)
			}
			db, err := sqlstore.OpenWith(ctx, u, sqlstore.Options{MaxConns: tc.maxConns})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			wp, rp := db.Pools()
			w, r := wp.Stats().MaxOpenConnections, rp.Stats().MaxOpenConnections
			if wp == rp || w != tc.w || r != tc.r {
				t.Errorf("MaxConns %d: %d writers, %d readers (same pool: %v); want %d and %d",
					tc.maxConns, w, r, wp == rp, tc.w, tc.r)
			}
		})
	}
	if _, err := sqlstore.OpenWith(ctx, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), sqlstore.Options{MaxConns: 1}); !gatehouse.IsCode(err, gatehouse.EINVALID) {
		t.Errorf("MaxConns 1: %v; want EINVALID", err)
	}
}
