package admin

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Login checks an email and password. Wrong credentials are EUNAUTHORIZED
// with one message whether the email exists or not. Failures are counted
// per (email, client address), per client address and per email (see
// loginThrottle); a refused attempt is ETOOMANY with a RetryAfter and costs
// no password hash. At most Options.PasswordHashes hashes run at once on a
// node; a login that cannot get one within Options.PasswordHashWait is
// ETOOMANY too, so memory stays flat under any burst.
func (s *Service) Login(ctx context.Context, email, password, ip string) (*gatehouse.User, error) {
	email, _ = gatehouse.NormalizeEmail(email)
	now := s.now()
	// Security: the attempt is reserved before the hash is computed, so N
	// concurrent wrong passwords evaluate at most the limit, not N.
	att, wait := s.logins.reserve(email, ip, now)
	if wait > 0 {
		return nil, tooManyLogins(wait)
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		s.logins.cancel(att)
		return nil, fmt.Errorf("find user: %w", err)
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := s.passwordMatches(ctx, hash, password)
	if err != nil {
		s.logins.cancel(att)
		return nil, err
	}
	if !ok {
		return nil, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "the email or password is incorrect")
	}
	s.logins.succeed(att, s.now())
	return u, nil
}

// tooManyLogins is the ETOOMANY of a throttled login.
func tooManyLogins(wait time.Duration) error {
	e := gatehouse.Errorf(gatehouse.ETOOMANY,
		"too many failed logins; try again in %d minutes", int(math.Ceil(wait.Minutes())))
	e.RetryAfter = wait
	return e
}

// passwordMatches compares password with a stored argon2id hash; an empty
// hash (unknown user, or one without a password) spends the same time and
// never matches. It holds one of the node's password-hash slots while it
// works (see hashSlot).
func (s *Service) passwordMatches(ctx context.Context, hash, password string) (bool, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	if hash == "" {
		secret.DummyCheck(password) // Security: same time as a wrong password.
		return false, nil
	}
	return s.checkPassword(hash, password), nil
}

// hashPassword hashes a new password in one of the node's password-hash
// slots (argon2id costs 46 MiB while it runs).
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return secret.HashPassword(password), nil
}

