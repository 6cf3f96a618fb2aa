package oauth2_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	"golang.org/x/oauth2"
)

// pushParams is an authorization request to push, with a PKCE challenge.
func pushParams(c *gatehouse.Client, challenge string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI},
		"scope": {"catalog"}, "state": {"pushed-state"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}

// push sends form to /oauth2/par as c (Basic for a confidential client)
// and returns the request_uri of the 201.
func (e *env) push(c *gatehouse.Client, sec string, form url.Values) string {
	e.t.Helper()
	a := e.pushRaw(c, sec, form)
	if a.Status != http.StatusCreated || !strings.HasPrefix(a.str("request_uri"), provider.RequestURIPrefix) || a.Body["expires_in"] != float64(90) {
		e.t.Fatalf("push = %d %s, want 201 with a request_uri and expires_in 90", a.Status, a.Raw)
	}
	wantNoStore(e.t, a)
	return a.str("request_uri")
}

func (e *env) pushRaw(c *gatehouse.Client, sec string, form url.Values) answer {
	e.t.Helper()
	if c.Confidential {
		return e.post("/oauth2/par", form, c.ID, sec)
	}
	return e.post("/oauth2/par", form, "", "")
}

// authorizeErr is the refusal ParseAuthorize gives q, which must be one.
func (e *env) authorizeErr(q url.Values) *provider.AuthorizeError {
	e.t.Helper()
	_, err := e.p.ParseAuthorize(e.ctx, q)
	var ae *provider.AuthorizeError
	if !errors.As(err, &ae) {
		e.t.Fatalf("ParseAuthorize(%v) = %v, want an AuthorizeError", q, err)
	}
	return ae
}

