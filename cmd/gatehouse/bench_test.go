package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestBench runs `gatehouse bench` with tiny durations and checks the
// --json document: every scenario present with a positive rate, and the
// four ratios.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Gatehouse and loads it")
	}
	out, err := run(t, "", "bench", "--duration", "200ms", "--concurrency", "4", "--tokens", "2000", "--json")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var doc struct {
		Results  []map[string]any   `json:"results"`
		Ratios   map[string]float64 `json:"ratios"`
		AddedP50 *float64           `json:"gateway_added_p50_ms"`
		Latency  []map[string]any   `json:"latency"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	var names []string
	for _, r := range doc.Results {
		for _, k := range []string{"name", "rps", "p50_ms", "p99_ms", "p999_ms"} {
			if _, ok := r[k]; !ok {
				t.Errorf("result %v has no %q", r, k)
			}
		}
		name, _ := r["name"].(string)
		names = append(names, name)
		if rps, _ := r["rps"].(float64); rps <= 0 {
			t.Errorf("%s: rps = %v, want > 0", name, r["rps"])
		}
		if p50, _ := r["p50_ms"].(float64); p50 <= 0 {
			t.Errorf("%s: p50_ms = %v, want > 0", name, r["p50_ms"])
		}
		if e, _ := r["errors"].(float64); e != 0 {
			t.Errorf("%s: %v errors, first: %v", name, e, r["first_error"])
		}
	}
	if want := []string{"ceiling", "verify", "verify_100k", "gateway", "direct", "issuance"}; !slices.Equal(names, want) {
		t.Errorf("scenarios = %v, want %v", names, want)
	}
	for _, k := range []string{"verify_vs_ceiling", "verify_100k_vs_ceiling", "gateway_vs_direct", "issuance_vs_ceiling"} {
		if doc.Ratios[k] <= 0 {
			t.Errorf("ratios.%s = %v, want > 0", k, doc.Ratios[k])
		}
	}
	if len(doc.Ratios) != 4 {
		t.Errorf("ratios = %v, want exactly the four of issue 6", doc.Ratios)
	}
	if doc.AddedP50 == nil || len(doc.Latency) != 2 || doc.Latency[0]["name"] != "gateway" || doc.Latency[1]["name"] != "direct" {
		t.Errorf("latency probe: added p50 %v, results %v", doc.AddedP50, doc.Latency)
	}

	// --floor adds the two forwarders without checks, and their ratios.
	out, err = run(t, "", "bench", "--duration", "100ms", "--concurrency", "2", "--tokens", "10", "--floor")
	if err != nil {
		t.Fatalf("bench --floor: %v\n%s", err, out)
	}
	for _, want := range []string{"\nproxy_floor ", "\nbare_proxy ", "\nproxy_floor_vs_direct ", "\nbare_proxy_vs_direct "} {
		if !strings.Contains(out, want) {
			t.Errorf("bench --floor prints no %q line:\n%s", want[1:], out)
		}
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--concurrency", "0"},
		{"bench", "--duration", "1h"},
		{"bench", "--target", "not a url"},
		{"bench", "--target", "http://127.0.0.1:1", "--client-id", "APIK-X"},
	} {
		if _, err := run(t, "", args...); err == nil {
			t.Errorf("gatehouse %v: no error", args)
		}
	}
}
