package signing

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const issuer = "https://id.example"

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func keyring(t testing.TB) *secret.Keyring {
	t.Helper()
	return keyringOf(t, bytes.Repeat([]byte{7}, 32))
}

func keyringOf(t testing.TB, b []byte) *secret.Keyring {
	t.Helper()
	k, err := secret.NewKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigner(t testing.TB, st Store, c *clock, alg string) *Signer {
	t.Helper()
	s, err := New(Config{Store: st, Keys: keyring(t), Issuer: issuer, Alg: alg, Now: c.Now,
		RotationPeriod: 30 * 24 * time.Hour, PrePublish: 24 * time.Hour, Retention: 2 * time.Hour, Refresh: time.Minute, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

// serve returns the URL of the signer's JWKS.
func serve(t *testing.T, s *Signer) string {
	srv := httptest.NewServer(s.JWKSHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func fetchJWKS(t *testing.T, url string) (jose.JSONWebKeySet, *http.Response) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set, resp
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	obj, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return obj.Signatures[0].Header.KeyID
}

// TestSignVerify signs a JWT with each algorithm and verifies it as a
// relying party would: go-jose's jwt package with the key from the served
// JWKS, go-oidc's remote key set, and KeySet.
func TestSignVerify(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, url string) {
		st := sqlstoretest.Open(t, url)
		for _, alg := range Algs {
			t.Run(alg, func(t *testing.T) {
				c := newClock()
				s := newSigner(t, st, c, alg)
				s.cfg.Issuer = issuer + "/" + alg // a key set of its own
				want := claims{Iss: s.Issuer(), Sub: "user-1", Exp: c.Now().Add(time.Hour).Unix()}
				tok, err := s.Sign(t.Context(), "JWT", want)
				if err != nil {
					t.Fatal(err)
				}
				jwksURL := serve(t, s)
				set, resp := fetchJWKS(t, jwksURL)
				if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
					t.Errorf("Cache-Control = %q", cc)
				}
				if len(set.Keys) != 1 || set.Keys[0].Algorithm != alg || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() {
					t.Fatalf("JWKS = %+v, want one public %s signing key", set.Keys, alg)
				}

				// go-jose's JWT parser with the published key.
				parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				if typ := parsed.Headers[0].ExtraHeaders["typ"]; typ != "JWT" {
					t.Errorf("typ = %v, want JWT", typ)
				}
				var got jwt.Claims
				if err := parsed.Claims(set.Key(parsed.Headers[0].KeyID)[0], &got); err != nil {
					t.Fatalf("go-jose verify: %v", err)
				}
				if got.Subject != "user-1" || got.Issuer != s.Issuer() {
					t.Errorf("claims = %+v", got)
				}

				// go-oidc's remote key set, as a relying party fetches it.
				remote := oidc.NewRemoteKeySet(t.Context(), jwksURL)
				payload, err := remote.VerifySignature(t.Context(), tok)
				if err != nil {
					t.Fatalf("go-oidc verify: %v", err)
				}
				var back claims
				if err := json.Unmarshal(payload, &back); err != nil || back != want {
					t.Errorf("go-oidc payload = %s (%v), want %+v", payload, err, want)
				}

				// KeySet, the verifier resource servers will use.
				payload, err = NewKeySet(set).Verify(tok)
				if err != nil || json.Unmarshal(payload, &back) != nil || back != want {
					t.Errorf("KeySet.Verify = %s, %v", payload, err)
				}
			})
		}
	})
}

// TestRotation follows a rotation on the injected clock: the new key B is
// in the JWKS a pre-publication before it signs; tokens A signed verify
// (go-oidc, from the JWKS) until A is removed a retention after B took
// over; then A is gone from the JWKS and the janitor's prune deletes it.
func TestRotation(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		st := sqlstoretest.Open(t, url)
		c := newClock()
		s := newSigner(t, st, c, gatehouse.AlgES256)
		jwksURL := serve(t, s)
		sign := func() string {
			t.Helper()
			tok, err := s.Sign(ctx, "JWT", claims{Iss: issuer, Sub: "u", Exp: c.Now().Add(time.Hour).Unix()})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		kids := func() []string {
			set, _ := fetchJWKS(t, jwksURL)
			var ids []string
			for _, k := range set.Keys {
				ids = append(ids, k.KeyID)
			}
			return ids
		}
		tokA := sign()
		a := kidOf(t, tokA)
		if got := kids(); len(got) != 1 || got[0] != a {
			t.Fatalf("JWKS kids %v, want [%s]", got, a)
		}
		// Not due yet: nothing happens.
		c.Add(29 * 24 * time.Hour)
		if _, ok, err := s.Rotate(ctx, false); err != nil || ok {
			t.Fatalf("early rotation: %v, %v", ok, err)
		}
		c.Add(24*time.Hour + time.Second)
		b, ok, err := s.Rotate(ctx, false)
		if err != nil || !ok {
			t.Fatalf("due rotation: %v, %v", ok, err)
		}
		// A client that learned the JWKS before B signs anything.
		client := oidc.NewRemoteKeySet(ctx, jwksURL)
		if got := kids(); len(got) != 2 || got[0] != b.ID || got[1] != a {
			t.Fatalf("JWKS kids after rotation %v, want [%s %s]", got, b.ID, a)
		}
		if _, err := client.VerifySignature(ctx, tokA); err != nil {
			t.Fatal(err)
		}
		c.Add(24*time.Hour - time.Second) // just before B's UseAfter
		if kid := kidOf(t, sign()); kid != a {
			t.Errorf("signed with %s before B's use, want A %s", kid, a)
		}
		c.Add(time.Second)
		tokB := sign()
		if kid := kidOf(t, tokB); kid != b.ID {
			t.Errorf("signed with %s at B's use, want B %s", kid, b.ID)
		}
		if _, err := client.VerifySignature(ctx, tokB); err != nil {
			t.Errorf("client verifies B's token: %v", err)
		}
		c.Add(2*time.Hour - time.Second)
		if got := kids(); len(got) != 2 {
			t.Errorf("A removed before its retention ended: %v", got)
		}
		if _, err := oidc.NewRemoteKeySet(ctx, jwksURL).VerifySignature(ctx, tokA); err != nil {
			t.Errorf("A's token must verify until A's removal: %v", err)
		}
		c.Add(time.Second)
		if got := kids(); len(got) != 1 || got[0] != b.ID {
			t.Errorf("JWKS after A's retention %v, want [%s]", got, b.ID)
		}
		fresh := oidc.NewRemoteKeySet(ctx, jwksURL)
		if _, err := fresh.VerifySignature(ctx, tokB); err != nil {
			t.Errorf("B's token must still verify: %v", err)
		}
		if _, err := fresh.VerifySignature(ctx, tokA); err == nil {
			t.Error("A's token verified after A left the JWKS")
		}
		n, err := st.PruneBatch(ctx, gatehouse.PruneSigningKeys, c.Now().Add(time.Microsecond), 10)
		if err != nil || n != 1 {
			t.Errorf("prune: %d, %v; want A deleted", n, err)
		}
	})
}

// TestSealedAtRest: the private key is stored sealed — neither its PKCS #8
// bytes (raw, hex, base64) nor its private scalar appear anywhere in the
// database — and the row opens only under its own kid with the server key.
func TestSealedAtRest(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, url string) {
		st := sqlstoretest.Open(t, url)
		s := newSigner(t, st, newClock(), gatehouse.AlgES256)
		if _, err := s.Sign(t.Context(), "JWT", claims{Sub: "u"}); err != nil {
			t.Fatal(err)
		}
		keys, err := st.ListSigningKeys(t.Context(), issuer)
		if err != nil || len(keys) != 1 {
			t.Fatal(keys, err)
		}
		k := keys[0]
		der, err := keyring(t).Open(k.Sealed, []byte(k.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keyring(t).Open(k.Sealed, []byte("another-kid")); err == nil {
			t.Error("a sealed key opened under another kid")
		}
		if _, err := keyringOf(t, bytes.Repeat([]byte{8}, 32)).Open(k.Sealed, []byte(k.ID)); err == nil {
			t.Error("a sealed key opened under another server key")
		}
		priv := s.cur.keys[0].priv.(*ecdsa.PrivateKey)
		d, err := priv.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		secrets := [][]byte{der, []byte(hex.EncodeToString(der)), []byte(base64.StdEncoding.EncodeToString(der)),
			d, []byte(hex.EncodeToString(d)), []byte(base64.RawURLEncoding.EncodeToString(d))}
		if strings.Contains(string(k.PublicJWK), `"d"`) {
			t.Errorf("public JWK holds a private part: %s", k.PublicJWK)
		}
		dump := dumpDB(t, url)
		for _, sec := range secrets {
			if bytes.Contains(dump, sec) {
				t.Fatalf("the database holds the private key in the clear (%.8x…)", sec)
			}
		}
	})
}

// dumpDB returns every byte of a SQLite database's files, or every
// signing_keys row of a PostgreSQL one as text.
func dumpDB(t *testing.T, url string) []byte {
	t.Helper()
	var dump []byte
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			dump = append(dump, b...)
		}
	} else {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query("SELECT t::text FROM signing_keys t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			dump = append(dump, row...)
		}
	}
	if len(dump) == 0 {
		t.Fatal("empty dump: the check checked nothing")
	}
	return dump
}

