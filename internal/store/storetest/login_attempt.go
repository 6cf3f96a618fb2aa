package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testLoginAttempts: counters refuse at their limit without counting,
// start again after their window, give reservations back, and known
// addresses keep the most recent ones.
func testLoginAttempts(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	const window = 15 * time.Minute
	now := base
	cs := []gatehouse.LoginCounter{{Key: "pair:a@x.test|192.0.2.1", Limit: 2}, {Key: "ip:192.0.2.1", Limit: 3}, {Key: "email:a@x.test"}}
	reserve := func(cs []gatehouse.LoginCounter, at time.Time) time.Duration {
		t.Helper()
		wait, err := s.ReserveLoginAttempt(ctx, cs, at, window)
		must(t, err, "reserve")
		return wait
	}
	if reserve(cs, now) != 0 || reserve(cs, now.Add(time.Minute)) != 0 {
		t.Fatal("first two attempts refused")
	}
	if wait := reserve(cs, now.Add(2*time.Minute)); wait != window-2*time.Minute {
		t.Fatalf("third attempt: wait %v, want %v (the pair's window)", wait, window-2*time.Minute)
	}
	// The refusal counted nothing: the address has room for one more.
	other := []gatehouse.LoginCounter{{Key: "pair:b@x.test|192.0.2.1", Limit: 2}, {Key: "ip:192.0.2.1", Limit: 3}}
	if reserve(other, now.Add(3*time.Minute)) != 0 {
		t.Fatal("the address's third attempt refused")
	}
	if reserve(other, now.Add(3*time.Minute)) == 0 {
		t.Fatal("the address's fourth attempt counted")
	}
	// A give-back makes room again; clearing deletes the counter.
	must(t, s.ReleaseLoginAttempt(ctx, []string{"ip:192.0.2.1", "pair:b@x.test|192.0.2.1"}, []string{"pair:a@x.test|192.0.2.1"}), "release")
	if reserve(cs, now.Add(4*time.Minute)) != 0 {
		t.Fatal("attempt after release and clear refused")
	}
	// After the window every counter starts again.
	if reserve(cs, now.Add(window)) != 0 {
		t.Fatal("attempt after the window refused")
	}
	must(t, s.PruneLoginAttempts(ctx, now.Add(window)), "prune")

	known := func(ip string) bool {
		ok, err := s.LoginAddressKnown(ctx, "a@x.test", ip)
		must(t, err, "known")
		return ok
	}
	if known("192.0.2.1") {
		t.Fatal("an address is known before any login")
	}
	for i := range 4 {
		must(t, s.RememberLoginAddress(ctx, "a@x.test", fmt.Sprintf("192.0.2.%d", i+1), now.Add(time.Duration(i)*time.Minute), 3), "remember")
	}
	must(t, s.RememberLoginAddress(ctx, "a@x.test", "192.0.2.2", now.Add(time.Hour), 3), "remember again")
	if known("192.0.2.1") || !known("192.0.2.2") || !known("192.0.2.3") || !known("192.0.2.4") {
		t.Fatal("known addresses are not the three most recent")
	}
	if ok, _ := s.LoginAddressKnown(ctx, "b@x.test", "192.0.2.2"); ok {
		t.Fatal("an address is known for another account")
	}
}

// testConcurrentLoginAttempts: of 20 racing reservations against a limit
// of 5, exactly 5 are counted.
func testConcurrentLoginAttempts(t *testing.T, s gatehouse.Store) {
	cs := []gatehouse.LoginCounter{{Key: "pair:a@x.test|192.0.2.1", Limit: 5}, {Key: "ip:192.0.2.1", Limit: 20}, {Key: "email:a@x.test", Limit: 50}}
	waits := make([]time.Duration, 20)
	errs := race(20, func(i int) error {
		var err error
		waits[i], err = s.ReserveLoginAttempt(t.Context(), cs, time.Now(), time.Hour)
		return err
	})
	ok := 0
	for i, err := range errs {
		must(t, err, "reserve")
		if waits[i] == 0 {
			ok++
		}
	}
	if ok != 5 {
		t.Fatalf("%d of 20 racing attempts counted, want 5", ok)
	}
}
