package config

import (
	"strings"
	"testing"
)

func TestParseCIDR(t *testing.T) {
	good := map[string]string{
		"203.0.113.7":            "203.0.113.7/32",
		"203.0.113.0/24":         "203.0.113.0/24",
		"2001:db8::1":            "2001:db8::1/128",
		"2001:db8::/32":          "2001:db8::/32",
		"::ffff:203.0.113.7":     "203.0.113.7/32",
		"::ffff:203.0.113.0/120": "203.0.113.0/24",
		" 10.0.0.1 ":             "10.0.0.1/32",
	}
	for in, want := range good {
		p, err := ParseCIDR(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseCIDR(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	bad := []string{"", "010.0.0.1", "0x7f.0.0.1", "1.2.3", "1.2.3.4/33", "2001:db8::/129", "1.2.3.4/-1",
		"10.0.0.1/24", "fe80::1%eth0", "1.2.3.4/", "::ffff:1.2.3.4/90", "300.1.1.1"}
	for _, in := range bad {
		if p, err := ParseCIDR(in); err == nil {
			t.Errorf("ParseCIDR(%q) = %v, want error", in, p)
		}
	}
}

func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.0/24", "::1", "::ffff:1.2.3.4/128", "010.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCIDR(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() {
			t.Fatalf("ParseCIDR(%q) = %v: not canonical", s, p)
		}
		q, err := ParseCIDR(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip of %v: %v, %v", p, q, err)
		}
	})
}

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
	if DataDir(c.DatabaseURL) != "gatehouse-data" || DataDir("postgres://x/y") != "gatehouse-data" || DataDir("/tmp/a/b.db") != "/tmp/a" {
		t.Fatal("DataDir wrong")
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
	for _, bad := range []string{"resources:\n  - id: all\n", "resources:\n  - id: a\n  - id: a\n", "resources: []\n", "nope: 1\n"} {
		if _, err := ParseResources([]byte(bad)); err == nil {
			t.Errorf("ParseResources(%q) accepted", bad)
		}
	}
}
