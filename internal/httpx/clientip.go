package httpx

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that made r. It is the TCP
// peer, unless the peer is one of the trusted proxies; only then is
// X-Forwarded-For believed, read from the right and skipping trusted hops
// (SPEC §9), so a client cannot spoof its address by sending the header.
// IPv4-mapped IPv6 addresses are unmapped and IPv6 zones dropped. The zero
// Addr means unknown: a garbled hop written by a trusted proxy leaves the
// client unknown, which every non-empty allowlist refuses.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHost(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// Security: a garbled hop written by a trusted proxy leaves the
				// client unknown; an invalid address fails every allowlist.
				return netip.Addr{}
			}
			addr = a.Unmap().WithZone("")
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func parseHost(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// PeerTrusted says whether the TCP peer of r is one of the trusted proxies,
// whose X-Forwarded-For may be believed and passed on.
func PeerTrusted(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	return isTrusted(parseHost(r.RemoteAddr), trusted)
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