// hashSlot waits at most hashWait for one of the node's password-hash
// slots. Security: argon2id takes 46 MiB per running hash, so the slots
// (default one per core) bound the memory a burst of logins can take; a
// caller that waits too long is ETOOMANY (429 with Retry-After), not queued.
func (s *Service) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.hashes <- struct{}{}:
		return func() { <-s.hashes }, nil
	default:
	}
	t := time.NewTimer(s.hashWait)
	defer t.Stop()
	select {
	case s.hashes <- struct{}{}:
		return func() { <-s.hashes }, nil
	case <-t.C:
		e := gatehouse.Errorf(gatehouse.ETOOMANY, "the service is busy; try again in a few seconds")
		e.RetryAfter = time.Second
		return nil, e
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// loginThrottle counts failed logins in fixed windows under three keys, in
// the manner of GitHub's sign-in protection rather than Keycloak's
// per-user lock-out (which lets anyone lock the owner out by guessing):
//
//   - (email, address): the strict limit; a guesser at one address gets
//     `pair` tries per account;
//   - address: `perIP` failures over all emails, against spraying one
//     password over many accounts;
//   - email: `perAccount` failures from all addresses, against a guesser
//     who rotates addresses. Past it the account refuses logins only from
//     addresses it has not logged in from successfully before, so its
//     owner still gets in from their usual address.
//
// Every attempt is reserved under the lock before its password hash, so
// concurrent attempts cannot overrun a limit; a success gives its
// reservation back. Counters live in memory per node (docs/decisions.md:
// with N nodes a guesser gets at most N times each limit per window).
type loginThrottle struct {
	mu                      sync.Mutex
	window                  time.Duration
	pair, perIP, perAccount int
	counts                  map[string]*failures
	known                   map[string]map[string]time.Time // email → address → last successful login
}

// maxKnownAddrs is how many addresses of successful logins an account
// remembers (the most recent ones).
const maxKnownAddrs = 16

// maxThrottleKeys bounds the counters kept, under a spray attack.
const maxThrottleKeys = 100_000

func newLoginThrottle(pair int, window time.Duration) *loginThrottle {
	return &loginThrottle{
		window: window, pair: pair, perIP: 4 * pair, perAccount: 10 * pair,
		counts: map[string]*failures{}, known: map[string]map[string]time.Time{},
	}
}

// attempt is a reserved login attempt: the keys it counted under.
type attempt struct {
	email, ip string
	keys      []string
}

// reserve counts an attempt under its keys when none is at its limit and
// returns it; otherwise it counts nothing and returns how long to wait.
func (t *loginThrottle) reserve(email, ip string, now time.Time) (*attempt, time.Duration) {
	a := &attempt{email: email, ip: ip}
	t.mu.Lock()
	defer t.mu.Unlock()
	type check struct {
		key   string
		limit int
	}
	checks := []check{{"pair:" + email + "\x00" + ip, t.pair}, {"ip:" + ip, t.perIP}}
	if _, known := t.known[email][ip]; !known {
		checks = append(checks, check{"email:" + email, t.perAccount})
	} else {
		a.keys = append(a.keys, "email:"+email) // counted, never refused
	}
	var wait time.Duration
	for _, c := range checks {
		if f := t.current(c.key, now); f != nil && f.n >= c.limit {
			wait = max(wait, t.window-now.Sub(f.first))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	if len(t.counts) > maxThrottleKeys {
		t.prune(now)
	}
	for _, c := range checks {
		a.keys = append(a.keys, c.key)
	}
	for _, k := range a.keys {
		f := t.current(k, now)
		if f == nil {
			f = &failures{first: now}
			t.counts[k] = f
		}
		f.n++
	}
	return a, 0
}

// current returns the live counter of key, dropping an expired one.
func (t *loginThrottle) current(key string, now time.Time) *failures {
	f := t.counts[key]
	if f != nil && now.Sub(f.first) >= t.window {
		delete(t.counts, key)
		return nil
	}
	return f
}

func (t *loginThrottle) prune(now time.Time) {
	for k, f := range t.counts {
		if now.Sub(f.first) >= t.window {
			delete(t.counts, k)
		}
	}
	if len(t.known) > maxThrottleKeys {
		clear(t.known)
	}
}

// cancel gives back a reservation whose attempt was not decided (the
// database failed, or no password-hash slot was free).
func (t *loginThrottle) cancel(a *attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.undo(a)
}

func (t *loginThrottle) undo(a *attempt) {
	for _, k := range a.keys {
		if f := t.counts[k]; f != nil && f.n > 0 {
			f.n--
		}
	}
}

// succeed gives back a successful attempt's reservation, clears the
// failures of its (email, address) and remembers the address as one the
// account logs in from.
func (t *loginThrottle) succeed(a *attempt, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.undo(a)
	delete(t.counts, "pair:"+a.email+"\x00"+a.ip)
	addrs := t.known[a.email]
	if addrs == nil {
		addrs = map[string]time.Time{}
		t.known[a.email] = addrs
	}
	addrs[a.ip] = now
	for len(addrs) > maxKnownAddrs {
		oldest, at := "", now
		for ip, last := range addrs {
			if !last.After(at) {
				oldest, at = ip, last
			}
		}
		delete(addrs, oldest)
	}
}

// throttle counts failures per key in a fixed window (the password
// re-confirmation of integration saves uses it).
type throttle struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	fails  map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

func newThrottle(limit int, window time.Duration) *throttle {
	return &throttle{limit: limit, window: window, fails: map[string]*failures{}}
}

func (t *throttle) blocked(keys []string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		f := t.fails[k]
		if f == nil {
			continue
		}
		if now.Sub(f.first) >= t.window {
			delete(t.fails, k)
			continue
		}
		if f.n >= t.limit {
			wait = max(wait, t.window-now.Sub(f.first))
		}
	}
	return wait
}

func (t *throttle) fail(keys []string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) > maxThrottleKeys { // Security: bound memory under a spray attack.
		for k, f := range t.fails {
			if now.Sub(f.first) >= t.window {
				delete(t.fails, k)
			}
		}
	}
	for _, k := range keys {
		f := t.fails[k]
		if f == nil || now.Sub(f.first) >= t.window {
			f = &failures{first: now}
			t.fails[k] = f
		}
		f.n++
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	delete(t.fails, key)
	t.mu.Unlock()
}
