package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Session cookie and lifetime.
const (
	// SessionCookie holds 32 random bytes (base64url); the store keeps only
	// their SHA-256, so a database leak does not leak live sessions.
	SessionCookie = "gatehouse_session"
	// SessionLifetime is the absolute lifetime of a console session: it is
	// not extended by activity, so a stolen cookie dies within a working day.
	SessionLifetime = 12 * time.Hour
	// DefaultIdleTimeout ends a session that has made no request for this
	// long (Config.IdleTimeout): a console left open on an unattended
	// machine does not stay signed in for the rest of the day.
	DefaultIdleTimeout = 30 * time.Minute
	// touchInterval is the resolution of a session's stored last request:
	// it is written at most this often, so page views do not each cost a
	// database write. The idle timeout may so end up to this much sooner.
	touchInterval = time.Minute
)

// ctxKey keys the per-request authentication cache in the request context.
type ctxKey struct{}

// authState is what one request found out about its session.
type authState struct {
	user    *gatehouse.User
	session *gatehouse.Session
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashCookie(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// CurrentUser returns the user and session of a logged-in request. Expired
// sessions (SessionLifetime after login, or the idle timeout after their
// last request), sessions of deleted users and missing or malformed cookies all
// answer ok=false. The result is cached in the request's context by the
// console's own handlers; other handlers (the OAuth 2.0 login and consent
// pages) may call it directly.
func (c *Console) CurrentUser(r *http.Request) (*gatehouse.User, *gatehouse.Session, bool) {
	if st, ok := r.Context().Value(ctxKey{}).(*authState); ok {
		return st.user, st.session, st.user != nil
	}
	st := c.lookupSession(r)
	return st.user, st.session, st.user != nil
}

// withAuth stores the session lookup in the request context so that one
// request looks the session up once.
func (c *Console) withAuth(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(ctxKey{}).(*authState); ok {
		return r
	}
	st := c.lookupSession(r)
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
}

func (c *Console) lookupSession(r *http.Request) *authState {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || len(ck.Value) != 43 { // base64url of 32 bytes
		return &authState{}
	}
	ctx := r.Context()
	s, err := c.store.FindSessionByHash(ctx, hashCookie(ck.Value))
	if err != nil {
		if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			c.log.ErrorContext(ctx, "console: find session", "err", err)
		}
		return &authState{}
	}
	// Security: both limits come from the stored row, so they hold on
	// every node, whichever served the session's previous requests.
	now := c.now()
	if !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(c.idle)) {
		if err := c.store.DeleteSession(ctx, s.ID); err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			c.log.ErrorContext(ctx, "console: delete expired session", "err", err)
		}
		return &authState{}
	}
	if now.Sub(s.LastSeenAt) >= touchInterval {
		if err := c.store.TouchSession(ctx, s.ID, now); err != nil {
			// The request goes on: a lost touch only makes the session
			// idle out sooner.
			c.log.WarnContext(ctx, "console: touch session", "err", err)
		} else {
			s.LastSeenAt = now
		}
	}
	u, err := c.store.FindUserByID(ctx, s.UserID)
	if err != nil {
		if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			c.log.ErrorContext(ctx, "console: find session user", "err", err)
		}
		return &authState{}
	}
	return &authState{user: u, session: s}
}

// StartSession logs u in: it deletes the session the request came with
// (Security: a fresh session id at every login defeats session fixation),
// creates a new one showing tenantID and sets the cookie. The OAuth 2.0
// login page uses it too.
func (c *Console) StartSession(w http.ResponseWriter, r *http.Request, u *gatehouse.User, tenantID string) (*gatehouse.Session, error) {
	// An audit event r's ctx carries (the login's) goes with CreateSession
	// only; the clean-up writes before it carry none.
	audited := r.Context()
	ctx := gatehouse.WithAudit(audited, nil)
	if _, old, ok := c.CurrentUser(r); ok {
		if err := c.store.DeleteSession(ctx, old.ID); err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return nil, fmt.Errorf("delete old session: %w", err)
		}
	}
	now := c.now().UTC()
	if err := c.store.DeleteExpiredSessions(ctx, now); err != nil {
		c.log.WarnContext(ctx, "console: prune sessions", "err", err)
	}
	value := randomToken(32)
	key := make([]byte, 32)
	rand.Read(key)
	s := &gatehouse.Session{
		Hash:       hashCookie(value),
		UserID:     u.ID,
		TenantID:   tenantID,
		CSRFKey:    key,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(SessionLifetime),
	}
	if err := c.store.CreateSession(audited, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		Expires:  s.ExpiresAt,
		MaxAge:   int(SessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	})
	// The pre-session CSRF cookie has done its job.
	c.clearCookie(w, preSessionCookie, http.SameSiteStrictMode)
	return s, nil
}

// EndSession logs the request's session out: the row is deleted, so the
// cookie is worthless even if it was copied, and the cookie is cleared.
func (c *Console) EndSession(w http.ResponseWriter, r *http.Request) error {
	if _, s, ok := c.CurrentUser(r); ok {
		if err := c.store.DeleteSession(r.Context(), s.ID); err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	c.clearCookie(w, SessionCookie, http.SameSiteLaxMode)
	return nil
}

func (c *Console) clearCookie(w http.ResponseWriter, name string, ss http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: ss,
	})
}

// Cookies names every cookie the console sets, so the gateway can strip
// them all before forwarding a call upstream.
func Cookies() []string { return []string{SessionCookie, preSessionCookie, flashCookie} }
