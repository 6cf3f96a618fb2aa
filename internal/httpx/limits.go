package httpx

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Limits bounds what one request may cost a listener (issue 11, slow
// clients and header floods). Zero fields turn their bound off.
type Limits struct {
	// MaxHeaders is the most header fields a request may carry (every
	// value counts); more is 431. net/http bounds their bytes
	// (http.Server.MaxHeaderBytes) but not their number.
	MaxHeaders int
	// BodyTimeout is how long a request body may take to arrive, counted
	// from the end of its header. Handlers that stream bodies replace it
	// with a progress bound (ProgressBody).
	BodyTimeout time.Duration
	// WriteTimeout bounds each write of an answer: a client that stops
	// reading is cut off after it, while an answer streamed for as long as
	// the client keeps reading is not.
	WriteTimeout time.Duration
}

// Limit applies l to every request reaching next.
//
// Security: http.Server's ReadTimeout and WriteTimeout are absolute per
// request, so they would cut off a large upload or a long download that
// is making progress (and ReadTimeout cancels the context of any handler
// still running when it passes); without any bound, a client trickling a
// body a byte at a time holds a connection and a goroutine forever. Limit
// sets the connection's deadlines per request instead (as
// http.ResponseController does).
func Limit(next http.Handler, l Limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.MaxHeaders > 0 && headerCount(r.Header) > l.MaxHeaders {
			SetSecurityHeaders(w.Header())
			w.Header().Set("Connection", "close")
			WriteJSON(w, http.StatusRequestHeaderFieldsTooLarge, ErrorBody{Error: ErrorDetail{
				Code: "header_fields_too_large", Message: "the request carries too many header fields"}})
			return
		}
		if l.BodyTimeout > 0 && hasBody(r) {
			r.Body = ProgressBody(w, r.Body, l.BodyTimeout, 0)
		}
		if l.WriteTimeout > 0 {
			if d := writeDeadliner(w); d != nil {
				// Set at the start, for this answer's final flush (after
				// the handler returns), and renewed as the answer streams;
				// never cleared, since the next request on the connection
				// sets its own.
				now := time.Now()
				d.SetWriteDeadline(now.Add(l.WriteTimeout))
				w = &progressWriter{ResponseWriter: w, dl: d, d: l.WriteTimeout, last: now}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func headerCount(h http.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength != 0 || len(r.TransferEncoding) > 0)
}

// ErrBodyTimeout is what a body read answers once its deadline passed.
var ErrBodyTimeout = errors.New("the request body arrived too slowly")

// ProgressBody bounds how long body may take to arrive: window from now,
// extended by window each time another min bytes arrived (min 0: never
// extended, the whole body within window). So a client streaming a large
// body at min bytes per window or faster is never cut off, and one
// trickling it is, after at most window. At the body's end the read
// deadline is cleared, so the rest of the call (waiting for an upstream,
// say) is not bounded by it.
func ProgressBody(w http.ResponseWriter, body io.ReadCloser, window time.Duration, min int64) io.ReadCloser {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(window)) != nil {
		return body // not a server connection (a recorder in tests)
	}
	return &progressBody{ReadCloser: body, rc: rc, h: w.Header(), window: window, min: min}
}

type progressBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	h        http.Header
	window   time.Duration
	min, got int64
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrBodyTimeout): // ours, or an inner ProgressBody's
		// The rest of the body is still coming: end the connection after
		// the answer, or net/http would read it as the next request.
		b.h.Set("Connection", "close")
		err = ErrBodyTimeout
	case b.min > 0:
		if b.got += int64(n); b.got >= b.min {
			b.got = 0
			b.rc.SetReadDeadline(time.Now().Add(b.window))
		}
	}
	return n, err
}

// deadliner is what http.ResponseController.SetWriteDeadline reaches.
type deadliner interface{ SetWriteDeadline(time.Time) error }

// writeDeadliner finds w's write deadline as http.ResponseController does,
// through Unwrap, without allocating one per request.
func writeDeadliner(w http.ResponseWriter) deadliner {
	for {
		if d, ok := w.(deadliner); ok {
			return d
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// progressWriter renews the write deadline as an answer is written: a
// write may block for at most d (at least 7/8 of it), however long the
// whole answer takes. Renewing only once d/8 has passed keeps a short
// answer at the one deadline Limit set.
type progressWriter struct {
	http.ResponseWriter
	dl   deadliner
	d    time.Duration
	last time.Time
}

func (w *progressWriter) renew() {
	if now := time.Now(); now.Sub(w.last) > w.d/8 {
		w.dl.SetWriteDeadline(now.Add(w.d))
		w.last = now
	}
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.renew()
	return w.ResponseWriter.Write(p)
}

// WriteHeader renews too: an answer without a body (a 204 after a long
// call) is written only when the handler returns.
func (w *progressWriter) WriteHeader(code int) {
	w.renew()
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap is for http.ResponseController (Flush, Hijack, deadlines) and the
// metrics' route label.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
