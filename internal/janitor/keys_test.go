package janitor_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/janitor"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// TestRotatesAndPrunesKeys: the janitor's rounds rotate the signing keys
// when a rotation is due and delete a key a skew after it left the JWKS,
// on both backends.
func TestRotatesAndPrunesKeys(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		st := sqlstoretest.Open(t, url)
		clk := testclock.New(now0)
		kr, err := secret.NewKeyring(bytes.Repeat([]byte{1}, 32))
		if err != nil {
			t.Fatal(err)
		}
		s, err := signing.New(signing.Config{Store: st, Keys: kr, Issuer: "https://id.example", Now: clk.Now, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		j := janitor.New(st, janitor.Options{Now: clk.Now, Pause: -1,
			RotateKeys: func(ctx context.Context) error { _, _, err := s.Rotate(ctx, false); return err }})
		count := func() int {
			t.Helper()
			keys, err := st.ListSigningKeys(ctx, "https://id.example")
			if err != nil {
				t.Fatal(err)
			}
			return len(keys)
		}
		round := func() janitor.Round {
			t.Helper()
			r, err := j.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		round()
		if n := count(); n != 1 {
			t.Fatalf("after the first round: %d keys, want 1 (the first)", n)
		}
		round()
		if n := count(); n != 1 {
			t.Fatalf("a second round rotated early: %d keys", n)
		}
		clk.Advance(signing.DefaultRotationPeriod)
		round()
		if n := count(); n != 2 {
			t.Fatalf("after the period: %d keys, want 2", n)
		}
		// The old key leaves the JWKS a pre-publication plus a retention
		// later, and its row goes a skew after that.
		clk.Advance(signing.DefaultPrePublish + signing.DefaultRetention + janitor.DefaultSkew)
		if r := round(); r.Pruned[gatehouse.PruneSigningKeys] != 0 || count() != 2 {
			t.Fatalf("pruned within the skew: %v", r.Pruned)
		}
		clk.Advance(time.Second)
		if r := round(); r.Pruned[gatehouse.PruneSigningKeys] != 1 || count() != 1 {
			t.Fatalf("old key not pruned: %v, %d keys", r.Pruned, count())
		}
	})
}
