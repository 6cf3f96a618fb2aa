package admin_test

import (
	"context"
	"fmt"
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
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

const loginPassword = "the owner's password"

// loginService returns a service with the default throttle, an owner
// owner@acme.test with loginPassword, and its clock. A login waits up to
// a minute for a hash slot, so a loaded machine (-race, other tests) does
// not turn counted attempts into uncounted busy ones.
func loginService(t *testing.T) (*admin.Service, *testclock.Clock) {
	t.Helper()
	return loginServiceWith(t, admin.Options{PasswordHashWait: time.Minute})
}

// loginServiceWith is loginService with opts (their clock is replaced).
func loginServiceWith(t *testing.T, opts admin.Options) (*admin.Service, *testclock.Clock) {
	t.Helper()
	st := sqlstoretest.SQLite(t)
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New(time.Now())
	opts.Now = clk.Now
	svc := admin.New(st, tree, opts)
	ctx := context.Background()
	ten, err := svc.CreateTenant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	op := admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
	if _, err := svc.AddMember(ctx, op, admin.NewMember{Email: "owner@acme.test", Role: gatehouse.RoleOwner, Password: loginPassword}); err != nil {
		t.Fatal(err)
	}
	return svc, clk
}

// TestLoginBurstOfWrongPasswords: n simultaneous wrong passwords for one
// account from one address evaluate at most the limit (5), the others are
// refused without a hash, memory stays bounded by the hash slots, and the
// owner still logs in from another address.
func TestLoginBurstOfWrongPasswords(t *testing.T) {
	for _, n := range []int{20, 64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			svc, _ := loginService(t)
			ctx := context.Background()
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // samples the heap while the burst runs
				defer close(sampled)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			var wrong, throttled atomic.Int32
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					<-start
					_, err := svc.Login(ctx, "owner@acme.test", "a wrong guess", "203.0.113.9")
					switch gatehouse.ErrorCode(err) {
					case gatehouse.EUNAUTHORIZED:
						wrong.Add(1)
					case gatehouse.ETOOMANY:
						throttled.Add(1)
					default:
						t.Errorf("Login: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			close(stop)
			<-sampled
			if wrong.Load() > 5 || int(wrong.Load()+throttled.Load()) != n {
				t.Errorf("%d wrong passwords evaluated, %d throttled; want at most 5 evaluated", wrong.Load(), throttled.Load())
			}
			// Each argon2id hash holds 46 MiB while it runs; the slots (one per
			// core) bound how many run at once, and the collector (GOGC=100)
			// may let as much garbage again build up.
			const perHash = 47 << 20
			limit := 2 * int64(runtime.GOMAXPROCS(0)+1) * perHash
			if grew := int64(peak.Load()) - int64(base.HeapInuse); grew > limit {
				t.Errorf("heap grew by %d MiB during the burst; want at most %d MiB", grew>>20, limit>>20)
			}
			if _, err := svc.Login(ctx, "owner@acme.test", loginPassword, "203.0.113.9"); !gatehouse.IsCode(err, gatehouse.ETOOMANY) {
				t.Errorf("right password from the guessing address: %v, want ETOOMANY", err)
			}
			if _, err := svc.Login(ctx, "owner@acme.test", loginPassword, "198.51.100.7"); err != nil {
				t.Errorf("owner from another address: %v", err)
			}
		})
	}
}

// TestLoginSprayFromOneAddress: one address guessing over many accounts
// is stopped by the per-address limit (4 × 5), other addresses are not.
func TestLoginSprayFromOneAddress(t *testing.T) {
	svc, clk := loginService(t)
	ctx := context.Background()
	for i := range 20 {
		_, err := svc.Login(ctx, fmt.Sprintf("user%d@acme.test", i), "guess", "203.0.113.9")
		wantCode(t, err, gatehouse.EUNAUTHORIZED)
	}
	_, err := svc.Login(ctx, "user99@acme.test", "guess", "203.0.113.9")
	wantCode(t, err, gatehouse.ETOOMANY)
	if _, err := svc.Login(ctx, "owner@acme.test", loginPassword, "198.51.100.7"); err != nil {
		t.Fatalf("owner from another address: %v", err)
	}
	clk.Advance(16 * time.Minute)
	_, err = svc.Login(ctx, "user99@acme.test", "guess", "203.0.113.9")
	wantCode(t, err, gatehouse.EUNAUTHORIZED)
}

// TestLoginGuessersRotatingAddresses: past 10 × 5 failures for one account
// from many addresses, new addresses are refused for it, but the owner's
// usual address (a past successful login) still logs in.
func TestLoginGuessersRotatingAddresses(t *testing.T) {
	svc, _ := loginService(t)
	ctx := context.Background()
	const usual = "198.51.100.7"
	if _, err := svc.Login(ctx, "owner@acme.test", loginPassword, usual); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		_, err := svc.Login(ctx, "owner@acme.test", "guess", fmt.Sprintf("203.0.%d.%d", i/4, i%4+1))
		wantCode(t, err, gatehouse.EUNAUTHORIZED)
	}
	_, err := svc.Login(ctx, "owner@acme.test", loginPassword, "192.0.2.200")
	wantCode(t, err, gatehouse.ETOOMANY)
	if _, err := svc.Login(ctx, "owner@acme.test", loginPassword, usual); err != nil {
		t.Fatalf("owner from the usual address: %v", err)
	}
}

// TestLoginTwoNodes: two services on one database (two nodes; PostgreSQL
// when configured, else two handles on one SQLite file) share the
// throttle: 20 concurrent wrong passwords spread over both evaluate at
// most the limit together, and the owner still logs in elsewhere.
func TestLoginTwoNodes(t *testing.T) {
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
			opts := admin.Options{PasswordHashWait: time.Minute} // see loginService
			nodes := []*admin.Service{admin.New(a, tree, opts), admin.New(b, tree, opts)}
			ctx := context.Background()
			ten, err := nodes[0].CreateTenant(ctx, "acme", "Acme", "")
			if err != nil {
				t.Fatal(err)
			}
			op := admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
			if _, err := nodes[0].AddMember(ctx, op, admin.NewMember{Email: "owner@acme.test", Role: gatehouse.RoleOwner, Password: loginPassword}); err != nil {
				t.Fatal(err)
			}
			var wrong atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 20 {
				wg.Go(func() {
					<-start
					_, err := nodes[i%2].Login(ctx, "owner@acme.test", "a wrong guess", "203.0.113.9")
					switch gatehouse.ErrorCode(err) {
					case gatehouse.EUNAUTHORIZED:
						wrong.Add(1)
					case gatehouse.ETOOMANY:
					default:
						t.Errorf("Login: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if wrong.Load() > 5 {
				t.Errorf("%d wrong passwords evaluated over two nodes, want at most 5", wrong.Load())
			}
			for _, n := range nodes {
				if _, err := n.Login(ctx, "owner@acme.test", loginPassword, "203.0.113.9"); !gatehouse.IsCode(err, gatehouse.ETOOMANY) {
					t.Errorf("right password from the guessing address: %v, want ETOOMANY on every node", err)
				}
				if _, err := n.Login(ctx, "owner@acme.test", loginPassword, "198.51.100.7"); err != nil {
					t.Errorf("owner from another address: %v", err)
				}
			}
		})
	}
}

func openURL(t *testing.T, u string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
