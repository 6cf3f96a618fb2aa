package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// AuthorizeRequest is a checked authorization request (RFC 6749 §4.1.1):
// the client and redirect URI are known to be registered, so errors from
// here on may be sent to the redirect URI.
type AuthorizeRequest struct {
	Client        *gatehouse.Client
	Tenant        *gatehouse.Tenant
	RedirectURI   string
	State         string
	Scopes        []string // granted if the user allows: "all" already expanded
	CodeChallenge string   // S256, "" when none
	// Params are the request's parameters, for the consent form to carry
	// (of a pushed request: client_id and request_uri only).
	Params url.Values
	// pushed is the hash of the request_uri of a pushed request (RFC
	// 9126), consumed when the user decides; nil otherwise.
	pushed []byte
}

// AuthorizeError is a refused authorization request. When Redirect is
// false the client or redirect URI could not be trusted: the user sees an
// error page (400) and is never redirected (RFC 6749 §4.1.2.1). Otherwise
// RedirectURL carries error, error_description, state and iss.
type AuthorizeError struct {
	Redirect    bool
	RedirectURL string
	Code        string // RFC 6749 §4.1.2.1 error code
	Description string
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// MaxStateLen bounds the state parameter (RFC 6749 §4.1.1), which is
// echoed in the redirect: 2 KiB is ample for a CSRF token or a signed
// blob, and keeps a Location header small.
const MaxStateLen = 2048

// codeChallengeRE is RFC 7636 §4.2's code_challenge for S256: base64url of
// a SHA-256 digest, 43 characters.
var codeChallengeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// ParseAuthorize checks an authorization request's parameters (query of a
// GET or the consent form's fields). A request with request_uri is a
// pushed one (RFC 9126 §4, par.go). A non-nil *AuthorizeError says how to
// refuse; any other error is an infrastructure failure.
func (p *Provider) ParseAuthorize(ctx context.Context, q url.Values) (*AuthorizeRequest, error) {
	// RFC 6749 §3.1: parameters must not be repeated. A repeated client_id
	// or redirect_uri leaves nothing to trust, so it is not redirected.
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return nil, &AuthorizeError{Code: "invalid_request", Description: k + " is repeated"}
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, &AuthorizeError{Code: "invalid_request", Description: "client_id is missing"}
	}
	client, err := p.store.FindClient(ctx, clientID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, &AuthorizeError{Code: "invalid_client", Description: "the client is not known"}
	} else if err != nil {
		return nil, err
	}
	if q.Has("request_uri") {
		return p.openPushed(ctx, client, q)
	}
	return p.checkAuthorize(ctx, client, q, false)
}

