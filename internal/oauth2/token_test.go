package oauth2_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestCodeFlowXOAuth2 redeems a PKCE code and refreshes with
// golang.org/x/oauth2 as the client, for a confidential and a public app.
func TestCodeFlowXOAuth2(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.WithValue(e.ctx, oauth2.HTTPClient, e.http)
		for _, confidential := range []bool{true, false} {
			c, sec := e.app(e.owner, confidential, []string{"catalog", "sales"})
			conf := &oauth2.Config{
				ClientID:     c.ID,
				ClientSecret: sec,
				RedirectURL:  redirectURI,
				Scopes:       []string{"catalog.products", "sales"},
				Endpoint: oauth2.Endpoint{
					AuthURL:  e.url + "/oauth2/authorize",
					TokenURL: e.url + "/oauth2/token",
				},
			}
			if !confidential {
				conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			verifier := oauth2.GenerateVerifier()
			// The authorization URL the library builds is what the
			// console's ParseAuthorize reads.
			au, _ := url.Parse(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
			req, err := e.p.ParseAuthorize(e.ctx, au.Query())
			if err != nil {
				t.Fatal(err)
			}
			to, err := e.p.Approve(e.ctx, req, e.owner.UserID)
			if err != nil {
				t.Fatal(err)
			}
			back, _ := url.Parse(to)
			if back.Query().Get("iss") != e.p.Issuer() {
				t.Fatalf("redirect %s lacks iss", to)
			}
			tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != "catalog.products sales" {
				t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
			}
			e.wantCode(tok.AccessToken, c.ID, gatehouse.CodeValid)
			e.wantCode(tok.AccessToken, "", gatehouse.CodeClientMismatch)

			// Refresh through a TokenSource with an expired access token.
			stale := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			fresh, err := conf.TokenSource(ctx, stale).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken {
				t.Fatal("refresh returned the same access token")
			}
			e.wantCode(fresh.AccessToken, c.ID, gatehouse.CodeValid)
			if confidential && fresh.RefreshToken != tok.RefreshToken {
				t.Fatal("a confidential client's refresh token rotated")
			}
			if !confidential && fresh.RefreshToken == tok.RefreshToken {
				t.Fatal("a public client's refresh token did not rotate")
			}
		}
	})
}

// TestClientCredentialsXOAuth2 gets app tokens with
// golang.org/x/oauth2/clientcredentials.
func TestClientCredentialsXOAuth2(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.WithValue(e.ctx, oauth2.HTTPClient, e.http)
		c, sec := e.app(e.owner, true, []string{"catalog", "sales.orders"}, gatehouse.GrantClientCredentials)
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			conf := &clientcredentials.Config{ClientID: c.ID, ClientSecret: sec, TokenURL: e.url + "/oauth2/token", AuthStyle: style}
			tok, err := conf.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken != "" || tok.Extra("scope") != "catalog sales.orders" {
				t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
			}
			res, _ := e.v.Verify(e.ctx, verifyReq(tok.AccessToken, c.ID, "sales.orders"))
			if !res.Valid() || res.Principal.Subject != c.ID || res.Principal.ClientID != c.ID {
				t.Fatalf("verify %+v %+v", res, res.Principal)
			}
		}
		narrow := &clientcredentials.Config{ClientID: c.ID, ClientSecret: sec, TokenURL: e.url + "/oauth2/token", Scopes: []string{"catalog.products"}}
		tok, err := narrow.Token(ctx)
		if err != nil || tok.Extra("scope") != "catalog.products" {
			t.Fatalf("narrow: %v %v", err, tok)
		}
		wide := url.Values{"grant_type": {"client_credentials"}, "scope": {"catalog sales"}}
		wantError(t, e.post("/oauth2/token", wide, c.ID, sec), 400, "invalid_scope")
		all := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"all"}}, c.ID, sec)
		if all.Status != 200 || all.str("scope") != "catalog sales.orders" {
			t.Fatalf("scope=all: %s", all.Raw)
		}
		// An app without the grant.
		other, osec := e.app(e.owner, true, []string{"catalog"})
		wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, other.ID, osec), 400, "unauthorized_client")
	})
}

