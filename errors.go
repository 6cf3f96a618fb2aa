// Package gatehouse is Gatehouse's domain: tenants, users and memberships,
// the one credential model behind every kind of key and token, the resource
// tree that scopes refer to, tenant settings, the audit log, and the storage
// interface that every backend implements.
//
// It imports nothing internal, no database driver and no net/http, so every
// other package can depend on it.
package gatehouse

import (
	"errors"
	"fmt"
	"time"
)

// Error codes of gatehouse.Error. Transport layers map them to statuses.
const (
	EINVALID      = "invalid"      // bad input: 400 or 422
	ENOTFOUND     = "not_found"    // 404, also for another tenant's objects
	ECONFLICT     = "conflict"     // state conflict: 409
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed: 403
	EUNAUTHORIZED = "unauthorized" // not authenticated: 401
	ETOOMANY      = "too_many"     // throttled: 429
	EUNAVAILABLE  = "unavailable"  // a dependency (the database) is down: 503
	EINTERNAL     = "internal"     // a bug or an unexpected failure: 500
)

// Error is the domain's error: a machine-readable code and a message that is
// safe to show to the caller. Field, when set, names the input at fault.
// RetryAfter, when set on an ETOOMANY, is how long the caller should wait
// (HTTP answers send it as Retry-After).
//
// ID, when set (WithID), names the message in the console's catalogue
// (web/locales) that says Message in the reader's language, with Args
// filling its placeholders; the API and the CLI keep sending Message, and
// a front end that does not know ID shows Message. The domain names
// messages only: it holds no translations and imports no i18n library.
type Error struct {
	Code       string
	Message    string
	Field      string
	RetryAfter time.Duration
	ID         string
	Args       map[string]any
}

// WithID sets e's message id and its placeholders, given as name/value
// pairs ("Max", 100), and returns e.
func (e *Error) WithID(id string, args ...any) *Error {
	e.ID = id
	if len(args) > 1 {
		e.Args = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			e.Args[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	return e
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("gatehouse: %s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("gatehouse: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID *Error naming the field at fault.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, args...), Field: field}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the message of the
// first *Error in its chain, or a generic text for anything else, so that
// internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
