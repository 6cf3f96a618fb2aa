package oauth2_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestOpenIDDiscovery: go-oidc discovers the provider (Discovery §4: the
// issuer it was given is the document's), fetches the JWKS from jwks_uri
// and verifies a JWT the server's Signer made; the RFC 8414 document names
// the same JWKS.
func TestOpenIDDiscovery(t *testing.T) {
	e := newEnv(t, "")
	ctx := oidc.ClientContext(e.ctx, e.http)
	p, err := oidc.NewProvider(ctx, e.url)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	var m struct {
		JWKSURI  string   `json:"jwks_uri"`
		Subjects []string `json:"subject_types_supported"`
		Algs     []string `json:"id_token_signing_alg_values_supported"`
		Scopes   []string `json:"scopes_supported"`
		Token    string   `json:"token_endpoint"`
		UserInfo *string  `json:"userinfo_endpoint"`
		EndSess  *string  `json:"end_session_endpoint"`
	}
	if err := p.Claims(&m); err != nil {
		t.Fatal(err)
	}
	if m.JWKSURI != e.url+"/oauth2/jwks" || !slices.Equal(m.Subjects, []string{"public"}) || !slices.Equal(m.Algs, []string{"ES256"}) ||
		slices.Contains(m.Scopes, "openid") || m.Token != e.url+"/oauth2/token" {
		t.Errorf("discovery document %+v", m)
	}
	if m.UserInfo != nil || m.EndSess != nil {
		t.Error("userinfo or end_session listed before they exist (or openid before ID tokens)")
	}

	tok, err := e.te.Server.Signer.Sign(e.ctx, "JWT", map[string]any{
		"iss": e.url, "sub": "usr_1", "aud": "client-1",
		"iat": e.clock.Now().Unix(), "exp": e.clock.Now().Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: "client-1", Now: e.clock.Now}).Verify(ctx, tok)
	if err != nil {
		t.Fatalf("go-oidc verify: %v", err)
	}
	if idt.Subject != "usr_1" || idt.Issuer != e.url {
		t.Errorf("token %+v", idt)
	}
	// Another issuer's token is refused.
	bad, _ := e.te.Server.Signer.Sign(e.ctx, "JWT", map[string]any{"iss": "https://evil.example", "sub": "x", "aud": "client-1", "exp": e.clock.Now().Add(time.Hour).Unix()})
	if _, err := p.Verifier(&oidc.Config{ClientID: "client-1", Now: e.clock.Now}).Verify(ctx, bad); err == nil {
		t.Error("a token of another issuer verified")
	}

	// RFC 8414 names the JWKS too.
	resp, err := e.http.Get(e.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var as map[string]any
	json.NewDecoder(resp.Body).Decode(&as)
	resp.Body.Close()
	if as["jwks_uri"] != e.url+"/oauth2/jwks" {
		t.Errorf("RFC 8414 jwks_uri = %v", as["jwks_uri"])
	}
	if containsOpenID(as["scopes_supported"]) {
		t.Error("the RFC 8414 document lists openid before ID tokens exist")
	}

	// The JWKS: cacheable briefly, GET/HEAD only.
	resp, err = e.http.Get(e.url + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("JWKS: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	for _, path := range []string{"/oauth2/jwks", "/.well-known/openid-configuration"} {
		resp, err := e.http.Post(e.url+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, resp.StatusCode)
		}
	}
}

func containsOpenID(v any) bool {
	l, _ := v.([]any)
	return slices.Contains(l, any("openid"))
}
