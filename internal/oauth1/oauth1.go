// Package oauth1 is Gatehouse's OAuth 1.0a provider (RFC 5849), built to
// behave like Magento 2's so that third-party extensions written for
// Magento's integration handshake work unchanged (seed 000, SPEC §5):
//
//   - POST /oauth/token/request, signed with the consumer key and secret
//     only, answers a request token (temporary credentials, RFC 5849 §2.1);
//   - POST /oauth/token/access, signed with the consumer and the request
//     token and carrying the oauth_verifier that activation POSTed to the
//     integration's callback URL, answers the access token (§2.3);
//   - Authenticate checks an API call signed with the consumer and the
//     access token, for the gateway (§3.1–§3.5).
//
// Signatures are HMAC-SHA1 or HMAC-SHA256; PLAINTEXT and RSA-SHA1 are
// refused as unsupported, as Magento refuses them. Parameters come from
// the Authorization header, the query and an
// application/x-www-form-urlencoded body (§3.4.1.3.1); the protocol
// parameters (oauth_*) from exactly one of them (§3.5), Magento's echoes
// aside (below). The base string
// (§3.4.1) sorts parameters in byte order; Magento's PHP libraries sort
// them with strnatcmp, so that order is accepted as a second try.
//
// The URL a client signed is rebuilt from the connection: https when the
// request came over TLS, or when the TCP peer is a trusted proxy
// (GATEHOUSE_TRUSTED_PROXIES) that says X-Forwarded-Proto: https; the host
// is the Host header; the path is the request target's path exactly as
// sent. Behind a TLS-terminating proxy that is not listed as trusted,
// signatures made for https:// URLs therefore do not verify.
//
// Replay protection: oauth_timestamp must lie within MaxSkew (600 s) of
// the server's clock in either direction (SPEC §9), and each
// (timestamp, nonce) pair is consumed once per consumer in the shared
// store (Store.ConsumeOnce), so a replay is refused on every node. The
// nonce is consumed only after the signature checked out, so nobody can
// burn another consumer's nonces.
//
// Errors are oauth_problem=…&oauth_problem_advice=… bodies
// (application/x-www-form-urlencoded), 400 for malformed or unsupported
// requests and 401 for credentials that do not check out; see Problem.
// Decisions where Magento and RFC 5849 differ:
//   - timestamp_refused is 401 (Magento answers 400): a timestamp outside
//     the window is a replay-protection failure, like a used nonce, and
//     SPEC §5 puts those under 401;
//   - the request-token answer carries oauth_callback_confirmed=true, as
//     RFC 5849 §2.1 requires (Magento omits it; clients ignore extra
//     fields, and strict RFC clients need it);
//   - oauth_callback is not required: Magento delivers the verifier to the
//     integration's registered callback URL, not to oauth_callback;
//   - Magento's OauthClient repeats oauth_verifier in the form body beside
//     the header (against §3.5 and §3.1); with the header as transport, a
//     copy in the body or the query with the header's value is dropped,
//     as Magento's server ignores it, and another value is refused (see
//     Collect and docs/oauth1.md).
package oauth1

