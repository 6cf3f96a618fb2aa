package metrics

import (
	"database/sql"
	"runtime"
	"runtime/debug"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/verify"
)

// Build is what the binary knows of its build (runtime/debug.ReadBuildInfo).
type Build struct {
	Version   string `json:"version"`  // module version; "(devel)" for a build from a work tree
	Revision  string `json:"revision"` // VCS commit, "" when not built from a checkout
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified"` // the work tree had uncommitted changes
	GoVersion string `json:"go_version"`
}

// ReadBuild reads the binary's build information.
func ReadBuild() Build {
	info, _ := debug.ReadBuildInfo()
	return BuildOf(info)
}

// BuildOf is the Build that info (nil: none) describes. The revision and
// time are there when the binary was built from a checkout with VCS
// stamping (go build's default; -buildvcs=false turns it off).
func BuildOf(info *debug.BuildInfo) Build {
	b := Build{Version: "(unknown)", GoVersion: runtime.Version()}
	if info == nil {
		return b
	}
	if info.Main.Version != "" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// registerBuild exports gatehouse_build_info{version,revision,goversion} 1.
func (m *Metrics) registerBuild() {
	b := ReadBuild()
	rev := b.Revision
	if b.Modified {
		rev += "-modified"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "gatehouse_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": rev, "goversion": b.GoVersion},
	})
	g.Set(1)
	m.reg.MustRegister(g)
}

// collector exports what a function reads at each scrape.
type collector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// CacheStats exports the verifier's cache counters, read through stats
// at each scrape (the verifier counts with atomics; nothing is added to a
// verification): gatehouse_verify_cache_lookups_total{result=hit|
// negative_hit|miss}, gatehouse_verify_cache_evictions_total{map=positive|
// negative} and gatehouse_verify_cache_entries.
func (m *Metrics) CacheStats(stats func() verify.CacheStats) {
	if m == nil {
		return
	}
	lookups := prometheus.NewDesc("gatehouse_verify_cache_lookups_total",
		"Credential cache lookups of the verifier: hit (a cached snapshot), negative_hit (a cached unknown credential), miss (read from the store).",
		[]string{"result"}, nil)
	evictions := prometheus.NewDesc("gatehouse_verify_cache_evictions_total",
		"Entries dropped from a full cache shard to make room (not invalidations), by map: positive (credentials) or negative (unknown hashes).",
		[]string{"map"}, nil)
	entries := prometheus.NewDesc("gatehouse_verify_cache_entries",
		"Credential snapshots the verifier's cache holds.", nil, nil)
	m.reg.MustRegister(&collector{
		descs: []*prometheus.Desc{lookups, evictions, entries},
		collect: func(ch chan<- prometheus.Metric) {
			s := stats()
			ch <- prometheus.MustNewConstMetric(lookups, prometheus.CounterValue, float64(s.Hits), "hit")
			ch <- prometheus.MustNewConstMetric(lookups, prometheus.CounterValue, float64(s.NegativeHits), "negative_hit")
			ch <- prometheus.MustNewConstMetric(lookups, prometheus.CounterValue, float64(s.Misses), "miss")
			ch <- prometheus.MustNewConstMetric(evictions, prometheus.CounterValue, float64(s.Evictions), "positive")
			ch <- prometheus.MustNewConstMetric(evictions, prometheus.CounterValue, float64(s.NegativeEvictions), "negative")
			ch <- prometheus.MustNewConstMetric(entries, prometheus.GaugeValue, float64(s.Entries))
		},
	})
}

// PoolStats exports the database pools' statistics, read through stats
// (pool name → sql.DBStats; sqlstore.DB.PoolStats) at each scrape:
// gatehouse_db_connections{pool,state=in_use|idle},
// gatehouse_db_max_connections{pool}, gatehouse_db_waits_total{pool} and
// gatehouse_db_wait_seconds_total{pool} (time requests waited for a
// connection: the sign of a pool too small for its load).
func (m *Metrics) PoolStats(stats func() map[string]sql.DBStats) {
	if m == nil {
		return
	}
	conns := prometheus.NewDesc("gatehouse_db_connections", "Open database connections, by pool and state.", []string{"pool", "state"}, nil)
	maxConns := prometheus.NewDesc("gatehouse_db_max_connections", "The most connections a pool opens.", []string{"pool"}, nil)
	waits := prometheus.NewDesc("gatehouse_db_waits_total", "Times a request waited for a free connection, by pool.", []string{"pool"}, nil)
	waited := prometheus.NewDesc("gatehouse_db_wait_seconds_total", "Time spent waiting for a free connection, by pool.", []string{"pool"}, nil)
	m.reg.MustRegister(&collector{
		descs: []*prometheus.Desc{conns, maxConns, waits, waited},
		collect: func(ch chan<- prometheus.Metric) {
			all := stats()
			names := make([]string, 0, len(all))
			for n := range all {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				s := all[n]
				ch <- prometheus.MustNewConstMetric(conns, prometheus.GaugeValue, float64(s.InUse), n, "in_use")
				ch <- prometheus.MustNewConstMetric(conns, prometheus.GaugeValue, float64(s.Idle), n, "idle")
				ch <- prometheus.MustNewConstMetric(maxConns, prometheus.GaugeValue, float64(s.MaxOpenConnections), n)
				ch <- prometheus.MustNewConstMetric(waits, prometheus.CounterValue, float64(s.WaitCount), n)
				ch <- prometheus.MustNewConstMetric(waited, prometheus.CounterValue, s.WaitDuration.Seconds(), n)
			}
		},
	})
}

// ObserveInvalidationLag records how long a change committed by another
// node took to reach this node's cache (PostgreSQL's change feed): the
// notification's send time to its delivery, by the two nodes' clocks, so
// a clock behind the writer's reads as 0.
func (m *Metrics) ObserveInvalidationLag(d time.Duration) {
	if m == nil {
		return
	}
	m.lag.Observe(max(d, 0).Seconds())
}

func newLag() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gatehouse_invalidation_lag_seconds",
		Help: "Time from another node's change (its NOTIFY) to this node's cache invalidation. SPEC §7 promises a revocation is refused everywhere within 1 s.",
		// Sub-millisecond on one LAN, up to the second SPEC §7 allows.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
}
