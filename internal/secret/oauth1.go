package secret

import "github.com/gatehouse/gatehouse"

// OAuth 1.0a secrets (seed 000) are needed in plaintext to check
// signatures, so they are sealed (Keyring.Seal) rather than hashed. The
// sealing binds each to what it belongs to, so a sealed value copied to
// another row does not open. admin seals them when it creates integrations
// and access tokens; oauth1 seals request tokens and opens all of them.

// NewOAuth1Value returns a fresh Magento-compatible value (consumer key and
// secret, token and token secret, verifier): 32 characters of [a-z0-9]
// from crypto/rand (≈165 bits).
func NewOAuth1Value() string {
	return RandomString(gatehouse.OAuth1ValueLen, gatehouse.OAuth1Alphabet)
}

// ConsumerSecretAAD binds a sealed consumer secret to its consumer key.
func ConsumerSecretAAD(consumerKey string) []byte { return []byte("oauth1-consumer:" + consumerKey) }

// TokenSecretAAD binds a sealed token secret (request or access token) to
// the token's hash.
func TokenSecretAAD(tokenHash []byte) []byte {
	return append([]byte("oauth1-token:"), tokenHash...)
}
