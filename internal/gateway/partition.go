package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
)

// Defaults of Partitioned.
const (
	// DefaultPartitions bounds how many tenants keep upstream connections
	// at once; the least recently used one's are closed beyond it.
	DefaultPartitions = 1024
	// DefaultIdlePerPartition bounds a tenant's idle upstream connections,
	// so all of them together stay below DefaultPartitions × this.
	DefaultIdlePerPartition = 64
)

// Partitioned is the gateway's upstream RoundTripper: one *http.Transport
// per tenant, each a Clone of the base, created at the tenant's first call.
//
// Security: a forwarded call only ever travels on a connection that
// carried calls of its own tenant (the verified principal's; a guest
// call's resolved tenant; calls with no tenant share a partition of their
// own). The partition is the tenant of the principal ServeHTTP put in the
// call's context, which ReverseProxy's outgoing request keeps; "" (no
// principal, or one without a tenant) is shared by no tenant.
//
// http.Transport closes a connection whose answer ran past its
// framing only when its read loop next looks at it, after it went back to
// the pool; a request that takes the connection in between can be handed
// those bytes (docs/decisions.md, "Upstream desync, what remains"). With a
// pool per tenant that request is the same tenant's, so a misbehaving
// upstream can at worst swap answers within one tenant, never hand one
// tenant's answer to another (issue 11; TestGatewayUpstreamDesyncBackToBack).
// Within a tenant, RoundTrip refuses an answer that had wholly arrived
// before its call was sent (TestGatewayUpstreamDesyncWaiting).
//
// Beyond the bound, the partition used least recently (to the resolution
// of partition creations: calls between two creations tie) is dropped.
type Partitioned struct {
	base *http.Transport
	max  int
	idle int

	// parts is replaced, never changed, so a call looks its tenant up with
	// one atomic load and a map read; mu serialises the replacements.
	parts atomic.Pointer[map[string]*partition]
	mu    sync.Mutex
	// epoch advances at each new partition; a call stamps its partition
	// with it, so the least recently used partition has the lowest stamp.
	epoch atomic.Uint64
}

type partition struct {
	t    *http.Transport
	used atomic.Uint64
}

// NewPartitioned partitions base's connections by tenant: at most
// maxPartitions transports (0: DefaultPartitions), each keeping at most
// idlePerPartition idle connections (0: DefaultIdlePerPartition). base is
// only cloned, never used itself.
func NewPartitioned(base *http.Transport, maxPartitions, idlePerPartition int) *Partitioned {
	if maxPartitions <= 0 {
		maxPartitions = DefaultPartitions
	}
	if idlePerPartition <= 0 {
		idlePerPartition = DefaultIdlePerPartition
	}
	p := &Partitioned{base: base, max: maxPartitions, idle: idlePerPartition}
	p.parts.Store(&map[string]*partition{})
	return p
}

// errAnsweredEarly is the error of a call whose answer was read entirely
// from bytes that had arrived before the call was sent.
var errAnsweredEarly = errors.New("gateway: the upstream's answer had arrived before the call was sent (bytes past an earlier answer); its connection is closed")

// RoundTrip sends r on a connection of its tenant's transport.
func (p *Partitioned) RoundTrip(r *http.Request) (*http.Response, error) {
	c := callFrom(r.Context())
	key := ""
	if c != nil {
		key = c.p.TenantID
	}
	t := p.transport(key)
	for attempt := 0; ; attempt++ {
		resp, err := t.RoundTrip(r)
		if err != nil || c == nil || c.conn == nil || c.conn.received.Load() != c.mark {
			return resp, err
		}
		// Security: not one byte arrived on the connection since it was
		// handed to this call, so the answer was read from bytes the
		// upstream sent before it could have seen the request — past the
		// end of the previous answer on it (http.Transport's window, see
		// the type's comment). It is not this call's answer, and the real
		// one is still to come: the connection is closed, so nobody reads
		// it. No upstream that frames correctly can get here.
		c.conn.Close()
		resp.Body.Close()
		if attempt > 0 || !replayable(r) {
			return nil, errAnsweredEarly // 502, rather than a stranger's answer
		}
		// An idempotent call without a body is sent once more, as
		// http.Transport itself does when a reused connection fails
		// (RFC 9110 §9.2.2), on a connection that is checked again.
	}
}

// replayable reports whether r may be sent again: an idempotent method
// (RFC 9110 §9.2.2) and no body.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return r.Body == nil || r.Body == http.NoBody
	}
	return false
}

// gotConn is the call's httptrace GotConn hook: it notes a reused
// connection and how many bytes it had received at that moment.
func (c *call) gotConn(info httptrace.GotConnInfo) {
	c.conn = nil
	if !info.Reused {
		return
	}
	conn := info.Conn
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if w, ok := conn.(*watchConn); ok {
		c.conn, c.mark = w, w.received.Load()
	}
}

// watchConn counts the bytes an upstream connection received.
type watchConn struct {
	net.Conn
	received atomic.Uint64
}

func (w *watchConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.received.Add(uint64(n))
	}
	return n, err
}

// ReadFrom keeps the connection's own ReadFrom (sendfile, splice) for
// request bodies.
func (w *watchConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(w.Conn, r) }

// transport returns key's transport, creating it at the first call.
func (p *Partitioned) transport(key string) *http.Transport {
	if part := (*p.parts.Load())[key]; part != nil {
		if e := p.epoch.Load(); part.used.Load() != e {
			part.used.Store(e) // rarely: only after another partition was created
		}
		return part.t
	}
	return p.create(key)
}

func (p *Partitioned) create(key string) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.parts.Load()
	if part := old[key]; part != nil { // created while this call waited
		return part.t
	}
	t := p.base.Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = p.idle, p.idle
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &watchConn{Conn: conn}, nil
	}
	next := make(map[string]*partition, min(len(old)+1, p.max))
	var lru *partition
	lruKey := ""
	for k, part := range old {
		next[k] = part
		if lru == nil || part.used.Load() < lru.used.Load() {
			lru, lruKey = part, k
		}
	}
	if len(old) >= p.max && lru != nil {
		// The evicted transport's idle connections are closed now; one
		// still in use goes idle, when its call ends, in a transport no
		// call reaches, and is closed after IdleConnTimeout. Either way no
		// other tenant ever uses it.
		delete(next, lruKey)
		defer lru.t.CloseIdleConnections()
	}
	part := &partition{t: t}
	part.used.Store(p.epoch.Add(1))
	next[key] = part
	p.parts.Store(&next)
	return t
}

// CloseIdleConnections closes the idle connections of every partition.
func (p *Partitioned) CloseIdleConnections() {
	for _, part := range *p.parts.Load() {
		part.t.CloseIdleConnections()
	}
}

// partitions reports how many partitions exist (tests).
func (p *Partitioned) partitions() int { return len(*p.parts.Load()) }
