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
// equal across scenarios, each worker owns one keep-alive connection of a
// minimal HTTP/1.1 client (client.go: one write of a prebuilt request, one
// buffered read of the answer), reads answers into a reused buffer, and
// records latencies in its own preallocated slice; the slices are merged
// and sorted after the run, so no lock or histogram update sits on the
// path.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
}

// worker is one client goroutine's reusable state: its own keep-alive
// connection, the answer buffer and its latencies.
type worker struct {
	id      int
	conn    conn
	buf     bytes.Buffer
	samples []int64 // nanoseconds
	errors  int64
	first   error
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

// record runs one window of sc under l: Warmup unrecorded, then Duration
// recorded.
func record(ctx context.Context, sc Scenario, l Load) (*recording, error) {
	if l.Concurrency < 1 {
		return nil, errors.New("concurrency must be at least 1")
	}
	tmpl, err := newTemplate(sc)
	if err != nil {
		return nil, err
	}
	ws := make([]*worker, l.Concurrency)
	// Room for the expected samples: appends past it are rare.
	capHint := 1 << 12
	for i := range ws {
		ws[i] = &worker{id: i, conn: conn{t: tmpl}, samples: make([]int64, 0, capHint)}
	}

	var stop, measuring atomic.Bool
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.conn.close()
			w.loop(ctx, sc, len(ws), &stop, &measuring)
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

func (w *worker) loop(ctx context.Context, sc Scenario, n int, stop, measuring *atomic.Bool) {
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
		err := w.do(sc, body)
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
func (w *worker) do(sc Scenario, body []byte) error {
	status, err := w.conn.do(body, &w.buf)
	if err != nil {
		return err
	}
	if sc.Check != nil {
		return sc.Check(status, w.buf.Bytes())
	}
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", status, w.buf.Bytes())
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
