package gatehouse

import (
	"context"
	"time"
)

// LoginStore keeps the failed-login counters and the addresses accounts
// log in from, in the database every node shares, so the login throttle
// holds across nodes.
type LoginStore interface {
	// ReserveLoginAttempt atomically: when no counter of cs holds its
	// Limit of attempts in its window (a window ends window after its
	// first attempt; an ended one starts again at now), it adds one to
	// each counter and returns 0; otherwise it changes nothing and returns
	// how long until the fullest counter's window ends.
	ReserveLoginAttempt(ctx context.Context, cs []LoginCounter, now time.Time, window time.Duration) (time.Duration, error)
	// ReleaseLoginAttempt takes one back from each counter of keys (an
	// attempt that was not a failure, or not decided) and deletes the
	// counters of clear.
	ReleaseLoginAttempt(ctx context.Context, keys, clear []string) error
	// LoginAddressKnown reports whether email logged in successfully from
	// ip, among the addresses RememberLoginAddress keeps.
	LoginAddressKnown(ctx context.Context, email, ip string) (bool, error)
	// RememberLoginAddress records a successful login of email from ip at
	// now, keeping the keep most recent addresses of email.
	RememberLoginAddress(ctx context.Context, email, ip string, now time.Time, keep int) error
	// PruneLoginAttempts deletes the counters whose window started before
	// before.
	PruneLoginAttempts(ctx context.Context, before time.Time) error
}

// LoginCounter is one counter a login attempt is reserved under.
type LoginCounter struct {
	Key string
	// Limit refuses the attempt when the counter already holds Limit
	// attempts in its window; 0 counts the attempt and never refuses.
	Limit int
}
