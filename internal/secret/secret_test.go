package secret

import (
	"bytes"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestNewTokenFormat(t *testing.T) {
	for _, kind := range []gatehouse.Kind{gatehouse.KindPAT, gatehouse.KindStaff, gatehouse.KindAPIKey, gatehouse.KindOAuth2Access, gatehouse.KindOAuth2Refresh} {
		t.Run(string(kind), func(t *testing.T) {
			tok := NewToken(kind)
			prefix := "gate_" + kind.TokenPrefix() + "_"
			if !strings.HasPrefix(tok, prefix) {
				t.Fatalf("token %q lacks prefix %q", tok, prefix)
			}
			if got := len(tok) - len(prefix); got != RandomLen+checksumLen {
				t.Fatalf("body length %d, want %d", got, RandomLen+checksumLen)
			}
			k, ok := ParseToken(tok)
			if !ok || k != kind {
				t.Fatalf("ParseToken(%q) = %q, %v", tok, k, ok)
			}
		})
	}
}

// TestChecksumSpec recomputes the checksum independently from SPEC §2's words.
func TestChecksumSpec(t *testing.T) {
	tok := NewToken(gatehouse.KindPAT)
	head, sum := tok[:len(tok)-6], tok[len(tok)-6:]
	v := uint64(crc32.ChecksumIEEE([]byte(head)))
	var n uint64
	for _, c := range sum {
		n = n*62 + uint64(strings.IndexRune(alphabet, c))
	}
	if n != v {
		t.Fatalf("checksum %q decodes to %d, CRC-32 is %d", sum, n, v)
	}
	// A known value: CRC-32("gate_pat_") left-padded base62.
	if got := checksum(""); got != "000000" {
		t.Fatalf("checksum(\"\") = %q, want 000000", got)
	}
}

func TestParseTokenRejects(t *testing.T) {
	good := NewToken(gatehouse.KindPAT)
	typo := []byte(good)
	i := len("gate_pat_") + 3
	if typo[i] == 'a' {
		typo[i] = 'b'
	} else {
		typo[i] = 'a'
	}
	cases := map[string]string{
		"empty":        "",
		"typo":         string(typo),
		"truncated":    good[:len(good)-1],
		"extra":        good + "0",
		"bad kind":     strings.Replace(good, "_pat_", "_xyz_", 1),
		"no prefix":    strings.TrimPrefix(good, "gate_"),
		"non-base62":   good[:12] + "-" + good[13:],
		"foreign":      "sk_live_abcdefghijklmnopqrstuvwxyz012345",
		"oauth1 value": "abcdefghijklmnopqrstuvwxyz012345",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := ParseToken(tok); ok {
				t.Fatalf("ParseToken(%q) accepted", tok)
			}
		})
	}
}

func TestRandomStringUniform(t *testing.T) {
	s := RandomString(62*200, alphabet)
	counts := map[rune]int{}
	for _, c := range s {
		counts[c]++
	}
	if len(counts) != 62 {
		t.Fatalf("only %d distinct characters", len(counts))
	}
	for c, n := range counts {
		if n < 100 || n > 320 { // expected 200; far outside means bias
			t.Errorf("character %q drawn %d times", c, n)
		}
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if !CheckPassword(h, "correct horse") {
		t.Fatal("right password refused")
	}
	if CheckPassword(h, "correct horsE") || CheckPassword("", "") || CheckPassword("$argon2id$garbage", "x") {
		t.Fatal("wrong password or bad hash accepted")
	}
	if HashPassword("correct horse") == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestSeal(t *testing.T) {
	key, err := LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "d", "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal([]byte("consumer-secret"), []byte("row-1"))
	if bytes.Contains(sealed, []byte("consumer-secret")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := k.Open(sealed, []byte("row-1"))
	if err != nil || string(got) != "consumer-secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, []byte("row-2")); err == nil {
		t.Fatal("sealed value opened under another row's aad")
	}
	if bytes.Equal(k.Derive("a"), k.Derive("b")) {
		t.Fatal("derived keys coincide")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	a, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load differs: %v", err)
	}
	if _, err := ParseKey(strings.Repeat("ab", 32)); err != nil {
		t.Fatalf("hex key refused: %v", err)
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("short key accepted")
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(NewToken(gatehouse.KindPAT))
	f.Add(NewToken(gatehouse.KindAPIKey))
	f.Add("gate_pat_")
	f.Add("gate__")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		kind, ok := ParseToken(s)
		if ok {
			if kind.TokenPrefix() == "" || !strings.HasPrefix(s, "gate_"+kind.TokenPrefix()+"_") {
				t.Fatalf("accepted %q as %q", s, kind)
			}
			if checksum(s[:len(s)-6]) != s[len(s)-6:] {
				t.Fatalf("accepted %q with a wrong checksum", s)
			}
		}
	})
}

func BenchmarkParseToken(b *testing.B) {
	tok := NewToken(gatehouse.KindPAT)
	b.ReportAllocs()
	for b.Loop() {
		ParseToken(tok)
	}
}

func BenchmarkHash(b *testing.B) {
	tok := NewToken(gatehouse.KindPAT)
	b.ReportAllocs()
	for b.Loop() {
		Hash(tok)
	}
}
