// Package signing keeps each issuer's signing keys for OpenID Connect ID
// tokens and JWT access tokens (RFC 9068): it creates and rotates them,
// signs JWTs with the current one, serves the JWKS (RFC 7517 §5) and
// verifies by kid. All JOSE work is go-jose's; no cryptography is written
// here.
//
// # Rotation (OpenID Connect Core §10.1.1)
//
// A key's life has three stages. A new key is published in the JWKS at
// once but signs nothing for PrePublish (default 24 h), so every client
// that caches the JWKS (for at most the JWKS max-age) has it before the
// first token it signs arrives. It then signs until its successor starts
// (RotationPeriod later, default 30 days). Retired, it stays in the JWKS
// for Retention (default 2 h: the longest token lifetime, 1 h, plus 1 h of
// margin for clock skew), so every token it signed verifies until it
// expires; then it leaves the JWKS and the janitor deletes its row. An
// issuer's first key signs at once: no client can hold an older key set
// in which it is missing.
//
// Keys are stored sealed (AES-GCM with the server key, the kid as
// additional data); the private key is opened only in memory, when it is
// first needed to sign.
package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/go-jose/go-jose/v4"
)

// Defaults of Config.
const (
	DefaultAlg            = gatehouse.AlgES256
	DefaultRotationPeriod = 30 * 24 * time.Hour
	DefaultPrePublish     = 24 * time.Hour
	// DefaultRetention: the longest lifetime of what a key signs (access
	// tokens and ID tokens, 1 h) plus a margin of 1 h.
	DefaultRetention = 2 * time.Hour
	// DefaultRefresh: how often a node rereads the key set, so a key
	// another node created is known long before it signs.
	DefaultRefresh = time.Minute
	// MaxJWKSAge caps the JWKS's Cache-Control max-age.
	MaxJWKSAge = 5 * time.Minute
	// RSABits is the size of RS256 keys (RFC 7518 §3.3: at least 2048).
	RSABits = 2048
)

// Algs lists the algorithms a key can be made for.
var Algs = []string{gatehouse.AlgES256, gatehouse.AlgEdDSA, gatehouse.AlgRS256}

// Store is what a Signer needs of the store.
type Store interface {
	RotateSigningKey(ctx context.Context, r *gatehouse.SigningKeyRotation) (bool, error)
	ListSigningKeys(ctx context.Context, issuer string) ([]*gatehouse.SigningKey, error)
}

// Config configures a Signer.
type Config struct {
	Store  Store
	Keys   *secret.Keyring // seals and opens private keys
	Issuer string          // the key set's issuer (GATEHOUSE_PUBLIC_URL)
	// Alg of new keys (GATEHOUSE_OIDC_SIGNING_ALG), one of Algs.
	Alg            string
	RotationPeriod time.Duration
	PrePublish     time.Duration
	Retention      time.Duration
	Refresh        time.Duration
	Now            func() time.Time
	Log            *slog.Logger
}

// Signer signs JWTs with an issuer's current key and publishes the
// issuer's key set. It is safe for concurrent use.
type Signer struct {
	cfg Config

	mu  sync.Mutex // serialises reloads
	cur *state     // guarded by mu for writes; read under rmu
	rmu sync.RWMutex
}

// state is the key set as last read.
type state struct {
	loaded time.Time
	keys   []*key // newest first
}

type key struct {
	gatehouse.SigningKey
	public jose.JSONWebKey

	once    sync.Once // opens priv
	priv    any
	err     error
	signers sync.Map // typ → jose.Signer
}

