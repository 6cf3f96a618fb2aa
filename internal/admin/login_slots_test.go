package admin_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestLoginHashSlots: 64 concurrent wrong passwords for one (account,
// address) run exactly the limit (5) of password hashes; 64 for as many
// accounts and addresses (which the throttle lets through) never run more
// argon2id hashes at once than there are slots (GOMAXPROCS).
func TestLoginHashSlots(t *testing.T) {
	svc, _ := loginService(t)
	var running, peak, calls atomic.Int32
	var real func(hash, password string) bool
	real = admin.SetPasswordCheck(svc, func(hash, password string) bool {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		return real(hash, password)
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			_, err := svc.Login(ctx, "owner@acme.test", "a wrong guess", "203.0.113.9")
			if c := gatehouse.ErrorCode(err); c != gatehouse.EUNAUTHORIZED && c != gatehouse.ETOOMANY {
				t.Errorf("Login: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if calls.Load() != 5 {
		t.Errorf("%d password hashes evaluated for one account and address, want the limit 5", calls.Load())
	}
	start = make(chan struct{})
	for i := range 64 {
		wg.Go(func() {
			<-start
			_, err := svc.Login(ctx, fmt.Sprintf("user%d@acme.test", i), "a wrong guess", fmt.Sprintf("192.0.2.%d", i+1))
			if c := gatehouse.ErrorCode(err); c != gatehouse.EUNAUTHORIZED && c != gatehouse.ETOOMANY {
				t.Errorf("Login: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if max := int32(runtime.GOMAXPROCS(0)); peak.Load() > max {
		t.Errorf("%d hashes ran at once, want at most %d", peak.Load(), max)
	}
}

// TestLoginBusy: a login that finds no free hash slot within the wait is
// ETOOMANY with a Retry-After, and its attempt is not counted.
func TestLoginBusy(t *testing.T) {
	svc, _ := loginServiceWith(t, admin.Options{}) // the default 2 s wait
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var real func(hash, password string) bool
	real = admin.SetPasswordCheck(svc, func(hash, password string) bool {
		if password == "hold" {
			once.Do(func() { close(held) })
			<-hold
		}
		return real(hash, password)
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() { svc.Login(ctx, "owner@acme.test", "hold", "192.0.2.1") })
	}
	<-held
	for len(admin.HashesRunning(svc)) < runtime.GOMAXPROCS(0) {
		runtime.Gosched()
	}
	_, err := svc.Login(ctx, "owner@acme.test", loginPassword, "192.0.2.2")
	var ge *gatehouse.Error
	if !errors.As(err, &ge) || ge.Code != gatehouse.ETOOMANY || ge.RetryAfter <= 0 {
		t.Fatalf("login with every slot busy: %v, want ETOOMANY with RetryAfter", err)
	}
	close(hold)
	wg.Wait()
	if _, err := svc.Login(ctx, "owner@acme.test", loginPassword, "192.0.2.2"); err != nil {
		t.Fatalf("login once the slots are free: %v", err)
	}
}