// checkAuthorize checks the authorization request q of client, as the
// authorization endpoint receives it (pushed false) or as it was pushed
// (RFC 9126 §2.1: the pushed request is validated as an authorization
// request would be, when pushed and again when used).
func (p *Provider) checkAuthorize(ctx context.Context, client *gatehouse.Client, q url.Values, pushed bool) (*AuthorizeRequest, error) {
	redirect := q.Get("redirect_uri")
	switch {
	case redirect == "" && len(client.RedirectURIs) == 1:
		redirect = client.RedirectURIs[0] // RFC 6749 §3.1.2.3: one registered URI may be implied
	case redirect == "":
		return nil, &AuthorizeError{Code: "invalid_request", Description: "redirect_uri is missing"}
	case !client.HasRedirectURI(redirect):
		// Security: exact string match only (RFC 9700 §2.1), never a prefix.
		return nil, &AuthorizeError{Code: "invalid_request", Description: "redirect_uri is not registered for this client"}
	}
	// The tenant row is what the consent page shows and the console enters
	// (its name, its ID); whether it admits the request is the snapshot's
	// answer below, as at the token endpoint (package comment, Tenant
	// state).
	tenant, err := p.store.FindTenantByID(ctx, client.TenantID)
	if err != nil {
		return nil, err
	}
	req := &AuthorizeRequest{Client: client, Tenant: tenant, RedirectURI: redirect, State: q.Get("state"), Params: q}
	fail := func(code, desc string) (*AuthorizeRequest, error) {
		return nil, &AuthorizeError{Redirect: true, RedirectURL: p.errorRedirect(req, code, desc), Code: code, Description: desc}
	}
	if len(req.State) > MaxStateLen {
		// Security: not echoed — a huge state would make the redirect's
		// Location (and every log line carrying it) as large as the caller
		// likes.
		req.State = ""
		return fail("invalid_request", fmt.Sprintf("state must be at most %d bytes", MaxStateLen))
	}
	for k, v := range q {
		if len(v) > 1 {
			return fail("invalid_request", k+" is repeated")
		}
	}
	if !pushed && client.RequirePAR {
		// RFC 9126 §6: the app accepts pushed requests only.
		return fail("invalid_request", "pushed authorization request required")
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return fail("invalid_request", "response_type is missing")
	default:
		// RFC 9700 §2.1.2: the implicit grant (token) is not offered.
		return fail("unsupported_response_type", "only response_type=code is supported")
	}
	if !client.AllowsGrant(gatehouse.GrantAuthorizationCode) {
		return fail("unauthorized_client", "the client may not use the authorization code grant")
	}
	ts, err := p.v.TenantState(ctx, client.TenantID)
	switch {
	case err != nil:
		return nil, err
	case !ts.Found, ts.Disabled:
		return fail("access_denied", "the tenant is disabled")
	case !ts.OAuthApps:
		// Seed 002: OAuth apps are available on the Enterprise plan.
		return fail("unauthorized_client", "OAuth apps are available on the Enterprise plan, which the app's tenant is not on")
	}
	scopes, err := p.requestedScopes(client, q.Get("scope"))
	if err != nil {
		return fail("invalid_scope", gatehouse.ErrorMessage(err))
	}
	req.Scopes = scopes
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return fail("invalid_request", "code_challenge_method without code_challenge")
	case challenge == "" && !client.Confidential:
		// RFC 9700 §2.1.1: public clients must use PKCE.
		return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
	case challenge != "" && method != "S256":
		// RFC 7636 §4.3 defaults to plain, which RFC 9700 §2.1.1 rules out.
		return fail("invalid_request", "code_challenge_method must be S256")
	case challenge != "" && !codeChallengeRE.MatchString(challenge):
		return fail("invalid_request", "code_challenge must be 43 base64url characters (RFC 7636 §4.2)")
	}
	req.CodeChallenge = challenge
	return req, nil
}

// requestedScopes turns a scope parameter into the scopes to grant: "all"
// means every resource-tree scope the client may have (SPEC §3: never
// manage or verify, which must be asked for by name); anything else must be
// within the client's scopes. manage is never granted to an app (SPEC §9).
func (p *Provider) requestedScopes(c *gatehouse.Client, param string) ([]string, error) {
	fields := strings.Fields(param)
	if len(fields) == 0 {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "scope is required (resource ids, or all)")
	}
	scopes, err := p.tree.NormalizeScopes(fields)
	if err != nil {
		return nil, err
	}
	if slices.Contains(scopes, gatehouse.ScopeManage) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "manage cannot be granted to an OAuth app")
	}
	allowed := gatehouse.AppScopes(c.Scopes)
	if slices.Contains(scopes, gatehouse.ScopeAll) {
		rest := without(scopes, gatehouse.ScopeAll)
		if !p.tree.Subset(rest, allowed) {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "the client may not request %s", strings.Join(rest, " "))
		}
		return p.expandAll(allowed, rest), nil
	}
	if !p.tree.Subset(scopes, allowed) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "the client may not request %s", strings.Join(scopes, " "))
	}
	return scopes, nil
}

