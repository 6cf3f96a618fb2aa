package oauth2_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	xoauth2 "golang.org/x/oauth2"
)

// deviceApp registers an app allowed the device grant (and refresh).
func (e *env) deviceApp(confidential bool) (*gatehouse.Client, string) {
	e.t.Helper()
	return e.app(e.owner, confidential, []string{"catalog", "sales"}, gatehouse.GrantDeviceCode, gatehouse.GrantRefreshToken)
}

// deviceAuth starts a device authorization request with raw form posts.
func (e *env) deviceAuth(c *gatehouse.Client, sec, scope string) answer {
	e.t.Helper()
	form := url.Values{"scope": {scope}}
	if c.Confidential {
		return e.post("/oauth2/device", form, c.ID, sec)
	}
	form.Set("client_id", c.ID)
	return e.post("/oauth2/device", form, "", "")
}

func (e *env) devicePoll(c *gatehouse.Client, sec, deviceCode string) answer {
	e.t.Helper()
	form := url.Values{"grant_type": {gatehouse.GrantDeviceCode}, "device_code": {deviceCode}}
	if c.Confidential {
		return e.post("/oauth2/token", form, c.ID, sec)
	}
	form.Set("client_id", c.ID)
	return e.post("/oauth2/token", form, "", "")
}

// decide approves or denies a user code as the console's page does.
func (e *env) decide(userCode string, allow bool) {
	e.t.Helper()
	req, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, userCode)
	if err != nil {
		e.t.Fatalf("FindDeviceRequest(%q): %v", userCode, err)
	}
	if allow {
		err = e.p.ApproveDevice(e.ctx, req, e.owner.UserID)
	} else {
		err = e.p.DenyDevice(e.ctx, req, e.owner.UserID)
	}
	if err != nil {
		e.t.Fatalf("decide: %v", err)
	}
}

// TestDeviceFlowXOAuth2 runs the whole grant with golang.org/x/oauth2's
// device flow client (RFC 8628 §3.1–3.5): the device authorization
// response, the user's approval, the polling client's token, which
// verifies and refreshes.
func TestDeviceFlowXOAuth2(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		for _, confidential := range []bool{false, true} {
			c, sec := e.deviceApp(confidential)
			cfg := &xoauth2.Config{ClientID: c.ID, ClientSecret: sec, Scopes: []string{"catalog"},
				Endpoint: xoauth2.Endpoint{DeviceAuthURL: e.url + "/oauth2/device", TokenURL: e.url + "/oauth2/token"}}
			ctx := context.WithValue(e.ctx, xoauth2.HTTPClient, e.http)
			var opts []xoauth2.AuthCodeOption
			if confidential {
				// x/oauth2 sends no secret to the device endpoint; RFC 8628
				// §3.1 requires a confidential client to authenticate, here
				// with client_secret_post.
				opts = append(opts, xoauth2.SetAuthURLParam("client_secret", sec))
			}
			da, err := cfg.DeviceAuth(ctx, opts...)
			if err != nil {
				t.Fatalf("DeviceAuth: %v", err)
			}
			if len(da.DeviceCode) < 32 || !regexpUserCode(da.UserCode) || da.VerificationURI != e.url+"/console/device" ||
				da.VerificationURIComplete != e.url+"/console/device?user_code="+da.UserCode || da.Interval != 5 ||
				time.Until(da.Expiry) < 9*time.Minute {
				t.Fatalf("device authorization response %+v", da)
			}
			// The user enters the code in lower case, without the dash.
			e.decide(strings.ToLower(strings.ReplaceAll(da.UserCode, "-", "")), true)
			e.clock.Advance(5 * time.Second)
			tok, err := cfg.DeviceAccessToken(ctx, da)
			if err != nil {
				t.Fatalf("DeviceAccessToken: %v", err)
			}
			if tok.RefreshToken == "" || tok.Extra("scope") != "catalog" {
				t.Fatalf("token %+v (scope %v)", tok, tok.Extra("scope"))
			}
			e.wantCode(tok.AccessToken, c.ID, gatehouse.CodeValid)
			res, err := e.v.Verify(e.ctx, verifyReq(tok.AccessToken, c.ID, "catalog"))
			if err != nil || res.Code != gatehouse.CodeValid || res.Principal.Subject != e.owner.UserID {
				t.Fatalf("verify: %+v %v, want the approving user", res, err)
			}
			// The same consent as the code flow: the app is connected.
			if cs, err := e.store.FindConsent(e.ctx, e.tenant.ID, e.owner.UserID, c.ID); err != nil || !slices.Contains(cs.Scopes, "catalog") {
				t.Fatalf("consent %+v %v", cs, err)
			}
			// Refresh per the app's rules.
			e.clock.Advance(time.Minute)
			wantTokens(t, e.refresh(c, sec, tok.RefreshToken, ""))
			// The device code is single use.
			wantError(t, e.devicePoll(c, sec, da.DeviceCode), http.StatusBadRequest, "invalid_grant")
		}
	})
}