import (
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// DefaultMaxSkew is how far oauth_timestamp may be from the server's
// clock, either way (Magento's TIME_DEVIATION; SPEC §9).
const DefaultMaxSkew = 600 * time.Second

// maxNonceLen bounds oauth_nonce (Magento's nonce column is 32 characters;
// clients such as dghubble/oauth1 send 44, so allow more).
const maxNonceLen = 255

// Store is what the provider reads and changes: integrations by consumer
// key, request tokens, access tokens (credentials by hash) and consumed
// nonces and verifiers. gatehouse.Store is one (its documentation gives
// each method's rules).
type Store interface {
	FindIntegrationByConsumerKey(ctx context.Context, consumerKey string) (*gatehouse.Integration, error)
	CreateRequestToken(ctx context.Context, t *gatehouse.OAuth1Token) error
	FindRequestToken(ctx context.Context, hash []byte) (*gatehouse.OAuth1Token, error)
	ConsumeRequestToken(ctx context.Context, hash []byte, now time.Time) (*gatehouse.OAuth1Token, error)
	FindCredentialByHash(ctx context.Context, hash []byte) (*gatehouse.Credential, error)
	ConsumeOnce(ctx context.Context, namespace, key string, now, expires time.Time) error
}

// Config configures a Provider.
type Config struct {
	// Store (required) holds integrations, request tokens, access tokens
	// and consumed nonces: the same database the admin service writes.
	Store Store
	// Keys (required) opens sealed consumer and token secrets and seals
	// request token secrets: the keyring the admin service seals with.
	Keys *secret.Keyring
	// Admin (required) issues the access token at the end of the exchange
	// (IssueIntegrationAccess) and knows the handshake expiry.
	Admin *admin.Service
	// TrustedProxies may set X-Forwarded-Proto (and X-Forwarded-For).
	TrustedProxies []netip.Prefix
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log (default slog.Default()).
	Log *slog.Logger
	// MaxSkew is how far oauth_timestamp may be from Now, in either
	// direction (default DefaultMaxSkew).
	MaxSkew time.Duration
}

// Provider serves the OAuth 1.0a token endpoints and authenticates signed
// API calls. It is safe for concurrent use.
type Provider struct {
	store   Store
	admin   *admin.Service
	keys    *secret.Keyring
	trusted []netip.Prefix
	now     func() time.Time
	log     *slog.Logger
	skew    time.Duration
}

// New returns a Provider.
func New(cfg Config) *Provider {
	p := &Provider{
		store:   cfg.Store,
		admin:   cfg.Admin,
		keys:    cfg.Keys,
		trusted: cfg.TrustedProxies,
		now:     cfg.Now,
		log:     cmp.Or(cfg.Log, slog.Default()),
		skew:    cfg.MaxSkew,
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.skew <= 0 {
		p.skew = DefaultMaxSkew
	}
	return p
}

// signed is a parsed, shape-checked signed request.
type signed struct {
	params      Params
	consumerKey string
	token       string
	verifier    string
	nonce       string
	ts          int64
	now         time.Time // the clock when the timestamp was checked
}

var baseRequired = []string{"oauth_consumer_key", "oauth_signature", "oauth_signature_method", "oauth_nonce", "oauth_timestamp"}

// parse collects the parameters and checks everything that needs no
// store: version, required parameters, signature method, value shapes and
// the timestamp window.
func (p *Provider) parse(r *http.Request, extra ...string) (*signed, error) {
	ps, _, err := Collect(r)
	if err != nil {
		return nil, err
	}
	// Magento: oauth_version is optional, but "1.0" when present.
	if v, ok := ps.Get("oauth_version"); ok && v != "1.0" {
		return nil, problem(VersionRejected, "oauth_version must be 1.0 when present")
	}
	var absent []string
	for _, name := range append(baseRequired[:len(baseRequired):len(baseRequired)], extra...) {
		if v, ok := ps.Get(name); !ok || v == "" {
			absent = append(absent, name)
		}
	}
	if len(absent) > 0 {
		return nil, &Problem{Name: ParameterAbsent, Advice: "missing: " + strings.Join(absent, ", "), Absent: absent}
	}
	s := &signed{params: ps}
	s.consumerKey, _ = ps.Get("oauth_consumer_key")
	s.token, _ = ps.Get("oauth_token")
	s.verifier, _ = ps.Get("oauth_verifier")
	s.nonce, _ = ps.Get("oauth_nonce")
	switch sm, _ := ps.Get("oauth_signature_method"); sm {
	case HMACSHA1, HMACSHA256:
	default:
		return nil, problem(SignatureMethodRejected, "use HMAC-SHA256 or HMAC-SHA1 (PLAINTEXT and RSA-SHA1 are not supported)")
	}
	// Magento's values are 32 characters of [a-z0-9] (SPEC §2); a value of
	// another length is a client bug, answered 400 as Magento does.
	if !gatehouse.IsOAuth1Value(s.consumerKey) {
		return nil, problem(ParameterRejected, "oauth_consumer_key must be 32 characters of a-z and 0-9")
	}
	if _, ok := ps.Get("oauth_token"); ok && !gatehouse.IsOAuth1Value(s.token) {
		return nil, problem(ParameterRejected, "the token length is invalid: oauth_token must be 32 characters of a-z and 0-9")
	}
	if _, ok := ps.Get("oauth_verifier"); ok && !gatehouse.IsOAuth1Value(s.verifier) {
		return nil, problem(ParameterRejected, "oauth_verifier must be 32 characters of a-z and 0-9")
	}
	if len(s.nonce) > maxNonceLen {
		return nil, problem(ParameterRejected, fmt.Sprintf("oauth_nonce is longer than %d characters", maxNonceLen))
	}
	raw, _ := ps.Get("oauth_timestamp")
	ts, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || ts <= 0 || raw[0] == '+' {
		return nil, problem(ParameterRejected, "oauth_timestamp must be a positive number of seconds since 1970")
	}
	s.ts = ts
	// SPEC §5 and §9: accepted within ±MaxSkew, edges included, compared at
	// the clock's full resolution. Security: whole seconds would accept a
	// timestamp for up to a second past ts+MaxSkew, after its nonce's mark
	// (kept through ts+MaxSkew, see verify) is gone, so a captured request
	// could be replayed in that second; now nothing older than the mark is
	// accepted. (time.Time.Sub saturates, so a huge ts cannot overflow.)
	now, at := p.now(), time.Unix(ts, 0)
	s.now = now
	if now.Sub(at) > p.skew || at.Sub(now) > p.skew {
		return nil, problem(TimestampRefused, fmt.Sprintf("oauth_timestamp must be within %d seconds of the server's time (%d); check the client's clock", int64(p.skew/time.Second), now.Unix()))
	}
	return s, nil
}

// consumer finds the integration of a consumer key and opens its secret.
func (p *Provider) consumer(ctx context.Context, key string) (*gatehouse.Integration, string, error) {
	i, err := p.store.FindIntegrationByConsumerKey(ctx, key)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, "", problem(ConsumerKeyRejected, "no integration has this consumer key")
	}
	if err != nil {
		return nil, "", fmt.Errorf("find integration: %w", err)
	}
	sec, err := p.keys.Open(i.ConsumerSecret, secret.ConsumerSecretAAD(i.ConsumerKey))
	if err != nil {
		return nil, "", fmt.Errorf("open consumer secret: %w", err)
	}
	return i, string(sec), nil
}

// verify checks the signature and then consumes the nonce.
func (p *Provider) verify(ctx context.Context, r *http.Request, s *signed, consumerSecret, tokenSecret string) error {
	u := SignedURL(r, p.trusted)
	if !checkSignature(r.Method, u, s.params, consumerSecret, tokenSecret) {
		return problem(SignatureInvalid, "the signature does not match: check the consumer secret, the token secret and the URL signed ("+u+")")
	}
	// RFC 5849 §3.3: a (timestamp, nonce) pair is used once. The mark lives
	// through ts+MaxSkew, the last instant parse accepts ts, and the store
	// is given the very instant parse checked: a later reading could fall
	// past the edge and replace a live mark of a request accepted at it.
	expires := time.Unix(s.ts, 0).Add(p.skew)
	err := p.store.ConsumeOnce(ctx, "oauth1-nonce:"+s.consumerKey, strconv.FormatInt(s.ts, 10)+":"+s.nonce, s.now, expires)
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		return problem(NonceUsed, "this oauth_nonce was already used with this oauth_timestamp; use a fresh nonce for every request")
	}
	if err != nil {
		return fmt.Errorf("consume nonce: %w", err)
	}
	return nil
}

