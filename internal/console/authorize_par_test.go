package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// pushRequest stores a pushed authorization request of the fixture's app
// as POST /oauth2/par does, and returns its request_uri.
func (f *authorizeFixture) pushRequest(t *testing.T, params url.Values) string {
	t.Helper()
	uri := oauth2.RequestURIPrefix + secret.RandomString(secret.RandomLen, secret.Alphabet62)
	now := f.e.clock.Now()
	err := f.e.store.CreatePushedRequest(f.e.ctx, &gatehouse.PushedRequest{Hash: secret.HashBytes(uri), TenantID: f.e.tenantA.ID,
		ClientID: f.app.ID, Params: params.Encode(), ExpiresAt: now.Add(oauth2.PushedRequestTTL), CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return uri
}

// TestAuthorizePushedDeny (RFC 9126 §4): the consent page of a pushed
// request carries only client_id and request_uri; Deny spends it, so the
// same form re-posted with Allow issues nothing, and the request_uri
// opened again is a 400 page without a redirect.
func TestAuthorizePushedDeny(t *testing.T) {
	f := newAuthorizeFixture(t)
	uri := f.pushRequest(t, url.Values{"response_type": {"code"}, "client_id": {f.app.ID}, "redirect_uri": {redirectURI},
		"scope": {"sales"}, "state": {"pushed"}})
	start := "/oauth2/authorize?" + url.Values{"client_id": {f.app.ID}, "request_uri": {uri}, "state": {"ignored"}}.Encode()
	b := f.e.browser()
	b.login("owner@acme.test")
	consent := b.get(start)
	wantStatus(t, consent, http.StatusOK)
	cf := consentForm(t, consent)
	if cf.Get("request_uri") != uri || cf.Has("scope") || cf.Has("redirect_uri") || cf.Has("state") {
		t.Fatalf("consent form = %v, want client_id and request_uri only", cf)
	}
	// The user takes longer than expires_in: the round trip allows it.
	f.e.clock.Advance(oauth2.PushedRequestTTL + time.Minute)

	cf.Set("decision", "deny")
	res := b.post("/oauth2/authorize", cf)
	u, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || u.Query().Get("error") != "access_denied" || u.Query().Get("state") != "pushed" {
		t.Fatalf("deny: %d %s", res.StatusCode, u)
	}
	cf.Set("decision", "allow")
	res = b.post("/oauth2/authorize", cf)
	wantStatus(t, res, http.StatusBadRequest)
	if res.Header.Get("Location") != "" || strings.Contains(res.body, "code=") {
		t.Fatalf("allow after deny answered %v", res.Header)
	}
	if _, err := f.e.store.FindConsent(f.e.ctx, f.e.tenantA.ID, f.owner.UserID, f.app.ID); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Fatalf("a spent pushed request saved consent: %v", err)
	}
	again := b.get(start)
	wantStatus(t, again, http.StatusBadRequest)
	wantBody(t, again, "invalid_request_uri")
}
