package gatehouse_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestRedirectURILoopback: http is allowed only for a loopback IP literal
// (RFC 8252 §7.3) or the name localhost (§8.3, see docs/decisions.md), never
// for a name that merely starts with "127.".
func TestRedirectURILoopback(t *testing.T) {
	for _, tt := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:8080/cb", true},
		{"http://127.1.2.3:9/cb", true},
		{"http://[::1]:8080/cb", true},
		{"http://localhost:3000/cb", true},
		{"http://LOCALHOST/cb", true},
		{"https://app.example/cb", true},
		{"http://127.evil.example/cb", false},
		{"http://127.0.0.1.nip.io/cb", false},
		{"http://127.0.0.1.evil.example:8080/cb", false},
		{"http://127./cb", false},
		{"http://127.0.0.01/cb", false}, // leading zero: not an IP literal
		{"http://0x7f.0.0.1/cb", false},
		{"http://2130706433/cb", false},
		{"http://[::1%25lo]/cb", false},
		{"http://app.localhost/cb", false},
		{"http://localhost.evil.example/cb", false},
		{"http://10.0.0.1/cb", false},
		{"http://[::ffff:10.0.0.1]/cb", false},
		{"http://app.example/cb", false},
	} {
		err := gatehouse.ValidateRedirectURI(tt.uri)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ok %v", tt.uri, err, tt.ok)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	good := map[string]string{
		"https://app.example.com":      "https://app.example.com",
		"HTTPS://App.Example.com:443/": "https://app.example.com",
		"https://app.example.com:8443": "https://app.example.com:8443",
		"http://localhost:5173":        "http://localhost:5173",
		"http://127.0.0.1":             "http://127.0.0.1",
		"http://127.0.0.1:80":          "http://127.0.0.1",
		"http://[::1]:3000":            "http://[::1]:3000",
	}
	for in, want := range good {
		got, err := gatehouse.NormalizeOrigin(in)
		if err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "null", "NULL", "*", "https://*.example.com", "https://app.example.com/cb",
		"https://app.example.com?x", "https://app.example.com#f", "http://app.example.com", "ftp://app.example.com",
		"https://user@app.example.com", "app.example.com", "https://", "https://a_b.example", "https://app.example.com%2f",
		"http://127.0.0.1.nip.io", "https://[::1%25lo]"} {
		if got, err := gatehouse.NormalizeOrigin(in); err == nil {
			t.Errorf("NormalizeOrigin(%q) = %q, want an error", in, got)
		} else if !gatehouse.IsCode(err, gatehouse.EINVALID) {
			t.Errorf("NormalizeOrigin(%q): %v, want EINVALID", in, err)
		}
	}
}

func TestClientOrigins(t *testing.T) {
	c := &gatehouse.Client{Name: "spa", GrantTypes: []string{gatehouse.GrantAuthorizationCode},
		RedirectURIs: []string{"https://spa.example.com/cb", "https://spa.example.com/other", "http://localhost:5173/cb", "https://SPA.example.com:443/x"}}
	if got, want := c.EffectiveOrigins(), []string{"https://spa.example.com", "http://localhost:5173"}; !slices.Equal(got, want) {
		t.Errorf("default origins = %q, want %q", got, want)
	}
	if !c.AllowsOrigin("https://spa.example.com") || c.AllowsOrigin("https://evil.example.com") || c.AllowsOrigin("https://SPA.example.com") {
		t.Error("AllowsOrigin with the default origins is wrong")
	}
	c.AllowedOrigins = []string{"https://other.example.com"}
	if c.AllowsOrigin("https://spa.example.com") || !c.AllowsOrigin("https://other.example.com") {
		t.Error("explicit AllowedOrigins do not replace the default")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, bad := range [][]string{{"https://other.example.com/"}, {"https://a.example.com", "https://a.example.com"}, {"null"}} {
		c.AllowedOrigins = bad
		if err := c.Validate(); !gatehouse.IsCode(err, gatehouse.EINVALID) {
			t.Errorf("Validate with %q: %v, want EINVALID", bad, err)
		}
	}
	c.AllowedOrigins = nil
	for i := range gatehouse.MaxAllowedOrigins + 1 {
		c.AllowedOrigins = append(c.AllowedOrigins, fmt.Sprintf("https://a%d.example.com", i))
	}
	if err := c.Validate(); !gatehouse.IsCode(err, gatehouse.EINVALID) {
		t.Errorf("Validate with %d origins: %v, want EINVALID", len(c.AllowedOrigins), err)
	}
}
