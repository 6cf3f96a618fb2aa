package verify_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

func newVerifier(t testing.TB, e *verifytest.Env, opts verify.Options) *verify.Verifier {
	t.Helper()
	if opts.Now == nil {
		opts.Now = e.Clock.Now
	}
	if opts.CacheTTL == 0 {
		// Long, so that tests prove invalidation works by Subscribe and
		// not by the TTL running out.
		opts.CacheTTL = time.Hour
	}
	v := verify.New(e.Spy, e.Tree, opts)
	t.Cleanup(func() { v.Close() })
	return v
}

// typo changes one character of the token's checksum.
func typo(tok string) string {
	b := []byte(tok)
	i := len(b) - 1
	if b[i] == 'a' {
		b[i] = 'b'
	} else {
		b[i] = 'a'
	}
	return string(b)
}

func TestVerifyCodes(t *testing.T) {
	e := verifytest.New(t)
	ctx := context.Background()
	noClientHeader := e.Tenant("initech")
	e.SetSettings(noClientHeader, gatehouse.Settings{RequireClientHeader: false})
	disabled := e.Tenant("umbrella")
	dUser := e.Member(disabled, "carol@umbrella.test")
	e.Disable(disabled)

	pat, patCred := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"sales"}})
	staff, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, Kind: gatehouse.KindStaff, User: e.Alice, Allow: []string{"203.0.113.0/24", "2001:db8::1"}})
	key, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, Kind: gatehouse.KindAPIKey, Scopes: []string{"catalog.products"}, ExpiresIn: time.Hour})
	at, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, Kind: gatehouse.KindOAuth2Access, User: e.Alice, ClientID: "APIK-1", Scopes: []string{"sales.orders"}, ExpiresIn: time.Hour})
	at2, _ := e.Credential(verifytest.Cred{Tenant: noClientHeader, Kind: gatehouse.KindOAuth2Access, ClientID: "APIK-2"})
	revoked, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Revoked: true})
	expired, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, Kind: gatehouse.KindAPIKey, Expired: true})
	dis, _ := e.Credential(verifytest.Cred{Tenant: disabled, User: dUser})
	refresh, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, Kind: gatehouse.KindOAuth2Refresh, ClientID: "APIK-1"})
	ip := netip.MustParseAddr

	tests := []struct {
		name    string
		req     verify.Request
		want    gatehouse.Code
		noStore bool // answered without any store read
	}{
		{"missing", verify.Request{}, gatehouse.CodeMissing, true},
		{"malformed garbage", verify.Request{Credential: "hunter2"}, gatehouse.CodeMalformed, true},
		{"malformed checksum typo", verify.Request{Credential: typo(pat)}, gatehouse.CodeMalformed, true},
		{"malformed truncated", verify.Request{Credential: pat[:len(pat)-1]}, gatehouse.CodeMalformed, true},
		{"unknown", verify.Request{Credential: secret.NewToken(gatehouse.KindPAT)}, gatehouse.CodeUnknown, false},
		{"refresh token as bearer", verify.Request{Credential: refresh}, gatehouse.CodeUnknown, true},
		{"pat valid, no resource", verify.Request{Credential: pat}, gatehouse.CodeValid, false},
		{"pat valid for subtree", verify.Request{Credential: pat, Resource: "sales.orders"}, gatehouse.CodeValid, false},
		{"pat insufficient scope", verify.Request{Credential: pat, Resource: "catalog.products"}, gatehouse.CodeInsufficientScope, false},
		{"all does not grant verify", verify.Request{Credential: staff, Resource: gatehouse.ScopeVerify, IP: ip("203.0.113.7")}, gatehouse.CodeInsufficientScope, false},
		{"staff ip allowed", verify.Request{Credential: staff, Resource: "customers", IP: ip("203.0.113.7")}, gatehouse.CodeValid, false},
		{"staff ipv6 allowed", verify.Request{Credential: staff, IP: ip("2001:db8::1")}, gatehouse.CodeValid, false},
		{"staff ipv4-mapped ipv6 allowed", verify.Request{Credential: staff, IP: ip("::ffff:203.0.113.7")}, gatehouse.CodeValid, false},
		{"staff ip not allowed", verify.Request{Credential: staff, IP: ip("198.51.100.7")}, gatehouse.CodeIPNotAllowed, false},
		{"staff ipv4-mapped not allowed", verify.Request{Credential: staff, IP: ip("::ffff:198.51.100.7")}, gatehouse.CodeIPNotAllowed, false},
		{"staff no ip fails closed", verify.Request{Credential: staff}, gatehouse.CodeIPNotAllowed, false},
		{"api key valid", verify.Request{Credential: key, Resource: "catalog.products"}, gatehouse.CodeValid, false},
		{"api key scope", verify.Request{Credential: key, Resource: "catalog"}, gatehouse.CodeInsufficientScope, false},
		{"oauth2 with client header", verify.Request{Credential: at, Resource: "sales.orders", ClientID: "APIK-1"}, gatehouse.CodeValid, false},
		{"oauth2 missing required header", verify.Request{Credential: at, Resource: "sales.orders"}, gatehouse.CodeClientMismatch, false},
		{"oauth2 wrong header", verify.Request{Credential: at, ClientID: "APIK-9"}, gatehouse.CodeClientMismatch, false},
		{"oauth2 header optional", verify.Request{Credential: at2}, gatehouse.CodeValid, false},
		{"oauth2 optional header must match", verify.Request{Credential: at2, ClientID: "APIK-1"}, gatehouse.CodeClientMismatch, false},
		{"client header ignored for pat", verify.Request{Credential: pat, ClientID: "APIK-1"}, gatehouse.CodeValid, false},
		{"revoked", verify.Request{Credential: revoked}, gatehouse.CodeRevoked, false},
		{"expired", verify.Request{Credential: expired}, gatehouse.CodeExpired, false},
		{"tenant disabled", verify.Request{Credential: dis}, gatehouse.CodeTenantDisabled, false},
	}
	for _, cached := range []bool{false, true} {
		// Without a cache every answer comes from the store; with one,
		// from the same snapshots.
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
					t.Fatalf("Verify: %v", err)
				}
				if res.Code != tt.want {
					t.Fatalf("code = %s, want %s", res.Code, tt.want)
				}
				if reads := e.Spy.Reads.Load() - before; tt.noStore && reads != 0 {
					t.Errorf("%d store reads, want none", reads)
				}
				if res.Valid() != (tt.want == gatehouse.CodeValid) {
					t.Errorf("Valid() = %v", res.Valid())
				}
			})
		}
	}

	t.Run("principal", func(t *testing.T) {
		v := newVerifier(t, e, verify.Options{})
		res, err := v.Verify(ctx, verify.Request{Credential: pat})
		if err != nil || !res.Found() {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
		p := res.Principal
		if p.TenantID != e.Acme.ID || p.TenantSlug != "acme" || p.Subject != e.Alice.ID ||
			p.Kind != gatehouse.KindPAT || p.CredentialID != patCred.ID || len(p.Scopes) != 1 || p.Scopes[0] != "sales" {
			t.Errorf("principal = %+v", p)
		}
		// The Principal is known for refusals after the lookup too.
		res, _ = v.Verify(ctx, verify.Request{Credential: pat, Resource: "catalog"})
		if !res.Found() || res.Principal.TenantID != e.Acme.ID {
			t.Errorf("scope refusal principal = %+v", res.Principal)
		}
		// An app credential without a user speaks for its client.
		res, _ = v.Verify(ctx, verify.Request{Credential: at2})
		if res.Principal.Subject != "APIK-2" {
			t.Errorf("subject = %q, want the client id", res.Principal.Subject)
		}
	})
}

