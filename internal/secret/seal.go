package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyLen is the length of the key-encryption key.
const KeyLen = 32

// Keyring holds the server's key-encryption key and derives purpose keys
// from it, so one configured secret (GATEHOUSE_SECRET_KEY) serves sealing,
// CSRF tokens and anything else that needs a server secret.
type Keyring struct {
	master []byte
	aead   cipher.AEAD
}

// NewKeyring builds a keyring from a 32-byte key.
func NewKeyring(key []byte) (*Keyring, error) {
	if len(key) != KeyLen {
		return nil, fmt.Errorf("secret: key must be %d bytes, got %d", KeyLen, len(key))
	}
	k := &Keyring{master: append([]byte(nil), key...)}
	block, err := aes.NewCipher(k.Derive("aes-gcm-seal"))
	if err != nil {
		return nil, err
	}
	k.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// ParseKey decodes GATEHOUSE_SECRET_KEY: 32 bytes as base64 (standard or
// URL alphabet, padded or not) or 64 hex characters.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeyLen {
			return b, nil
		}
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeyLen {
		return b, nil
	}
	return nil, errors.New("secret key must be 32 bytes, base64 or hex encoded")
}

// LoadOrCreateKeyFile reads the key file at path, or creates it with a fresh
// random key and mode 0600 when it does not exist.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return ParseKey(string(b))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	key := make([]byte, KeyLen)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // lost a race with another process
			return LoadOrCreateKeyFile(path)
		}
		return nil, fmt.Errorf("create key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return key, nil
}

// Derive returns a 32-byte key for one purpose (HMAC-SHA256 of the purpose
// under the master key), so keys of different uses never coincide.
func (k *Keyring) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.master)
	m.Write([]byte("gatehouse/" + purpose))
	return m.Sum(nil)
}

// Seal encrypts plaintext with AES-GCM; aad binds the ciphertext to its row
// (e.g. the credential id) so a sealed value cannot be moved to another.
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal produced with the same aad.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errors.New("secret: sealed value too short")
	}
	return k.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

// MAC returns HMAC-SHA256 of msg under the purpose key.
func (k *Keyring) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, k.Derive(purpose))
	m.Write(msg)
	return m.Sum(nil)
}
