package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Precedence is defaults → file → env → flags, and Sources says which won.
func TestReadPrecedence(t *testing.T) {
	path := writeFile(t, "addr: 127.0.0.1:7000\ncache_ttl: 3s\nmax_headers: 60\nlog_level: debug\n"+
		"database_url: postgres://gh:hunter2@db:5432/gh\nservice_token: "+strings.Repeat("s", 32)+"\n")
	env := map[string]string{"GATEHOUSE_CACHE_TTL": "4s", "GATEHOUSE_LOG_LEVEL": "warn"}
	c, src, err := Read(path, func(k string) string { return env[k] }, []Flag{{"log-level", "error"}, {"database", "sqlite:x.db"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || c.CacheTTL != 4*time.Second || c.MaxHeaders != 60 || c.LogLevel != "error" ||
		c.DatabaseURL != "sqlite:x.db" || c.IdleTimeout != 120*time.Second {
		t.Fatalf("config = %+v", c)
	}
	want := Sources{"addr": "file " + path, "cache_ttl": "env GATEHOUSE_CACHE_TTL", "max_headers": "file " + path,
		"log_level": "flag --log-level", "database_url": "flag --database", "service_token": "file " + path}
	if diff := cmp.Diff(want, src); diff != "" {
		t.Fatalf("sources (-want +got):\n%s", diff)
	}
	rows := map[string]Row{}
	for _, r := range c.Effective(src) {
		rows[r.Key] = r
	}
	if r := rows["service_token"]; r.Value != "(set)" || r.Source != "file "+path {
		t.Errorf("service_token row %+v", r)
	}
	if r := rows["idle_timeout"]; r.Value != "2m0s" || r.Source != "default" {
		t.Errorf("idle_timeout row %+v", r)
	}
	if len(rows) != len(c.settings()) {
		t.Errorf("%d rows for %d settings", len(rows), len(c.settings()))
	}
}

// Every problem of a file is reported at once, with its line; unknown
// keys are errors (a misspelt key would otherwise be silently ignored).
func TestReadFileProblems(t *testing.T) {
	path := writeFile(t, "addr: 127.0.0.1:7000\ncache_tl: 3s\nmax_headers: many\nGATEHOUSE_LOG_LEVEL: debug\n"+
		"addr: 127.0.0.1:7001\nroutes: [a, b]\nsecret_key: 12\nconsole_idle_timeout: 0s\n")
	_, _, err := Read(path, func(string) string { return "" }, nil)
	if err == nil {
		t.Fatal("a bad file was accepted")
	}
	for _, want := range []string{
		path + `:2: unknown key "cache_tl"`,
		path + `:3: max_headers: "many" is not a whole number`,
		`unknown key "GATEHOUSE_LOG_LEVEL" (did you mean log_level?)`,
		path + ":5: addr is set twice",
		path + ":6: routes: want a single value",
		path + `:8: console_idle_timeout: "0s" is not a positive duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret_key") {
		t.Errorf("a well-formed secret key was reported: %v", err)
	}
	for _, bad := range []string{"- a\n- b\n", "addr: [\n"} {
		if _, _, err := Read(writeFile(t, bad), func(string) string { return "" }, nil); err == nil {
			t.Errorf("file %q accepted", bad)
		}
	}
	if _, _, err := Read(filepath.Join(t.TempDir(), "missing.yaml"), func(string) string { return "" }, nil); err == nil {
		t.Error("a missing file was accepted")
	}
	if c, _, err := Read(writeFile(t, "# nothing yet\n"), func(string) string { return "" }, nil); err != nil || c.Addr != Default().Addr {
		t.Errorf("an empty file: %v, %+v", err, c)
	}
}

// Secrets never appear in Effective's rows nor in error messages.
func TestSecretsMasked(t *testing.T) {
	tok := strings.Repeat("k", 40)
	env := map[string]string{"GATEHOUSE_METRICS_TOKEN": tok, "GATEHOUSE_SECRET_KEY": "topsecretkeyvalue",
		"GATEHOUSE_DATABASE_URL": "postgres://gh:hunter2@db/gh?password=hunter3&sslmode=disable"}
	c, src, err := Read("", func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, r := range c.Effective(src) {
		fmt.Fprintln(&all, r.Key, r.Value, r.Source)
	}
	for _, secret := range []string{tok, "topsecretkeyvalue", "hunter2", "hunter3"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("effective configuration shows %q:\n%s", secret, all.String())
		}
	}
	if !strings.Contains(all.String(), "postgres://gh:xxxxx@db/gh") {
		t.Errorf("database URL not shown redacted:\n%s", all.String())
	}
	path := writeFile(t, "metrics_token: [\"x\"]\nservice_token: \"hunter2\"\n")
	if _, _, err := Read(path, func(string) string { return "" }, nil); err == nil {
		t.Fatal("bad secrets accepted")
	}
}

// Every field of Config but Demo is a setting.
func TestSettingsCoverConfig(t *testing.T) {
	c := Default()
	ptrs := map[any]bool{}
	for _, s := range c.settings() {
		ptrs[s.ptr] = true
	}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Anonymous {
				walk(v.Field(i))
				continue
			}
			if f.Name == "Demo" {
				continue
			}
			if !ptrs[v.Field(i).Addr().Interface()] {
				t.Errorf("Config.%s has no setting", f.Name)
			}
		}
	}
	walk(reflect.ValueOf(&c).Elem())
}

// README's configuration table lists every key with its variable.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	for _, s := range c.settings() {
		row := regexp.MustCompile("(?m)^\\| [^|]*`" + s.Key() + "`[^|]*\\| [^|]*`" + s.env + "`")
		if !row.Match(b) {
			t.Errorf("README's configuration table has no row for %s (%s)", s.Key(), s.env)
		}
	}
}
