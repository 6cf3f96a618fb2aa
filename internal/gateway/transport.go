package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Transport is the gateway's upstream RoundTripper. The calls that make up
// an API's hot path — GET, HEAD, OPTIONS without a body, to a plain-HTTP
// upstream — run on the calling goroutine over a pool of keep-alive
// connections: net/http's own serialisation writes the request
// (Request.Write) and parses the answer (http.ReadResponse), but without
// http.Transport's per-connection read and write goroutines, whose
// hand-offs (channels, selects, wake-ups, a body wrapper per answer) cost
// about a third of a proxied call in a CPU profile of `gatehouse bench`.
// Everything else — bodies, upgrades, other methods, https (HTTP/2) — goes
// through a tuned http.Transport (Fallback), which also runs everything
// that fails before an answer started on a reused connection.
//
// Only replayable requests (no body, a safe method) take the fast path, so
// a connection the upstream closed while it sat idle can be retried on a
// fresh one without risk, as net/http retries them too.
type Transport struct {
	// Fallback carries what the fast path does not (see NewTransport).
	Fallback *http.Transport
	// MaxIdle is the number of idle upstream connections kept.
	MaxIdle int
	// IdleTimeout closes connections idle for longer.
	IdleTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for an answer's header.
	ResponseHeaderTimeout time.Duration
	// Dial opens upstream connections.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu   sync.Mutex
	idle map[string][]*upstreamConn // by host:port, most recently used last
}

// NewTransport returns the gateway's default upstream transport.
func NewTransport() *Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &Transport{
		Fallback: &http.Transport{
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
		MaxIdle:               256,
		IdleTimeout:           90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		Dial:                  d.DialContext,
	}
}

// fast reports whether req may take the fast path.
func fast(req *http.Request) bool {
	if req.URL.Scheme != "http" || (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 ||
		len(req.TransferEncoding) > 0 || req.Header["Upgrade"] != nil || req.Header["Expect"] != nil {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !fast(req) {
		return t.Fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for {
		c := t.get(addr)
		reused := c != nil
		if c == nil {
			nc, err := t.Dial(req.Context(), "tcp", addr)
			if err != nil {
				return nil, err
			}
			c = &upstreamConn{t: t, addr: addr, nc: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10)}
		}
		resp, started, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		c.nc.Close()
		if reused && !started && req.Context().Err() == nil {
			continue // closed by the upstream while idle: retry afresh
		}
		return nil, err
	}
}

// CloseIdleConnections closes the idle fast-path connections and the
// fallback's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
	t.Fallback.CloseIdleConnections()
}

// get takes the most recently used live idle connection to addr, closing
// any that idled too long.
func (t *Transport) get(addr string) *upstreamConn {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.idle[addr]
	if len(cs) == 0 {
		return nil
	}
	for len(cs) > 0 {
		c := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		cs = cs[:len(cs)-1]
		if now.Sub(c.idleSince) < t.IdleTimeout {
			t.idle[addr] = cs
			return c
		}
		c.nc.Close()
	}
	t.idle[addr] = cs
	return nil
}

// put returns c to the pool, or closes it when the pool is full.
func (t *Transport) put(c *upstreamConn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*upstreamConn{}
	}
	if cs := t.idle[c.addr]; len(cs) < t.MaxIdle {
		t.idle[c.addr] = append(cs, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.nc.Close()
}

// upstreamConn is one fast-path connection; it belongs to one call at a
// time.
type upstreamConn struct {
	t         *Transport
	addr      string
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// aLongTimeAgo is a deadline in the past: it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads the answer's header; started reports
// whether any byte of the answer arrived. The answer's body is read from
// the connection, which returns to the pool when the body is read to its
// end and closed.
func (c *upstreamConn) roundTrip(req *http.Request) (_ *http.Response, started bool, err error) {
	// A call whose client goes away stops waiting for the upstream.
	stop := context.AfterFunc(req.Context(), func() { c.nc.SetDeadline(aLongTimeAgo) })
	defer func() {
		if err != nil {
			stop()
		}
	}()
	c.nc.SetReadDeadline(time.Now().Add(c.t.ResponseHeaderTimeout))
	if err := req.Write(c.bw); err != nil {
		return nil, false, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, false, err
	}
	if _, err := c.br.Peek(1); err != nil {
		return nil, false, err
	}
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, true, err
		}
		if resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // 1xx before the answer (Upgrade never takes this path)
		}
		// The body may take as long as the upstream streams it.
		c.nc.SetReadDeadline(time.Time{})
		resp.Body = &upstreamBody{c: c, body: resp.Body, stop: stop, reuse: !resp.Close}
		return resp, true, nil
	}
}

// upstreamBody gives the connection back once the body was read to its
// end, and closes it if the body is closed earlier.
type upstreamBody struct {
	c     *upstreamConn
	body  io.ReadCloser
	stop  func() bool
	eof   bool
	done  bool
	reuse bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("gateway: read on a closed upstream body")
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	// stop reports false when the context already ended and the deadline
	// was (or is being) set: that connection cannot be trusted again.
	if b.stop() && b.eof && b.reuse {
		b.body.Close() // at its end: reads nothing more
		b.c.t.put(b.c)
		return nil
	}
	// Closed early (the client went away) or not reusable: closing the
	// connection ends the body; draining it could take as long as the
	// upstream likes.
	return b.c.nc.Close()
}