func TestVerifyCacheHitNoStoreRead(t *testing.T) {
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	ctx := context.Background()
	if res, err := v.Verify(ctx, verify.Request{Credential: tok}); err != nil || !res.Valid() {
		t.Fatalf("first Verify = %+v, %v", res, err)
	}
	before := e.Spy.Reads.Load()
	for range 10 {
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok, Resource: "sales"}); !res.Valid() {
			t.Fatalf("code = %s", res.Code)
		}
	}
	if n := e.Spy.Reads.Load() - before; n != 0 {
		t.Errorf("%d store reads on cache hits, want 0", n)
	}
	// Negative entries too, until their short TTL runs out.
	unknown := secret.NewToken(gatehouse.KindAPIKey)
	v.Verify(ctx, verify.Request{Credential: unknown})
	before = e.Spy.Reads.Load()
	v.Verify(ctx, verify.Request{Credential: unknown})
	if n := e.Spy.Reads.Load() - before; n != 0 {
		t.Errorf("%d store reads for a cached UNKNOWN, want 0", n)
	}
	e.Clock.Advance(verify.DefaultNegativeTTL)
	v.Verify(ctx, verify.Request{Credential: unknown})
	if n := e.Spy.Reads.Load() - before; n != 1 {
		t.Errorf("%d store reads after the negative TTL, want 1", n)
	}
	// 1 miss and 10 hits of tok; unknown: a miss, a negative hit, a miss.
	want := verify.CacheStats{Hits: 10, NegativeHits: 1, Misses: 3, Entries: 1}
	if got := v.CacheStats(); got != want {
		t.Errorf("CacheStats = %+v, want %+v", got, want)
	}
}

