package gatehouse_test

import (
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
