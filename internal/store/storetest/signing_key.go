package storetest

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// signingKey returns a key of issuer created at created, signing after
// the pre-publication pre. Its sealed bytes and JWK are opaque to the store.
func signingKey(issuer string, created time.Time, pre time.Duration) *gatehouse.SigningKey {
	return &gatehouse.SigningKey{
		ID:        "kid-" + rand.Text()[:12],
		Issuer:    issuer,
		Alg:       gatehouse.AlgES256,
		Sealed:    []byte("sealed:" + rand.Text()),
		PublicJWK: []byte(`{"kty":"EC","crv":"P-256","x":"` + rand.Text() + `"}`),
		CreatedAt: created,
		UseAfter:  created.Add(pre),
	}
}

func rotate(t *testing.T, s gatehouse.Store, r *gatehouse.SigningKeyRotation) bool {
	t.Helper()
	ok, err := s.RotateSigningKey(t.Context(), r)
	must(t, err, "rotate signing key")
	return ok
}

// testSigningKeys covers RotateSigningKey (first key, not due, due: the
// previous key retires when the next starts and is removed a retention
// later), ListSigningKeys (newest first, issuer isolation) and
// PruneSigningKeys.
func testSigningKeys(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	const iss, other = "https://a.example", "https://b.example"
	period, pre, keep := 30*24*time.Hour, 24*time.Hour, 2*time.Hour

	a := signingKey(iss, base, 0)
	if !rotate(t, s, &gatehouse.SigningKeyRotation{Next: a, DueBefore: base.Add(-period), Retention: keep}) {
		t.Fatal("the first key was not stored")
	}
	if a.Generation != 1 {
		t.Errorf("first key generation = %d, want 1", a.Generation)
	}
	// Not due: the newest key is younger than the period.
	at := base.Add(period - time.Hour)
	if rotate(t, s, &gatehouse.SigningKeyRotation{Next: signingKey(iss, at, pre), DueBefore: at.Add(-period), Retention: keep}) {
		t.Error("a rotation that was not due stored a key")
	}
	at = base.Add(period + time.Second)
	b := signingKey(iss, at, pre)
	if !rotate(t, s, &gatehouse.SigningKeyRotation{Next: b, DueBefore: at.Add(-period), Retention: keep}) {
		t.Fatal("a due rotation stored nothing")
	}
	// Another issuer's key set is its own.
	c := signingKey(other, at, 0)
	if !rotate(t, s, &gatehouse.SigningKeyRotation{Next: c, DueBefore: at.Add(-period), Retention: keep}) {
		t.Fatal("the other issuer's first key was not stored")
	}

	got, err := s.ListSigningKeys(ctx, iss)
	must(t, err, "list signing keys")
	retire, remove := b.UseAfter, b.UseAfter.Add(keep)
	wantA := *a
	wantA.RetireAt, wantA.RemoveAfter = &retire, &remove
	wantB := *b
	wantB.Generation = 2
	if diff := cmp.Diff([]*gatehouse.SigningKey{&wantB, &wantA}, got, cmpOpts); diff != "" {
		t.Errorf("ListSigningKeys (-want +got):\n%s", diff)
	}
	if got, err := s.ListSigningKeys(ctx, other); err != nil || len(got) != 1 || got[0].ID != c.ID {
		t.Errorf("other issuer's keys = %v, %v; want only %s", got, err, c.ID)
	}
	if got, err := s.ListSigningKeys(ctx, "https://nobody.example"); err != nil || len(got) != 0 {
		t.Errorf("an unknown issuer's keys = %v, %v; want none", got, err)
	}

	// The domain's view of the stages.
	if !c.Signs(c.CreatedAt) {
		t.Error("an issuer's first key should sign at once")
	}
	if !wantA.Signs(b.UseAfter.Add(-time.Microsecond)) || wantA.Signs(b.UseAfter) {
		t.Error("A should sign until B's UseAfter and not after")
	}
	if wantB.Signs(b.UseAfter.Add(-time.Microsecond)) || !wantB.Signs(b.UseAfter) {
		t.Error("B should sign from its UseAfter on")
	}
	if !wantA.Published(remove.Add(-time.Microsecond)) || wantA.Published(remove) {
		t.Error("A should be published until its RemoveAfter")
	}

	// Prune: only A is removed, and only after its RemoveAfter.
	wantPruned(t, s, gatehouse.PruneSigningKeys, remove, 0)
	wantPruned(t, s, gatehouse.PruneSigningKeys, remove.Add(time.Microsecond), 1)
	if got, err := s.ListSigningKeys(ctx, iss); err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("after pruning: %v, %v; want only %s", got, err, b.ID)
	}

	// A forced rotation (DueBefore zero) always stores the next key.
	d := signingKey(iss, at.Add(time.Minute), pre)
	if !rotate(t, s, &gatehouse.SigningKeyRotation{Next: d, Retention: keep}) || d.Generation != 3 {
		t.Errorf("forced rotation: generation %d, want 3", d.Generation)
	}

	t.Run("incomplete", func(t *testing.T) {
		k := signingKey(iss, base, 0)
		k.Sealed = nil
		_, err := s.RotateSigningKey(ctx, &gatehouse.SigningKeyRotation{Next: k})
		wantCode(t, err, gatehouse.EINVALID, "rotate without a sealed key")
	})
}

// testConcurrentRotateSigningKey races rotations of one issuer that are all
// due: exactly one stores a key (two nodes' janitors, or a janitor and
// `gatehouse keys rotate` with the period elapsed).
func testConcurrentRotateSigningKey(t *testing.T, s gatehouse.Store) {
	const iss = "https://race.example"
	period := 30 * 24 * time.Hour
	if !rotate(t, s, &gatehouse.SigningKeyRotation{Next: signingKey(iss, base, 0), DueBefore: base}) {
		t.Fatal("first key not stored")
	}
	for round := range 3 {
		at := base.Add(time.Duration(round+1) * (period + time.Hour))
		ctx, n := smallPool(t, s)
		var oks [64]bool
		errs := race(n, func(i int) error {
			var err error
			oks[i], err = s.RotateSigningKey(ctx, &gatehouse.SigningKeyRotation{
				Next: signingKey(iss, at, time.Hour), DueBefore: at.Add(-period), Retention: time.Hour,
			})
			return err
		})
		wantOK(t, errs, "", n, fmt.Sprint("round ", round, " racing rotations answered"))
		stored := 0
		for _, ok := range oks[:n] {
			if ok {
				stored++
			}
		}
		if stored != 1 {
			t.Errorf("round %d: %d of %d racing due rotations stored a key, want exactly 1", round, stored, n)
		}
	}
	keys, err := s.ListSigningKeys(t.Context(), iss)
	must(t, err, "list")
	if len(keys) != 4 {
		t.Fatalf("%d keys after three raced rotations, want 4", len(keys))
	}
	for i, k := range keys[1:] {
		if k.RetireAt == nil || !k.RetireAt.Equal(keys[i].UseAfter) {
			t.Errorf("key generation %d retires at %v, want its successor's UseAfter %v", k.Generation, k.RetireAt, keys[i].UseAfter)
		}
	}
}