func TestVerifyExpiresWhileCached(t *testing.T) {
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, ExpiresIn: time.Minute})
	ctx := context.Background()
	if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); !res.Valid() {
		t.Fatalf("code = %s", res.Code)
	}
	e.Clock.Advance(time.Minute - time.Nanosecond)
	if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); !res.Valid() {
		t.Fatalf("just before expiry: code = %s", res.Code)
	}
	before := e.Spy.Reads.Load()
	e.Clock.Advance(time.Nanosecond)
	if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); res.Code != gatehouse.CodeExpired {
		t.Fatalf("at expiry: code = %s, want EXPIRED", res.Code)
	}
	if n := e.Spy.Reads.Load() - before; n != 0 {
		t.Errorf("expiry needed %d store reads; it is checked on the cached snapshot", n)
	}
}

func TestVerifyInvalidation(t *testing.T) {
	ctx := context.Background()
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	check := func(t *testing.T, tok string, want gatehouse.Code) {
		t.Helper()
		res, err := v.Verify(ctx, verify.Request{Credential: tok, Resource: "sales"})
		if err != nil || res.Code != want {
			t.Fatalf("Verify = %s, %v; want %s", res.Code, err, want)
		}
	}

	t.Run("revoke", func(t *testing.T) {
		tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
		check(t, tok, gatehouse.CodeValid)
		if err := e.DB.RevokeCredential(ctx, e.Acme.ID, c.ID, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		check(t, tok, gatehouse.CodeRevoked) // the cache TTL is an hour
	})
	t.Run("delete", func(t *testing.T) {
		tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
		check(t, tok, gatehouse.CodeValid)
		if err := e.DB.DeleteCredential(ctx, e.Acme.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		check(t, tok, gatehouse.CodeUnknown)
	})
	t.Run("allowlist entry added", func(t *testing.T) {
		tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, Kind: gatehouse.KindStaff, User: e.Alice})
		check(t, tok, gatehouse.CodeValid)
		entry := &gatehouse.AllowEntry{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}
		if err := e.DB.AddAllowEntry(ctx, e.Acme.ID, c.ID, entry); err != nil {
			t.Fatal(err)
		}
		check(t, tok, gatehouse.CodeIPNotAllowed)
	})
	t.Run("membership removed", func(t *testing.T) {
		dave := e.Member(e.Acme, "dave@acme.test")
		tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: dave})
		check(t, tok, gatehouse.CodeValid)
		if err := e.DB.RemoveMembership(ctx, e.Acme.ID, dave.ID, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		check(t, tok, gatehouse.CodeRevoked)
	})
	t.Run("tenant disabled", func(t *testing.T) {
		hooli := e.Tenant("hooli")
		tok, _ := e.Credential(verifytest.Cred{Tenant: hooli})
		check(t, tok, gatehouse.CodeValid)
		e.Disable(hooli)
		check(t, tok, gatehouse.CodeTenantDisabled)
	})
	t.Run("settings changed", func(t *testing.T) {
		tok, _ := e.Credential(verifytest.Cred{Tenant: e.Globex, Kind: gatehouse.KindOAuth2Access, ClientID: "APIK-7"})
		check(t, tok, gatehouse.CodeClientMismatch) // no header, required by default
		e.SetSettings(e.Globex, gatehouse.Settings{RequireClientHeader: false})
		check(t, tok, gatehouse.CodeValid)
	})
	t.Run("ttl", func(t *testing.T) {
		// Changes made on another node arrive only through the TTL (until
		// LISTEN/NOTIFY): a change the subscription missed is picked up
		// once the entry is older than CacheTTL.
		v := verify.New(e.Spy, e.Tree, verify.Options{Now: e.Clock.Now, CacheTTL: 5 * time.Second})
		tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); !res.Valid() {
			t.Fatal(res.Code)
		}
		v.Close() // deaf from now on, as if the revocation happened elsewhere
		if err := e.DB.RevokeCredential(ctx, e.Acme.ID, c.ID, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); !res.Valid() {
			t.Fatalf("within the TTL the cached answer stands; got %s", res.Code)
		}
		e.Clock.Advance(5 * time.Second)
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); res.Code != gatehouse.CodeRevoked {
			t.Fatalf("after the TTL: %s, want REVOKED", res.Code)
		}
	})
}

