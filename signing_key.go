package gatehouse

import (
	"context"
	"time"
)

// Signing key algorithms (RFC 7518 §3.1, RFC 8037 §3.1): the JWS "alg" of
// the keys Gatehouse signs ID tokens and JWT access tokens with.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256, the default
	AlgEdDSA = "EdDSA" // Ed25519
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys or more
)

// SigningKey is one asymmetric key of an issuer's key set. Its life has
// three stages (OpenID Connect Core §10.1): published (in the JWKS, not yet
// signing) from CreatedAt, signing from UseAfter until RetireAt (when its
// successor starts), and published only, so that what it signed still
// verifies, until RemoveAfter; then it is gone from the JWKS and the
// janitor deletes its row.
type SigningKey struct {
	// ID is the JWK "kid" (RFC 7517 §4.5).
	ID     string
	Issuer string
	Alg    string
	// Generation numbers an issuer's keys 1, 2, …; (Issuer, Generation) is
	// unique, which is what makes two racing rotations create one key.
	Generation int
	// Sealed is the private key (PKCS #8 DER) sealed with the server key
	// (secret.Keyring.Seal, additional data the kid). Security: the private
	// key is never stored in the clear.
	Sealed []byte
	// PublicJWK is the public key as a JWK (JSON, RFC 7517 §4).
	PublicJWK []byte
	CreatedAt time.Time
	// UseAfter: the key signs from this instant on.
	UseAfter time.Time
	// RetireAt: the key stops signing (its successor's UseAfter); nil while
	// it has no successor.
	RetireAt *time.Time
	// RemoveAfter: the key leaves the JWKS; nil while it has no successor.
	RemoveAfter *time.Time
}

// Published reports whether k belongs in the JWKS at now.
func (k *SigningKey) Published(now time.Time) bool {
	return k.RemoveAfter == nil || now.Before(*k.RemoveAfter)
}

// Signs reports whether k is the key to sign with at now.
func (k *SigningKey) Signs(now time.Time) bool {
	return !now.Before(k.UseAfter) && (k.RetireAt == nil || now.Before(*k.RetireAt))
}

// SigningKeyRotation asks SigningKeyStore.RotateSigningKey for Next, the
// issuer's next key.
type SigningKeyRotation struct {
	// Next is the new key: ID, Issuer, Alg, Sealed, PublicJWK, CreatedAt
	// and UseAfter set; Generation is assigned by the store.
	Next *SigningKey
	// DueBefore: rotate only when the issuer's newest key was created at
	// or before it (a rotation is due). Zero: rotate whatever the newest key.
	DueBefore time.Time
	// Retention is how long a key stays published after it stops signing
	// (the longest lifetime of what it signs, plus a margin).
	Retention time.Duration
}

// SigningKeyStore keeps issuers' signing keys (internal/signing uses it).
type SigningKeyStore interface {
	// RotateSigningKey stores r.Next as the issuer's newest key, and sets
	// the previous newest key's RetireAt to r.Next.UseAfter and its
	// RemoveAfter to that plus r.Retention, in one transaction — unless
	// the newest key was created after r.DueBefore (not due) or
	// another rotation of the issuer committed first (lost the race): then
	// it stores nothing and returns false. A first key is always stored.
	RotateSigningKey(ctx context.Context, r *SigningKeyRotation) (bool, error)
	// ListSigningKeys returns every stored key of issuer, newest first,
	// published or not (the janitor deletes a removed key later with
	// PruneSigningKeys).
	ListSigningKeys(ctx context.Context, issuer string) ([]*SigningKey, error)
}