func regexpUserCode(s string) bool {
	if len(s) != 9 || s[4] != '-' {
		return false
	}
	for i, r := range s {
		if i != 4 && !strings.ContainsRune(provider.UserCodeAlphabet, r) {
			return false
		}
	}
	return true
}

// TestDevicePolling covers §3.5's answers: authorization_pending,
// slow_down (the interval growing by 5 s), access_denied, expired_token,
// and refusals of other clients and unknown codes.
func TestDevicePolling(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.deviceApp(false)
		a := e.deviceAuth(c, sec, "catalog")
		if a.Status != http.StatusOK {
			t.Fatalf("device authorization: %d %s", a.Status, a.Raw)
		}
		wantNoStore(t, a)
		dc, uc := a.str("device_code"), a.str("user_code")

		wantError(t, e.devicePoll(c, sec, dc), http.StatusBadRequest, "authorization_pending")
		e.clock.Advance(2 * time.Second)
		wantError(t, e.devicePoll(c, sec, dc), http.StatusBadRequest, "slow_down")
		e.clock.Advance(6 * time.Second) // 6 s < the 10 s interval now
		wantError(t, e.devicePoll(c, sec, dc), http.StatusBadRequest, "slow_down")
		e.clock.Advance(15 * time.Second) // = the 15 s interval now
		wantError(t, e.devicePoll(c, sec, dc), http.StatusBadRequest, "authorization_pending")

		// Another app of the tenant cannot poll it, nor can it burn it.
		other, osec := e.deviceApp(true)
		wantError(t, e.devicePoll(other, osec, dc), http.StatusBadRequest, "invalid_grant")
		wantError(t, e.devicePoll(c, sec, "nonsense"), http.StatusBadRequest, "invalid_grant")
		wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {gatehouse.GrantDeviceCode}, "client_id": {c.ID}}, "", ""),
			http.StatusBadRequest, "invalid_request")

		// Deny → access_denied.
		e.decide(uc, false)
		e.clock.Advance(30 * time.Second)
		wantError(t, e.devicePoll(c, sec, dc), http.StatusBadRequest, "access_denied")
		if _, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, uc); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			t.Fatalf("a denied code is found again: %v", err)
		}

		// Expiry → expired_token, and the code can no longer be entered.
		b := e.deviceAuth(c, sec, "")
		e.clock.Advance(provider.DeviceCodeTTL)
		if _, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, b.str("user_code")); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			t.Fatalf("an expired code is found: %v", err)
		}
		wantError(t, e.devicePoll(c, sec, b.str("device_code")), http.StatusBadRequest, "expired_token")
	})
}

// TestDeviceRefusals: the device endpoint's refusals.
func TestDeviceRefusals(t *testing.T) {
	e := newEnv(t, "")
	codeOnly, _ := e.app(e.owner, false, []string{"catalog"})
	wantError(t, e.deviceAuth(codeOnly, "", "catalog"), http.StatusBadRequest, "unauthorized_client")
	c, sec := e.deviceApp(true)
	wantError(t, e.deviceAuth(c, "wrong", "catalog"), http.StatusUnauthorized, "invalid_client")
	wantError(t, e.post("/oauth2/device", url.Values{"client_id": {c.ID}}, "", ""), http.StatusUnauthorized, "invalid_client")
	wantError(t, e.deviceAuth(c, sec, "manage"), http.StatusBadRequest, "invalid_scope")
	wantError(t, e.deviceAuth(c, sec, "verify"), http.StatusBadRequest, "invalid_scope")
	wantError(t, e.deviceAuth(c, sec, "nope"), http.StatusBadRequest, "invalid_scope")
	// Oversized body, query parameters, GET.
	wantError(t, e.do("/oauth2/device", "application/x-www-form-urlencoded", "scope="+strings.Repeat("a", 70<<10), func(r *http.Request) { r.SetBasicAuth(c.ID, sec) }),
		http.StatusBadRequest, "invalid_request")
	wantError(t, e.post("/oauth2/device?scope=catalog", url.Values{}, c.ID, sec), http.StatusBadRequest, "invalid_request")
	// Omitted scope: every scope the app may have.
	a := e.deviceAuth(c, sec, "")
	req, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, a.str("user_code"))
	if err != nil || strings.Join(req.Scopes, " ") != "catalog sales" && strings.Join(req.Scopes, " ") != "sales catalog" {
		t.Fatalf("default scope %+v %v", req, err)
	}
	// Malformed user codes are not found, without touching the store.
	for _, typed := range []string{"", "ABCD", "AAAA-AAAA", "BCDF-GHJ1", strings.Repeat("B", 100)} {
		if _, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, typed); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			t.Errorf("FindDeviceRequest(%q) = %v, want ENOTFOUND", typed, err)
		}
	}
}

