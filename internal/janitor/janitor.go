// Package janitor keeps a long-running database small: every interval it
// deletes the rows nothing can use any more — expired and used
// authorization codes, single-use marks past their window, OAuth 1.0a
// request tokens, console sessions that expired or idled out, expired OAuth
// 2.0 access tokens, the refresh tokens and rows of grants that are over,
// old delivery attempts and notifications, signing keys out of the JWKS —
// in bounded batches with a
// pause between them, so the writer is never held for long. On PostgreSQL
// one node prunes at a time (the store's advisory lock). The audit log is
// kept unless the operator sets a retention of its own.
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/metrics"
)

// Defaults of Options.
const (
	DefaultInterval = time.Minute
	DefaultBatch    = 500
	DefaultPause    = 20 * time.Millisecond
	// DefaultMaxBatches bounds one kind's work in one round; what is left
	// waits for the next round.
	DefaultMaxBatches = 200
	// DefaultSkew: rows are pruned this long after they died. Security: a
	// node whose clock runs ahead must not delete a mark (an OAuth 1.0a
	// nonce) or a used code that a node whose clock lags still relies on.
	DefaultSkew = time.Hour
	// DefaultDeliveryRetention and DefaultNotificationRetention: how long
	// delivery attempts and console notifications are shown.
	DefaultDeliveryRetention     = 30 * 24 * time.Hour
	DefaultNotificationRetention = 30 * 24 * time.Hour
)

// Options configure a Janitor; zero values take the defaults.
type Options struct {
	Now        func() time.Time
	Interval   time.Duration
	Batch      int
	Pause      time.Duration
	MaxBatches int
	Skew       time.Duration
	// IdleTimeout is the console's (GATEHOUSE_CONSOLE_IDLE_TIMEOUT);
	// sessions idle for longer are deleted. Zero: only expired ones.
	IdleTimeout           time.Duration
	DeliveryRetention     time.Duration
	NotificationRetention time.Duration
	// AuditRetention (GATEHOUSE_AUDIT_RETENTION) deletes audit events
	// older than it; zero keeps the audit log for ever.
	AuditRetention time.Duration
	// RotateKeys, when set, runs first in every round this node holds the
	// lock: the rotation of the signing keys (signing.Signer.Rotate when
	// one is due). It is race-safe on its own; the lock only spares the
	// other nodes the attempt.
	RotateKeys func(ctx context.Context) error
	Metrics    *metrics.Metrics
	Log        *slog.Logger
}

// Janitor prunes a store; see the package comment.
type Janitor struct {
	st   gatehouse.PruneStore
	opts Options
}

// New returns a janitor of st.
func New(st gatehouse.PruneStore, opts Options) *Janitor {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Pause < 0 {
		opts.Pause = 0
	} else if opts.Pause == 0 {
		opts.Pause = DefaultPause
	}
	if opts.MaxBatches <= 0 {
		opts.MaxBatches = DefaultMaxBatches
	}
	if opts.Skew <= 0 {
		opts.Skew = DefaultSkew
	}
	if opts.DeliveryRetention <= 0 {
		opts.DeliveryRetention = DefaultDeliveryRetention
	}
	if opts.NotificationRetention <= 0 {
		opts.NotificationRetention = DefaultNotificationRetention
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Janitor{st: st, opts: opts}
}

// Round is what one round did.
type Round struct {
	// Locked: this node held the lock and pruned; false when another
	// node did.
	Locked bool
	// Pruned counts deleted rows by kind.
	Pruned map[gatehouse.PruneKind]int
}

// task is one kind with its cutoff at now.
type task struct {
	kind   gatehouse.PruneKind
	cutoff time.Time
}

// tasks lists what a round at now prunes, in order: refresh tokens before
// access tokens and both before grants, whose rows go once their
// credentials have.
func (j *Janitor) tasks(now time.Time) []task {
	o := j.opts
	dead := now.Add(-o.Skew)
	ts := []task{
		{gatehouse.PruneCodes, dead},
		{gatehouse.PruneDeviceAuthorizations, dead},
		{gatehouse.PruneMarks, dead},
		{gatehouse.PruneRequestTokens, dead},
		{gatehouse.PruneSessions, dead},
	}
	if o.IdleTimeout > 0 {
		ts = append(ts, task{gatehouse.PruneIdleSessions, dead.Add(-o.IdleTimeout)})
	}
	ts = append(ts,
		task{gatehouse.PruneRefreshTokens, dead},
		task{gatehouse.PruneAccessTokens, dead},
		task{gatehouse.PruneGrants, dead},
		task{gatehouse.PruneDeliveries, now.Add(-o.DeliveryRetention)},
		task{gatehouse.PruneNotifications, now.Add(-o.NotificationRetention)},
		task{gatehouse.PruneSigningKeys, dead},
	)
	if o.AuditRetention > 0 {
		ts = append(ts, task{gatehouse.PruneAudit, now.Add(-o.AuditRetention)})
	}
	return ts
}

// RunOnce runs one round: it takes the lock (or returns with Locked false)
// and prunes every kind in batches until a batch comes back short or the
// kind's MaxBatches are done.
func (j *Janitor) RunOnce(ctx context.Context) (Round, error) {
	r := Round{Pruned: map[gatehouse.PruneKind]int{}}
	release, ok, err := j.st.TryJanitorLock(ctx)
	if err != nil || !ok {
		return r, err
	}
	defer release()
	r.Locked = true
	var errs []error
	if j.opts.RotateKeys != nil {
		if err := j.opts.RotateKeys(ctx); err != nil {
			errs = append(errs, fmt.Errorf("rotate signing keys: %w", err))
		}
	}
	for _, t := range j.tasks(j.opts.Now()) {
		n, err := j.prune(ctx, t)
		r.Pruned[t.kind] = n
		j.opts.Metrics.Pruned(t.kind.Table(), n)
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

func (j *Janitor) prune(ctx context.Context, t task) (int, error) {
	total := 0
	for i := 0; i < j.opts.MaxBatches; i++ {
		if i > 0 && !sleep(ctx, j.opts.Pause) {
			return total, ctx.Err()
		}
		n, err := j.st.PruneBatch(ctx, t.kind, t.cutoff, j.opts.Batch)
		total += n
		if err != nil || n < j.opts.Batch {
			return total, err
		}
	}
	return total, nil
}

// Run prunes every Interval until ctx ends, logging what it did.
func (j *Janitor) Run(ctx context.Context) {
	t := time.NewTicker(j.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := j.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			j.opts.Log.Warn("janitor round failed", "err", err)
		}
		if r.Locked {
			total := 0
			for _, n := range r.Pruned {
				total += n
			}
			if total > 0 {
				j.opts.Log.Debug("janitor pruned", "rows", total)
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