// TestPARCodeFlow (RFC 9126 §2, §4): a confidential app (client_secret_basic)
// and a public one (client_id only) push their request, the authorization
// endpoint uses the pushed parameters only (other parameters beside
// client_id and request_uri are ignored), and golang.org/x/oauth2
// redeems the code with the PKCE verifier. The request_uri is single use:
// the same one again is refused, and so is a second decision on it.
func TestPARCodeFlow(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.WithValue(e.ctx, oauth2.HTTPClient, e.http)
		for _, confidential := range []bool{true, false} {
			c, sec := e.app(e.owner, confidential, []string{"catalog", "sales"})
			conf := &oauth2.Config{ClientID: c.ID, ClientSecret: sec, RedirectURL: redirectURI,
				Endpoint: oauth2.Endpoint{AuthURL: e.url + "/oauth2/authorize", TokenURL: e.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
			if !confidential {
				conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			verifier := oauth2.GenerateVerifier()
			uri := e.push(c, sec, pushParams(c, oauth2.S256ChallengeFromVerifier(verifier)))

			// What the user agent brings: client_id, request_uri and, here,
			// parameters that must be ignored.
			q := url.Values{"client_id": {c.ID}, "request_uri": {uri}, "scope": {"sales"}, "state": {"forged"}, "redirect_uri": {"http://localhost:9/other"}}
			req, err := e.p.ParseAuthorize(e.ctx, q)
			if err != nil {
				t.Fatalf("ParseAuthorize: %v", err)
			}
			if req.RedirectURI != redirectURI || req.State != "pushed-state" || strings.Join(req.Scopes, " ") != "catalog" {
				t.Fatalf("request = %+v, want the pushed parameters", req)
			}
			if got := req.Params.Encode(); got != (url.Values{"client_id": {c.ID}, "request_uri": {uri}}).Encode() {
				t.Fatalf("the consent form would carry %q, want client_id and request_uri only", got)
			}
			to, err := e.p.Approve(e.ctx, req, e.owner.UserID)
			if err != nil {
				t.Fatalf("Approve: %v", err)
			}
			back, _ := url.Parse(to)
			if back.Query().Get("state") != "pushed-state" || back.Query().Get("iss") != e.p.Issuer() {
				t.Fatalf("redirect %s", to)
			}
			tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			e.wantCode(tok.AccessToken, c.ID, gatehouse.CodeValid)

			// Replay of the request_uri, and a second decision on the
			// request already parsed (a re-posted consent form).
			if ae := e.authorizeErr(url.Values{"client_id": {c.ID}, "request_uri": {uri}}); ae.Redirect || ae.Code != "invalid_request_uri" {
				t.Errorf("replayed request_uri: %+v, want invalid_request_uri without redirect", ae)
			}
			if _, err := e.p.Approve(e.ctx, req, e.owner.UserID); !gatehouse.IsCode(err, gatehouse.EINVALID) {
				t.Errorf("second Approve = %v, want EINVALID", err)
			}
		}
	})
}

// TestPARRefusals: the pushed authorization request endpoint's refusals
// (RFC 9126 §2.3) and the authorization endpoint's for request_uris that
// are not usable (§4): expired, another app's, another tenant's,
// malformed; and an app that requires PAR (§6) refuses a plain request.
func TestPARRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		conf, csec := e.app(e.owner, true, []string{"catalog"})
		pub, _ := e.app(e.owner, false, []string{"catalog"})
		_, challenge := pkce("par")
		good := pushParams(conf, challenge)
		with := func(k, v string) url.Values {
			f := url.Values{}
			for key, vals := range good {
				f[key] = vals
			}
			if v == "" {
				f.Del(k)
			} else {
				f.Set(k, v)
			}
			return f
		}
		for _, tc := range []struct {
			name         string
			c            *gatehouse.Client
			user, pass   string
			form         url.Values
			status       int
			code, reason string
		}{
			{"request_uri pushed", conf, conf.ID, csec, with("request_uri", provider.RequestURIPrefix+"x"), 400, "invalid_request", "request_uri"},
			{"wrong secret", conf, conf.ID, "nope", good, 401, "invalid_client", ""},
			{"confidential without secret", conf, "", "", good, 401, "invalid_client", ""},
			{"unknown client", conf, "APIK-NOBODY", "x", with("client_id", "APIK-NOBODY"), 401, "invalid_client", ""},
			{"body client_id of another app", conf, conf.ID, csec, with("client_id", pub.ID), 400, "invalid_request", "differs"},
			{"unregistered redirect_uri", conf, conf.ID, csec, with("redirect_uri", "https://evil.example/cb"), 400, "invalid_request", "redirect_uri"},
			{"token response type", conf, conf.ID, csec, with("response_type", "token"), 400, "unsupported_response_type", ""},
			{"no response type", conf, conf.ID, csec, with("response_type", ""), 400, "invalid_request", "response_type"},
			{"scope beyond the app", conf, conf.ID, csec, with("scope", "sales"), 400, "invalid_scope", ""},
			{"plain PKCE", conf, conf.ID, csec, with("code_challenge_method", "plain"), 400, "invalid_request", "S256"},
			{"huge state", conf, conf.ID, csec, with("state", strings.Repeat("s", provider.MaxStateLen+1)), 400, "invalid_request", "state"},
			{"public without PKCE", pub, "", "", func() url.Values {
				f := pushParams(pub, "")
				f.Del("code_challenge")
				f.Del("code_challenge_method")
				return f
			}(), 400, "invalid_request", "PKCE"},
			{"public with a secret", pub, "", "", func() url.Values { f := pushParams(pub, challenge); f.Set("client_secret", "x"); return f }(), 401, "invalid_client", ""},
			{"oversized body", conf, conf.ID, csec, with("state", strings.Repeat("s", 70<<10)), 400, "invalid_request", "too large"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.post("/oauth2/par", tc.form, tc.user, tc.pass)
				wantError(t, a, tc.status, tc.code)
				if !strings.Contains(a.str("error_description"), tc.reason) {
					t.Errorf("error_description %q lacks %q", a.str("error_description"), tc.reason)
				}
			})
		}
		t.Run("method and shape", func(t *testing.T) {
			res, err := e.http.Get(e.url + "/oauth2/par")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("GET /oauth2/par = %d, want 405", res.StatusCode)
			}
			wantError(t, e.do("/oauth2/par", "application/json", `{}`, nil), 400, "invalid_request")
			wantError(t, e.do("/oauth2/par?scope=catalog", "application/x-www-form-urlencoded", good.Encode(), func(r *http.Request) { r.SetBasicAuth(conf.ID, csec) }), 400, "invalid_request")
		})

		t.Run("expired", func(t *testing.T) {
			uri := e.push(conf, csec, good)
			e.clock.Advance(provider.PushedRequestTTL)
			if ae := e.authorizeErr(url.Values{"client_id": {conf.ID}, "request_uri": {uri}}); ae.Code != "invalid_request_uri" || !strings.Contains(ae.Description, "expired") {
				t.Errorf("expired request_uri: %+v", ae)
			}
		})
		t.Run("slow login within the round trip", func(t *testing.T) {
			// Opened in time, the request outlives expires_in for the
			// login and consent; past PushedFlowTTL it is refused.
			uri := e.push(conf, csec, good)
			q := url.Values{"client_id": {conf.ID}, "request_uri": {uri}}
			if _, err := e.p.ParseAuthorize(e.ctx, q); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(5 * time.Minute)
			req, err := e.p.ParseAuthorize(e.ctx, q) // back from the login
			if err != nil {
				t.Fatalf("after a 5-minute login: %v", err)
			}
			if _, err := e.p.Approve(e.ctx, req, e.owner.UserID); err != nil {
				t.Fatalf("Approve after a 5-minute login: %v", err)
			}
			uri = e.push(conf, csec, good)
			q.Set("request_uri", uri)
			if _, err := e.p.ParseAuthorize(e.ctx, q); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(provider.PushedFlowTTL)
			if ae := e.authorizeErr(q); ae.Code != "invalid_request_uri" {
				t.Errorf("past the round trip: %+v", ae)
			}
		})
		t.Run("another app's and another tenant's", func(t *testing.T) {
			uri := e.push(conf, csec, good)
			other, _ := e.app(e.owner, true, []string{"catalog"})
			_, owner2 := e.newTenant("bolt", "olga@bolt.example")
			foreign, _ := e.app(owner2, true, []string{"catalog"})
			for _, c := range []*gatehouse.Client{other, pub, foreign} {
				if ae := e.authorizeErr(url.Values{"client_id": {c.ID}, "request_uri": {uri}}); ae.Redirect || ae.Code != "invalid_request_uri" {
					t.Errorf("%s presenting another app's request_uri: %+v", c.ID, ae)
				}
			}
			// The refusals spent nothing: the app's own use still works.
			if _, err := e.p.ParseAuthorize(e.ctx, url.Values{"client_id": {conf.ID}, "request_uri": {uri}}); err != nil {
				t.Errorf("the app's own request_uri after others tried it: %v", err)
			}
		})
		t.Run("malformed", func(t *testing.T) {
			for _, uri := range []string{"https://evil.example/req", provider.RequestURIPrefix + "unknown", ""} {
				if ae := e.authorizeErr(url.Values{"client_id": {conf.ID}, "request_uri": {uri}}); ae.Redirect || ae.Code != "invalid_request_uri" {
					t.Errorf("request_uri %q: %+v", uri, ae)
				}
			}
			if ae := e.authorizeErr(url.Values{"client_id": {conf.ID}, "request_uri": {"a", "b"}}); ae.Redirect || ae.Code != "invalid_request" {
				t.Errorf("repeated request_uri: %+v", ae)
			}
		})
		t.Run("the app requires PAR", func(t *testing.T) {
			strict, ssec, err := e.admin.CreateClient(e.ctx, e.owner, admin.ClientInput{Name: "Strict", Scopes: []string{"catalog"}, Confidential: true,
				RedirectURIs: []string{redirectURI}, RequirePAR: true})
			if err != nil {
				t.Fatal(err)
			}
			plain := pushParams(strict, challenge)
			ae := e.authorizeErr(plain)
			if !ae.Redirect || ae.Code != "invalid_request" || ae.Description != "pushed authorization request required" {
				t.Fatalf("plain request to a PAR-only app: %+v", ae)
			}
			if u, _ := url.Parse(ae.RedirectURL); u.Query().Get("error") != "invalid_request" || u.Query().Get("state") != "pushed-state" {
				t.Errorf("error redirect %s", ae.RedirectURL)
			}
			// Pushed, the same request is accepted.
			uri := e.push(strict, ssec, plain)
			if _, err := e.p.ParseAuthorize(e.ctx, url.Values{"client_id": {strict.ID}, "request_uri": {uri}}); err != nil {
				t.Errorf("pushed request of a PAR-only app: %v", err)
			}
		})
	})
}

// TestPARConcurrentDecisions: of 10 decisions racing on one pushed request
// (tabs, a double-clicked Allow), exactly one issues a code.
func TestPARConcurrentDecisions(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog"})
		_, challenge := pkce("race")
		uri := e.push(c, sec, pushParams(c, challenge))
		req, err := e.p.ParseAuthorize(e.ctx, url.Values{"client_id": {c.ID}, "request_uri": {uri}})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 10)
		for range 10 {
			go func() { _, err := e.p.Approve(e.ctx, req, e.owner.UserID); errs <- err }()
		}
		ok := 0
		for range 10 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case !gatehouse.IsCode(err, gatehouse.EINVALID):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of 10 racing decisions issued a code, want 1", ok)
		}
	})
}

// TestPARMetadata: the RFC 8414 document names the endpoint (RFC 9126 §5)
// and says the server as a whole does not require it.
func TestPARMetadata(t *testing.T) {
	e := newEnv(t, "")
	m := e.p.Metadata()
	if m.PushedAuthorizationRequestEndpoint != e.url+"/oauth2/par" || m.RequirePushedAuthorizationRequests {
		t.Errorf("metadata = %+v", m)
	}
}
