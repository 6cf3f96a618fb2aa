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
// with one message whether the email exists or not; after too many
// failures for the email or the client address, logins are ETOOMANY for
// the rest of the window (in memory, per node).
func (s *Service) Login(ctx context.Context, email, password, ip string) (*gatehouse.User, error) {
	email, _ = gatehouse.NormalizeEmail(email)
	now := s.now()
	keys := []string{"email:" + email, "ip:" + ip}
	if wait := s.throttle.blocked(keys, now); wait > 0 {
		return nil, gatehouse.Errorf(gatehouse.ETOOMANY,
			"too many failed logins; try again in %d minutes", int(math.Ceil(wait.Minutes())))
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, fmt.Errorf("find user: %w", err)
	}
	if u == nil || u.PasswordHash == "" {
		secret.DummyCheck(password) // Security: same time as a wrong password.
		s.throttle.fail(keys, now)
		return nil, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "the email or password is incorrect")
	}
	if !secret.CheckPassword(u.PasswordHash, password) {
		s.throttle.fail(keys, now)
		return nil, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "the email or password is incorrect")
	}
	s.throttle.reset("email:" + email)
	return u, nil
}

// throttle counts failures per key in a fixed window.
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
	if len(t.fails) > 100_000 { // Security: bound memory under a spray attack.
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
