package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// How the change feed of other nodes is kept alive (PostgreSQL only).
const (
	// listenBackoffMin and listenBackoffMax bound the wait between two
	// attempts to re-establish a lost LISTEN connection: it starts short,
	// so a dropped connection costs a fraction of a second, and doubles up
	// to half a second. SPEC §7 promises a revocation is refused on every
	// node within one second: once the database is back, the pool serves
	// again at once, and until LISTEN is re-established (and its
	// resynchronisation has dropped what was missed) cached answers may be
	// stale, so the wait must stay well under that second however long
	// the outage was (issue 12: a 5 s cap left revocations made during a
	// 10 s outage valid on the cut-off node for up to 5 s after its
	// return). Two refused connection attempts a second per node do not
	// hammer the server.
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 500 * time.Millisecond
	// listenConnectTimeout bounds one connection attempt (connect and
	// LISTEN), so an unanswered SYN cannot stall reconnection forever.
	listenConnectTimeout = 10 * time.Second
	// listenCheckEvery is how long the listener waits for a notification
	// before it pings the server: a connection that died without a reset
	// (a network partition) would otherwise look like a quiet channel.
	listenCheckEvery  = 30 * time.Second
	listenPingTimeout = 5 * time.Second
)

// listener holds one dedicated PostgreSQL connection that LISTENs on
// NotifyChannel and hands deliver the changes committed by the other nodes
// of its schema. This node's own notifications (same origin) are skipped:
// its subscribers heard of those synchronously after the commit.
//
// Notifications sent while the connection is down are lost, so whenever
// LISTEN is re-established after a failure deliver gets an empty Change:
// anything may have changed, drop everything. The first start needs none:
// Subscribe waits for the first attempt, so LISTEN is in effect before a
// subscriber can have cached anything (and if that attempt fails, the
// eventual success counts as a re-establishment).
type listener struct {
	dsn     string
	schema  string // the store's schema: other schemas' notifications are not ours
	origin  string // the store's NotifyMessage.Origin
	log     *slog.Logger
	deliver func(gatehouse.Change)
	lag     func(time.Duration) // DB.SetLagObserver; nil: not measured

	cancel    context.CancelFunc
	ready     chan struct{} // closed after the first attempt, whatever its outcome
	readyOnce sync.Once
	done      chan struct{}
	pid       atomic.Uint32 // backend PID of the LISTEN connection; 0 while down
}

// startListener starts the listener's goroutine; stop ends it.
func startListener(dsn, schema, origin string, log *slog.Logger, deliver func(gatehouse.Change)) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		dsn: dsn, schema: schema, origin: origin, log: log, deliver: deliver,
		cancel: cancel, ready: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run(ctx)
	return l
}

// stop closes the connection and waits for the goroutine to end.
func (l *listener) stop() {
	l.cancel()
	<-l.done
}

// run keeps a LISTEN connection up until ctx ends, reconnecting with
// exponential backoff.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := listenBackoffMin
	var down time.Time // when the feed was lost; zero while it is up
	for {
		err := l.listen(ctx, func() (resync bool) {
			backoff = listenBackoffMin
			if down.IsZero() {
				return false
			}
			l.log.Info("change feed restored, caches resynchronised", "down_for", time.Since(down).Round(time.Millisecond))
			down = time.Time{}
			return true
		})
		l.markReady()
		if ctx.Err() != nil {
			return
		}
		if down.IsZero() {
			down = time.Now()
			// The error names host, user and database, never the password
			// or a payload.
			l.log.Warn("change feed from other nodes lost; reconnecting (cached answers expire within the cache TTL meanwhile)", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// markReady releases the Subscribe calls waiting for the first attempt.
func (l *listener) markReady() { l.readyOnce.Do(func() { close(l.ready) }) }

// listen connects, LISTENs, calls established, resynchronises the
// subscribers if established says so, publishes the backend PID, and then
// delivers notifications until the connection fails (the error) or ctx
// ends. A non-zero ListenerPID thus means the resynchronisation is done.
func (l *listener) listen(ctx context.Context, established func() (resync bool)) error {
	cctx, cancel := context.WithTimeout(ctx, listenConnectTimeout)
	defer cancel()
	// pgx.Connect reads the same URL, with the same run-time parameters,
	// as the pool's stdlib driver.
	conn, err := pgx.Connect(cctx, l.dsn)
	if err != nil {
		return err
	}
	defer func() {
		l.pid.Store(0)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx) //nolint:errcheck // the connection is being discarded
	}()
	if _, err := conn.Exec(cctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	if established() {
		// Changes committed while this node was not listening were never
		// delivered to it.
		l.deliver(gatehouse.Change{})
	}
	l.pid.Store(conn.PgConn().PID())
	l.markReady()

	for {
		wctx, cancel := context.WithTimeout(ctx, listenCheckEvery)
		n, err := conn.WaitForNotification(wctx)
		timedOut := errors.Is(wctx.Err(), context.DeadlineExceeded)
		cancel()
		if n != nil {
			if c, sent, ok := l.decode(n); ok {
				l.deliver(c)
				if l.lag != nil && sent != 0 {
					l.lag(time.Since(time.Unix(0, sent)))
				}
			}
		}
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !timedOut || conn.IsClosed():
			return err
		}
		// A quiet channel: make sure the server is still there. A timed
		// out wait leaves pgx's connection usable.
		pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
	}
}

// decode turns a notification into the Change to deliver; ok is false for
// this node's own changes and those of another schema (another
// installation sharing the database). A message without schema or origin
// (a node of an older version) is delivered. Security: a payload that does
// not decode (someone else's NOTIFY on the channel, a future format)
// cannot say what changed, so it means "drop everything".
// sentAt is the message's SentAt (0 when unknown).
func (l *listener) decode(n *pgconn.Notification) (c gatehouse.Change, sentAt int64, ok bool) {
	var m NotifyMessage
	if err := json.Unmarshal([]byte(n.Payload), &m); err != nil {
		return gatehouse.Change{}, 0, true
	}
	if m.Origin != "" && m.Origin == l.origin || m.Schema != "" && m.Schema != l.schema {
		return gatehouse.Change{}, 0, false
	}
	return m.Change(), m.SentAt, true
}