func TestVerifyFailsClosed(t *testing.T) {
	ctx := context.Background()
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	cachedTok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	if res, _ := v.Verify(ctx, verify.Request{Credential: cachedTok}); !res.Valid() {
		t.Fatal(res.Code)
	}
	e.Spy.SetErr(verifytest.ErrUnavailable)
	res, err := v.Verify(ctx, verify.Request{Credential: tok})
	if !gatehouse.IsCode(err, gatehouse.EUNAVAILABLE) {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if res.Valid() {
		t.Fatal("VALID while the store is down and nothing is cached")
	}
	// A live cache entry still answers; MALFORMED needs no store at all.
	if res, err := v.Verify(ctx, verify.Request{Credential: cachedTok}); err != nil || !res.Valid() {
		t.Errorf("cached credential during outage = %s, %v", res.Code, err)
	}
	if res, err := v.Verify(ctx, verify.Request{Credential: "nope"}); err != nil || res.Code != gatehouse.CodeMalformed {
		t.Errorf("malformed during outage = %s, %v", res.Code, err)
	}
	// Once the entry is past its TTL it is not used: stale answers are
	// not served when the database cannot confirm them.
	e.Clock.Advance(2 * time.Hour)
	if _, err := v.Verify(ctx, verify.Request{Credential: cachedTok}); err == nil {
		t.Error("an expired cache entry answered during the outage")
	}
	e.Spy.SetErr(nil)
	if res, err := v.Verify(ctx, verify.Request{Credential: tok}); err != nil || !res.Valid() {
		t.Errorf("after the outage = %s, %v", res.Code, err)
	}
}

func TestVerifyCanceledContext(t *testing.T) {
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	tok, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := v.Verify(ctx, verify.Request{Credential: tok})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %s, %v; want context.Canceled", res.Code, err)
	}
}

func TestGuest(t *testing.T) {
	ctx := context.Background()
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	open := e.Tenant("open-shop")
	e.SetSettings(open, gatehouse.Settings{AllowAnonymousGuestAccess: true, RequireClientHeader: true})
	closedDown := e.Tenant("closed-down")
	e.SetSettings(closedDown, gatehouse.Settings{AllowAnonymousGuestAccess: true})
	e.Disable(closedDown)

	tests := []struct {
		slug string
		want gatehouse.Code
	}{
		{"", gatehouse.CodeMissing},
		{"no-such-tenant", gatehouse.CodeMissing},
		{"acme", gatehouse.CodeMissing}, // setting off (the default)
		{"open-shop", gatehouse.CodeValid},
		{"closed-down", gatehouse.CodeTenantDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.slug, func(t *testing.T) {
			res, err := v.Guest(ctx, tt.slug)
			if err != nil || res.Code != tt.want {
				t.Fatalf("Guest = %s, %v; want %s", res.Code, err, tt.want)
			}
			if tt.want == gatehouse.CodeValid && (res.Principal.TenantSlug != tt.slug || res.Principal.Kind != gatehouse.KindGuest) {
				t.Errorf("principal = %+v", res.Principal)
			}
		})
	}
	t.Run("setting switched off", func(t *testing.T) {
		e.SetSettings(open, gatehouse.DefaultSettings())
		if res, _ := v.Guest(ctx, "open-shop"); res.Code != gatehouse.CodeMissing {
			t.Fatalf("code = %s, want MISSING", res.Code)
		}
	})
	t.Run("fails closed", func(t *testing.T) {
		e.Spy.SetErr(verifytest.ErrUnavailable)
		defer e.Spy.SetErr(nil)
		if res, err := v.Guest(ctx, "someone-else"); err == nil || res.Valid() {
			t.Fatalf("Guest during outage = %s, %v", res.Code, err)
		}
	})
}

