// Package api is Gatehouse's management REST API under /api/v1 (SPEC §5).
//
// It is a thin JSON adapter over admin.Service, which checks roles,
// validates input and appends audit events, so the API, the console and
// the CLI cannot drift apart. Callers authenticate with a Bearer token that
// grants the reserved "manage" resource and act in the token's tenant with
// its owner's current role. Each resource lives in a file of its own
// (credentials.go for PATs and API keys, users.go, staff_token.go,
// oauth_clients.go, integrations.go, settings.go, audit.go) that
// contributes its routes; openapi.json describes them all.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Prefix is the path every route of the API starts with. The handler
// receives full paths (it is mounted at Prefix+"/" without stripping).
const Prefix = "/api/v1"

// Authenticator verifies a bearer token for the "manage" resource on behalf
// of a client at ip. It returns the principal and gatehouse.CodeValid for
// a good token, or a nil principal and the refusal code (MISSING,
// MALFORMED, UNKNOWN, EXPIRED, REVOKED, INSUFFICIENT_SCOPE, …). The error is
// only for an infrastructure failure (the database is down), which the API
// answers with 503.
type Authenticator func(ctx context.Context, token string, ip netip.Addr) (*gatehouse.Principal, gatehouse.Code, error)

// Config configures the API handler.
type Config struct {
	Admin          *admin.Service
	Authenticate   Authenticator
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed (SPEC §9)
	Log            *slog.Logger   // default slog.Default()
}

// route is one method and ServeMux path pattern of the API.
type route struct {
	method  string
	pattern string // Go 1.22 ServeMux path pattern with the full Prefix
	public  bool   // served without authentication (the OpenAPI document)
	// serve handles the request; a is the authenticated actor (zero for
	// public routes).
	serve func(w http.ResponseWriter, r *http.Request, a admin.Actor) error
}

// handler serves the API.
type handler struct {
	admin   *admin.Service
	authn   Authenticator
	proxies []netip.Prefix
	log     *slog.Logger
	routes  []route
	mux     *http.ServeMux
}

// New returns the management API handler. Mount it at "/api/v1/"; it
// answers unknown paths with 404 and wrong methods with 405, both as JSON.
// Admin and Authenticate are required: New panics without them, at wiring
// time rather than on the first request.
func New(cfg Config) http.Handler {
	if cfg.Admin == nil || cfg.Authenticate == nil {
		panic("api: Config.Admin and Config.Authenticate are required")
	}
	h := &handler{
		admin:   cfg.Admin,
		authn:   cfg.Authenticate,
		proxies: cfg.TrustedProxies,
		log:     cfg.Log,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	// One line per resource file.
	h.routes = slices.Concat(
		h.credentialRoutes(), // /tokens, /api-keys
		h.userRoutes(),
		h.staffTokenRoutes(),
		h.oauthClientRoutes(),
		h.integrationRoutes(),
		h.settingsRoutes(),
		h.auditRoutes(),
		h.openAPIRoutes(),
	)

	h.mux = http.NewServeMux()
	allowed := map[string][]string{}
	var patterns []string
	for _, rt := range h.routes {
		h.mux.Handle(rt.method+" "+rt.pattern, httpx.JSON(h.log, h.wrap(rt)))
		if _, ok := allowed[rt.pattern]; !ok {
			patterns = append(patterns, rt.pattern)
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
	}
	// A method-less pattern is less specific than the method ones, so it
	// only catches the methods a path does not serve: 405 with Allow.
	for _, p := range patterns {
		h.mux.Handle(p, methodNotAllowed(allowed[p]))
	}
	h.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusNotFound, errorBody("not_found", "no such API endpoint"))
	}))
	return h
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Security: management answers carry secrets and tenant data; no cache
	// may keep them, whatever the status (204 included).
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// wrap authenticates the caller of a non-public route and passes the actor on.
func (h *handler) wrap(rt route) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if rt.public {
			return rt.serve(w, r, admin.Actor{})
		}
		a, err := h.authenticate(w, r)
		if err != nil {
			return err
		}
		return rt.serve(w, r, a)
	}
}

