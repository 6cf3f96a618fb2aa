package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// config check prints every key, its masked value and its source, then
// every problem at once, and fails when there is one.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.yaml")
	token := strings.Repeat("m", 40)
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("addr: 127.0.0.1:7070\nmetrics_token: " + token + "\ndatabase_url: postgres://gh:hunter2@db.internal/gh\n")
	t.Setenv("GATEHOUSE_CACHE_TTL", "9s")
	t.Setenv("GATEHOUSE_CONFIG", path)
	out, err := run(t, "", "config", "check", "--database", "postgres://gh:hunter9@db2.internal/gh")
	if err != nil {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	for _, want := range []string{
		`configuration file: ` + path,
		`addr +127\.0\.0\.1:7070 +file ` + regexp.QuoteMeta(path),
		`cache_ttl +9s +env GATEHOUSE_CACHE_TTL`,
		`database_url +postgres://gh:xxxxx@db2\.internal/gh +flag --database`,
		`metrics_token +\(set\) +file`,
		`idle_timeout +2m0s +default`,
		`public_url +http://127\.0\.0\.1:7070 +default`,
		`no problems`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{token, "hunter2", "hunter9"} {
		if strings.Contains(out, secret) {
			t.Errorf("output shows the secret %q", secret)
		}
	}

	write("addr: nowhere\ncache_tll: 1s\nmax_headers: 3\nroutes: " + filepath.Join(dir, "missing.yaml") + "\nupstream: http://up\ntls_cert: " + filepath.Join(dir, "cert.pem") + "\n")
	t.Setenv("GATEHOUSE_LOG_LEVEL", "loud")
	t.Setenv("GATEHOUSE_SECRET_KEY", "not-a-key")
	out, err = run(t, "", "config", "check")
	if err == nil || !strings.Contains(err.Error(), "problem") {
		t.Fatalf("config check of a bad configuration: %v\n%s", err, out)
	}
	for _, want := range []string{`unknown key "cache_tll"`, `addr "nowhere"`, "max headers 3", `log level "loud"`, "routes:", "secret key:", "tls cert and tls key go together"} {
		if !strings.Contains(out, want) {
			t.Errorf("problems do not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not-a-key") {
		t.Errorf("output shows the secret key:\n%s", out)
	}
}

// Every command reads the database from the configuration file.
func TestConfigFileDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "from-file.db")
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("database_url: sqlite:"+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "migrate", "--config", path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("migrate did not use the file's database_url: %v", err)
	}
	if err := os.WriteFile(path, []byte("database_ur: sqlite:"+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "tenant", "create", "acme", "--name", "Acme", "--config", path); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("a misspelt key was ignored: %v", err)
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "gatehouse ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version = %q, %v", out, err)
	}
	out, err = run(t, "", "version", "--json")
	var b struct {
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
	}
	if err != nil || json.Unmarshal([]byte(out), &b) != nil || b.Version == "" || b.GoVersion != runtime.Version() {
		t.Fatalf("version --json = %q, %v", out, err)
	}
}

// serve reads the file, then the variables, then its flags.
func TestServeConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("addr: nowhere\nlog_level: loud\nlog_format: text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_LOG_FORMAT", "xml")
	_, err := run(t, "", "serve", "--config", path, "--log-level", "warn")
	if err == nil {
		t.Fatal("serve started on a bad configuration")
	}
	for _, want := range []string{`addr "nowhere"`, `log format "xml"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "log level") {
		t.Errorf("--log-level did not override the file: %v", err)
	}
}
