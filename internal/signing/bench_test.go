package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// BenchmarkSignES256: signing an access-token-sized JWT with the cached,
// opened current key (no store read).
func BenchmarkSignES256(b *testing.B) {
	s := newSigner(b, sqlstoretest.SQLite(b), newClock(), gatehouse.AlgES256)
	cl := map[string]any{"iss": issuer, "sub": "usr_123", "aud": "https://api.example", "scope": "catalog orders", "exp": time.Now().Add(time.Hour).Unix(), "jti": "at_0123456789"}
	if _, err := s.Sign(b.Context(), "at+jwt", cl); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(b.Context(), "at+jwt", cl); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyES256: verifying that JWT with a cached KeySet — the
// middleware's cache-miss cost for a token (issue 15, Done means 3: at
// most 60 µs).
func BenchmarkVerifyES256(b *testing.B) {
	s := newSigner(b, sqlstoretest.SQLite(b), newClock(), gatehouse.AlgES256)
	tok, err := s.Sign(b.Context(), "at+jwt", map[string]any{"iss": issuer, "sub": "usr_123", "aud": "https://api.example", "scope": "catalog orders", "exp": time.Now().Add(time.Hour).Unix(), "jti": "at_0123456789"})
	if err != nil {
		b.Fatal(err)
	}
	set, err := s.JWKS(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	ks := NewKeySet(set)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAVerifyBaseline is the bare P-256 verification the JWT
// verification above wraps: the machine's floor, to read the others by.
func BenchmarkECDSAVerifyBaseline(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("header.payload"))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("no")
		}
	}
}