// authenticate turns the request's bearer token into an actor with the
// token owner's current role in the token's tenant.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (admin.Actor, error) {
	ip := httpx.ClientIP(r, h.proxies)
	// RFC 6750 §2.1 only: a token in the query (§2.3) or a form body (§2.2)
	// is not looked at, so it is as if none was sent.
	tok, code := bearerToken(r)
	if code == gatehouse.CodeValid {
		p, c, err := h.authn(r.Context(), tok, ip)
		if err != nil {
			h.log.ErrorContext(r.Context(), "api: authentication failed", "path", r.URL.Path, "err", err)
			return admin.Actor{}, &httpx.StatusError{
				Status:  http.StatusServiceUnavailable,
				Code:    gatehouse.EUNAVAILABLE,
				Message: "the service is temporarily unavailable; try again",
			}
		}
		code = c
		if code == gatehouse.CodeValid && (p == nil || p.TenantID == "" || p.Subject == "") {
			code = gatehouse.CodeUnknown // an Authenticator bug: fail closed
		}
		if code == gatehouse.CodeValid && p.Kind == gatehouse.KindOAuth2Access {
			// SPEC §9: OAuth 2.0 apps are never granted "manage"; a token
			// that holds it anyway (issued before that rule) is refused
			// here too, so no app acts with its user's role.
			code = gatehouse.CodeInsufficientScope
		}
		if code == gatehouse.CodeValid {
			ipText := ""
			if ip.IsValid() {
				ipText = ip.String()
			}
			// Non-members (removed since the token was made) are EFORBIDDEN.
			a, err := h.admin.ActorFor(r.Context(), p.TenantID, p.Subject, ipText)
			if err != nil {
				return admin.Actor{}, err
			}
			// SPEC §9: what the token creates is bounded by what it holds.
			a.Via = admin.ViaPrincipal(p)
			return a, nil
		}
	}
	return admin.Actor{}, authError(w, code)
}

// bearerToken extracts the token of an "Authorization: Bearer" header. The
// code is VALID when there is a token to verify, MISSING when no bearer
// credential was sent, and MALFORMED when the header is unusable.
func bearerToken(r *http.Request) (string, gatehouse.Code) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", gatehouse.CodeMissing
	case 1:
	default:
		return "", gatehouse.CodeMalformed
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") { // RFC 7235 §2.1: schemes are case-insensitive
		return "", gatehouse.CodeMissing
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", gatehouse.CodeMalformed
	}
	return tok, gatehouse.CodeValid
}

// authError sets the RFC 6750 §3 challenge for a refused token and returns
// the error the JSON adapter writes: 401 for a missing or bad token, 403
// for a good token that may not manage (or not from this address).
func authError(w http.ResponseWriter, code gatehouse.Code) error {
	challenge := `Bearer realm="gatehouse"`
	status := httpx.CodeStatus(code)
	switch {
	case code == gatehouse.CodeMissing:
		// RFC 6750 §3.1: no error attribute when no credential was sent.
	case status == http.StatusUnauthorized:
		challenge += `, error="invalid_token", error_description="` + quoteSafe(code.Message()) + `"`
	case code == gatehouse.CodeInsufficientScope:
		challenge += `, error="insufficient_scope", scope="` + gatehouse.ScopeManage + `"`
	default:
		challenge = ""
	}
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	msg := code.Message()
	if code == gatehouse.CodeInsufficientScope {
		msg = `the token does not grant the "manage" resource`
	}
	if status == http.StatusUnauthorized {
		return &httpx.StatusError{Status: status, Code: gatehouse.EUNAUTHORIZED, Message: msg}
	}
	return &httpx.StatusError{Status: http.StatusForbidden, Code: gatehouse.EFORBIDDEN, Message: msg}
}

// quoteSafe drops the characters RFC 6750 §3 does not allow inside an
// error_description.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// methodNotAllowed answers 405 with the path's methods in Allow.
func methodNotAllowed(methods []string) http.Handler {
	methods = slices.Clone(methods)
	if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
		methods = append(methods, http.MethodHead) // ServeMux serves HEAD with GET
	}
	slices.Sort(methods)
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed,
			errorBody("method_not_allowed", r.Method+" is not allowed here; use "+allow))
	})
}

func errorBody(code, msg string) httpx.ErrorBody {
	return httpx.ErrorBody{Error: httpx.ErrorDetail{Code: code, Message: msg}}
}

