package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.Addr = "nope"
	c.PublicURL = "ftp://x"
	c.TrustedProxies = "10.0.0.0/8, garbage"
	c.LogLevel = "loud"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{"addr", "public URL", "trusted proxies", "log level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestEnvAndDefaults(t *testing.T) {
	c := Default()
	env := map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:9999", "GATEHOUSE_CACHE_TTL": "2s"}
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "http://127.0.0.1:9999" || c.DatabaseURL != "sqlite:gatehouse-data/gatehouse.db" || c.CacheTTL.String() != "2s" {
		t.Fatalf("derived config wrong: %+v", c)
	}
	bad := Default()
	if err := bad.FromEnv(func(k string) string { return map[string]string{"GATEHOUSE_CACHE_TTL": "soon"}[k] }); err == nil {
		t.Fatal("bad duration accepted")
	}
}

func TestParseResources(t *testing.T) {
	tree, err := ParseResources([]byte("resources:\n  - id: faxes\n    children:\n      - id: faxes.send\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !tree.Grants([]string{"faxes"}, "faxes.send") || tree.Grants([]string{"faxes.send"}, "faxes") {
		t.Fatal("subtree semantics broken")
	}
	if r, _ := tree.Find("faxes"); r.Title != "faxes" || len(r.Titles) != 0 {
		t.Errorf("a tree without titles: %+v", r)
	}
	tree, err = ParseResources([]byte("resources:\n  - id: faxes\n    title: Faxes\n    titles: {ru: Факсы, zh-Hans: 传真, zh-Hant: 傳真}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := tree.Find("faxes"); r.TitleIn("ru") != "Факсы" || r.TitleIn("zh-Hant") != "傳真" || r.TitleIn("de") != "Faxes" {
		t.Errorf("titles: %+v", r)
	}
	for _, bad := range []string{"resources:\n  - id: a\n    titles: {ru_RU: x}\n", "resources:\n  - id: a\n    titles: [x]\n", "resources:\n  - id: all\n", "resources:\n  - id: a\n  - id: a\n", "resources: []\n", "nope: 1\n"} {
		if _, err := ParseResources([]byte(bad)); err == nil {
			t.Errorf("ParseResources(%q) accepted", bad)
		}
	}
}

func TestConsoleIdleTimeout(t *testing.T) {
	c := Default()
	if c.ConsoleIdleTimeout != 30*time.Minute {
		t.Fatalf("default console idle timeout %v, want 30m", c.ConsoleIdleTimeout)
	}
	if err := c.FromEnv(func(k string) string { return map[string]string{"GATEHOUSE_CONSOLE_IDLE_TIMEOUT": "10m"}[k] }); err != nil || c.ConsoleIdleTimeout != 10*time.Minute {
		t.Fatalf("GATEHOUSE_CONSOLE_IDLE_TIMEOUT=10m: %v, %v", c.ConsoleIdleTimeout, err)
	}
	for _, v := range []string{"soon", "0s", "-5m"} {
		c := Default()
		if err := c.FromEnv(func(k string) string { return map[string]string{"GATEHOUSE_CONSOLE_IDLE_TIMEOUT": v}[k] }); err == nil {
			t.Errorf("GATEHOUSE_CONSOLE_IDLE_TIMEOUT=%q accepted", v)
		}
	}
}

func TestListenerEnv(t *testing.T) {
	c := Default()
	env := map[string]string{
		"GATEHOUSE_BODY_TIMEOUT": "5s", "GATEHOUSE_GATEWAY_BODY_TIMEOUT": "1m", "GATEHOUSE_MAX_HEADERS": "50",
		"GATEHOUSE_METRICS_ADDR": "127.0.0.1:9100", "GATEHOUSE_METRICS_TOKEN": strings.Repeat("t", 32),
	}
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.BodyTimeout.String() != "5s" || c.GatewayBodyTimeout.String() != "1m0s" || c.MaxHeaders != 50 ||
		c.MetricsAddr != "127.0.0.1:9100" || c.IdleTimeout.String() != "2m0s" || c.MaxHeaderBytes != 64<<10 {
		t.Fatalf("listener config: %+v", c.Listener)
	}
	bad := Default()
	env = map[string]string{"GATEHOUSE_IDLE_TIMEOUT": "0s", "GATEHOUSE_MAX_HEADER_BYTES": "10", "GATEHOUSE_METRICS_TOKEN": "short", "GATEHOUSE_METRICS_ADDR": bad.Addr}
	if err := bad.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	err := bad.Validate()
	for _, want := range []string{"idle timeout", "max header bytes", "metrics token", "metrics addr"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %s", err, want)
		}
	}
	nan := Default()
	if err := nan.FromEnv(func(k string) string { return map[string]string{"GATEHOUSE_MAX_HEADERS": "many"}[k] }); err == nil {
		t.Error("a bad number was accepted")
	}
}

func TestLoad(t *testing.T) {
	c := Default()
	if c.DBMaxConns != 0 || c.RequestTimeout != 15*time.Second || c.MaxInflight != 1024 {
		t.Fatalf("defaults: %+v", c.Load)
	}
	env := map[string]string{"GATEHOUSE_DB_MAX_CONNS": "4", "GATEHOUSE_REQUEST_TIMEOUT": "1s", "GATEHOUSE_MAX_INFLIGHT": "0"}
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.DBMaxConns != 4 || c.RequestTimeout != time.Second || c.MaxInflight != 0 {
		t.Fatalf("from env: %+v", c.Load)
	}
	for _, bad := range []map[string]string{
		{"GATEHOUSE_DB_MAX_CONNS": "1"}, {"GATEHOUSE_DB_MAX_CONNS": "many"},
		{"GATEHOUSE_REQUEST_TIMEOUT": "0s"}, {"GATEHOUSE_MAX_INFLIGHT": "-1"},
	} {
		c := Default()
		err := c.FromEnv(func(k string) string { return bad[k] })
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestAuditRetention(t *testing.T) {
	c := Default()
	if c.AuditRetention != 0 {
		t.Fatalf("default audit retention %v, want 0 (kept for ever)", c.AuditRetention)
	}
	if err := c.FromEnv(func(k string) string { return map[string]string{"GATEHOUSE_AUDIT_RETENTION": "8760h"}[k] }); err != nil || c.AuditRetention != 8760*time.Hour {
		t.Fatalf("GATEHOUSE_AUDIT_RETENTION=8760h: %v, %v", c.AuditRetention, err)
	}
	for _, v := range []string{"forever", "-1h", "1h"} {
		c := Default()
		if err := c.FromEnv(func(k string) string { return map[string]string{"GATEHOUSE_AUDIT_RETENTION": v}[k] }); err == nil {
			t.Errorf("GATEHOUSE_AUDIT_RETENTION=%q accepted", v)
		}
	}
}
