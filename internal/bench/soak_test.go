package bench

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSoakVerdicts: a series growing by a fifth is not flat, a steady one
// is, p99 fails only on growth; the plot is a PNG with a panel per metric.
func TestSoakVerdicts(t *testing.T) {
	r := &SoakReport{}
	for i := range 9 {
		r.Samples = append(r.Samples, Sample{
			Elapsed: time.Duration(i) * 10 * time.Second,
			RSS:     100 << 20, Goroutines: 30, OpenFiles: 20,
			DBBytes: 1_000_000 + int64(i)*25_000, // +20 % from the first to the last third
			P99:     5 - float64(i)*0.4,          // falls: fine
		})
	}
	r.verdicts()
	want := map[string]bool{"rss_bytes": true, "goroutines": true, "open_files": true, "db_bytes": false, "p99_ms": true}
	for _, v := range r.Verdicts {
		if v.Flat != want[v.Metric] {
			t.Errorf("%s: flat = %v (change %.1f %%), want %v", v.Metric, v.Flat, v.Change, want[v.Metric])
		}
	}
	if r.Flat() {
		t.Error("report with a growing database is flat")
	}
	path := filepath.Join(t.TempDir(), "soak.png")
	if err := writePlot(path, r); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dy() != 150*len(metricsOf) {
		t.Errorf("plot height %d, want a panel of 150 px per metric", b.Dy())
	}
}

// TestSoakRuns runs the whole soak briefly on SQLite: samples, no failed
// requests, the CSV and the PNG.
func TestSoakRuns(t *testing.T) {
	dir := t.TempDir()
	opts := SoakOptions{Duration: 900 * time.Millisecond, Interval: 300 * time.Millisecond, Warmup: 300 * time.Millisecond,
		Rate: 100, Concurrency: 4, CSV: filepath.Join(dir, "soak.csv"), PNG: filepath.Join(dir, "soak.png")}
	rep, err := Soak(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) < 2 || rep.FirstError != "" {
		t.Fatalf("samples %d, first error %q", len(rep.Samples), rep.FirstError)
	}
	for _, s := range rep.Samples {
		if s.RSS == 0 || s.Goroutines == 0 || s.OpenFiles == 0 || s.DBBytes == 0 || s.Requests == 0 {
			t.Errorf("sample with a zero: %+v", s)
		}
	}
	csv, err := os.ReadFile(opts.CSV)
	if err != nil || !strings.HasPrefix(string(csv), "elapsed_s,rss_bytes,goroutines,open_files,p99_ms,requests,errors,db_bytes\n") {
		t.Fatalf("csv: %v %.100q", err, csv)
	}
	if _, err := os.Stat(opts.PNG); err != nil {
		t.Fatal(err)
	}
}
