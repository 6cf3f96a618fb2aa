package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Pushed authorization requests (RFC 9126).
const (
	// RequestURIPrefix starts every request_uri (RFC 9126 §2.2: the URN
	// form is registered for it).
	RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// PushedRequestTTL is the expires_in of a push (RFC 9126 §2.2): the
	// client redirects the user agent at once, so it is short.
	PushedRequestTTL = 90 * time.Second
	// PushedFlowTTL is how long a pushed request stays usable once the
	// user agent has first presented it: the login and consent round trip
	// re-presents it (after the login, and in the consent form), and a
	// person may take minutes over them.
	PushedFlowTTL = 10 * time.Minute
)

// errInvalidRequestURI is RFC 9101 §6.2's error for a request_uri that
// cannot be used; RFC 9126 §4 has no code of its own.
const errInvalidRequestURI = "invalid_request_uri"

// PARHandler serves POST /oauth2/par (RFC 9126 §2): the client, authenticated
// as at the token endpoint (§2: confidential clients with their secret,
// public ones by client_id), pushes the parameters of an authorization
// request and gets a request_uri to send the user agent to
// /oauth2/authorize with. The request is checked as the authorization
// endpoint would check it (§2.1), so errors reach the client directly
// instead of a redirect; answers are §2.2's 201 and §2.3's errors (400,
// 401 invalid_client), with Cache-Control: no-store.
func (p *Provider) PARHandler() http.Handler { return p.serve(p.par) }

func (p *Provider) par(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r) // bounded by maxFormBody; no repeated parameters
	if err != nil {
		return err
	}
	client, _, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return err
	}
	if form.Has("request_uri") {
		// RFC 9126 §2.1: request_uri must not be pushed.
		return invalidRequest("request_uri must not be sent to the pushed authorization request endpoint")
	}
	params := url.Values{}
	for k, v := range form {
		if k != "client_secret" { // Security: never stored
			params[k] = v
		}
	}
	params.Set("client_id", client.ID) // a Basic client may leave it out of the body
	if _, err := p.checkAuthorize(r.Context(), client, params, true); err != nil {
		var ae *AuthorizeError
		if errors.As(err, &ae) {
			return &Error{Status: http.StatusBadRequest, Code: ae.Code, Description: ae.Description}
		}
		return err
	}
	uri := RequestURIPrefix + secret.RandomString(secret.RandomLen, secret.Alphabet62)
	now := p.clock()
	pr := &gatehouse.PushedRequest{
		Hash:      secret.HashBytes(uri), // Security: stored as a hash, like codes
		TenantID:  client.TenantID,
		ClientID:  client.ID,
		Params:    params.Encode(),
		ExpiresAt: now.Add(PushedRequestTTL),
		CreatedAt: now,
	}
	if err := p.store.CreatePushedRequest(r.Context(), pr); err != nil {
		return fmt.Errorf("create pushed request: %w", err)
	}
	writeJSON(w, http.StatusCreated, parResponse{RequestURI: uri, ExpiresIn: int64(PushedRequestTTL / time.Second)})
	return nil
}

// parResponse is RFC 9126 §2.2's answer.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// openPushed is the authorization endpoint's side of RFC 9126 §4: the
// request is the one client pushed, checked again (the app may have
// changed since), and every other parameter beside client_id and
// request_uri is ignored — the authorization server must use the pushed
// ones only. An unusable request_uri is not redirected: until it is found
// there is no redirect URI to trust.
func (p *Provider) openPushed(ctx context.Context, client *gatehouse.Client, q url.Values) (*AuthorizeRequest, error) {
	refuse := func(desc string) (*AuthorizeRequest, error) {
		return nil, &AuthorizeError{Code: errInvalidRequestURI, Description: desc}
	}
	if len(q["request_uri"]) > 1 {
		return nil, &AuthorizeError{Code: "invalid_request", Description: "request_uri is repeated"}
	}
	uri := q.Get("request_uri")
	if !strings.HasPrefix(uri, RequestURIPrefix) {
		return refuse("request_uri must be one returned by the pushed authorization request endpoint")
	}
	hash := secret.HashBytes(uri)
	now := p.clock()
	pr, err := p.store.OpenPushedRequest(ctx, client.TenantID, client.ID, hash, now, now.Add(PushedFlowTTL))
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		// Security: another app's request_uri is unknown to this one
		// (RFC 9126 §4: bound to the client that pushed it).
		return refuse("request_uri is not known for this client")
	case gatehouse.IsCode(err, gatehouse.ECONFLICT):
		return refuse("request_uri has already been used; push the request again")
	case gatehouse.IsCode(err, gatehouse.EINVALID):
		return refuse("request_uri has expired; push the request again")
	case err != nil:
		return nil, err
	}
	params, err := url.ParseQuery(pr.Params)
	if err != nil {
		return nil, fmt.Errorf("pushed request of %s: %w", client.ID, err)
	}
	req, err := p.checkAuthorize(ctx, client, params, true)
	if err != nil {
		return nil, err
	}
	req.Params = url.Values{"client_id": {client.ID}, "request_uri": {uri}}
	req.pushed = hash
	return req, nil
}

// ConsumePushed spends the pushed request req came from, if any, when the
// user decides (Approve calls it; call it before Deny): one-time use (RFC
// 9126 §4), atomic in the store, so of two decisions (two tabs, a re-posted
// form) only one gets through. Consuming at the decision rather than at the
// first presentation keeps the login round trip working, which presents
// the request_uri again. A spent or expired request is EINVALID.
func (p *Provider) ConsumePushed(ctx context.Context, req *AuthorizeRequest) error {
	if req.pushed == nil {
		return nil
	}
	err := p.store.ConsumePushedRequest(ctx, req.Tenant.ID, req.Client.ID, req.pushed, p.clock())
	switch {
	case err == nil:
		return nil
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND), gatehouse.IsCode(err, gatehouse.ECONFLICT), gatehouse.IsCode(err, gatehouse.EINVALID):
		return gatehouse.Errorf(gatehouse.EINVALID, "this authorization request has already been decided or has expired; return to the app and start again")
	}
	return fmt.Errorf("consume pushed request: %w", err)
}
