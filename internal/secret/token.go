// Package secret makes and checks Gatehouse's secrets: generated tokens with
// a kind prefix and a CRC-32 checksum (SPEC §2), their SHA-256 lookup
// hashes, argon2id password hashes, AES-GCM sealing of secrets the OAuth 1.0a
// protocol needs in plaintext, and constant-time comparison.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"hash/crc32"
	"strings"
	"unsafe"

	"github.com/gatehouse/gatehouse"
)

const (
	// Alphabet62 is base62 in the SPEC's order: 0-9, A-Z, a-z.
	Alphabet62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	alphabet   = Alphabet62
	// RandomLen base62 characters carry 32*log2(62) ≈ 190 bits (SPEC: ≥ 160).
	RandomLen   = 32
	checksumLen = 6
	tokenPrefix = "gate_"
)

// NewToken returns a fresh token of the given kind:
// gate_<prefix>_<32 random base62 chars><6-char base62 CRC-32>.
func NewToken(kind gatehouse.Kind) string {
	p := kind.TokenPrefix()
	if p == "" {
		panic("secret: kind " + string(kind) + " has no token format")
	}
	var b strings.Builder
	b.Grow(len(tokenPrefix) + len(p) + 1 + RandomLen + checksumLen)
	b.WriteString(tokenPrefix)
	b.WriteString(p)
	b.WriteByte('_')
	b.WriteString(RandomString(RandomLen, alphabet))
	s := b.String()
	return s + checksum(s)
}

// RandomString returns n characters drawn uniformly from chars with
// crypto/rand (rejection sampling, so there is no modulo bias).
func RandomString(n int, chars string) string {
	if len(chars) == 0 || len(chars) > 256 {
		panic("secret: bad alphabet")
	}
	limit := 256 - 256%len(chars)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand, Go ≥ 1.24)
		for _, c := range buf {
			if int(c) < limit {
				out = append(out, chars[int(c)%len(chars)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// checksum is the CRC-32 (IEEE) of s in base62, most significant digit
// first, left-padded with '0' to six characters.
func checksum(s string) string {
	c := checksumBytes(s)
	return string(c[:])
}

func checksumBytes(s string) [checksumLen]byte {
	v := crc32.Update(0, crc32.IEEETable, unsafe.Slice(unsafe.StringData(s), len(s))) // read only: no copy
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return out
}

// ParseToken checks a presented token's shape and checksum without any
// database access and returns its kind. ok is false for anything that is
// not a well-formed Gatehouse token (a typo, a truncated paste, a foreign
// secret): the caller answers MALFORMED.
func ParseToken(tok string) (kind gatehouse.Kind, ok bool) {
	rest, found := strings.CutPrefix(tok, tokenPrefix)
	if !found {
		return "", false
	}
	p, body, found := strings.Cut(rest, "_")
	if !found {
		return "", false
	}
	kind, ok = gatehouse.KindForPrefix(p)
	if !ok || len(body) != RandomLen+checksumLen {
		return "", false
	}
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return "", false
		}
	}
	n := len(tok) - checksumLen
	want := checksumBytes(tok[:n])
	if subtle.ConstantTimeCompare(want[:], []byte(tok[n:])) != 1 {
		return "", false
	}
	return kind, true
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// Hash is the lookup hash stored for a token: SHA-256 of its bytes. Tokens
// carry ≥ 160 random bits, so a fast unsalted hash is safe and lets the
// verifier find the row by an index.
func Hash(tok string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(tok), len(tok))) // read only: no copy on the hot path
}

// HashBytes is Hash as a slice, for storage.
func HashBytes(tok string) []byte {
	h := Hash(tok)
	return h[:]
}

// Hint is the part of a token safe to display in lists: its prefix and the
// first four random characters.
func Hint(tok string) string {
	i := strings.LastIndexByte(tok, '_')
	if i < 0 || len(tok) < i+5 {
		return ""
	}
	return tok[:i+5] + "…"
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