// expandAll is what a request for "all" (plus the scopes in rest) grants
// an app allowed allowed: its resource-tree scopes (SPEC §3: "all" never
// includes manage or verify), and rest.
func (p *Provider) expandAll(allowed, rest []string) []string {
	out := slices.DeleteFunc(slices.Clone(allowed), func(s string) bool {
		return s == gatehouse.ScopeManage || s == gatehouse.ScopeVerify
	})
	out = append(out, rest...)
	if n, err := p.tree.NormalizeScopes(out); err == nil {
		return n
	}
	return out
}

// ConsentCovers reports whether the user already allowed the client at
// least the requested scopes, so the consent page can be skipped.
func (p *Provider) ConsentCovers(ctx context.Context, req *AuthorizeRequest, userID string) (bool, error) {
	c, err := p.store.FindConsent(ctx, req.Tenant.ID, userID, req.Client.ID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return p.tree.Subset(req.Scopes, c.Scopes), nil
}

// Approve records the user's consent, issues a single-use authorization
// code and returns the redirect URL carrying it. The user must be a member
// of the client's tenant (EFORBIDDEN otherwise). An audit event ctx
// carries (gatehouse.WithAudit: the console's consent) commits with the
// consent.
func (p *Provider) Approve(ctx context.Context, req *AuthorizeRequest, userID string) (string, error) {
	if _, err := p.store.FindMembership(ctx, req.Tenant.ID, userID); err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return "", gatehouse.Errorf(gatehouse.EFORBIDDEN, "your account is not a member of %s", req.Tenant.Name)
		}
		return "", err
	}
	if err := p.ConsumePushed(ctx, req); err != nil {
		return "", err
	}
	now := p.clock()
	consent := &gatehouse.Consent{TenantID: req.Tenant.ID, UserID: userID, ClientID: req.Client.ID, Scopes: req.Scopes}
	if prev, err := p.store.FindConsent(ctx, req.Tenant.ID, userID, req.Client.ID); err == nil {
		if merged, err := p.tree.NormalizeScopes(append(append([]string{}, prev.Scopes...), req.Scopes...)); err == nil {
			consent.Scopes = merged
		}
	}
	if err := p.store.SaveConsent(ctx, consent); err != nil {
		return "", fmt.Errorf("save consent: %w", err)
	}
	code := secret.RandomString(secret.RandomLen, secret.Alphabet62)
	ac := &gatehouse.AuthCode{
		Hash:          secret.HashBytes(code),
		TenantID:      req.Tenant.ID,
		ClientID:      req.Client.ID,
		UserID:        userID,
		RedirectURI:   req.RedirectURI,
		Scopes:        req.Scopes,
		CodeChallenge: req.CodeChallenge,
		GrantID:       newGrantID(),
		ExpiresAt:     now.Add(AuthCodeTTL),
		CreatedAt:     now,
	}
	if err := p.store.CreateAuthCode(gatehouse.WithAudit(ctx, nil), ac); err != nil {
		return "", fmt.Errorf("create authorization code: %w", err)
	}
	return p.redirect(req, url.Values{"code": {code}}), nil
}

// Deny returns the redirect URL telling the client the user refused
// (RFC 6749 §4.1.2.1 access_denied).
func (p *Provider) Deny(req *AuthorizeRequest) string {
	return p.errorRedirect(req, "access_denied", "the user denied the request")
}

func (p *Provider) errorRedirect(req *AuthorizeRequest, code, desc string) string {
	return p.redirect(req, url.Values{"error": {code}, "error_description": {desc}})
}

// redirect adds params, state and iss (RFC 9207) to the redirect URI,
// keeping its registered query.
func (p *Provider) redirect(req *AuthorizeRequest, params url.Values) string {
	u, err := url.Parse(req.RedirectURI)
	if err != nil { // registered URIs were validated; this cannot happen
		panic(errors.Join(errors.New("oauth2: registered redirect URI does not parse"), err))
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	q.Set("iss", p.issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

const alphabet36 = "0123456789abcdefghijklmnopqrstuvwxyz"
