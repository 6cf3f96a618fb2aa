package httpx

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// RetryUnavailable is the Retry-After of a 503: the database was busy or
// down, or the node shed the request; a second is long enough for a burst
// to drain and short enough for a client to retry soon.
const RetryUnavailable = time.Second

// Deadline gives every request reaching next a context that ends d after
// it arrived (issue 12: no request waits forever). A store call whose
// context ends while it waits for a database connection or an answer is
// EUNAVAILABLE, which every response dialect answers 503 with Retry-After.
// d <= 0 sets none.
//
// Security: without it, requests queue for the database pool for as long
// as their clients wait, and a burst of them holds every goroutine and
// connection that the answers to others would need.
func Deadline(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Shedder admits at most a fixed number of requests at once through the
// handlers it wraps, all of them counted together, and answers any beyond
// at once (issue 12: shed load rather than queue it without bound).
type Shedder struct {
	max      int64
	inflight atomic.Int64
	reject   http.Handler
	onShed   func(inflight int64)
}

// NewShedder returns a Shedder for max requests in flight (max <= 0
// limits nothing). reject answers a refused request and should say 503
// with Retry-After in the route's dialect; onShed, when set, is called for
// every refusal (for the log or a metric; it must be cheap).
func NewShedder(max int, reject http.Handler, onShed func(inflight int64)) *Shedder {
	return &Shedder{max: int64(max), reject: reject, onShed: onShed}
}

// Handler counts the requests reaching next against the limit.
func (s *Shedder) Handler(next http.Handler) http.Handler {
	if s.max <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := s.inflight.Add(1); n > s.max {
			s.inflight.Add(-1)
			if s.onShed != nil {
				s.onShed(n - 1)
			}
			s.reject.ServeHTTP(w, r)
			return
		}
		defer s.inflight.Add(-1)
		next.ServeHTTP(w, r)
	})
}