// RequestTokenHandler serves POST /oauth/token/request (RFC 5849 §2.1):
// the consumer, signing with its key and secret only, gets a request
// token and secret, as long as its integration is waiting for the
// exchange (Pending) and the handshake expiry since the activation POST
// has not passed ("Consumer key has expired" otherwise).
func (p *Provider) RequestTokenHandler() http.Handler {
	return p.handler(p.requestToken)
}

// AccessTokenHandler serves POST /oauth/token/access (RFC 5849 §2.3): the
// consumer signs with its key and secret and the request token, and sends
// the oauth_verifier it received at its callback URL; it gets the access
// token and secret. Request token and verifier work once.
func (p *Provider) AccessTokenHandler() http.Handler {
	return p.handler(p.accessToken)
}

func (p *Provider) handler(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeForm(w, http.StatusMethodNotAllowed, "oauth_problem=method_not_allowed&oauth_problem_advice=use+POST")
			return
		}
		if err := h(w, r); err != nil {
			writeProblem(w, r, p.log, err)
		}
	})
}

func (p *Provider) requestToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := p.parse(r)
	if err != nil {
		return err
	}
	i, consumerSecret, err := p.consumer(ctx, s.consumerKey)
	if err != nil {
		return err
	}
	// Magento checks the consumer's expiry before the signature, so the
	// integrator hears the plain reason even when something else is wrong
	// too.
	now := p.now()
	deadline, ok := p.admin.HandshakeDeadline(i)
	switch {
	case !ok:
		return problem(ConsumerKeyRejected, "the integration is not waiting for a token exchange; activate or reauthorize it first")
	case !now.Before(deadline):
		return problem(ConsumerKeyRejected, ConsumerKeyExpired)
	}
	if err := p.verify(ctx, r, s, consumerSecret, ""); err != nil {
		return err
	}
	token, tokenSecret := secret.NewOAuth1Value(), secret.NewOAuth1Value()
	hash := secret.HashBytes(token)
	rt := &gatehouse.OAuth1Token{
		Hash:          hash,
		TenantID:      i.TenantID,
		IntegrationID: i.ID,
		Secret:        p.keys.Seal([]byte(tokenSecret), secret.TokenSecretAAD(hash)),
		ExpiresAt:     deadline.UTC(),
	}
	if err := p.store.CreateRequestToken(ctx, rt); err != nil {
		return fmt.Errorf("create request token: %w", err)
	}
	writeForm(w, http.StatusOK, "oauth_token="+token+"&oauth_token_secret="+tokenSecret+"&oauth_callback_confirmed=true")
	return nil
}