// TestDeviceRace: of 20 concurrent polls after approval exactly one gets
// the tokens (on PostgreSQL, across connections as across nodes).
func TestDeviceRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.deviceApp(true)
		a := e.deviceAuth(c, sec, "catalog")
		e.decide(a.str("user_code"), true)
		e.clock.Advance(10 * time.Second)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []string
		)
		for range 20 {
			wg.Go(func() {
				form := url.Values{"grant_type": {gatehouse.GrantDeviceCode}, "device_code": {a.str("device_code")}}
				req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+"/oauth2/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, sec)
				resp, err := e.http.Do(req)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
				defer resp.Body.Close()
				var body map[string]any
				json.NewDecoder(resp.Body).Decode(&body)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case resp.StatusCode == http.StatusOK:
					wins++
				case body["error"] != "invalid_grant":
					errs = append(errs, resp.Status+" "+body["error"].(string))
				}
			})
		}
		wg.Wait()
		if wins != 1 || len(errs) > 0 {
			t.Fatalf("%d polls got tokens (want 1); other answers %v", wins, errs)
		}
	})
}

// TestDeviceMetadata: RFC 8628 §4's metadata.
func TestDeviceMetadata(t *testing.T) {
	e := newEnv(t, "")
	m := e.p.Metadata()
	if m.DeviceAuthorizationEndpoint != e.url+"/oauth2/device" || !slices.Contains(m.GrantTypesSupported, gatehouse.GrantDeviceCode) {
		t.Fatalf("metadata %+v", m)
	}
}

// TestUserCodeNormalize: RFC 8628 §6.1, case-insensitive, dash optional.
func TestUserCodeNormalize(t *testing.T) {
	for in, want := range map[string]string{"BCDF-GHJK": "BCDFGHJK", "bcdfghjk": "BCDFGHJK", " bcdf ghjk ": "BCDFGHJK", "bcdf-ghjk-": "BCDFGHJK"} {
		if got, ok := provider.NormalizeUserCode(in); !ok || got != want {
			t.Errorf("NormalizeUserCode(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF_GHJK", "ВCDF-GHJK"} {
		if got, ok := provider.NormalizeUserCode(in); ok {
			t.Errorf("NormalizeUserCode(%q) = %q, want refused", in, got)
		}
	}
}

// TestUserCodeThrottle: RFC 8628 §5.1 — after UserCodeAttempts wrong
// codes in a minute even the right one is refused until the window ends;
// right entries do not count; the counter is the user's, across nodes (it
// is in the database). A member of another tenant cannot find the code.
func TestUserCodeThrottle(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, sec := e.deviceApp(true)
		uc := e.deviceAuth(c, sec, "catalog").str("user_code")
		for range 3 { // right entries do not count
			if _, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, uc); err != nil {
				t.Fatal(err)
			}
		}
		for i := range provider.UserCodeAttempts {
			if _, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, "BCDF-GHJK"); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
				t.Fatalf("wrong code %d: %v, want ENOTFOUND", i, err)
			}
		}
		_, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, uc)
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Code != gatehouse.ETOOMANY || ge.RetryAfter <= 0 || ge.ID != "error.device.too_many" {
			t.Fatalf("after %d wrong codes: %v, want ETOOMANY with RetryAfter", provider.UserCodeAttempts, err)
		}
		// Another user is not throttled by it, and, a member of another
		// tenant, does not find the code.
		_, other := e.newTenant("globex", "eve@globex.example")
		if _, err := e.p.FindDeviceRequest(e.ctx, other.UserID, uc); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			t.Fatalf("another tenant's member: %v, want ENOTFOUND", err)
		}
		e.clock.Advance(provider.UserCodeWindow)
		if _, err := e.p.FindDeviceRequest(e.ctx, e.owner.UserID, uc); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}