// New returns a Signer; zero durations take the defaults.
func New(cfg Config) (*Signer, error) {
	if cfg.Alg == "" {
		cfg.Alg = DefaultAlg
	}
	if !slices.Contains(Algs, cfg.Alg) {
		return nil, fmt.Errorf("signing: unknown algorithm %q (want one of %v)", cfg.Alg, Algs)
	}
	if cfg.Store == nil || cfg.Keys == nil || cfg.Issuer == "" {
		return nil, errors.New("signing: Store, Keys and Issuer are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.RotationPeriod, DefaultRotationPeriod)
	def(&cfg.PrePublish, DefaultPrePublish)
	def(&cfg.Retention, DefaultRetention)
	def(&cfg.Refresh, DefaultRefresh)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Signer{cfg: cfg}, nil
}

// Issuer is the key set's issuer.
func (s *Signer) Issuer() string { return s.cfg.Issuer }

// JWKSMaxAge is the JWKS's Cache-Control max-age: short against the
// pre-publication (a quarter of it, at most MaxJWKSAge), so that a client
// honouring it holds a new key long before it signs.
func (s *Signer) JWKSMaxAge() time.Duration {
	return min(MaxJWKSAge, (s.cfg.PrePublish-s.cfg.Refresh)/4).Truncate(time.Second)
}

func (s *Signer) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Rotate creates the issuer's next key when a rotation is due — there is
// no key, the newest is older than RotationPeriod, or of another
// algorithm than Alg — or always when force is set. It reports whether it
// stored a key; false also when another node's rotation won the race.
func (s *Signer) Rotate(ctx context.Context, force bool) (*gatehouse.SigningKey, bool, error) {
	now := s.now()
	keys, err := s.cfg.Store.ListSigningKeys(ctx, s.cfg.Issuer)
	if err != nil {
		return nil, false, err
	}
	due := now.Add(-s.cfg.RotationPeriod)
	use := now.Add(s.cfg.PrePublish)
	switch {
	case len(keys) == 0:
		use = now // nothing to pre-publish against: the first key signs at once
	case force || keys[0].Alg != s.cfg.Alg:
		due = time.Time{}
	}
	next, err := s.generate(now, use)
	if err != nil {
		return nil, false, err
	}
	ok, err := s.cfg.Store.RotateSigningKey(ctx, &gatehouse.SigningKeyRotation{Next: next, DueBefore: due, Retention: s.cfg.Retention})
	if err != nil || !ok {
		return nil, false, err
	}
	s.cfg.Log.InfoContext(ctx, "signing key created", "kid", next.ID, "alg", next.Alg, "use_after", next.UseAfter)
	s.invalidate()
	return next, true, nil
}

// generate makes a key of the configured algorithm, sealed, with its
// public JWK; its kid is the RFC 7638 thumbprint of the public key.
func (s *Signer) generate(now, use time.Time) (*gatehouse.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch s.cfg.Alg {
	case gatehouse.AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case gatehouse.AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case gatehouse.AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, RSABits)
	}
	if err != nil {
		return nil, fmt.Errorf("signing: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("signing: encode key: %w", err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: s.cfg.Alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	jwk, err := pub.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("signing: encode public key: %w", err)
	}
	return &gatehouse.SigningKey{
		ID:        pub.KeyID,
		Issuer:    s.cfg.Issuer,
		Alg:       s.cfg.Alg,
		Sealed:    s.cfg.Keys.Seal(der, []byte(pub.KeyID)),
		PublicJWK: jwk,
		CreatedAt: now,
		UseAfter:  use,
	}, nil
}

func (s *Signer) invalidate() {
	s.rmu.Lock()
	s.cur = nil
	s.rmu.Unlock()
}

// state returns the key set, rereading it when it is older than Refresh.
// An issuer without keys gets its first one.
func (s *Signer) state(ctx context.Context) (*state, error) {
	now := s.now()
	s.rmu.RLock()
	st := s.cur
	s.rmu.RUnlock()
	if st != nil && now.Sub(st.loaded) < s.cfg.Refresh && !now.Before(st.loaded) {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rmu.RLock()
	if st2 := s.cur; st2 != nil && st2 != st && now.Sub(st2.loaded) < s.cfg.Refresh && !now.Before(st2.loaded) {
		s.rmu.RUnlock()
		return st2, nil
	}
	s.rmu.RUnlock()
	rows, err := s.cfg.Store.ListSigningKeys(ctx, s.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if _, _, err := s.Rotate(ctx, false); err != nil {
			return nil, err
		}
		if rows, err = s.cfg.Store.ListSigningKeys(ctx, s.cfg.Issuer); err != nil {
			return nil, err
		}
	}
	old := map[string]*key{}
	if st != nil {
		for _, k := range st.keys {
			old[k.ID] = k
		}
	}
	next := &state{loaded: now}
	for _, r := range rows {
		if k := old[r.ID]; k != nil { // keep the opened private key
			k.SigningKey = *r
			next.keys = append(next.keys, k)
			continue
		}
		k := &key{SigningKey: *r}
		if err := k.public.UnmarshalJSON(r.PublicJWK); err != nil {
			return nil, fmt.Errorf("signing: key %s: public key: %w", r.ID, err)
		}
		next.keys = append(next.keys, k)
	}
	s.rmu.Lock()
	s.cur = next
	s.rmu.Unlock()
	return next, nil
}

// current is the key signing at now: the newest whose stage it is.
func (st *state) current(now time.Time) *key {
	for _, k := range st.keys {
		if k.Signs(now) {
			return k
		}
	}
	return nil
}

// signer returns k's jose.Signer for typ, opening the sealed private key
// on first use and keeping one signer per typ (go-jose fixes a signer's
// header).
func (s *Signer) signer(k *key, typ string) (jose.Signer, error) {
	if sg, ok := k.signers.Load(typ); ok {
		return sg.(jose.Signer), nil
	}
	k.once.Do(func() {
		der, err := s.cfg.Keys.Open(k.Sealed, []byte(k.ID))
		if err != nil {
			k.err = fmt.Errorf("signing: open key %s: %w", k.ID, err)
			return
		}
		if k.priv, err = x509.ParsePKCS8PrivateKey(der); err != nil {
			k.err = fmt.Errorf("signing: parse key %s: %w", k.ID, err)
		}
	})
	if k.err != nil {
		return nil, k.err
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts.WithType(jose.ContentType(typ))
	}
	sg, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Alg),
		Key:       jose.JSONWebKey{Key: k.priv, KeyID: k.ID, Algorithm: k.Alg},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", k.ID, err)
	}
	got, _ := k.signers.LoadOrStore(typ, sg)
	return got.(jose.Signer), nil
}

// Sign returns claims as a compact JWS (RFC 7515 §7.1) signed with the
// current key, its header naming the key (kid, RFC 7515 §4.1.4) and typ
// ("JWT" for ID tokens, "at+jwt" for RFC 9068 §2.1 access tokens; ""
// leaves typ out).
func (s *Signer) Sign(ctx context.Context, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("signing: encode claims: %w", err)
	}
	st, err := s.state(ctx)
	if err != nil {
		return "", err
	}
	k := st.current(s.now())
	if k == nil {
		return "", gatehouse.Errorf(gatehouse.EINTERNAL, "signing: no key signs now")
	}
	sg, err := s.signer(k, typ)
	if err != nil {
		return "", err
	}
	obj, err := sg.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: sign: %w", err)
	}
	return obj.CompactSerialize()
}

// Keys returns the issuer's stored keys, newest first (`gatehouse keys
// list`), rereading them.
func (s *Signer) Keys(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	return s.cfg.Store.ListSigningKeys(ctx, s.cfg.Issuer)
}

// JWKS returns the published public keys (RFC 7517 §5), newest first.
func (s *Signer) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	st, err := s.state(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := s.now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range st.keys {
		if k.Published(now) {
			set.Keys = append(set.Keys, k.public)
		}
	}
	return set, nil
}

// Algs returns the algorithms of the published keys and of new keys: what
// the discovery document's id_token_signing_alg_values_supported lists
// (during a change of algorithm, both). When the key set cannot be read it
// answers the configured algorithm alone.
func (s *Signer) Algs(ctx context.Context) []string {
	algs := []string{s.cfg.Alg}
	st, err := s.state(ctx)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "signing algorithms", "err", err)
		return algs
	}
	now := s.now()
	for _, k := range st.keys {
		if k.Published(now) && !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
	}
	return algs
}
