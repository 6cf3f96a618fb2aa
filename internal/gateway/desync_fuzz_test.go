package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// fuzzRound is one execution of FuzzUpstreamResponse: what the upstream
// writes for the first call, and the nonce naming both calls.
type fuzzRound struct {
	first []byte
	nonce string
}

// FuzzUpstreamResponse: whatever a hostile upstream writes in answer to a
// call (the fuzz input), the next caller gets exactly the answer the
// upstream gave to it — or a 502 — and never bytes of the first answer.
// The servers are shared by every execution; a nonce per execution keeps
// them apart, and the upstream closes a connection whose next request does
// not come within 30 ms, which also ends a first answer that never
// finishes.
func FuzzUpstreamResponse(f *testing.F) {
	injected := rawResponse(http.StatusOK, "injected")
	for _, seed := range []struct {
		head bool
		raw  string
	}{
		{false, rawResponse(http.StatusOK, "first")},
		{false, rawResponse(http.StatusOK, "first") + injected},                             // past Content-Length
		{false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"},                      // a few bytes past it
		{true, "HTTP/1.1 200 OK\r\nContent-Length: 86\r\n\r\n" + injected},                  // a body on HEAD
		{false, "HTTP/1.1 204 No Content\r\n\r\n" + injected},                               // a body on 204
		{false, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n" + injected},        // and on 304
		{false, rawResponse(http.StatusOK, "first") + rawResponse(http.StatusOK, "second")}, // unsolicited
		{false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n0\r\n\r\n" + injected},
		{false, "HTTP/1.1 100 Continue\r\n\r\n" + rawResponse(http.StatusOK, "first") + injected},
		{false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nfirst!" + injected},
		{false, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"},
		{false, "HTTP/1.0 200 OK\r\n\r\nclose-delimited"},
		{false, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + injected},
		{false, "garbage\r\n\r\n"},
	} {
		f.Add(seed.head, []byte(seed.raw))
	}

	e := verifytest.New(f)
	var round atomic.Pointer[fuzzRound]
	up := newRawUpstream(f, 30*time.Millisecond, func(req *http.Request) [][]byte {
		r := round.Load()
		switch req.URL.Path {
		case "/rest/V1/products/first-" + r.nonce:
			return [][]byte{r.first}
		case "/rest/V1/products/second-" + r.nonce:
			return [][]byte{[]byte(rawResponse(http.StatusOK, "second "+r.nonce))}
		}
		// A call of an earlier execution, retried late.
		return [][]byte{[]byte(rawResponse(http.StatusGone, "stale"))}
	})
	srv := newGatewayTo(f, e, up.URL(), gateway.Config{Logger: slog.New(slog.DiscardHandler)})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog"}})
	client := &http.Client{Transport: &http.Transport{}}
	f.Cleanup(client.CloseIdleConnections)
	call := func(ctx context.Context, method, path string) (*http.Response, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	f.Fuzz(func(t *testing.T, head bool, first []byte) {
		var n [8]byte
		rand.Read(n[:])
		r := &fuzzRound{first: first, nonce: hex.EncodeToString(n[:])}
		round.Store(r)
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		call(ctx, method, "/rest/V1/products/first-"+r.nonce) // anything goes
		time.Sleep(10 * time.Millisecond)                     // see TestGatewayUpstreamDesync
		resp, b, err := call(ctx, http.MethodGet, "/rest/V1/products/second-"+r.nonce)
		if err != nil {
			t.Fatalf("second call: %v", err)
		}
		want := "second " + r.nonce
		if resp.StatusCode == http.StatusBadGateway {
			return
		}
		if resp.StatusCode != http.StatusOK || string(b) != want || resp.Header.Get("X-Marker") != want {
			t.Fatalf("second call got %d %q (X-Marker %q), want 200 %q or a 502", resp.StatusCode, b, resp.Header.Get("X-Marker"), want)
		}
	})
}