// TestConcurrentRotation: two nodes (two store handles on one PostgreSQL
// database, a Signer each) rotate at once, round after round; each round
// stores exactly one key.
func TestConcurrentRotation(t *testing.T) {
	url := sqlstoretest.PostgresURL(t)
	c := newClock()
	nodes := []*Signer{newSigner(t, sqlstoretest.Open(t, url), c, ""), newSigner(t, sqlstoretest.Open(t, url), c, "")}
	st := nodes[0].cfg.Store.(*sqlstore.DB)
	for round := range 5 {
		c.Add(31 * 24 * time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for range 4 { // two racers per node
			for _, n := range nodes {
				wg.Go(func() {
					_, ok, err := n.Rotate(t.Context(), false)
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						created++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if created != 1 {
			t.Errorf("round %d: %d keys created by 8 racing rotations, want 1", round, created)
		}
	}
	keys, err := st.ListSigningKeys(t.Context(), issuer)
	if err != nil || len(keys) != 5 {
		t.Fatalf("%d keys (%v), want 5", len(keys), err)
	}
}

// TestKeySetRefusals: what KeySet does not accept.
func TestKeySetRefusals(t *testing.T) {
	st := sqlstoretest.SQLite(t)
	c := newClock()
	s := newSigner(t, st, c, "")
	tok, err := s.Sign(t.Context(), "", claims{Sub: "u"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ks := NewKeySet(set)
	other := newSigner(t, sqlstoretest.SQLite(t), c, "")
	foreign, _ := other.Sign(t.Context(), "", claims{Sub: "u"})
	h, p, sig := split(tok)
	p2 := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`))
	hmacTok, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: []byte(strings.Repeat("k", 32)), KeyID: set.Keys[0].KeyID}}, nil)
	hs, _ := hmacTok.Sign([]byte(`{"sub":"u"}`))
	hsTok, _ := hs.CompactSerialize()
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + set.Keys[0].KeyID + `"}`))
	for name, bad := range map[string]string{
		"unknown kid":      foreign,
		"tampered payload": h + "." + p2 + "." + sig,
		"cut signature":    h + "." + p + ".",
		"HS256 by kid":     hsTok,
		"alg none":         noneHeader + "." + p + ".",
		"garbage":          "a.b.c",
	} {
		if _, err := ks.Verify(bad); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := ks.Verify(foreign); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown kid: %v, want ErrUnknownKey (so a caller refetches)", err)
	}
	// A JWKS entry whose alg is another's is not trusted for the token's.
	bad := set
	bad.Keys = []jose.JSONWebKey{set.Keys[0]}
	bad.Keys[0].Algorithm = "ES384"
	if _, err := NewKeySet(bad).Verify(tok); err == nil {
		t.Error("verified against a key of another algorithm")
	}
}

func split(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

func TestJWKSHandlerMethods(t *testing.T) {
	s := newSigner(t, sqlstoretest.SQLite(t), newClock(), "")
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(m, "/oauth2/jwks", strings.NewReader("x")))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
	rec := httptest.NewRecorder()
	s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/oauth2/jwks", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d body bytes", rec.Code, rec.Body.Len())
	}
}

func TestNewRefusesUnknownAlg(t *testing.T) {
	for _, alg := range []string{"HS256", "none", "ES384", "es256"} {
		if _, err := New(Config{Store: sqlstoretest.SQLite(t), Keys: keyring(t), Issuer: issuer, Alg: alg}); err == nil {
			t.Errorf("alg %q accepted", alg)
		}
	}
}

// TestAlgChangeRotates: a new GATEHOUSE_OIDC_SIGNING_ALG makes the next
// rotation due at once; discovery lists both algorithms while both keys
// are published.
func TestAlgChangeRotates(t *testing.T) {
	st := sqlstoretest.SQLite(t)
	c := newClock()
	if _, err := newSigner(t, st, c, gatehouse.AlgES256).Sign(t.Context(), "", claims{}); err != nil {
		t.Fatal(err)
	}
	s := newSigner(t, st, c, gatehouse.AlgEdDSA)
	k, ok, err := s.Rotate(t.Context(), false)
	if err != nil || !ok || k.Alg != gatehouse.AlgEdDSA {
		t.Fatalf("rotation on alg change: %v %v %v", k, ok, err)
	}
	if got := s.Algs(t.Context()); len(got) != 2 || got[0] != gatehouse.AlgEdDSA || got[1] != gatehouse.AlgES256 {
		t.Errorf("Algs = %v, want [EdDSA ES256]", got)
	}
}

// failingStore is a store that cannot be reached.
type failingStore struct{}

func (failingStore) RotateSigningKey(context.Context, *gatehouse.SigningKeyRotation) (bool, error) {
	return false, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unavailable")
}
func (failingStore) ListSigningKeys(context.Context, string) ([]*gatehouse.SigningKey, error) {
	return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "database unavailable")
}

// TestJWKSOutage: without the store the JWKS is 503 and not cached, and
// nothing is signed.
func TestJWKSOutage(t *testing.T) {
	s := newSigner(t, failingStore{}, newClock(), "")
	rec := httptest.NewRecorder()
	s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth2/jwks", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Cache-Control") != "no-store" || strings.Contains(rec.Body.String(), "database") {
		t.Errorf("outage: %d %q %q", rec.Code, rec.Header().Get("Cache-Control"), rec.Body.String())
	}
	if _, err := s.Sign(t.Context(), "JWT", claims{}); err == nil {
		t.Error("signed without a key set")
	}
}