// TestTokenRefusals covers the token endpoint's refusals of issue 4
// (done-means 3) with their RFC 6749 §5.2 codes.
func TestTokenRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog", "sales"})
		pub, _ := e.app(e.owner, false, []string{"catalog"})
		verifier, challenge := pkce("abc")

		t.Run("code replay revokes the first redemption", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			at, rt := wantTokens(t, e.exchange(c, sec, code, verifier))
			e.wantCode(at, c.ID, gatehouse.CodeValid)
			wantError(t, e.exchange(c, sec, code, verifier), 400, "invalid_grant")
			e.wantCode(at, c.ID, gatehouse.CodeRevoked)
			wantError(t, e.refresh(c, sec, rt, ""), 400, "invalid_grant")
		})
		t.Run("wrong PKCE verifier", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			wrong, _ := pkce("xyz")
			wantError(t, e.exchange(c, sec, code, wrong), 400, "invalid_grant")
			// The failed attempt burnt the code.
			wantError(t, e.exchange(c, sec, code, verifier), 400, "invalid_grant")
		})
		t.Run("missing PKCE verifier", func(t *testing.T) {
			code := e.code(pub, e.owner.UserID, "catalog", challenge)
			wantError(t, e.exchange(pub, "", code, ""), 400, "invalid_grant")
		})
		t.Run("verifier without challenge (downgrade)", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", "")
			wantError(t, e.exchange(c, sec, code, verifier), 400, "invalid_grant")
		})
		t.Run("confidential client without PKCE", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", "")
			wantTokens(t, e.exchange(c, sec, code, ""))
		})
		t.Run("wrong client secret", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			a := e.exchange(c, "wrong"+sec, code, verifier)
			wantError(t, a, 401, "invalid_client")
			if got := a.Header.Get("WWW-Authenticate"); got != `Basic realm="gatehouse"` {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			// Authentication failed before the code was touched.
			wantTokens(t, e.exchange(c, sec, code, verifier))
		})
		t.Run("missing client authentication", func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}}
			wantError(t, e.post("/oauth2/token", form, "", ""), 401, "invalid_client")
			form.Set("client_id", c.ID) // confidential without its secret
			wantError(t, e.post("/oauth2/token", form, "", ""), 401, "invalid_client")
		})
		t.Run("unknown client", func(t *testing.T) {
			wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "APIK-NOSUCH", "x"), 401, "invalid_client")
		})
		t.Run("public client sending a secret", func(t *testing.T) {
			code := e.code(pub, e.owner.UserID, "catalog", challenge)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
			wantError(t, e.post("/oauth2/token", form, pub.ID, "guess"), 401, "invalid_client")
		})
		t.Run("public client with Basic and no password", func(t *testing.T) {
			code := e.code(pub, e.owner.UserID, "catalog", challenge)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
			wantTokens(t, e.post("/oauth2/token", form, pub.ID, ""))
		})
		t.Run("code issued to another client", func(t *testing.T) {
			other, osec := e.app(e.owner, true, []string{"catalog"})
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			wantError(t, e.exchange(other, osec, code, verifier), 400, "invalid_grant")
		})
		t.Run("expired code", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			e.clock.Advance(61 * time.Second)
			wantError(t, e.exchange(c, sec, code, verifier), 400, "invalid_grant")
		})
		t.Run("redirect_uri differs", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://localhost:9/other"}, "code_verifier": {verifier}}
			wantError(t, e.post("/oauth2/token", form, c.ID, sec), 400, "invalid_grant")
		})
		t.Run("redirect_uri missing", func(t *testing.T) {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
			wantError(t, e.post("/oauth2/token", form, c.ID, sec), 400, "invalid_grant")
		})
		t.Run("unknown code", func(t *testing.T) {
			wantError(t, e.exchange(c, sec, "nosuchcode", verifier), 400, "invalid_grant")
		})
		t.Run("user no longer a member", func(t *testing.T) {
			op := admin.Actor{TenantID: e.tenant.ID, Name: admin.OperatorName, Operator: true}
			m, err := e.admin.AddMember(e.ctx, op, admin.NewMember{Email: "leaver@acme.test", Role: gatehouse.RoleAdmin})
			if err != nil {
				t.Fatal(err)
			}
			code := e.code(c, m.UserID, "catalog", challenge)
			if err := e.admin.RemoveMember(e.ctx, e.owner, m.UserID); err != nil {
				t.Fatal(err)
			}
			wantError(t, e.exchange(c, sec, code, verifier), 400, "invalid_grant")
		})
		t.Run("grant not allowed", func(t *testing.T) {
			cc, ccsec := e.app(e.owner, true, []string{"catalog"}, gatehouse.GrantClientCredentials)
			wantError(t, e.refresh(cc, ccsec, "gate_rt_x", ""), 400, "unauthorized_client")
			wantError(t, e.exchange(cc, ccsec, "x", ""), 400, "unauthorized_client")
		})
		t.Run("unsupported and missing grant_type", func(t *testing.T) {
			wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"password"}}, c.ID, sec), 400, "unsupported_grant_type")
			wantError(t, e.post("/oauth2/token", url.Values{}, c.ID, sec), 400, "invalid_request")
		})
		t.Run("duplicated parameter", func(t *testing.T) {
			a := e.do("/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=client_credentials", func(r *http.Request) { r.SetBasicAuth(c.ID, sec) })
			wantError(t, a, 400, "invalid_request")
			a = e.do("/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id="+pub.ID+"&client_id="+pub.ID, nil)
			wantError(t, a, 400, "invalid_request")
		})
		t.Run("not form-encoded", func(t *testing.T) {
			a := e.do("/oauth2/token", "application/json", `{"grant_type":"client_credentials"}`, func(r *http.Request) { r.SetBasicAuth(c.ID, sec) })
			wantError(t, a, 400, "invalid_request")
			a = e.do("/oauth2/token", "", "grant_type=client_credentials", func(r *http.Request) { r.SetBasicAuth(c.ID, sec) })
			wantError(t, a, 400, "invalid_request")
		})
		t.Run("parameters in the query", func(t *testing.T) {
			a := e.do("/oauth2/token?grant_type=client_credentials", "application/x-www-form-urlencoded", "", func(r *http.Request) { r.SetBasicAuth(c.ID, sec) })
			wantError(t, a, 400, "invalid_request")
		})
		t.Run("Basic and client_secret_post together", func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {sec}}
			wantError(t, e.post("/oauth2/token", form, c.ID, sec), 400, "invalid_request")
		})
		t.Run("Basic credentials are form-urlencoded", func(t *testing.T) {
			cc, ccsec := e.app(e.owner, true, []string{"catalog"}, gatehouse.GrantClientCredentials)
			// Every character percent-encoded: the server must decode.
			var enc strings.Builder
			for _, b := range []byte(ccsec) {
				enc.WriteString("%" + strings.ToUpper(hex2(b)))
			}
			a := e.do("/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", func(r *http.Request) {
				r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cc.ID+":"+enc.String())))
			})
			wantTokens(t, a)
		})
		t.Run("secret rotation grace", func(t *testing.T) {
			cc, old := e.app(e.owner, true, []string{"catalog"}, gatehouse.GrantClientCredentials)
			_, fresh, err := e.admin.RotateClientSecret(e.ctx, e.owner, cc.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"grant_type": {"client_credentials"}}
			wantTokens(t, e.post("/oauth2/token", form, cc.ID, old))
			wantTokens(t, e.post("/oauth2/token", form, cc.ID, fresh))
			e.clock.Advance(time.Hour)
			wantError(t, e.post("/oauth2/token", form, cc.ID, old), 401, "invalid_client")
			wantTokens(t, e.post("/oauth2/token", form, cc.ID, fresh))
		})
		t.Run("deleted app", func(t *testing.T) {
			cc, ccsec := e.app(e.owner, true, []string{"catalog"}, gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials)
			code := e.code(cc, e.owner.UserID, "catalog", challenge)
			at, rt := wantTokens(t, e.exchange(cc, ccsec, code, verifier))
			at2, _ := wantTokens(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cc.ID, ccsec))
			e.wantCode(at, cc.ID, gatehouse.CodeValid)
			if err := e.admin.DeleteClient(e.ctx, e.owner, cc.ID); err != nil {
				t.Fatal(err)
			}
			e.wantCode(at, cc.ID, gatehouse.CodeRevoked)
			e.wantCode(at2, cc.ID, gatehouse.CodeRevoked)
			wantError(t, e.refresh(cc, ccsec, rt, ""), 401, "invalid_client")
			wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cc.ID, ccsec), 401, "invalid_client")
		})
		t.Run("disabled tenant", func(t *testing.T) {
			ten, owner := e.newTenant("dormant", "o@dormant.test")
			cc, ccsec := e.app(owner, true, []string{"catalog"}, gatehouse.GrantClientCredentials)
			at, _ := wantTokens(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cc.ID, ccsec))
			if _, err := e.admin.SetTenantDisabled(e.ctx, ten.Slug, true); err != nil {
				t.Fatal(err)
			}
			wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cc.ID, ccsec), 401, "invalid_client")
			e.wantCode(at, cc.ID, gatehouse.CodeTenantDisabled)
		})
	})
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// TestConcurrentCodeRedemption redeems one code 20 times at once over
// HTTP (issue 4 done-means 4): exactly one request gets tokens — the code
// is consumed and its tokens stored in one transaction, so the others wait
// and find it used — and the other 19 are replays, refused, which —
// RFC 6749 §4.1.2 — revoke the grant, so the one token pair does not
// survive either.
func TestConcurrentCodeRedemption(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.app(e.owner, true, []string{"catalog"})
		verifier, challenge := pkce("k9")
		for round := range 5 {
			code := e.code(c, e.owner.UserID, "catalog", challenge)
			const n = 20
			var wg sync.WaitGroup
			answers := make([]answer, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i] = e.exchange(c, sec, code, verifier)
				}()
			}
			close(start)
			wg.Wait()
			consumed, replays, issued := 0, 0, 0
			for _, a := range answers {
				switch {
				case a.Status == 200:
					consumed++
					issued++
					wantNoStore(t, a)
					e.wantCode(a.str("access_token"), c.ID, gatehouse.CodeRevoked)
				case strings.Contains(a.str("error_description"), "already used"):
					replays++
					wantError(t, a, 400, "invalid_grant")
				default:
					t.Fatalf("round %d: unexpected answer %d %v", round, a.Status, a)
				}
			}
			if consumed != 1 || replays != n-1 || issued != 1 {
				t.Fatalf("round %d: %d consumed the code, %d replays, %d got tokens; want 1, %d, 1", round, consumed, replays, issued, n-1)
			}
		}
		// Without a race, the same client redeems once and keeps its tokens.
		code := e.code(c, e.owner.UserID, "catalog", challenge)
		at, _ := wantTokens(t, e.exchange(c, sec, code, verifier))
		e.wantCode(at, c.ID, gatehouse.CodeValid)
	})
}

// TestMetadata checks RFC 8414's document: issuer is the public URL
// exactly, endpoints hang off it, S256 only.
func TestMetadata(t *testing.T) {
	e := newEnv(t, "")
	resp, err := e.http.Get(e.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["issuer"] != e.url || m["token_endpoint"] != e.url+"/oauth2/token" || m["authorization_endpoint"] != e.url+"/oauth2/authorize" ||
		m["revocation_endpoint"] != e.url+"/oauth2/revoke" || m["introspection_endpoint"] != e.url+"/oauth2/introspect" {
		t.Fatalf("metadata %v", m)
	}
	if got, _ := json.Marshal(m["code_challenge_methods_supported"]); string(got) != `["S256"]` {
		t.Fatalf("code_challenge_methods_supported %s", got)
	}
	if got, _ := json.Marshal(m["response_types_supported"]); string(got) != `["code"]` {
		t.Fatalf("response_types_supported %s", got)
	}
	if m["authorization_response_iss_parameter_supported"] != true {
		t.Fatal("iss parameter not advertised")
	}
}
