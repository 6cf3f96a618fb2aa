package httpx

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer ignores XFF", "203.0.113.5:1234", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted peer, one hop", "10.1.1.1:1234", []string{"198.51.100.1"}, "198.51.100.1"},
		{"rightmost untrusted wins", "10.1.1.1:1234", []string{"1.1.1.1, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"several headers", "10.1.1.1:1234", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"all trusted", "10.1.1.1:1234", []string{"10.3.3.3"}, "10.3.3.3"},
		{"no header", "10.1.1.1:1234", nil, "10.1.1.1"},
		{"garbage hop", "10.1.1.1:1234", []string{"nonsense"}, "invalid IP"},
		{"mapped peer", "[::ffff:203.0.113.9]:80", nil, "203.0.113.9"},
		{"ipv6 trusted", "[::1]:80", []string{"2001:db8::7"}, "2001:db8::7"},
		{"zoned peer", "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"zoned hop", "10.1.1.1:1234", []string{"fe80::2%eth1"}, "fe80::2"},
		{"zoned trusted peer", "[::1%lo]:80", []string{"198.51.100.1"}, "198.51.100.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, trusted).String(); got != c.want {
				t.Fatalf("ClientIP = %s, want %s", got, c.want)
			}
		})
	}
}

func TestPeerTrusted(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		peer string
		want bool
	}{
		{"10.1.1.1:1234", true},
		{"[::ffff:10.1.1.1]:1234", true},
		{"[::1%lo]:80", true},
		{"203.0.113.5:1234", false},
		{"garbage", false},
		{"", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if got := PeerTrusted(r, trusted); got != c.want {
			t.Errorf("PeerTrusted(%q) = %v, want %v", c.peer, got, c.want)
		}
		if PeerTrusted(r, nil) {
			t.Errorf("PeerTrusted(%q, nil) = true", c.peer)
		}
	}
}