func (p *Provider) accessToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := p.parse(r, "oauth_token", "oauth_verifier")
	if err != nil {
		return err
	}
	i, consumerSecret, err := p.consumer(ctx, s.consumerKey)
	if err != nil {
		return err
	}
	hash := secret.HashBytes(s.token)
	rt, err := p.store.FindRequestToken(ctx, hash)
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		return problem(TokenRejected, "oauth_token is not a request token of this consumer; get one at /oauth/token/request")
	case err != nil:
		return fmt.Errorf("find request token: %w", err)
	case rt.IntegrationID != i.ID || rt.TenantID != i.TenantID:
		return problem(TokenRejected, "the request token is not associated with this consumer")
	}
	tokenSecret, err := p.keys.Open(rt.Secret, secret.TokenSecretAAD(hash))
	if err != nil {
		return fmt.Errorf("open request token secret: %w", err)
	}
	if err := p.verify(ctx, r, s, consumerSecret, string(tokenSecret)); err != nil {
		return err
	}
	now := p.now()
	switch {
	case rt.UsedAt != nil:
		return problem(TokenUsed, "the request token was already exchanged; start again at /oauth/token/request")
	case !now.Before(rt.ExpiresAt):
		return problem(TokenExpired, "the request token has expired: the exchange must finish within the handshake period after activation")
	}
	// Security: the verifier is compared by its hash in constant time; a
	// pending integration holds the hash of the latest one POSTed.
	vh := secret.HashBytes(s.verifier)
	if i.Status != gatehouse.IntegrationPending || len(i.VerifierHash) == 0 || subtle.ConstantTimeCompare(vh, i.VerifierHash) != 1 {
		return problem(VerifierInvalid, "oauth_verifier does not match the one sent to the callback URL at the latest activation")
	}
	// RFC 5849 §2.3: single use. The request token is consumed only after
	// the signature checked out, so a forger cannot burn it.
	if _, err := p.store.ConsumeRequestToken(ctx, hash, now.UTC()); err != nil {
		switch {
		case gatehouse.IsCode(err, gatehouse.ECONFLICT):
			return problem(TokenUsed, "the request token was already exchanged; start again at /oauth/token/request")
		case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
			return problem(TokenRejected, "the request token no longer exists")
		}
		return fmt.Errorf("consume request token: %w", err)
	}
	// The verifier too: two request tokens cannot both redeem it, even
	// when they race past the comparison above.
	verifierExpires := rt.ExpiresAt.Add(p.skew)
	err = p.store.ConsumeOnce(ctx, "oauth1-verifier:"+s.consumerKey, fmt.Sprintf("%x", vh), now, verifierExpires)
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		return problem(VerifierInvalid, "oauth_verifier was already used")
	}
	if err != nil {
		return fmt.Errorf("consume verifier: %w", err)
	}
	token, tokenSecret2, err := p.admin.IssueIntegrationAccess(ctx, i, "integration "+i.Name, httpx.ClientIP(r, p.trusted).String())
	if err != nil {
		return err
	}
	writeForm(w, http.StatusOK, "oauth_token="+token+"&oauth_token_secret="+tokenSecret2)
	return nil
}

