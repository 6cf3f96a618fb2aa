// Package bench is the load generator behind `gatehouse bench` (issue 6):
// it measures, in one process and one run, what the machine can do with a
// plain net/http handler (the ceiling) and what Gatehouse does on its hot
// paths — POST /api/v1/verify with a cached token and with 100 000 tokens
// in the store, the gateway against the same upstream called directly, and
// client_credentials issuance — and reports requests/s, latency
// percentiles and the ratios the issue asks for.
//
// The client goroutines and the server under test share the process and
// its cores on purpose: that is the issue's definition of the ratios ("on
// this 2-core machine, in one run"), and it is what an operator running
// the command on a node measures. To keep the client's share small and
// equal across scenarios, each worker builds its request once and reuses
// it (and its body bytes), reads answers into a reused buffer, and records
// latencies in its own preallocated slice; the slices are merged and
// sorted after the run, so no lock or histogram update sits on the path.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario is one measured request shape.
type Scenario struct {
	// Name is the stable identifier in the table and the JSON.
	Name string
	// Title describes it for the table.
	Title string
	// Method and URL of every request.
	Method, URL string
	// Header is sent with every request (not modified).
	Header http.Header
	// Bodies are the request bodies; worker w sends Bodies[(w + k·N) mod
	// len] on its k-th request, so with many bodies every one is used and
	// concurrent workers ask about different ones. None = no body.
	Bodies [][]byte
	// Check, when set, inspects each answer; an error counts the request
	// as failed (and it is not in the latency figures). Without Check any
	// status but 200 fails.
	Check func(status int, body []byte) error
}

// Result is one scenario's measurement.
type Result struct {
	Name     string  `json:"name"`
	Title    string  `json:"title,omitempty"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	P999     float64 `json:"p999_ms"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// FirstError is the first failure seen, for the operator.
	FirstError string `json:"first_error,omitempty"`
}

// Load is how hard and how long to push.
type Load struct {
	Concurrency int
	// Warmup runs before the measurement and is not recorded (connections
	// opened, caches and the scheduler settled).
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Client sends the requests; NewClient builds a suitable one.
	Client *http.Client
}

// NewClient returns a client tuned for load generation over loopback:
// keep-alive with an idle pool at least as large as the concurrency (so no
// connection is ever closed for lack of room and re-dialled), no
// compression, no proxy, HTTP/1.1.
func NewClient(concurrency int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     4 << 10,
		ReadBufferSize:      4 << 10,
	}}
}

// worker is one client goroutine's reusable state.
type worker struct {
	id      int
	req     *http.Request
	body    bytes.Reader
	cur     []byte // the body being sent, for GetBody
	buf     bytes.Buffer
	samples []int64 // nanoseconds
	errors  int64
	first   error
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Measure measures one scenario: Warmup unrecorded, then Duration recorded.
func Measure(ctx context.Context, sc Scenario, l Load) (Result, error) {
	rec, err := record(ctx, sc, l)
	if err != nil {
		return Result{}, err
	}
	return rec.result(sc), nil
}

// recording is the raw outcome of measured windows of one scenario;
// several windows (rounds) add up.
type recording struct {
	samples []int64 // nanoseconds
	errors  int64
	first   error
	elapsed time.Duration
}

// add appends another window's outcome.
func (r *recording) add(o *recording) {
	r.samples = append(r.samples, o.samples...)
	r.errors += o.errors
	if r.first == nil {
		r.first = o.first
	}
	r.elapsed += o.elapsed
}

// result summarises the recording: throughput over the measured time and
// nearest-rank latency percentiles of the successful requests.
func (r *recording) result(sc Scenario) Result {
	slices.Sort(r.samples)
	res := Result{Name: sc.Name, Title: sc.Title, Requests: int64(len(r.samples)), Errors: r.errors}
	if r.first != nil {
		res.FirstError = r.first.Error()
	}
	if r.elapsed > 0 {
		res.RPS = float64(len(r.samples)) / r.elapsed.Seconds()
	}
	res.P50 = quantile(r.samples, 0.50)
	res.P99 = quantile(r.samples, 0.99)
	res.P999 = quantile(r.samples, 0.999)
	return res
}

// record runs one window of sc under l.
func record(ctx context.Context, sc Scenario, l Load) (*recording, error) {
	if l.Concurrency < 1 {
		return nil, errors.New("concurrency must be at least 1")
	}
	ws := make([]*worker, l.Concurrency)
	// Room for the expected samples: appends past it are rare.
	capHint := 1 << 12
	for i := range ws {
		req, err := http.NewRequestWithContext(ctx, sc.Method, sc.URL, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range sc.Header {
			req.Header[k] = v
		}
		ws[i] = &worker{id: i, req: req, samples: make([]int64, 0, capHint)}
	}

	var stop, measuring atomic.Bool
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, sc, l.Client, len(ws), &stop, &measuring)
		}()
	}
	sleep(ctx, l.Warmup)
	// Workers drop what they recorded during the warm-up when this flips.
	start := time.Now()
	measuring.Store(true)
	sleep(ctx, l.Duration)
	stop.Store(true)
	elapsed := time.Since(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec := &recording{elapsed: elapsed}
	n := 0
	for _, w := range ws {
		n += len(w.samples)
	}
	rec.samples = make([]int64, 0, n)
	for _, w := range ws {
		rec.samples = append(rec.samples, w.samples...)
		rec.errors += w.errors
		if rec.first == nil {
			rec.first = w.first
		}
	}
	return rec, nil
}

