package signing

import (
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey: the token names a kid the key set lacks. A verifier with
// a remote key set refetches it once on this error (OpenID Connect Core
// §10.1.1) before it refuses.
var ErrUnknownKey = errors.New("signing: unknown key id")

// KeySet verifies JWTs against a set of public keys (a JWKS, RFC 7517
// §5), choosing the key by the token's kid. It is immutable and safe for
// concurrent use.
type KeySet struct {
	keys map[string]jose.JSONWebKey
	algs []jose.SignatureAlgorithm
}

// NewKeySet returns a key set of set's signing keys. Keys without a kid
// or an alg, or not for signatures, are left out: a token could not name
// them, and a key's algorithm is never taken from the token.
func NewKeySet(set jose.JSONWebKeySet) *KeySet {
	ks := &KeySet{keys: map[string]jose.JSONWebKey{}}
	seen := map[jose.SignatureAlgorithm]bool{}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Algorithm == "" || (k.Use != "" && k.Use != "sig") || !k.IsPublic() {
			continue
		}
		ks.keys[k.KeyID] = k
		if a := jose.SignatureAlgorithm(k.Algorithm); !seen[a] {
			seen[a] = true
			ks.algs = append(ks.algs, a)
		}
	}
	return ks
}

// Has reports whether the set holds kid.
func (ks *KeySet) Has(kid string) bool { _, ok := ks.keys[kid]; return ok }

// Verify checks token, a compact JWS, with the key its kid names and
// returns the payload. Security: the header's alg must be the key's own
// (RFC 8725 §3.1: no algorithm confusion; "none" and HMAC are never
// accepted, as no key has them), and exactly one signature is allowed.
// Claims (exp, iss, aud) are the caller's to check.
func (ks *KeySet) Verify(token string) ([]byte, error) {
	if len(ks.algs) == 0 {
		return nil, ErrUnknownKey
	}
	obj, err := jose.ParseSignedCompact(token, ks.algs)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if len(obj.Signatures) != 1 {
		return nil, errors.New("signing: want exactly one signature")
	}
	h := obj.Signatures[0].Header
	k, ok := ks.keys[h.KeyID]
	if !ok {
		return nil, ErrUnknownKey
	}
	if h.Algorithm != k.Algorithm {
		return nil, fmt.Errorf("signing: token alg %q is not its key's %q", h.Algorithm, k.Algorithm)
	}
	payload, err := obj.Verify(k)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return payload, nil
}