// Authenticate checks an API call signed with a consumer and an access
// token (RFC 5849 §3): parameters, timestamp window, consumer, the access
// token (kind integration, of the consumer's integration),
// the signature and the nonce. It returns the access token, which the
// caller then verifies (verify.Request with Signed set) for scope, tenant
// and IP.
//
// A refused call has a non-empty code (MALFORMED or UNKNOWN) and
// err a *Problem whose text may be shown to the caller. An empty code with
// a non-nil err means the store could not answer: refuse with 503.
func (p *Provider) Authenticate(r *http.Request) (accessToken string, code gatehouse.Code, err error) {
	token, err := p.authenticate(r)
	if err != nil {
		if pr, ok := err.(*Problem); ok {
			return "", pr.Code(), pr
		}
		return "", "", err
	}
	return token, "", nil
}

func (p *Provider) authenticate(r *http.Request) (string, error) {
	ctx := r.Context()
	s, err := p.parse(r, "oauth_token")
	if err != nil {
		return "", err
	}
	i, consumerSecret, err := p.consumer(ctx, s.consumerKey)
	if err != nil {
		return "", err
	}
	hash := secret.HashBytes(s.token)
	c, err := p.store.FindCredentialByHash(ctx, hash)
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		if _, rerr := p.store.FindRequestToken(ctx, hash); rerr == nil {
			return "", problem(TokenRejected, "oauth_token is a request token; exchange it at /oauth/token/access for an access token")
		}
		return "", problem(TokenRejected, "oauth_token is not an access token of this consumer")
	case err != nil:
		return "", fmt.Errorf("find credential: %w", err)
	case c.Kind != gatehouse.KindIntegration || c.ClientID != i.ID || c.TenantID != i.TenantID:
		return "", problem(TokenRejected, "oauth_token is not an access token of this consumer")
	}
	// Security: revocation is not told here, before the signature proves the
	// caller holds the secrets; the verifier answers REVOKED after it.
	tokenSecret, err := p.keys.Open(c.Secret, secret.TokenSecretAAD(hash))
	if err != nil {
		return "", fmt.Errorf("open access token secret: %w", err)
	}
	if err := p.verify(ctx, r, s, consumerSecret, string(tokenSecret)); err != nil {
		return "", err
	}
	return s.token, nil
}
