package gateway

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the gateway's upstream transport: net/http's own,
// with pools sized for a proxy and bounded waits.
//
// Security: it is http.Transport and nothing hand-written. A connection
// goes back to the pool only when its answer was read exactly to the end
// its framing declared; bytes past it (an over-long body, a body on a HEAD,
// 204 or 304 answer, an answer nobody asked for) close the connection, so
// they can never be read as the next caller's answer — who may be another
// tenant (issue 11; TestGatewayUpstreamDesync, FuzzUpstreamResponse). An
// earlier hand-written fast path over Request.Write and http.ReadResponse
// pooled such connections and was removed. http.Transport finds those bytes
// only after the connection went back to its pool; the gateway therefore
// never uses this transport itself but one Clone of it per tenant
// (Partitioned), so what is found late can only reach the same tenant.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		// The answer's header is bounded (http.Transport's default is
		// 10 MiB): an upstream header larger than this is a 502.
		MaxResponseHeaderBytes: 1 << 20,
	}
}
