package verify

import (
	"cmp"
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Defaults of the invalidation stream (HandlerOptions).
const (
	// DefaultHeartbeat is how often an idle stream sends a comment, so
	// that proxies keep it open and clients notice a dead connection.
	DefaultHeartbeat = 15 * time.Second
	// DefaultEventBuffer is how many events wait for a slow client
	// before the stream gives up on them and sends resync instead.
	DefaultEventBuffer = 256
)

// EventsHandler serves GET /api/v1/verify/events, the invalidation stream
// a resource server's own verification cache (the Go middleware) follows so
// that a revocation reaches it at once. It is a server-sent events stream
// (Content-Type: text/event-stream, Cache-Control: no-store), flushed per
// event:
//
//	event: ready        data: {}                 once, on connect
//	event: invalidate   data: {"hash":"<hex>"}   drop the entry of the credential whose
//	                                             token has this SHA-256 (lower-case hex)
//	event: resync       data: {}                 drop everything
//	: ping                                       every Heartbeat (15 s) when idle
//
// Events follow the store's change feed (gatehouse.Store.Subscribe): a
// change naming a credential's hash is an invalidate; a change of anything
// else of a tenant (settings, disablement, membership) or a change whose
// extent is unknown (a node that lost its feed) is a resync.
//
// Callers authenticate as for POST /api/v1/verify (Handler): the
// operator's service token sees every tenant's events; a Bearer token
// holding the verify resource sees only its own tenant's, and its stream
// ends when that token stops verifying (revoked, its tenant disabled), so
// that the client reconnects and is refused. A change of another tenant is
// not sent at all; one whose tenant is not known is a resync for
// tenant-scoped callers.
//
// Security: the store's publish path never waits for a client. Each stream
// has a bounded buffer (EventBuffer); when it overflows, the queued events
// are dropped and the client gets resync instead, which is always safe.
//
// The stream ends when the client goes away or the server shuts down
// (http.Server.Shutdown: the handler registers itself with the server that
// serves it).
func EventsHandler(v *Verifier, store Store, opts HandlerOptions) http.Handler {
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	opts.Heartbeat = positive(opts.Heartbeat, DefaultHeartbeat)
	opts.EventBuffer = positive(opts.EventBuffer, DefaultEventBuffer)
	h := &eventsHandler{
		auth:    &handler{v: v, opts: opts},
		store:   store,
		opts:    opts,
		streams: map[*stream]context.CancelFunc{},
		servers: map[*http.Server]bool{},
	}
	h.json = httpx.JSON(opts.Logger, h.serve)
	return h
}

type eventsHandler struct {
	auth  *handler
	store Store
	opts  HandlerOptions
	json  http.Handler

	mu       sync.Mutex
	streams  map[*stream]context.CancelFunc
	servers  map[*http.Server]bool // shutdown hooks registered
	shutdown bool

	// hookEvent, when set (tests), runs before each queued event is
	// handled: a test blocks it to fill the buffer.
	hookEvent func()
}

func (h *eventsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.json.ServeHTTP(w, r) }

// Event kinds; the stream writes them as fixed byte strings.
const (
	evInvalidate = iota + 1
	evResync
)

type event struct {
	kind int
	hash [32]byte
}

// stream is one connected client.
type stream struct {
	tenant   string // "" = every tenant (the service token)
	ch       chan event
	overflow atomic.Bool   // events were dropped: send resync
	wake     chan struct{} // cap 1: tells the writer about an overflow
}

// deliver is the store subscription: it filters by tenant and queues
// without ever blocking the store's publish path.
func (s *stream) deliver(c gatehouse.Change) {
	ev := event{kind: evResync}
	switch {
	case c.TenantID == "" && len(c.Hash) == 0:
		// Anything may have changed, everywhere: everyone resyncs.
	case s.tenant != "" && c.TenantID != s.tenant:
		if c.TenantID != "" {
			return // Security: another tenant's events are not sent.
		}
		// A credential of an unknown tenant: this caller may not see its
		// hash, but its own cache may hold it.
	case len(c.Hash) == len(ev.hash):
		ev.kind, ev.hash = evInvalidate, [32]byte(c.Hash)
	}
	select {
	case s.ch <- ev:
	default:
		s.overflow.Store(true)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

var (
	sseReady  = []byte("event: ready\ndata: {}\n\n")
	sseResync = []byte("event: resync\ndata: {}\n\n")
	ssePing   = []byte(": ping\n\n")
)

func (h *eventsHandler) serve(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return &httpx.StatusError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "use GET"}
	}
	tenantID, caller, err := h.auth.authenticate(w, r)
	if err != nil {
		return err
	}
	// A tenant-scoped caller is re-verified when its own credential or
	// tenant changes, and the stream ends when it no longer verifies.
	var recheck *Request
	var own [32]byte
	if tenantID != "" {
		recheck = &caller
		own = secret.Hash(caller.Credential)
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s := &stream{tenant: tenantID, ch: make(chan event, h.opts.EventBuffer), wake: make(chan struct{}, 1)}
	if !h.register(r, s, cancel) {
		w.Header().Set("Retry-After", "1")
		return &httpx.StatusError{Status: http.StatusServiceUnavailable, Code: gatehouse.EUNAVAILABLE,
			Message: "the server is shutting down; reconnect"}
	}
	defer h.unregister(s)
	unsubscribe := h.store.Subscribe(s.deliver)
	defer unsubscribe()

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// From here on errors end the stream: the status is sent.
	send := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(sseReady) {
		return nil
	}
	tick := time.NewTicker(h.opts.Heartbeat)
	defer tick.Stop()
	buf := make([]byte, 0, 128)
	for {
		if s.overflow.Swap(false) {
			// Whatever is queued is covered by the resync: drop it. An
			// event queued after the drain is sent after the resync.
			drain(s.ch)
			if !send(sseResync) || !h.stillValid(ctx, recheck) {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-tick.C:
			if !send(ssePing) {
				return nil
			}
		case ev := <-s.ch:
			if h.hookEvent != nil {
				h.hookEvent()
			}
			switch ev.kind {
			case evInvalidate:
				buf = append(buf[:0], "event: invalidate\ndata: {\"hash\":\""...)
				buf = hex.AppendEncode(buf, ev.hash[:])
				buf = append(buf, "\"}\n\n"...)
				if !send(buf) {
					return nil
				}
				if recheck != nil && ev.hash == own && !h.stillValid(ctx, recheck) {
					return nil
				}
			default:
				if !send(sseResync) || !h.stillValid(ctx, recheck) {
					return nil
				}
			}
		}
	}
}

// stillValid re-verifies a tenant-scoped caller's own token; nil (the
// service token) is always valid. A store failure ends the stream too: the
// client reconnects and is answered once the store is back (fail closed).
func (h *eventsHandler) stillValid(ctx context.Context, req *Request) bool {
	if req == nil {
		return true
	}
	res, err := h.auth.v.Verify(ctx, *req)
	return err == nil && res.Valid()
}

func drain(ch chan event) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// register records a stream so that server shutdown can end it, and hooks
// the serving http.Server's Shutdown once. It reports false when the
// server is already shutting down.
func (h *eventsHandler) register(r *http.Request, s *stream, cancel context.CancelFunc) bool {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return false
	}
	if srv != nil && !h.servers[srv] {
		h.servers[srv] = true
		// Shutdown waits for active connections to go idle, which a
		// stream never does: end the streams when it starts.
		srv.RegisterOnShutdown(h.closeAll)
	}
	h.streams[s] = cancel
	return true
}

func (h *eventsHandler) unregister(s *stream) {
	h.mu.Lock()
	delete(h.streams, s)
	h.mu.Unlock()
}

// closeAll ends every stream and refuses new ones.
func (h *eventsHandler) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shutdown = true
	for _, cancel := range h.streams {
		cancel()
	}
}
