package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// TestDeadline: the handler's context ends after the configured time.
func TestDeadline(t *testing.T) {
	var got error
	h := httpx.Deadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		got = r.Context().Err()
	}), 50*time.Millisecond)
	start := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !errors.Is(got, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("context ended with %v after %v; want a deadline after 50ms", got, time.Since(start))
	}
}

// TestShed: past max requests in flight, counted over every handler the
// Shedder wraps, the rejecter answers at once; slots come back when
// requests end.
func TestShed(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 3)
	var shed int64 = -1
	sh := httpx.NewShedder(2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}), func(n int64) { shed = n })
	slow := sh.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	h := sh.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { slow.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) })
	}
	<-entered
	<-entered
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || shed != 2 {
		t.Fatalf("third request: %d, onShed(%d); want 503 with 2 in flight", rec.Code, shed)
	}
	close(release)
	wg.Wait()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after the others ended: %d; want 200", rec.Code)
	}
}

// TestUnavailableRetryAfter: every 503 of the JSON dialect says when to
// retry, whether it is a store's EUNAVAILABLE (a pool-acquire timeout) or
// a StatusError; a RetryAfter the error carries wins.
func TestUnavailableRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("create credential: %w: %w", gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unavailable"), context.DeadlineExceeded), "1"},
		{&httpx.StatusError{Status: http.StatusServiceUnavailable, Code: gatehouse.EUNAVAILABLE, Message: "x"}, "1"},
		{&gatehouse.Error{Code: gatehouse.EUNAVAILABLE, Message: "x", RetryAfter: 5 * time.Second}, "5"},
		{gatehouse.Errorf(gatehouse.ENOTFOUND, "x"), ""},
	} {
		rec := httptest.NewRecorder()
		httpx.WriteJSONError(rec, httptest.NewRequest("GET", "/", nil), nil, tc.err)
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%v: Retry-After %q; want %q", tc.err, got, tc.want)
		}
	}
}