// Sweep sends every body of sc exactly once, spread over the workers
// (cache warming); it returns the number of failed requests and the first
// failure.
func Sweep(ctx context.Context, sc Scenario, concurrency int, client *http.Client) (int64, error) {
	var next atomic.Int64
	var failed atomic.Int64
	var firstMu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for i := 0; i < concurrency; i++ {
		req, err := http.NewRequestWithContext(ctx, sc.Method, sc.URL, nil)
		if err != nil {
			return 0, err
		}
		for k, v := range sc.Header {
			req.Header[k] = v
		}
		w := &worker{id: i, req: req}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(sc.Bodies) {
					return
				}
				if err := w.do(sc, client, sc.Bodies[k]); err != nil {
					failed.Add(1)
					firstMu.Lock()
					if first == nil {
						first = err
					}
					firstMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return failed.Load(), err
	}
	return failed.Load(), first
}

func (w *worker) loop(ctx context.Context, sc Scenario, client *http.Client, n int, stop, measuring *atomic.Bool) {
	var body []byte
	k := 0
	recording := false
	for !stop.Load() && ctx.Err() == nil {
		if len(sc.Bodies) > 0 {
			body = sc.Bodies[(w.id+k*n)%len(sc.Bodies)]
			k++
		}
		if !recording && measuring.Load() {
			recording = true
			w.samples = w.samples[:0]
			w.errors, w.first = 0, nil
		}
		t0 := time.Now()
		err := w.do(sc, client, body)
		d := time.Since(t0)
		if !recording {
			continue
		}
		if stop.Load() {
			// Finished after the window closed: not part of it.
			return
		}
		if err != nil {
			w.errors++
			if w.first == nil {
				w.first = err
			}
			continue
		}
		w.samples = append(w.samples, int64(d))
	}
}

// do sends one request and reads the whole answer.
func (w *worker) do(sc Scenario, client *http.Client, body []byte) error {
	if sc.Bodies != nil {
		w.cur = body
		w.body.Reset(body)
		w.req.Body = nopCloser{&w.body}
		w.req.ContentLength = int64(len(body))
		if w.req.GetBody == nil {
			// Lets the transport resend on a keep-alive connection the
			// server closed; allocates only when used.
			w.req.GetBody = func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(w.cur)), nil
			}
		}
	}
	resp, err := client.Do(w.req)
	if err != nil {
		return err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if sc.Check != nil {
		return sc.Check(resp.StatusCode, w.buf.Bytes())
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, w.buf.Bytes())
	}
	return nil
}

// quantile is the nearest-rank q-quantile of sorted nanoseconds, in ms.
func quantile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / 1e6
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
