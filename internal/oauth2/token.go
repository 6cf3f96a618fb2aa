package oauth2

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// maxFormBody bounds the form bodies of the token, revocation and
// introspection endpoints; their parameters are a few hundred bytes.
const maxFormBody = 64 << 10

// TokenHandler serves POST /oauth2/token (RFC 6749 §3.2): one handler per
// grant type (grant_code.go, grant_refresh.go,
// grant_client_credentials.go, grant_device.go) behind one client authentication.
//
// Every answer carries Cache-Control: no-store and Pragma: no-cache;
// success is RFC 6749 §5.1's JSON, refusals are §5.2's (400, or 401
// invalid_client with a Basic challenge).
func (p *Provider) TokenHandler() http.Handler { return p.serve(p.token) }

func (p *Provider) token(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	// The client is authenticated first, so nothing below — not even
	// consuming a code — happens for a caller that is not the client.
	client, tenant, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return err
	}
	allowOrigin(w, r, client)
	var resp *tokenResponse
	switch gt := form.Get("grant_type"); gt {
	case gatehouse.GrantAuthorizationCode:
		resp, err = p.grantCode(r.Context(), client, form)
	case gatehouse.GrantRefreshToken:
		resp, err = p.grantRefresh(r.Context(), client, tenant, form)
	case gatehouse.GrantClientCredentials:
		resp, err = p.grantClientCredentials(r.Context(), client, form)
	case gatehouse.GrantDeviceCode:
		resp, err = p.grantDevice(r.Context(), client, form)
	case "":
		return invalidRequest("grant_type is missing")
	default:
		return &Error{Status: http.StatusBadRequest, Code: errUnsupportedGrantType,
			Description: "grant_type must be authorization_code, refresh_token, client_credentials or " + gatehouse.GrantDeviceCode}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// tokenResponse is RFC 6749 §5.1's successful response.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// readForm reads a form-encoded POST body. RFC 6749 §3.2 wants POST with
// application/x-www-form-urlencoded and parameters that are not repeated;
// §3.2 also says an empty parameter counts as omitted, which Get gives.
//
// Security: parameters in the URL query are refused, not merged. The seed
// shows them there, but codes, refresh tokens and secrets in a URL end up
// in access logs and proxies; a clear invalid_request tells the developer
// to move them into the body.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Error{Status: http.StatusMethodNotAllowed, Code: errInvalidRequest, Description: "use POST"}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("send the parameters in the form-encoded body, not in the URL query")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the form body is malformed or too large")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, invalidRequest(k + " is repeated")
		}
	}
	return r.PostForm, nil
}

// authenticateClient applies RFC 6749 §2.3: a confidential client proves
// its secret with HTTP Basic (client_secret_basic, §2.3.1: client id and
// secret form-urlencoded inside Basic) or in the body
// (client_secret_post); a public client only names itself with client_id
// (method "none"). Using two methods at once is invalid_request; every
// authentication failure is 401 invalid_client.
//
// The tenant of the client must exist and be enabled: a disabled tenant's
// apps are refused with invalid_client too (after their secret checked
// out, so the answer tells nothing to someone without it), because the
// app as a whole is out of service, whatever grant it asks for. A tenant
// that has left the Enterprise plan keeps its apps, but they are refused
// (unauthorized_client) until the plan returns. The tenant's state is the
// verifier's snapshot (package comment, Tenant state); it is returned so
// that the grant decides with the same one rather than read it again.
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (*gatehouse.Client, verify.TenantState, error) {
	var none verify.TenantState
	id, sec, hasSecret, err := clientCredentials(r, form)
	if err != nil {
		return nil, none, err
	}
	if id == "" {
		return nil, none, invalidClient("client authentication is required: HTTP Basic, or client_id (and client_secret) in the body")
	}
	client, err := p.store.FindClient(ctx, id)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		secret.HashBytes(sec) // the same work as for a known client
		return nil, none, invalidClient("client authentication failed")
	} else if err != nil {
		return nil, none, fmt.Errorf("find client: %w", err)
	}
	if client.Confidential {
		if !hasSecret || !p.secretMatches(client, sec) {
			return nil, none, invalidClient("client authentication failed")
		}
	} else if sec != "" {
		// A public client has no secret (RFC 6749 §2.1); one that sends
		// something is confused, or is not who it claims to be.
		return nil, none, invalidClient("a public client must not send a client secret")
	}
	ts, err := p.v.TenantState(ctx, client.TenantID)
	switch {
	case err != nil:
		return nil, none, err
	case !ts.Found:
		return nil, none, invalidClient("client authentication failed")
	case ts.Disabled:
		return nil, none, invalidClient("the app's tenant is disabled")
	case !ts.OAuthApps:
		// Seed 002: OAuth apps are available on the Enterprise plan. The
		// app is authentic but out of service until the plan returns.
		return nil, none, unauthorizedClient("OAuth apps are available on the Enterprise plan, which the app's tenant is not on")
	}
	return client, ts, nil
}

// clientCredentials extracts the client id and secret from the request.
// hasSecret distinguishes an empty secret from none.
func clientCredentials(r *http.Request, form url.Values) (id, sec string, hasSecret bool, err error) {
	auth := r.Header.Get("Authorization")
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	if auth == "" {
		return bodyID, bodySecret, bodySecret != "", nil
	}
	const scheme = "basic "
	if len(auth) < len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return "", "", false, invalidClient("the token endpoint accepts HTTP Basic client authentication only")
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[len(scheme):]))
	if derr != nil {
		return "", "", false, invalidClient("the Basic credentials are not valid base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", false, invalidClient("the Basic credentials lack the ':' separator")
	}
	// RFC 6749 §2.3.1: both halves are application/x-www-form-urlencoded.
	if id, err = url.QueryUnescape(user); err != nil {
		return "", "", false, invalidClient("the Basic user name is not form-urlencoded")
	}
	if sec, err = url.QueryUnescape(pass); err != nil {
		return "", "", false, invalidClient("the Basic password is not form-urlencoded")
	}
	// RFC 6749 §2.3: one authentication method per request.
	if form.Has("client_secret") {
		return "", "", false, invalidRequest("use either HTTP Basic or client_secret in the body, not both")
	}
	if bodyID != "" && bodyID != id {
		return "", "", false, invalidRequest("client_id in the body differs from the HTTP Basic user")
	}
	// A public client that sends Basic with an empty password (what
	// golang.org/x/oauth2 does by default) only names itself: "none".
	return id, sec, sec != "", nil
}

