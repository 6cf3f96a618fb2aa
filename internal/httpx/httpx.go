// Package httpx holds what every Gatehouse HTTP surface shares: the
// error-returning handler adapter, the status tables for gatehouse.Error
// and verification codes, the JSON codec with body limits, security
// headers, the client address rule for trusted proxies, and how a request
// presents its credential (Credential, the Bearer helpers, refusals).
//
// The public middleware package imports httpx, so httpx imports only the
// standard library and the domain: every resource server embedding the
// middleware compiles it (middleware's TestDependencies checks).
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// MaxBody is the largest request body the JSON APIs read (SPEC §5: 1 MiB).
const MaxBody = 1 << 20

// Status maps a gatehouse.Error code to an HTTP status.
func Status(code string) int {
	switch code {
	case gatehouse.EINVALID:
		return http.StatusUnprocessableEntity
	case gatehouse.ENOTFOUND:
		return http.StatusNotFound
	case gatehouse.ECONFLICT:
		return http.StatusConflict
	case gatehouse.EFORBIDDEN:
		return http.StatusForbidden
	case gatehouse.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case gatehouse.ETOOMANY:
		return http.StatusTooManyRequests
	case gatehouse.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// HandlerFunc is a handler that returns its error instead of writing it, so
// that one place per response dialect turns errors into responses.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorBody is the JSON error shape of the management API, the verify
// endpoint and the gateway: {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// StatusError is an error that carries its own HTTP status and API code, for
// protocol-level failures (malformed JSON is 400, not the 422 of EINVALID).
type StatusError struct {
	Status  int
	Code    string
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// JSON adapts a HandlerFunc for a JSON API: errors become ErrorBody with a
// fitting status; internal errors are logged and never shown.
func JSON(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteJSONError(w, r, log, err)
		}
	})
}

// WriteJSONError writes err as an ErrorBody.
func WriteJSONError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var se *StatusError
	if errors.As(err, &se) {
		if se.Status == http.StatusServiceUnavailable {
			SetUnavailable(w.Header())
		}
		WriteJSON(w, se.Status, ErrorBody{ErrorDetail{Code: se.Code, Message: se.Message}})
		return
	}
	code := gatehouse.ErrorCode(err)
	status := Status(code)
	detail := ErrorDetail{Code: code, Message: gatehouse.ErrorMessage(err)}
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		detail.Field = ge.Field
		SetRetryAfter(w.Header(), ge.RetryAfter)
	}
	if status == http.StatusServiceUnavailable {
		SetUnavailable(w.Header())
	}
	if status >= 500 && log != nil {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == gatehouse.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	}
	WriteJSON(w, status, ErrorBody{detail})
}

// SetRetryAfter sets Retry-After (RFC 9110 §10.2.3) to d in whole
// seconds, rounded up; d <= 0 sets nothing.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d <= 0 {
		return
	}
	h.Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
}

// SetUnavailable sets the Retry-After of a 503 (RetryUnavailable) unless
// one is set already: RFC 9110 §15.6.4, the caller may retry after it.
// A request that could not get a database connection within its deadline
// (EUNAVAILABLE) gets it this way in every dialect.
func SetUnavailable(h http.Header) {
	if h.Get("Retry-After") == "" {
		SetRetryAfter(h, RetryUnavailable)
	}
}

// Header values every response shares. They are assigned to the header map
// directly (the keys are canonical), so no response allocates them; their
// capacity is their length, so a later Header.Add copies instead of writing
// into the shared array.
var (
	contentTypeJSON = []string{"application/json; charset=utf-8"}[:1:1]
	noStore         = []string{"no-store"}[:1:1]
	nosniff         = []string{"nosniff"}[:1:1]
	noReferrer      = []string{"no-referrer"}[:1:1]
	frameDeny       = []string{"DENY"}[:1:1]
)

// SetJSONHeaders sets the headers of a JSON answer: the content type and
// no-store caching.
func SetJSONHeaders(h http.Header) {
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
}

// WriteJSON writes v as JSON with the given status and no-store caching.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	SetJSONHeaders(w.Header())
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// DecodeJSON reads a JSON request body into v: at most MaxBody bytes (413
// beyond), UTF-8, unknown fields and duplicate member names refused,
// exactly one value, and a JSON content type when one is declared. Errors
// are *StatusError with code "bad_request" or "too_large".
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return decodeError(err)
	}
	return DecodeJSONBytes(body, v)
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" || ct == "application/json" {
		return nil // the common case, without lowering a copy
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return &StatusError{http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json"}
	}
	return nil
}

// Body is a request body read whole by ReadJSONBody into a pooled buffer.
// B is valid until Release.
type Body struct {
	B []byte
}

var bodyPool = sync.Pool{New: func() any { return &Body{B: make([]byte, 0, 1024)} }}

// maxPooledBody bounds the buffers kept for reuse, so that one large
// request does not pin a megabyte per pooled buffer.
const maxPooledBody = 64 << 10

// Release returns the buffer to the pool; b must not be used after.
func (b *Body) Release() {
	if cap(b.B) > maxPooledBody {
		return
	}
	b.B = b.B[:0]
	bodyPool.Put(b)
}

