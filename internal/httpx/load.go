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

// Shed serves at most max requests at once through next and answers any
// beyond with reject at once, which should say 503 with Retry-After in
// the route's dialect (issue 12: shed load rather than queue it without
// bound). max <= 0 limits nothing. onShed, when set, is called for every
// refused request (for the log or a metric; it must be cheap).
func Shed(next http.Handler, max int, reject http.Handler, onShed func(inflight int64)) http.Handler {
	if max <= 0 {
		return next
	}
	limit := int64(max)
	var inflight atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := inflight.Add(1); n > limit {
			inflight.Add(-1)
			if onShed != nil {
				onShed(n - 1)
			}
			reject.ServeHTTP(w, r)
			return
		}
		defer inflight.Add(-1)
		next.ServeHTTP(w, r)
	})
}
