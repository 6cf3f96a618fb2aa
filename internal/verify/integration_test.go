package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// integrationToken stores an integration access token (32 [a-z0-9], no
// checksum) the way admin.IssueIntegrationAccess does.
func integrationToken(t testing.TB, e *verifytest.Env, tenant *gatehouse.Tenant, scopes []string, revoked bool) string {
	t.Helper()
	tok := secret.RandomString(gatehouse.OAuth1ValueLen, "abcdefghijklmnopqrstuvwxyz0123456789")
	c := &gatehouse.Credential{
		TenantID: tenant.ID,
		Kind:     gatehouse.KindIntegration,
		Name:     "Sync",
		Hash:     secret.HashBytes(tok),
		Hint:     tok[:4] + "…",
		ClientID: "int_1",
		Scopes:   scopes,
		Secret:   []byte("sealed"),
	}
	if revoked {
		at := verifytest.Start.Add(-time.Minute)
		c.RevokedAt = &at
	}
	if err := e.DB.CreateCredential(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyIntegrationTokens(t *testing.T) {
	e := verifytest.New(t)
	ctx := context.Background()
	bearer := e.Tenant("bearer-shop")
	e.SetSettings(bearer, gatehouse.Settings{OAuth1TokensAsBearer: true, RequireClientHeader: true})

	tok := integrationToken(t, e, e.Acme, []string{"catalog"}, false)
	revoked := integrationToken(t, e, e.Acme, []string{"catalog"}, true)
	open := integrationToken(t, e, bearer, []string{"catalog"}, false)
	unknown := strings.Repeat("z", 32)

	tests := []struct {
		name    string
		req     verify.Request
		want    gatehouse.Code
		detail  bool
		noStore bool
	}{
		{"signed", verify.Request{Credential: tok, Signed: true, Resource: "catalog.products"}, gatehouse.CodeValid, false, false},
		{"signed, other resource", verify.Request{Credential: tok, Signed: true, Resource: "sales.orders"}, gatehouse.CodeInsufficientScope, false, false},
		{"bearer while the setting is off", verify.Request{Credential: tok, Resource: "catalog.products"}, gatehouse.CodeUnknown, true, false},
		{"bearer says nothing of revocation", verify.Request{Credential: revoked}, gatehouse.CodeUnknown, true, false},
		{"signed revoked", verify.Request{Credential: revoked, Signed: true}, gatehouse.CodeRevoked, false, false},
		{"bearer while the setting is on", verify.Request{Credential: open, Resource: "catalog"}, gatehouse.CodeValid, false, false},
		{"bearer, setting on, other resource", verify.Request{Credential: open, Resource: "customers"}, gatehouse.CodeInsufficientScope, false, false},
		{"unknown value of the shape", verify.Request{Credential: unknown, Signed: true}, gatehouse.CodeUnknown, false, false},
		{"31 characters", verify.Request{Credential: tok[:31]}, gatehouse.CodeMalformed, false, true},
		{"upper case", verify.Request{Credential: strings.ToUpper(tok)}, gatehouse.CodeMalformed, false, true},
		{"33 characters", verify.Request{Credential: tok + "a"}, gatehouse.CodeMalformed, false, true},
		{"punctuation", verify.Request{Credential: tok[:31] + "-"}, gatehouse.CodeMalformed, false, true},
	}
	for _, cached := range []bool{false, true} {
		opts := verify.Options{}
		if !cached {
			opts.CacheSize = -1
		}
		v := newVerifier(t, e, opts)
		for _, tt := range tests {
			t.Run(map[bool]string{false: "uncached/", true: "cached/"}[cached]+tt.name, func(t *testing.T) {
				before := e.Spy.Reads.Load()
				res, err := v.Verify(ctx, tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != tt.want {
					t.Fatalf("code = %s, want %s", res.Code, tt.want)
				}
				if (res.Detail != "") != tt.detail {
					t.Errorf("detail = %q", res.Detail)
				}
				if tt.detail && res.Found() {
					t.Errorf("an unsigned integration token revealed its principal: %+v", res.Principal)
				}
				if reads := e.Spy.Reads.Load() - before; tt.noStore && reads != 0 {
					t.Errorf("%d store reads, want none", reads)
				}
				if res.Code != gatehouse.CodeMalformed && res.Kind != gatehouse.KindIntegration {
					t.Errorf("kind = %q", res.Kind)
				}
				if res.Valid() && (res.Principal.Subject != "int_1" || res.Principal.Kind != gatehouse.KindIntegration) {
					t.Errorf("principal = %+v", res.Principal)
				}
			})
		}
	}

	t.Run("switching the setting applies at once", func(t *testing.T) {
		v := newVerifier(t, e, verify.Options{})
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); res.Code != gatehouse.CodeUnknown {
			t.Fatalf("off: %s", res.Code)
		}
		e.SetSettings(e.Acme, gatehouse.Settings{OAuth1TokensAsBearer: true, RequireClientHeader: true})
		defer e.SetSettings(e.Acme, gatehouse.DefaultSettings())
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); res.Code != gatehouse.CodeValid {
			t.Fatalf("on: %s", res.Code)
		}
	})
}

// BenchmarkVerifyCachedIntegrationSigned is the hot path of an OAuth
// 1.0a-signed call after the signature check: a cached integration token.
func BenchmarkVerifyCachedIntegrationSigned(b *testing.B) {
	e := verifytest.New(b)
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	tok := integrationToken(b, e, e.Acme, []string{"catalog"}, false)
	ctx := context.Background()
	req := verify.Request{Credential: tok, Resource: "catalog.products", Signed: true}
	if res, err := v.Verify(ctx, req); err != nil || !res.Valid() {
		b.Fatalf("Verify = %s, %v", res.Code, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Verify(ctx, req); res.Code != gatehouse.CodeValid {
			b.Fatal(res.Code)
		}
	}
}
