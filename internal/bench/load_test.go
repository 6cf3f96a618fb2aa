package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(n int64) int64 { return n * 1e6 }
	s := make([]int64, 1000)
	for i := range s {
		s[i] = ms(int64(i + 1))
	}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0, 1}} {
		if got := quantile(s, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

// TestRecord loads a local handler: bodies are sent in turn, the warm-up
// is not counted, failures are counted apart from latencies.
func TestRecord(t *testing.T) {
	var served atomic.Int64
	seen := make([]atomic.Int64, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		b := make([]byte, 8)
		n, _ := r.Body.Read(b)
		if n == 1 && b[0] >= '0' && b[0] <= '2' {
			seen[b[0]-'0'].Add(1)
		}
		if b[0] == '2' {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	sc := Scenario{Name: "x", Method: "POST", URL: srv.URL, Bodies: [][]byte{[]byte("0"), []byte("1"), []byte("2")}}
	rec, err := record(context.Background(), sc, Load{Concurrency: 4, Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res := rec.result(sc)
	if res.RPS <= 0 || res.Requests == 0 || res.Errors == 0 || res.FirstError == "" || res.P50 <= 0 || res.P999 < res.P50 {
		t.Fatalf("result = %+v", res)
	}
	if res.Requests+res.Errors >= served.Load() {
		t.Fatalf("%d recorded of %d served: the warm-up was counted", res.Requests+res.Errors, served.Load())
	}
	for i := range seen {
		if seen[i].Load() == 0 {
			t.Fatalf("body %d never sent", i)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := record(ctx, sc, Load{Concurrency: 1, Duration: time.Second}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled record = %v", err)
	}
}