// ReadJSONBody checks the content type like DecodeJSON and reads the whole
// body (at most MaxBody bytes, 413 beyond) into a pooled buffer, for
// handlers that parse a fixed request shape themselves and fall back to
// DecodeJSONBytes for anything else. Release the Body when done.
func ReadJSONBody(w http.ResponseWriter, r *http.Request) (*Body, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	b := bodyPool.Get().(*Body)
	rd := r.Body
	if r.ContentLength < 0 || r.ContentLength > MaxBody {
		// Without a declared length within the limit, read through the
		// limiter (413 past MaxBody). With one, net/http's body already
		// stops at it: no wrapper to allocate.
		rd = http.MaxBytesReader(w, r.Body, MaxBody)
	}
	for {
		if len(b.B) == cap(b.B) {
			b.B = append(b.B, 0)[:len(b.B)]
		}
		n, err := rd.Read(b.B[len(b.B):cap(b.B)])
		b.B = b.B[:len(b.B)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			b.Release()
			return nil, decodeError(err)
		}
	}
}

// DecodeJSONBytes decodes a body read by ReadJSONBody into v with exactly
// the rules and errors of DecodeJSON.
func DecodeJSONBytes(body []byte, v any) error {
	// RFC 8259 §8.1: JSON text is UTF-8; encoding/json would quietly turn
	// invalid bytes into U+FFFD.
	if !utf8.Valid(body) {
		return &StatusError{http.StatusBadRequest, "bad_request", "the body is not valid UTF-8"}
	}
	if err := decodeFrom(json.NewDecoder(bytes.NewReader(body)), v); err != nil {
		return err
	}
	return checkDuplicateNames(body)
}

// checkDuplicateNames refuses an object that names a member twice, at any
// depth. Security: RFC 8259 §4 leaves duplicate names' meaning undefined
// and encoding/json keeps the last, so a filter in front of Gatehouse and
// Gatehouse itself could read different values ({"role":"staff",
// "role":"owner"}). Names are compared as encoding/json matches struct
// fields, case-insensitively, so "Role" repeats "role" too. body has
// already decoded, so it is well-formed: the stdlib tokenizer walks it.
func checkDuplicateNames(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*jsonFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF: the value ended (decodeFrom checked the rest)
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.names != nil && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			name := tok.(string)
			folded := strings.ToLower(strings.ToUpper(name))
			if top.names[folded] {
				return &StatusError{http.StatusBadRequest, "bad_request", fmt.Sprintf("duplicate member %q in a JSON object", name)}
			}
			top.names[folded] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonFrame{names: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &jsonFrame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}
}

// jsonFrame is an open object or array of checkDuplicateNames.
type jsonFrame struct {
	names   map[string]bool // nil for an array
	wantKey bool            // in an object, the next token is a name
}

// valueDone marks that a value ended: in an enclosing object, a name
// comes next.
func valueDone(stack []*jsonFrame) {
	if n := len(stack); n > 0 && stack[n-1].names != nil {
		stack[n-1].wantKey = true
	}
}

func decodeFrom(dec *json.Decoder, v any) error {
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return &StatusError{http.StatusBadRequest, "bad_request", "the body must hold exactly one JSON value"}
	}
	return nil
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return &StatusError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body exceeds %d bytes", maxErr.Limit)}
	case errors.Is(err, io.EOF):
		return &StatusError{http.StatusBadRequest, "bad_request", "the body is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &StatusError{http.StatusBadRequest, "bad_request", "the body is truncated JSON"}
	case errors.As(err, &syntaxErr):
		return &StatusError{http.StatusBadRequest, "bad_request", fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)}
	case errors.As(err, &typeErr):
		return &StatusError{http.StatusBadRequest, "bad_request", fmt.Sprintf("field %q has the wrong type", typeErr.Field)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &StatusError{http.StatusBadRequest, "bad_request", strings.TrimPrefix(err.Error(), "json: ")}
	}
	return &StatusError{http.StatusBadRequest, "bad_request", "malformed JSON"}
}

// SecurityHeaders sets the headers every answer of Gatehouse's own
// carries (SetSecurityHeaders); the gateway drops them from the answers it
// forwards (DropSecurityHeaders).
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// SetSecurityHeaders sets nosniff, no-referrer and X-Frame-Options DENY.
func SetSecurityHeaders(h http.Header) {
	h["X-Content-Type-Options"] = nosniff
	h["Referrer-Policy"] = noReferrer
	h["X-Frame-Options"] = frameDeny
}

// DropSecurityHeaders removes what SecurityHeaders set, for an answer
// that is another server's (the gateway's forwarded answers): its own
// values, or none, rather than two conflicting ones.
func DropSecurityHeaders(h http.Header) {
	delete(h, "X-Content-Type-Options")
	delete(h, "Referrer-Policy")
	delete(h, "X-Frame-Options")
}

// Request headers the gateway, the verify endpoint and the middleware read.
const (
	// HeaderAPIKey carries an API key (seed 003), as an alternative to
	// Authorization: Bearer.
	HeaderAPIKey = "X-Api-Key"
	// HeaderClient is the OAuth 2.0 client header a caller sends (seed 002).
	HeaderClient = "X-Gatehouse-Client"
)
