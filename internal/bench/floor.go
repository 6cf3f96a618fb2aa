package bench

import (
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/gateway"
)

// The floor scenarios (Options.Floor) take Gatehouse out of the gateway
// scenario piece by piece, so that d/e can be read against what any
// net/http reverse proxy can reach on the same machine in the same run:
//
//   - proxy_floor: the thinnest forwarding a net/http server can do — the
//     gateway's upstream transport, no route, no credential, no
//     ReverseProxy: build the outgoing GET, copy the answer back. Its cost
//     over direct is the second HTTP hop itself (a server exchange and a
//     client exchange on loopback), which no proxy avoids.
//   - bare_proxy: httputil.ReverseProxy configured as the gateway's
//     (same transport, pooled copy buffers, X-Forwarded-* set) but with
//     no verification and no header rewriting.
//
// gateway − bare_proxy is then Gatehouse's own work (route match,
// verification, credential stripping, X-Gatehouse-* headers, metrics),
// bare_proxy − proxy_floor is ReverseProxy's, and proxy_floor − direct
// is the hop's.

// floorProxy is proxy_floor's handler: it forwards GETs to upstream.
func floorProxy(upstream *url.URL, rt http.RoundTripper) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := *upstream
		u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
		out := (&http.Request{Method: r.Method, URL: &u, Host: u.Host, Header: http.Header{},
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(r.Context())
		resp, err := rt.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		h := w.Header()
		for k, v := range resp.Header {
			h[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

// bareReverseProxy is bare_proxy's handler.
func bareReverseProxy(upstream *url.URL, rt http.RoundTripper) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
		},
		Transport:  rt,
		BufferPool: gateway.NewBufferPool(),
	}
}

// startFloor starts both floor proxies in front of upstream.
func startFloor(upstream string) (floor, bare *local, err error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, nil, err
	}
	if floor, err = listen(floorProxy(u, gateway.NewTransport())); err != nil {
		return nil, nil, err
	}
	if bare, err = listen(bareReverseProxy(u, gateway.NewTransport())); err != nil {
		floor.Close()
		return nil, nil, err
	}
	return floor, bare, nil
}