func TestLastUsedFlushedInBatches(t *testing.T) {
	ctx := context.Background()
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{})
	tok1, c1 := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	tok2, c2 := e.Credential(verifytest.Cred{Tenant: e.Globex, User: e.Bob})
	unused, c3 := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"sales"}})
	for range 50 {
		v.Verify(ctx, verify.Request{Credential: tok1})
		v.Verify(ctx, verify.Request{Credential: tok2})
		v.Verify(ctx, verify.Request{Credential: unused, Resource: "catalog"}) // refused: not a use
	}
	e.Clock.Advance(time.Second)
	v.Verify(ctx, verify.Request{Credential: tok1})
	if n := e.Spy.Touches.Load(); n != 0 {
		t.Fatalf("%d writes before Flush; uses must be batched", n)
	}
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.Spy.Touches.Load(); n != 1 {
		t.Fatalf("%d TouchCredentials calls, want 1", n)
	}
	for _, tc := range []struct {
		c    *gatehouse.Credential
		want *time.Time
	}{
		{c1, ptr(verifytest.Start.Add(time.Second))},
		{c2, ptr(verifytest.Start)},
		{c3, nil},
	} {
		got, err := e.DB.FindCredential(ctx, tc.c.TenantID, tc.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.want == nil && got.LastUsedAt != nil:
			t.Errorf("%s: last used %v, want never", tc.c.ID, got.LastUsedAt)
		case tc.want != nil && (got.LastUsedAt == nil || !got.LastUsedAt.Equal(*tc.want)):
			t.Errorf("%s: last used %v, want %v", tc.c.ID, got.LastUsedAt, tc.want)
		}
	}
	// Nothing new: no write.
	if err := v.Flush(ctx); err != nil || e.Spy.Touches.Load() != 1 {
		t.Errorf("empty flush wrote (%v)", err)
	}
	// A failed write is retried with the next flush.
	e.Clock.Advance(verify.DefaultUsageResolution)
	v.Verify(ctx, verify.Request{Credential: tok2})
	e.Spy.SetErr(verifytest.ErrUnavailable)
	if err := v.Flush(ctx); err == nil {
		t.Fatal("Flush during outage succeeded")
	}
	e.Spy.SetErr(nil)
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.Spy.Touches.Load(); n != 3 {
		t.Errorf("%d TouchCredentials calls, want 3", n)
	}
}

// TestLastUsedResolution: a use within UsageResolution of the recorded
// one — read with the credential or flushed by this node — is not written
// again; a use past it is.
func TestLastUsedResolution(t *testing.T) {
	ctx := context.Background()
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{UsageResolution: time.Minute})
	tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	lastUsed := func() *time.Time {
		t.Helper()
		got, err := e.DB.FindCredential(ctx, c.TenantID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	use := func() {
		t.Helper()
		if res, err := v.Verify(ctx, verify.Request{Credential: tok}); err != nil || !res.Valid() {
			t.Fatalf("verify = %v, %v", res.Code, err)
		}
		if err := v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	use() // never used: recorded at once
	if got := lastUsed(); got == nil || !got.Equal(verifytest.Start) {
		t.Fatalf("first use: last_used_at = %v", got)
	}
	e.Clock.Advance(59 * time.Second)
	use()
	if got := lastUsed(); !got.Equal(verifytest.Start) || e.Spy.Touches.Load() != 1 {
		t.Fatalf("a use 59 s later was written: %v (%d writes)", got, e.Spy.Touches.Load())
	}
	e.Clock.Advance(time.Second)
	use()
	if got := lastUsed(); !got.Equal(verifytest.Start.Add(time.Minute)) {
		t.Fatalf("a use a minute later: last_used_at = %v", got)
	}

	// Another node (a fresh verifier, an empty cache) reads the recorded
	// time with the credential and honours it too.
	e.Clock.Advance(30 * time.Second)
	v2 := newVerifier(t, e, verify.Options{UsageResolution: time.Minute})
	if res, _ := v2.Verify(ctx, verify.Request{Credential: tok}); !res.Valid() {
		t.Fatal(res.Code)
	}
	before := e.Spy.Touches.Load()
	if err := v2.Flush(ctx); err != nil || e.Spy.Touches.Load() != before {
		t.Fatalf("a second node wrote a use 30 s after the recorded one (%v)", err)
	}
}

func TestRunFlushesOnStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{FlushInterval: time.Hour})
	tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
	done := make(chan error)
	go func() { done <- v.Run(ctx) }()
	v.Verify(ctx, verify.Request{Credential: tok})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := e.DB.FindCredential(context.Background(), e.Acme.ID, c.ID)
	if got.LastUsedAt == nil {
		t.Error("last use lost at shutdown")
	}
}

func TestVerifyConcurrentWithRevocation(t *testing.T) {
	// Run with -race: readers on every core while the store revokes.
	ctx := context.Background()
	e := verifytest.New(t)
	v := newVerifier(t, e, verify.Options{CacheSize: 128})
	var toks []string
	var creds []*gatehouse.Credential
	for range 20 {
		tok, c := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice})
		toks, creds = append(toks, tok), append(creds, c)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.Verify(ctx, verify.Request{Credential: toks[i%len(toks)]}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for _, c := range creds {
		if err := e.DB.RevokeCredential(ctx, e.Acme.ID, c.ID, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	for _, tok := range toks {
		if res, _ := v.Verify(ctx, verify.Request{Credential: tok}); res.Code != gatehouse.CodeRevoked {
			t.Fatalf("after revocation: %s", res.Code)
		}
	}
}

func ptr[T any](v T) *T { return &v }
