package gatehouse

import (
	"context"
	"time"
)

// PruneStore is what the janitor (internal/janitor) needs: deleting rows
// that nothing can use any more, a bounded batch at a time, and a lock so
// that one node of a shared database prunes at a time.
type PruneStore interface {
	// PruneBatch deletes at most limit rows of kind that are dead at
	// cutoff (each PruneKind says when) and returns how many it deleted.
	// It is one statement: a batch holds the writer briefly, and a batch
	// lost to a crash is simply done again by the next round.
	PruneBatch(ctx context.Context, kind PruneKind, cutoff time.Time, limit int) (int, error)
	// TryJanitorLock takes the database's janitor lock: ok is false when
	// another node holds it. release gives it back. On a database only one
	// node uses (SQLite) it always succeeds.
	TryJanitorLock(ctx context.Context) (release func(), ok bool, err error)
}

// PruneKind is one kind of dead row. The cutoff given to PruneBatch is an
// instant on the janitor's clock; the janitor subtracts its safety margins
// before it asks.
type PruneKind string

const (
	// PruneCodes: authorization codes, used or not, that expired before
	// the cutoff. A used code is kept until then so that a replay revokes
	// its grant (RFC 6749 §4.1.2).
	PruneCodes PruneKind = "oauth_codes"
	// PruneMarks: single-use marks (OAuth 1.0a nonces and verifiers,
	// console form nonces) that expired before the cutoff.
	PruneMarks PruneKind = "consumed"
	// PruneRequestTokens: OAuth 1.0a request tokens, used or not, that
	// expired before the cutoff.
	PruneRequestTokens PruneKind = "oauth1_request_tokens"
	// PruneSessions: console sessions that expired before the cutoff.
	PruneSessions PruneKind = "sessions"
	// PruneIdleSessions: console sessions whose last recorded request is
	// before the cutoff (the janitor passes now − idle timeout − margin).
	PruneIdleSessions PruneKind = "sessions_idle"
	// PruneAccessTokens: OAuth 2.0 access tokens that expired before the
	// cutoff (they only ever answer EXPIRED; afterwards UNKNOWN).
	PruneAccessTokens PruneKind = "oauth2_access_tokens"
	// PruneRefreshTokens: rotated or revoked refresh tokens whose grant is
	// over: it has no live refresh token (not rotated, not revoked, not
	// expired at the cutoff) and the token was rotated or revoked before
	// the cutoff. Security: a rotated token of a live grant is kept,
	// however old: presenting it is how reuse is detected and the grant
	// revoked (RFC 9700 §4.14.2).
	PruneRefreshTokens PruneKind = "oauth2_refresh_tokens"
	// PruneGrants: grants revoked before the cutoff that no credential or
	// authorization code refers to any more.
	PruneGrants PruneKind = "oauth_grants"
	// PruneDeliveries: integration delivery attempts made before the cutoff.
	PruneDeliveries PruneKind = "integration_deliveries"
	// PruneNotifications: console notifications created before the cutoff.
	PruneNotifications PruneKind = "notifications"
	// PruneSigningKeys: signing keys removed from the JWKS (RemoveAfter)
	// before the cutoff.
	PruneSigningKeys PruneKind = "signing_keys"
	// PruneDeviceAuthorizations: device authorization requests (RFC 8628)
	// that expired before the cutoff, decided, used or not. A used one is
	// kept until then, so a replayed device code is told apart from an
	// unknown one.
	PruneDeviceAuthorizations PruneKind = "device_authorizations"
	// PruneAudit: audit events recorded before the cutoff. The janitor
	// asks only when the operator set an audit retention.
	PruneAudit PruneKind = "audit_events"
)

// Table is the table kind's rows live in (the janitor's metric label).
func (k PruneKind) Table() string {
	switch k {
	case PruneIdleSessions:
		return "sessions"
	case PruneAccessTokens, PruneRefreshTokens:
		return "credentials"
	}
	return string(k)
}
