package sqlstore

import (
	"context"
	"database/sql"
	"sync"

	"github.com/gatehouse/gatehouse"
)

// maxGroup bounds the writes one group transaction carries, and so how
// long it holds SQLite's write lock.
const maxGroup = 128

// group commits concurrent writes of one kind together (group commit). On
// SQLite, whose single writer otherwise makes every write pay a commit of
// its own while the others queue, a commit is most of what a small write
// costs: WAL frames for every page it touched (pages the next write
// touches again), a wal-index update and, every 1 000 pages, a checkpoint.
//
// There is no timer and no goroutine of its own: a write that finds no
// group committing runs at once, as the leader of a group of one; writes
// that arrive meanwhile queue, and when the leader's transaction has ended
// the first of them leads the next group, which takes every write queued
// by then (up to maxGroup). Each caller is answered only after its group's
// transaction has committed or failed.
//
// A group is one transaction. If one of its writes fails (a duplicate
// hash, a revoked grant), the transaction is rolled back and each write
// runs again in a transaction of its own, so a bad write fails alone and
// loses nobody else's.
type group struct {
	op string // the writes' op, for errors and DB.onSync
	d  durability

	mu      sync.Mutex
	queue   []*groupWrite
	leading bool // a leader is running a group; it hands over to queue[0]
}

// groupWrite is one caller's write, queued in a group.
type groupWrite struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	err error
	// wake receives true when this write's caller is to lead the next
	// group, false when its group has ended and err is the outcome.
	wake chan bool
}

// grouped runs fn in a write transaction shared with the concurrent
// writes of g and returns fn's outcome once that transaction has ended.
// fn may run twice (see group), each time in a new transaction; it must
// use the ctx and tx it is given.
//
// On PostgreSQL, which commits concurrent transactions on several
// connections and groups their WAL flushes by itself, fn runs in a
// transaction of its own.
func (db *DB) grouped(ctx context.Context, g *group, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if event := gatehouse.AuditOf(ctx); event != nil {
		// Each write appends its own audit event in the transaction it
		// runs in (its group's, or its own); the transaction itself, run
		// with the leader's ctx, appends none.
		ctx = gatehouse.WithAudit(ctx, nil)
		write := fn
		fn = func(ctx context.Context, tx *sql.Tx) error {
			if err := write(ctx, tx); err != nil {
				return err
			}
			return wrap(g.op, "audit event", db.appendAuditTx(ctx, tx, event))
		}
	}
	w := &groupWrite{ctx: ctx, fn: fn, wake: make(chan bool, 1)}
	if !db.d.groupCommit {
		db.runAlone(g, w)
		return w.err
	}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead && !<-w.wake {
		return w.err
	}
	// w leads: it is queue[0] (a new leader found the queue empty, a
	// handed-over one was first in it), so its group includes it.
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	writes := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	defer g.handOver(writes) // even if runGroup panics: nobody waits forever
	db.runGroup(g, writes)
	return w.err
}

// handOver answers the writes of the leader's group (writes[0] is the
// leader's own) and passes the lead to the first queued write, if any.
func (g *group) handOver(writes []*groupWrite) {
	for _, o := range writes[1:] {
		o.wake <- false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true
	} else {
		g.leading = false
	}
}

// errGroupAborted is the outcome of the writes of a group whose leader
// panicked; its transaction was rolled back.
var errGroupAborted = gatehouse.Errorf(gatehouse.EINTERNAL, "group commit aborted")

// runGroup runs writes in one transaction and sets each one's err. A write
// whose context has ended before the group begins is left out, with the
// error its own transaction would have had. The transaction ignores the
// callers' cancellation: a request cancelled while its group commits
// cannot roll back the others (its write commits, as it would have alone
// had the cancellation come during its COMMIT).
func (db *DB) runGroup(g *group, writes []*groupWrite) {
	live := make([]*groupWrite, 0, len(writes))
	for _, w := range writes {
		if err := w.ctx.Err(); err != nil {
			w.err = wrap(g.op, "transaction", err)
			continue
		}
		w.err = errGroupAborted
		live = append(live, w)
	}
	if len(live) <= 1 {
		for _, w := range live {
			db.runAlone(g, w)
		}
		return
	}
	ctx := context.WithoutCancel(live[0].ctx)
	err := db.tx(ctx, g.op, g.d, func(tx *sql.Tx) error {
		for _, w := range live {
			if err := w.fn(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, w := range live {
		if err != nil {
			db.runAlone(g, w)
		} else {
			w.err = nil
		}
	}
}

// runAlone runs w in a transaction of its own and sets its err.
func (db *DB) runAlone(g *group, w *groupWrite) {
	w.err = db.tx(w.ctx, g.op, g.d, func(tx *sql.Tx) error { return w.fn(w.ctx, tx) })
}
