package secret_test

import (
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// TestOAuth1Values: values have Magento's shape and do not repeat, and a
// sealed OAuth 1.0a secret opens only for what it was sealed for — its
// consumer key or its token's hash — never for another row, nor as the
// other kind of secret.
func TestOAuth1Values(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v := secret.NewOAuth1Value()
		if !gatehouse.IsOAuth1Value(v) || seen[v] {
			t.Fatalf("NewOAuth1Value = %q: bad shape or repeated", v)
		}
		seen[v] = true
	}

	k, err := secret.NewKeyring(make([]byte, secret.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	key := secret.NewOAuth1Value()
	hash := secret.HashBytes(key)
	consumer := k.Seal([]byte("consumer secret"), secret.ConsumerSecretAAD(key))
	token := k.Seal([]byte("token secret"), secret.TokenSecretAAD(hash))
	if got, err := k.Open(consumer, secret.ConsumerSecretAAD(key)); err != nil || string(got) != "consumer secret" {
		t.Fatalf("consumer secret: %q, %v", got, err)
	}
	if got, err := k.Open(token, secret.TokenSecretAAD(hash)); err != nil || string(got) != "token secret" {
		t.Fatalf("token secret: %q, %v", got, err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"consumer secret of another key": func() ([]byte, error) {
			return k.Open(consumer, secret.ConsumerSecretAAD(secret.NewOAuth1Value()))
		},
		"token secret of another token": func() ([]byte, error) {
			return k.Open(token, secret.TokenSecretAAD(secret.HashBytes(secret.NewOAuth1Value())))
		},
		"consumer secret as a token secret": func() ([]byte, error) { return k.Open(consumer, secret.TokenSecretAAD([]byte(key))) },
		"token secret as a consumer secret": func() ([]byte, error) { return k.Open(token, secret.ConsumerSecretAAD(string(hash))) },
	} {
		if _, err := open(); err == nil {
			t.Errorf("%s opened", name)
		}
	}
}
