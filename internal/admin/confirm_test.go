package admin_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// TestConfirmPasswordBurst: 20 concurrent wrong password confirmations
// for one user, spread over two nodes on one database (PostgreSQL when
// configured, else two handles on one SQLite file), evaluate at most the
// limit (5) of password hashes together and never more at once than the
// hash slots; the others are ETOOMANY with a RetryAfter, and so is the
// right password until the window ends. Logging in is not affected.
func TestConfirmPasswordBurst(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var a, b *sqlstore.DB
			if backend == "postgres" {
				u := sqlstoretest.PostgresURL(t)
				a, b = openURL(t, u), openURL(t, u)
			} else {
				u := "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
				a, b = openURL(t, u), openURL(t, u)
			}
			tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
			if err != nil {
				t.Fatal(err)
			}
			// A minute's wait for a hash slot: on a loaded machine a busy
			// (uncounted) confirmation would leave the limit unreached.
			opts := admin.Options{PasswordHashWait: time.Minute}
			nodes := []*admin.Service{admin.New(a, tree, opts), admin.New(b, tree, opts)}
			var running, peak, calls atomic.Int32
			for _, n := range nodes {
				var real func(hash, password string) bool
				real = admin.SetPasswordCheck(n, func(hash, password string) bool {
					calls.Add(1)
					r := running.Add(1)
					defer running.Add(-1)
					for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
					}
					return real(hash, password)
				})
			}
			ctx := context.Background()
			ten, err := nodes[0].CreateTenant(ctx, "acme", "Acme", "")
			if err != nil {
				t.Fatal(err)
			}
			op := admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
			m, err := nodes[0].AddMember(ctx, op, admin.NewMember{Email: "owner@acme.test", Role: gatehouse.RoleOwner, Password: loginPassword})
			if err != nil {
				t.Fatal(err)
			}
			owner, err := nodes[0].ActorFor(ctx, ten.ID, m.UserID, "203.0.113.9")
			if err != nil {
				t.Fatal(err)
			}
			calls.Store(0)
			var wrong atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 20 {
				wg.Go(func() {
					<-start
					err := nodes[i%2].ConfirmPassword(ctx, owner, "a wrong guess")
					switch gatehouse.ErrorCode(err) {
					case gatehouse.EINVALID:
						wrong.Add(1)
					case gatehouse.ETOOMANY:
						if ge := (*gatehouse.Error)(nil); !errors.As(err, &ge) || ge.RetryAfter <= 0 {
							t.Errorf("ConfirmPassword: %v without a RetryAfter", err)
						}
					default:
						t.Errorf("ConfirmPassword: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if wrong.Load() > 5 {
				t.Errorf("%d wrong confirmations evaluated over two nodes, want at most 5", wrong.Load())
			}
			if calls.Load() > 5 {
				t.Errorf("%d password hashes ran, want at most 5", calls.Load())
			}
			if max := int32(2 * runtime.GOMAXPROCS(0)); peak.Load() > max {
				t.Errorf("%d hashes ran at once on two nodes, want at most %d", peak.Load(), max)
			}
			for _, n := range nodes {
				if err := n.ConfirmPassword(ctx, owner, loginPassword); !gatehouse.IsCode(err, gatehouse.ETOOMANY) {
					t.Errorf("right password after the burst: %v, want ETOOMANY on every node", err)
				}
				if _, err := n.Login(ctx, "owner@acme.test", loginPassword, "203.0.113.9"); err != nil {
					t.Errorf("login after the burst: %v", err)
				}
			}
		})
	}
}
