package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// groupEnv is a SQLite store with a tenant, whose writer connection the
// test can hold so that concurrent creations queue into one group, and
// which counts the transactions of the creations.
type groupEnv struct {
	t      *testing.T
	db     *DB
	tenant *gatehouse.Tenant
	txs    atomic.Int32 // "create credential" transactions begun
}

func newGroupEnv(t *testing.T) *groupEnv {
	e := &groupEnv{t: t, db: openSQLite(t)}
	e.tenant = &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanEnterprise}
	if err := e.db.CreateTenant(t.Context(), e.tenant); err != nil {
		t.Fatal(err)
	}
	e.db.onSync = func(op string, _ int) {
		if op == e.db.creates.op {
			e.txs.Add(1)
		}
	}
	return e
}

// credential returns a new access token row of the tenant.
func (e *groupEnv) credential() *gatehouse.Credential {
	h := sha256.Sum256([]byte(rand.Text()))
	return &gatehouse.Credential{TenantID: e.tenant.ID, Kind: gatehouse.KindOAuth2Access, Hash: h[:], ClientID: "APIK-TEST"}
}

// queueBehindWriter holds the writer connection while one creation starts
// a group of its own (and waits for the connection), runs start, waits
// until n more writes are queued and then lets the writer go: the n
// writes then commit as the next group. It returns the first creation's
// outcome.
func (e *groupEnv) queueBehindWriter(n int, start func()) error {
	e.t.Helper()
	ctx := e.t.Context()
	conn, err := e.db.w.Conn(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- e.db.CreateCredential(ctx, e.credential()) }()
	e.waitGroup("the first creation leads", func(g *group) bool { return g.leading && len(g.queue) == 0 })
	start()
	e.waitGroup("the writes queue", func(g *group) bool { return len(g.queue) == n })
	conn.Close()
	return <-first
}

// waitGroup polls the state of the creations' group until cond holds.
func (e *groupEnv) waitGroup(what string, cond func(g *group) bool) {
	e.t.Helper()
	g := &e.db.creates
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		ok := cond(g)
		g.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// committed reports whether c can be read from the reader pool, which
// sees committed rows only.
func (e *groupEnv) committed(c *gatehouse.Credential) bool {
	_, err := e.db.FindCredentialByHash(context.Background(), c.Hash)
	if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		e.t.Error(err)
	}
	return err == nil
}

// TestGroupCommit: writes queued together commit in one transaction, and
// none of their callers is answered before that transaction has
// committed; a write whose context ended while it queued is left out
// without failing the others.
func TestGroupCommit(t *testing.T) {
	e := newGroupEnv(t)
	const n = 20
	var (
		wg       sync.WaitGroup
		ran      atomic.Int32 // writes of the group run
		answered atomic.Int32 // callers of the group answered
		lastRan  = make(chan struct{})
		resume   = make(chan struct{})
		creds    [n]*gatehouse.Credential
	)
	cancelled, cancel := context.WithCancel(t.Context())
	err := e.queueBehindWriter(n+1, func() {
		for i := range creds {
			c := e.credential()
			scopes, err := prepareCredential(c)
			if err != nil {
				t.Fatal(err)
			}
			creds[i] = c
			wg.Go(func() {
				err := e.db.grouped(t.Context(), &e.db.creates, func(ctx context.Context, tx *sql.Tx) error {
					if err := e.db.insertCredential(ctx, tx, "test", c, scopes); err != nil {
						return err
					}
					if ran.Add(1) == n {
						// The last write of the group: hold its
						// transaction open while the test looks.
						close(lastRan)
						<-resume
					}
					return nil
				})
				answered.Add(1)
				if err != nil {
					t.Errorf("write %d: %v", i, err)
				} else if !e.committed(c) {
					t.Errorf("write %d answered before its transaction committed", i)
				}
			})
		}
		e.waitGroup("the writes queue", func(g *group) bool { return len(g.queue) == n })
		wg.Go(func() {
			err := e.db.grouped(cancelled, &e.db.creates, func(context.Context, *sql.Tx) error {
				t.Error("a write whose context ended ran")
				return nil
			})
			if err == nil {
				t.Error("a write whose context ended succeeded")
			}
		})
		e.waitGroup("the last write queues", func(g *group) bool { return len(g.queue) == n+1 })
		cancel()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-lastRan:
	case <-time.After(10 * time.Second):
		t.Fatal("the group's writes did not all run")
	}
	// Keep the transaction open a moment: time for a caller answered too
	// early to return, and to find its row missing.
	time.Sleep(50 * time.Millisecond)
	if a := answered.Load(); a != 0 {
		t.Errorf("%d callers answered while their transaction was still open", a)
	}
	close(resume)
	wg.Wait()
	if got := e.txs.Load(); got != 2 {
		t.Errorf("%d transactions, want 2: the first creation's and one for the group", got)
	}
}

// TestGroupCommitFailure: a write that fails in a group (a duplicate hash,
// a revoked grant) fails alone; the other writes of its group commit.
func TestGroupCommitFailure(t *testing.T) {
	e := newGroupEnv(t)
	ctx := t.Context()
	taken := e.credential()
	if err := e.db.CreateCredential(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RevokeGrant(ctx, e.tenant.ID, "grt_revoked", time.Now()); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var (
		wg    sync.WaitGroup
		creds [n]*gatehouse.Credential
		errs  [n]error
	)
	for i := range creds {
		creds[i] = e.credential()
	}
	creds[3].Hash = taken.Hash            // ECONFLICT: hash taken
	creds[8].GrantID = "grt_revoked"      // ECONFLICT: grant revoked
	creds[10].Hash = creds[11].Hash       // ECONFLICT for one of the two
	bad := map[int]bool{3: true, 8: true} // and one of 10 and 11
	e.txs.Store(0)
	err := e.queueBehindWriter(n, func() {
		for i, c := range creds {
			wg.Go(func() { errs[i] = e.db.CreateCredential(ctx, c) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if (errs[10] == nil) == (errs[11] == nil) {
		t.Errorf("two writes with one hash: errors %v and %v, want exactly one", errs[10], errs[11])
	}
	bad[10], bad[11] = errs[10] != nil, errs[11] != nil
	for i, c := range creds {
		switch {
		case bad[i] && !gatehouse.IsCode(errs[i], gatehouse.ECONFLICT):
			t.Errorf("bad write %d: %v, want ECONFLICT", i, errs[i])
		case !bad[i] && errs[i] != nil:
			t.Errorf("write %d failed with the bad ones: %v", i, errs[i])
		case !bad[i] && !e.committed(c):
			t.Errorf("write %d succeeded but is not stored", i)
		}
	}
	// The first creation's, the group's (rolled back), then one per write.
	if got := e.txs.Load(); got != 2+n {
		t.Errorf("%d transactions, want %d", got, 2+n)
	}
}
