package admin

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Login checks an email and password. Wrong credentials are EUNAUTHORIZED
// with one message whether the email exists or not. Failures are counted
// per (email, client address), per client address and per email (see
// loginThrottle) in the store, so the limits hold across nodes; a refused
// attempt is ETOOMANY with a RetryAfter and costs no password hash. At most
// Options.PasswordHashes hashes run at once on a node; a login that cannot
// get one within Options.PasswordHashWait is ETOOMANY too, so memory stays
// flat under any burst.
func (s *Service) Login(ctx context.Context, email, password, ip string) (*gatehouse.User, error) {
	email, _ = gatehouse.NormalizeEmail(email)
	// Security: the attempt is reserved before the hash is computed, so N
	// concurrent wrong passwords evaluate at most the limit, not N.
	att, wait, err := s.logins.reserve(ctx, email, ip, s.now())
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		s.auditLogin(ctx, nil, email, ip, ActionLoginThrottled, map[string]string{"retry_after": wait.Round(time.Second).String()}, wait)
		return nil, tooManyLogins(wait)
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		s.logins.cancel(ctx, att)
		return nil, fmt.Errorf("find user: %w", err)
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := s.passwordMatches(ctx, hash, password)
	if err != nil {
		s.logins.cancel(ctx, att)
		return nil, err
	}
	if !ok {
		if u != nil {
			reason := "password"
			if hash == "" {
				reason = "no_password"
			}
			s.auditLogin(ctx, u, email, ip, ActionLoginFailure, map[string]string{"reason": reason}, 0)
		} else {
			s.auditLogin(ctx, nil, "", ip, ActionLoginFailure, nil, 0)
		}
		return nil, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "the email or password is incorrect")
	}
	if err := s.logins.succeed(ctx, att, s.now()); err != nil {
		return nil, err
	}
	return u, nil
}

// Audit actions of console logins.
const (
	ActionLoginSuccess   = "login.success"
	ActionLoginFailure   = "login.failure"
	ActionLoginThrottled = "login.throttled"
)

// maxPendingLoginAudits bounds the refused logins whose events are being
// written at once; past it an event is dropped (and logged).
const maxPendingLoginAudits = 64

// auditLogin records a refused login in the audit log of every tenant the
// account belongs to, off the request path. u is the account when known;
// for a throttled attempt (u nil, email set) it is looked up, and only the
// first refusal of a throttle window is recorded (a ConsumeOnce mark until
// the window ends, on every node), so a guesser cannot flood the log. An
// attempt on an email without an account belongs to no tenant: it is not
// in any audit log, only in the service's log, without the email.
//
// Security: the events are written in the background so that a refused
// login answers in the same time whether its email has an account or not
// (the same reason passwordMatches spends a hash on unknown emails); for
// the same reason an event that cannot be written does not change the
// answer — it is logged.
func (s *Service) auditLogin(ctx context.Context, u *gatehouse.User, email, ip, action string, details map[string]string, window time.Duration) {
	if u == nil && email == "" {
		s.log.InfoContext(ctx, "console login refused: no such account", "action", action, "ip", ip)
		return
	}
	select {
	case s.loginAudits <- struct{}{}:
	default:
		s.log.WarnContext(ctx, "login audit event dropped: too many pending", "action", action, "ip", ip)
		return
	}
	ctx = context.WithoutCancel(ctx)
	now := s.Now()
	s.pendingAudits.Add(1)
	go func() {
		defer func() { <-s.loginAudits; s.pendingAudits.Done() }()
		if u == nil {
			found, err := s.store.FindUserByEmail(ctx, email)
			if err != nil {
				if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
					s.log.WarnContext(ctx, "login audit: find user", "err", err)
				}
				return
			}
			u = found
			// One event per throttle window and account.
			if err := s.store.ConsumeOnce(ctx, "audit_login_throttled", u.ID, now, now.Add(window)); err != nil {
				if !gatehouse.IsCode(err, gatehouse.ECONFLICT) {
					s.log.WarnContext(ctx, "login audit: mark", "err", err)
				}
				return
			}
		}
		tms, err := s.store.ListUserTenants(ctx, u.ID)
		if err != nil {
			s.log.WarnContext(ctx, "login audit: list tenants", "err", err)
			return
		}
		for _, tm := range tms {
			a := Actor{TenantID: tm.Tenant.ID, UserID: u.ID, Name: u.Email, IP: ip}
			e := s.eventOn(a, action, auditTarget{Summary: u.Email, ID: u.ID, Name: u.Email, Details: details})
			e.Time = now
			_ = s.audit(ctx, e) // logged by audit
		}
	}()
}

// WaitAudits waits until the refused logins' events (auditLogin) have been
// written: for a clean shutdown, and for tests.
func (s *Service) WaitAudits() { s.pendingAudits.Wait() }