// secretMatches compares the presented secret's SHA-256 with the stored
// hash, and with the previous secret's during a rotation's grace period,
// in constant time (both comparisons always run).
func (p *Provider) secretMatches(c *gatehouse.Client, sec string) bool {
	h := secret.HashBytes(sec)
	ok := len(c.SecretHash) > 0 && subtle.ConstantTimeCompare(h, c.SecretHash) == 1
	prev := len(c.PrevSecretHash) > 0 && subtle.ConstantTimeCompare(h, c.PrevSecretHash) == 1
	if prev && (c.PrevSecretExpiresAt == nil || !p.clock().Before(*c.PrevSecretExpiresAt)) {
		prev = false
	}
	return ok || prev
}

// newGrantID names the tokens of one grant, for grant-wide revocation.
func newGrantID() string {
	return "grt_" + secret.RandomString(26, alphabet36)
}

// issued is one token made for a response: its plaintext and its row.
type issued struct {
	token string
	cred  *gatehouse.Credential
}

// newAccess makes (but does not store) an access token of the client.
func (p *Provider) newAccess(c *gatehouse.Client, userID, grantID string, scopes []string, now time.Time) issued {
	exp := now.Add(AccessTokenTTL)
	return p.newCredential(gatehouse.KindOAuth2Access, c, userID, grantID, scopes, now, &exp)
}

// newRefresh makes (but does not store) a refresh token: no expiry of its
// own; enhanced security limits its age at use (grant_refresh.go).
func (p *Provider) newRefresh(c *gatehouse.Client, userID, grantID string, scopes []string, now time.Time) issued {
	return p.newCredential(gatehouse.KindOAuth2Refresh, c, userID, grantID, scopes, now, nil)
}

func (p *Provider) newCredential(kind gatehouse.Kind, c *gatehouse.Client, userID, grantID string, scopes []string, now time.Time, exp *time.Time) issued {
	tok := secret.NewToken(kind)
	return issued{token: tok, cred: &gatehouse.Credential{
		TenantID:  c.TenantID,
		Kind:      kind,
		Name:      c.Name,
		Hash:      secret.HashBytes(tok),
		Hint:      secret.Hint(tok),
		UserID:    userID,
		ClientID:  c.ID,
		GrantID:   grantID,
		Scopes:    scopes,
		ExpiresAt: exp,
		CreatedAt: now,
	}}
}

// issueTokens stores the tokens of one response with one store call
// (Store.IssueTokens): all of them or none, and only while the tenant is
// enabled, the app not deleted and the user, if any, still a member who
// has not withdrawn the consent — checked in the transaction that stores
// them, so a deletion racing the request cannot leave a token behind. A
// refusal is invalid_grant for a user's tokens, invalid_client for the
// app's own (client_credentials: the app or its tenant is gone); a grant
// revoked meanwhile (a deleted consent, a revoked grant) is invalid_grant.
func (p *Provider) issueTokens(ctx context.Context, c *gatehouse.Client, userID string, toks ...issued) error {
	r := &gatehouse.TokenIssue{TenantID: c.TenantID, ClientID: c.ID, UserID: userID}
	for _, t := range toks {
		r.Tokens = append(r.Tokens, t.cred)
	}
	err := p.store.IssueTokens(ctx, r)
	switch {
	case err == nil:
		return nil
	case gatehouse.IsCode(err, gatehouse.ECONFLICT):
		return invalidGrant("the grant has been revoked")
	case gatehouse.IsCode(err, gatehouse.EINVALID) && userID == "":
		return invalidClient(gatehouse.ErrorMessage(err))
	case gatehouse.IsCode(err, gatehouse.EINVALID):
		return invalidGrant(gatehouse.ErrorMessage(err))
	}
	return fmt.Errorf("issue tokens: %w", err)
}

// response is RFC 6749 §5.1's answer for an access token and, optionally,
// a refresh token.
func response(access issued, refresh *issued) *tokenResponse {
	r := &tokenResponse{
		AccessToken: access.token,
		TokenType:   "Bearer",
		ExpiresIn:   int64(AccessTokenTTL / time.Second),
		Scope:       strings.Join(access.cred.Scopes, " "),
	}
	if refresh != nil {
		r.RefreshToken = refresh.token
	}
	return r
}

// scopeParam parses an optional scope parameter of the token endpoint
// (RFC 6749 §3.3): nil when absent; unknown resources are invalid_scope.
func (p *Provider) scopeParam(form url.Values) ([]string, error) {
	fields := strings.Fields(form.Get("scope"))
	if len(fields) == 0 {
		return nil, nil
	}
	scopes, err := p.tree.NormalizeScopes(fields)
	if err != nil {
		return nil, invalidScope(gatehouse.ErrorMessage(err))
	}
	if slices.Contains(scopes, gatehouse.ScopeManage) {
		// SPEC §9: an OAuth app is never granted manage.
		return nil, invalidScope("manage cannot be granted to an OAuth app")
	}
	return scopes, nil
}