// badRequest is a 400 for malformed input outside the JSON body (query).
func badRequest(msg string) error {
	return &httpx.StatusError{Status: http.StatusBadRequest, Code: "bad_request", Message: msg}
}

// list is the envelope of every collection: {"items":[…]}, and "next",
// the cursor of the next page, on every page but the last (SPEC §9).
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// newList returns the envelope of items, never null.
func newList[T any](items []T) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items}
}

// pageQuery reads the paging parameters of a collection (SPEC §9): limit
// (1 to gatehouse.MaxPageLimit, default gatehouse.DefaultPageLimit), sort
// (one of sorts, default newest; none when sorts is empty) and next, a
// cursor of pageOut for the same list and sort, which is named by the
// actor's tenant and the route's pattern.
//
// Security: the caller controls all three. A limit out of range, an
// unknown sort or a cursor that is not one of this list (edited, of
// another tenant, collection or sort) is 400; a list never reads more
// than the limit.
func pageQuery(r *http.Request, a admin.Actor, sorts []gatehouse.Sort) (gatehouse.PageQuery, error) {
	q := r.URL.Query()
	p := gatehouse.PageQuery{Limit: gatehouse.DefaultPageLimit}
	if vs, ok := q["sort"]; ok {
		if len(vs) > 1 {
			return p, badRequest("sort is given more than once")
		}
		if len(sorts) == 0 {
			return p, badRequest("sort does not apply: this list has one order, newest first")
		}
		s, err := gatehouse.ParseSort(vs[0], sorts)
		if err != nil {
			return p, &httpx.StatusError{Status: http.StatusBadRequest, Code: gatehouse.EINVALID, Message: err.(*gatehouse.Error).Message}
		}
		p.Sort = s
	}
	if vs, ok := q["limit"]; ok {
		n, err := strconv.Atoi(vs[0])
		if len(vs) > 1 || err != nil || n < 1 || n > gatehouse.MaxPageLimit {
			return p, badRequest(fmt.Sprintf("limit must be a whole number from 1 to %d", gatehouse.MaxPageLimit))
		}
		p.Limit = n
	}
	if vs, ok := q["next"]; ok {
		if len(vs) > 1 {
			return p, badRequest("next is given more than once")
		}
		c, err := gatehouse.ParseCursor(vs[0], pageScope(r, a), p.Sort)
		if err != nil {
			return p, badRequest(err.(*gatehouse.Error).Message)
		}
		p.After = c
	}
	return p, nil
}

// pageScope names the list a request reads, for its cursors.
func pageScope(r *http.Request, a admin.Actor) string {
	return a.TenantID + " " + r.Pattern + " " + r.PathValue("id")
}

// pageOut is the envelope of a page of items, out of page converted by conv.
func pageOut[T, J any](r *http.Request, a admin.Actor, page gatehouse.Page[T], conv func(T) J) list[J] {
	l := list[J]{Items: make([]J, 0, len(page.Items))}
	for _, it := range page.Items {
		l.Items = append(l.Items, conv(it))
	}
	if page.Next != nil {
		l.Next = page.Next.Encode(pageScope(r, a))
	}
	return l
}

// listFilter reads the query of a list searched by ?q= and sorted by one
// of sorts.
func listFilter(r *http.Request, a admin.Actor, sorts []gatehouse.Sort) (gatehouse.ListFilter, error) {
	var f gatehouse.ListFilter
	var err error
	if f.Page, err = pageQuery(r, a, sorts); err != nil {
		return f, err
	}
	f.Query, err = searchQuery(r)
	return f, err
}

// searchQuery reads q, a list's search text.
func searchQuery(r *http.Request) (string, error) {
	q := r.URL.Query()["q"]
	if len(q) > 1 {
		return "", badRequest("q is given more than once")
	}
	if len(q) == 0 {
		return "", nil
	}
	return strings.TrimSpace(q[0]), gatehouse.CheckQuery(q[0])
}

// utc returns t in UTC, keeping nil, so that every time the API writes is
// RFC 3339 with a Z.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// parseTime parses an optional RFC 3339 time field of a request body. A
// time that does not parse is a validation error naming the field.
func parseTime(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return nil, gatehouse.FieldError(field, "%s must be an RFC 3339 time such as 2030-01-02T15:04:05Z", field)
	}
	return &t, nil
}