// LoginAudited returns ctx for the store write that starts u's console
// session in tenantID (CreateSession): the login.success event commits
// with it, in the tenant's log.
func (s *Service) LoginAudited(ctx context.Context, u *gatehouse.User, tenantID, ip string) context.Context {
	a := Actor{TenantID: tenantID, UserID: u.ID, Name: u.Email, IP: ip}
	return s.auditedOn(ctx, a, ActionLoginSuccess, on(u.ID, u.Email, u.Email))
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
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ErrBusy is the refusal of a password check that found no free hash slot
// in time: ETOOMANY with a one-second Retry-After, so that callers can tell
// a busy node from an account's failure limit.
var ErrBusy = &gatehouse.Error{Code: gatehouse.ETOOMANY, Message: "the service is busy; try again in a few seconds", RetryAfter: time.Second}

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
// Every attempt is reserved in the store (one transaction) before its
// password hash, so concurrent attempts on any number of nodes cannot
// overrun a limit; a success gives its reservation back. Password
// re-confirmations (ConfirmPassword) are counted the same way under their
// own key per user (reserveConfirm).
type loginThrottle struct {
	store                   gatehouse.LoginStore
	window                  time.Duration
	pair, perIP, perAccount int
	lastPrune               atomic.Int64 // unix nanoseconds
	log                     *slog.Logger
}

// maxKnownAddrs is how many addresses of successful logins an account
// remembers (the most recent ones).
const maxKnownAddrs = 16

func newLoginThrottle(store gatehouse.LoginStore, pair int, window time.Duration, log *slog.Logger) *loginThrottle {
	return &loginThrottle{store: store, window: window, pair: pair, perIP: 4 * pair, perAccount: 10 * pair, log: log}
}

// attempt is a reserved login attempt.
type attempt struct {
	email, ip string
	keys      []string
}

func pairKey(email, ip string) string { return "pair:" + email + "|" + ip }

// confirmKey counts a user's password re-confirmations (ConfirmPassword).
func confirmKey(userID string) string { return "confirm:" + userID }

// reserveConfirm reserves a password re-confirmation of userID under its
// one counter, limited like the strict (email, address) one of logins:
// the session is already the user's, so every address counts together.
func (t *loginThrottle) reserveConfirm(ctx context.Context, userID string, now time.Time) (*attempt, time.Duration, error) {
	t.prune(ctx, now)
	cs := []gatehouse.LoginCounter{{Key: confirmKey(userID), Limit: t.pair}}
	wait, err := t.store.ReserveLoginAttempt(ctx, cs, now, t.window)
	if err != nil {
		return nil, 0, fmt.Errorf("confirm throttle: %w", err)
	}
	if wait > 0 {
		return nil, wait, nil
	}
	return &attempt{keys: []string{cs[0].Key}}, 0, nil
}

// confirmed gives back a right confirmation's reservation and clears its
// user's failures.
func (t *loginThrottle) confirmed(ctx context.Context, a *attempt) error {
	if err := t.store.ReleaseLoginAttempt(ctx, a.keys, a.keys); err != nil {
		return fmt.Errorf("confirm throttle: %w", err)
	}
	return nil
}

// reserve counts an attempt under its keys when none is at its limit;
// otherwise it counts nothing and returns how long to wait.
func (t *loginThrottle) reserve(ctx context.Context, email, ip string, now time.Time) (*attempt, time.Duration, error) {
	t.prune(ctx, now)
	known, err := t.store.LoginAddressKnown(ctx, email, ip)
	if err != nil {
		return nil, 0, fmt.Errorf("login throttle: %w", err)
	}
	perAccount := t.perAccount
	if known {
		perAccount = 0 // counted, never refused
	}
	cs := []gatehouse.LoginCounter{
		{Key: pairKey(email, ip), Limit: t.pair},
		{Key: "ip:" + ip, Limit: t.perIP},
		{Key: "email:" + email, Limit: perAccount},
	}
	wait, err := t.store.ReserveLoginAttempt(ctx, cs, now, t.window)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	a := &attempt{email: email, ip: ip}
	for _, c := range cs {
		a.keys = append(a.keys, c.Key)
	}
	return a, 0, nil
}

// prune deletes ended windows' counters, at most once per window per node.
func (t *loginThrottle) prune(ctx context.Context, now time.Time) {
	last := t.lastPrune.Load()
	if now.UnixNano()-last < int64(t.window) || !t.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if err := t.store.PruneLoginAttempts(ctx, now.Add(-t.window)); err != nil {
		t.log.WarnContext(ctx, "prune login attempts", "err", err)
	}
}

// cancel gives back a reservation whose attempt was not decided (the
// database failed, or no password-hash slot was free).
func (t *loginThrottle) cancel(ctx context.Context, a *attempt) {
	if err := t.store.ReleaseLoginAttempt(context.WithoutCancel(ctx), a.keys, nil); err != nil {
		t.log.WarnContext(ctx, "release login attempt", "err", err)
	}
}

// succeed gives back a successful attempt's reservation, clears the
// failures of its (email, address) and remembers the address as one the
// account logs in from.
func (t *loginThrottle) succeed(ctx context.Context, a *attempt, now time.Time) error {
	if err := t.store.ReleaseLoginAttempt(ctx, a.keys, []string{pairKey(a.email, a.ip)}); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if err := t.store.RememberLoginAddress(ctx, a.email, a.ip, now, maxKnownAddrs); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}
