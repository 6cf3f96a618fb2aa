package bench

import (
	"image/png"
	"os"
	"path/filepath"
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
