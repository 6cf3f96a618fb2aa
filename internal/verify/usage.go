package verify

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"
)

// maxPending bounds the last-use times held between flushes; beyond it new
// uses are dropped, as last_used_at is informational and memory is not.
const maxPending = 1 << 17

// A credential's last-use record lives in its cache entry (entry.last,
// entry.recorded and entry.queued). last_used_at has a resolution
// (Options.UsageResolution, a minute by default): a use within that time of
// the recorded one — read with the credential, or last flushed — is not
// recorded again, so a busy credential costs one atomic load per request
// and one row write per resolution, not per flush. A use past it stores the
// time and queues the entry when it is not queued yet.

// usageLog collects last-use times for the next batch write.
type usageLog struct {
	resolution int64 // nanoseconds
	mu         sync.Mutex
	pending    []*entry
	retry      map[string]time.Time // a failed batch, written with the next one
}

func (l *usageLog) touch(u *entry, now int64) {
	if now-u.recorded.Load() < l.resolution {
		return
	}
	u.last.Store(now)
	if u.queued.CompareAndSwap(false, true) {
		l.mu.Lock()
		if len(l.pending) < maxPending {
			l.pending = append(l.pending, u)
		}
		l.mu.Unlock()
	}
}

// take empties the log into a batch. Each record is un-queued before its
// time is read, so a use racing with the flush is either in this batch or
// queues the record again for the next.
func (l *usageLog) take() map[string]time.Time {
	l.mu.Lock()
	pending, retry := l.pending, l.retry
	l.pending, l.retry = nil, nil
	l.mu.Unlock()
	if len(pending) == 0 && len(retry) == 0 {
		return nil
	}
	batch := make(map[string]time.Time, len(pending)+len(retry))
	maps.Copy(batch, retry)
	for _, u := range pending {
		u.queued.Store(false)
		last := u.last.Load()
		u.recorded.Store(last)
		t := time.Unix(0, last).UTC()
		if old, ok := batch[u.credID]; !ok || t.After(old) {
			batch[u.credID] = t
		}
	}
	return batch
}

// putBack keeps a batch that could not be written for the next flush.
func (l *usageLog) putBack(batch map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.retry == nil {
		l.retry = batch
		return
	}
	for id, t := range batch {
		if len(l.retry) >= maxPending {
			return
		}
		if old, ok := l.retry[id]; !ok || t.After(old) {
			l.retry[id] = t
		}
	}
}

// Flush writes the last-use times recorded since the previous flush in one
// store.TouchCredentials batch — never one write per request. On failure
// the batch is kept for the next flush.
func (v *Verifier) Flush(ctx context.Context) error {
	batch := v.usage.take()
	if len(batch) == 0 {
		return nil
	}
	if err := v.store.TouchCredentials(ctx, batch); err != nil {
		v.usage.putBack(batch)
		return fmt.Errorf("verify: record last use: %w", err)
	}
	return nil
}

// Run flushes last-use times every FlushInterval until ctx ends, then once
// more (with a short deadline of its own) so a clean shutdown loses
// nothing. It returns nil after that final flush succeeds.
func (v *Verifier) Run(ctx context.Context) error {
	t := time.NewTicker(v.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := v.Flush(ctx); err != nil {
				v.log.Warn("verify: last-use flush failed; will retry", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return v.Flush(fctx)
		}
	}
}
