package janitor_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/janitor"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

var now0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hash() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

// seed stores dead codes, sessions and marks (dead an hour and a minute
// before now0) and one live row of each; it returns the live ones.
func seed(t *testing.T, st gatehouse.Store, dead int) (codes [][]byte, sessions [][]byte) {
	t.Helper()
	ctx := t.Context()
	tn := &gatehouse.Tenant{Slug: "acme", Name: "Acme", Plan: gatehouse.PlanStandard}
	u := &gatehouse.User{Email: "ana@example.com"}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	past := now0.Add(-janitor.DefaultSkew - time.Minute)
	for i := range dead + 1 {
		exp := past
		if i == dead {
			exp = now0.Add(-time.Minute) // dead, but within the skew margin: kept
		}
		c := &gatehouse.AuthCode{Hash: hash(), TenantID: tn.ID, ClientID: "APIK-APP", GrantID: "g", ExpiresAt: exp, CreatedAt: exp.Add(-time.Minute)}
		if err := st.CreateAuthCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		s := &gatehouse.Session{Hash: hash(), UserID: u.ID, CSRFKey: hash(), CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := st.ConsumeOnce(ctx, "oauth1-nonce:k", fmt.Sprint(i), exp.Add(-time.Minute), exp); err != nil {
			t.Fatal(err)
		}
		if i == dead {
			codes, sessions = append(codes, c.Hash), append(sessions, s.Hash)
		}
	}
	return codes, sessions
}

func scrape(t *testing.T, m *metrics.Metrics, table string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	prefix := `gatehouse_janitor_pruned_total{table="` + table + `"} `
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	return ""
}

func stores(t *testing.T) map[string]func(t *testing.T) gatehouse.Store {
	return map[string]func(t *testing.T) gatehouse.Store{
		"sqlite":   func(t *testing.T) gatehouse.Store { return sqlstoretest.SQLite(t) },
		"postgres": func(t *testing.T) gatehouse.Store { return sqlstoretest.Postgres(t) },
	}
}

// TestJanitorPrunes: one round deletes every dead row in batches of the
// configured size, keeps the rows within the skew margin, and counts
// what it deleted per table.
func TestJanitorPrunes(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			liveCodes, liveSessions := seed(t, st, 7)
			m := metrics.New()
			j := janitor.New(st, janitor.Options{Now: testclock.New(now0).Now, Batch: 3, Pause: -1, Metrics: m})
			r, err := j.RunOnce(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []gatehouse.PruneKind{gatehouse.PruneCodes, gatehouse.PruneSessions, gatehouse.PruneMarks} {
				if !r.Locked || r.Pruned[k] != 7 {
					t.Errorf("round: locked %v, pruned %d %s, want 7", r.Locked, r.Pruned[k], k)
				}
				if got := scrape(t, m, k.Table()); got != "7" {
					t.Errorf("metric for %s = %q, want 7", k.Table(), got)
				}
			}
			if _, err := st.FindSessionByHash(t.Context(), liveSessions[0]); err != nil {
				t.Errorf("session within the margin: %v", err)
			}
			// The code within the margin is still there: a replay of it
			// is refused as a replay (it was never used: consumed now).
			_, err = st.RedeemAuthCode(t.Context(), &gatehouse.CodeRedemption{Hash: liveCodes[0], TenantID: "", ClientID: "APIK-APP", Now: now0})
			if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
				t.Errorf("code within the margin was pruned")
			}
			r, err = j.RunOnce(t.Context())
			if err != nil || r.Pruned[gatehouse.PruneCodes] != 0 {
				t.Errorf("second round: %v, %v", r.Pruned, err)
			}
		})
	}
}

// blocking is the real store with a hook in PruneBatch.
type blocking struct {
	gatehouse.Store
	onBatch func()
}

func (b *blocking) PruneBatch(ctx context.Context, k gatehouse.PruneKind, cutoff time.Time, limit int) (int, error) {
	b.onBatch()
	return b.Store.PruneBatch(ctx, k, cutoff, limit)
}

// TestJanitorOneNodeAtATime: two nodes on one PostgreSQL schema prune at
// the same moment; only the one holding the advisory lock prunes, the
// other's round does nothing, and once the lock is free the other takes
// it. Data that must stay stays.
func TestJanitorOneNodeAtATime(t *testing.T) {
	u := sqlstoretest.PostgresURL(t)
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	_, liveSessions := seed(t, a, 5)

	started, proceed := make(chan struct{}), make(chan struct{})
	first := true
	ja := janitor.New(&blocking{Store: a, onBatch: func() {
		if first {
			first = false
			close(started)
			<-proceed
		}
	}}, janitor.Options{Now: testclock.New(now0).Now, Pause: -1})
	jb := janitor.New(b, janitor.Options{Now: testclock.New(now0).Now, Pause: -1})

	done := make(chan janitor.Round)
	go func() {
		r, err := ja.RunOnce(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	<-started // a holds the lock and is inside its first batch
	rb, err := jb.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rb.Locked || len(rb.Pruned) != 0 {
		t.Fatalf("second node pruned while the first held the lock: %+v", rb)
	}
	close(proceed)
	ra := <-done
	if !ra.Locked || ra.Pruned[gatehouse.PruneCodes] != 5 || ra.Pruned[gatehouse.PruneSessions] != 5 {
		t.Fatalf("first node's round: %+v", ra)
	}
	rb, err = jb.RunOnce(t.Context())
	if err != nil || !rb.Locked {
		t.Fatalf("second node after the lock was released: %+v, %v", rb, err)
	}
	for k, n := range rb.Pruned {
		if n != 0 {
			t.Errorf("second node pruned %d %s the first had pruned", n, k)
		}
	}
	if _, err := b.FindSessionByHash(t.Context(), liveSessions[0]); err != nil {
		t.Errorf("live session: %v", err)
	}
}
