package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testConsumeOnceEdge checks the end of a mark's life with the caller's
// clock (issue 11, hole 5): a mark lives through its expires, inclusive, and
// is replaced only strictly after it; a replacement takes the new expiry,
// so a key presented again after the edge is single use once more. The
// OAuth 1.0a provider passes the last instant at which a nonce's timestamp
// is accepted, so a replay at that instant is refused.
func testConsumeOnceEdge(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	ts := base.Truncate(time.Second)
	expires := ts.Add(600 * time.Second) // the last accepted instant
	must(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "n", ts, expires), "first use")
	for _, at := range []time.Duration{
		time.Second,
		600*time.Second - time.Microsecond,
		600*time.Second - time.Nanosecond,
		600 * time.Second,
		600*time.Second + time.Nanosecond, // below the store's resolution: still the edge
	} {
		for range 3 {
			wantCode(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "n", ts.Add(at), expires), gatehouse.ECONFLICT, "replay at ts+"+at.String())
		}
	}
	// Strictly after the edge the mark may be forgotten: the key is used
	// once more, and the new mark (a later expiry) holds again.
	after := expires.Add(time.Microsecond)
	later := after.Add(time.Minute)
	must(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "n", after, later), "use after the edge")
	wantCode(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "n", after, later), gatehouse.ECONFLICT, "replay after the edge")
	wantCode(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "n", later, later), gatehouse.ECONFLICT, "replay at the new edge")

	// The verifier's mark: the same rule in its own namespace.
	vexp := base.Add(5 * time.Minute)
	must(t, s.ConsumeOnce(ctx, "oauth1-verifier:c", "v", base, vexp), "verifier")
	wantCode(t, s.ConsumeOnce(ctx, "oauth1-verifier:c", "v", vexp, vexp), gatehouse.ECONFLICT, "verifier at its expiry")
	must(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "v", vexp, vexp), "same key, nonce namespace")

	// Pruning agrees: a mark is kept through its expires.
	must(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "p", base, vexp), "mark to prune")
	prune(t, s, gatehouse.PruneMarks, vexp, 100) // prune at the expiry
	wantCode(t, s.ConsumeOnce(ctx, "oauth1-nonce:c", "p", base, vexp), gatehouse.ECONFLICT, "kept by pruning at its expiry")
}
