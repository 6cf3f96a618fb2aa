package verify_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

const serviceToken = "svc-0123456789abcdef0123456789abcdef"

type endpoint struct {
	*verifytest.Env
	srv *httptest.Server
	m   *metrics.Metrics
	v   *verify.Verifier
}

func newEndpoint(t *testing.T) *endpoint {
	e := verifytest.New(t)
	m := metrics.New()
	v := newVerifier(t, e, verify.Options{Metrics: m})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/verify", verify.Handler(v, verify.HandlerOptions{ServiceToken: serviceToken}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &endpoint{Env: e, srv: srv, m: m, v: v}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (ep *endpoint) post(t *testing.T, auth string, body any) answer {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest("POST", ep.srv.URL+"/api/v1/verify", rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw.String()}
	json.Unmarshal(raw.Bytes(), &a.body)
	return a
}

func (a answer) errorCode() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestVerifyEndpointCodes(t *testing.T) {
	ep := newEndpoint(t)
	caller, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"verify"}})
	auth := "Bearer " + caller
	other := ep.Tenant("umbrella")
	ep.Disable(other)

	pat, patCred := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"sales"}, ExpiresIn: 24 * time.Hour})
	staff, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, Kind: gatehouse.KindStaff, User: ep.Alice, Allow: []string{"203.0.113.0/24"}})
	at, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, Kind: gatehouse.KindOAuth2Access, ClientID: "APIK-1"})
	revoked, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Revoked: true})
	expired, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, Kind: gatehouse.KindAPIKey, Expired: true})

	tests := []struct {
		name string
		body map[string]string
		want gatehouse.Code
	}{
		{"valid", map[string]string{"credential": pat, "resource": "sales.orders"}, gatehouse.CodeValid},
		{"missing", map[string]string{"resource": "sales"}, gatehouse.CodeMissing},
		{"malformed", map[string]string{"credential": typo(pat)}, gatehouse.CodeMalformed},
		{"unknown", map[string]string{"credential": secret.NewToken(gatehouse.KindAPIKey)}, gatehouse.CodeUnknown},
		{"expired", map[string]string{"credential": expired}, gatehouse.CodeExpired},
		{"revoked", map[string]string{"credential": revoked}, gatehouse.CodeRevoked},
		{"ip allowed", map[string]string{"credential": staff, "ip": "203.0.113.9"}, gatehouse.CodeValid},
		{"ip mapped allowed", map[string]string{"credential": staff, "ip": "::ffff:203.0.113.9"}, gatehouse.CodeValid},
		{"ip not allowed", map[string]string{"credential": staff, "ip": "198.51.100.1"}, gatehouse.CodeIPNotAllowed},
		{"ip omitted fails closed", map[string]string{"credential": staff}, gatehouse.CodeIPNotAllowed},
		{"insufficient scope", map[string]string{"credential": pat, "resource": "catalog.products"}, gatehouse.CodeInsufficientScope},
		{"client mismatch", map[string]string{"credential": at, "client_id": "APIK-2"}, gatehouse.CodeClientMismatch},
		{"client ok", map[string]string{"credential": at, "client_id": "APIK-1"}, gatehouse.CodeValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ep.post(t, auth, tt.body)
			if a.status != 200 {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
			if got := a.body["code"]; got != string(tt.want) {
				t.Fatalf("code = %v, want %s", got, tt.want)
			}
			if a.body["valid"] != (tt.want == gatehouse.CodeValid) {
				t.Errorf("valid = %v", a.body["valid"])
			}
			for _, k := range []string{"valid", "code", "tenant", "subject", "kind", "scopes", "expires_at"} {
				if _, ok := a.body[k]; !ok {
					t.Errorf("answer lacks %q: %s", k, a.raw)
				}
			}
			if cc := a.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
		})
	}

	t.Run("answer fields", func(t *testing.T) {
		a := ep.post(t, auth, map[string]string{"credential": pat, "resource": "sales"})
		want := map[string]any{
			"valid": true, "code": "VALID", "tenant": "acme", "subject": ep.Alice.ID, "kind": "pat",
			"scopes": []any{"sales"}, "expires_at": patCred.ExpiresAt.UTC().Format(time.RFC3339),
		}
		for k, w := range want {
			got, _ := json.Marshal(a.body[k])
			exp, _ := json.Marshal(w)
			if string(got) != string(exp) {
				t.Errorf("%s = %s, want %s", k, got, exp)
			}
		}
		a = ep.post(t, auth, map[string]string{"credential": staff, "ip": "203.0.113.1"})
		if a.body["expires_at"] != nil {
			t.Errorf("expires_at = %v, want null for a credential that never expires", a.body["expires_at"])
		}
	})

	t.Run("malformed needs no store", func(t *testing.T) {
		ep.post(t, auth, map[string]string{"credential": pat}) // caller now cached
		before := ep.Spy.Reads.Load()
		a := ep.post(t, auth, map[string]string{"credential": typo(pat)})
		if a.body["code"] != "MALFORMED" || ep.Spy.Reads.Load() != before {
			t.Errorf("code %v after %d store reads", a.body["code"], ep.Spy.Reads.Load()-before)
		}
	})

	t.Run("tenant disabled", func(t *testing.T) {
		tok, _ := ep.Credential(verifytest.Cred{Tenant: other})
		a := ep.post(t, "Bearer "+serviceToken, map[string]string{"credential": tok})
		if a.body["code"] != "TENANT_DISABLED" {
			t.Errorf("code = %v", a.body["code"])
		}
	})

	t.Run("metrics", func(t *testing.T) {
		rec := httptest.NewRecorder()
		ep.m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, want := range []string{
			`gatehouse_verify_total{code="VALID",kind="pat"}`,
			`gatehouse_verify_total{code="MALFORMED",kind="none"}`,
			`gatehouse_verify_total{code="IP_NOT_ALLOWED",kind="staff"}`,
		} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

func TestVerifyEndpointTenantIsolation(t *testing.T) {
	ep := newEndpoint(t)
	acmeCaller, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"verify"}})
	globexPAT, _ := ep.Credential(verifytest.Cred{Tenant: ep.Globex, User: ep.Bob})
	globexRevoked, _ := ep.Credential(verifytest.Cred{Tenant: ep.Globex, User: ep.Bob, Revoked: true})
	globexStaff, _ := ep.Credential(verifytest.Cred{Tenant: ep.Globex, Kind: gatehouse.KindStaff, User: ep.Bob, Allow: []string{"192.0.2.1"}})

	for _, tok := range []string{globexPAT, globexRevoked, globexStaff} {
		a := ep.post(t, "Bearer "+acmeCaller, map[string]string{"credential": tok, "resource": "sales"})
		if a.status != 200 || a.body["code"] != "UNKNOWN" || a.body["valid"] != false {
			t.Fatalf("acme asking about globex's credential: %d %s", a.status, a.raw)
		}
		if a.body["tenant"] != "" || a.body["subject"] != "" || a.body["expires_at"] != nil {
			t.Errorf("another tenant's details leaked: %s", a.raw)
		}
	}
	// The operator's service token sees every tenant.
	a := ep.post(t, "Bearer "+serviceToken, map[string]string{"credential": globexPAT, "resource": "sales"})
	if a.body["code"] != "VALID" || a.body["tenant"] != "globex" {
		t.Errorf("service token: %s", a.raw)
	}
}

func TestVerifyEndpointCallerAuth(t *testing.T) {
	ep := newEndpoint(t)
	noVerify, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice}) // "all" excludes verify
	expired, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"verify"}, Expired: true})
	elsewhere, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"verify"}, Allow: []string{"192.0.2.0/24"}})
	body := map[string]string{"credential": noVerify}

	tests := []struct {
		name      string
		auth      string
		status    int
		challenge string
	}{
		{"no header", "", 401, `Bearer realm="gatehouse"`},
		{"basic", "Basic dXNlcjpwYXNz", 401, `Bearer realm="gatehouse"`},
		{"empty bearer", "Bearer ", 401, `Bearer realm="gatehouse"`},
		{"garbage", "Bearer nope", 401, `error="invalid_token"`},
		{"unknown", "Bearer " + secret.NewToken(gatehouse.KindPAT), 401, `error="invalid_token"`},
		{"expired", "Bearer " + expired, 401, `error="invalid_token"`},
		{"service token typo", "Bearer " + serviceToken + "x", 401, `error="invalid_token"`},
		{"lacks verify", "Bearer " + noVerify, 403, `error="insufficient_scope"`},
		{"from another address", "Bearer " + elsewhere, 403, `error="insufficient_scope"`},
		{"service token", "Bearer " + serviceToken, 200, ""},
		{"scheme is case-insensitive", "bearer " + serviceToken, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ep.post(t, tt.auth, body)
			if a.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", a.status, tt.status, a.raw)
			}
			if tt.challenge != "" && !strings.Contains(a.header.Get("WWW-Authenticate"), tt.challenge) {
				t.Errorf("WWW-Authenticate = %q, want %q", a.header.Get("WWW-Authenticate"), tt.challenge)
			}
			if tt.status != 200 && a.errorCode() == "" {
				t.Errorf("no JSON error body: %s", a.raw)
			}
		})
	}
}

func TestVerifyEndpointBadRequests(t *testing.T) {
	ep := newEndpoint(t)
	auth := "Bearer " + serviceToken
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"not json", "credential=x", 400},
		{"empty", "", 400},
		{"unknown field", `{"credential":"x","scope":"sales"}`, 400},
		{"two objects", `{"credential":"x"}{"credential":"y"}`, 400},
		{"wrong type", `{"credential":42}`, 400},
		{"unknown resource", `{"credential":"x","resource":"sales.nope"}`, 400},
		{"leading-zero ipv4", `{"credential":"x","ip":"203.000.113.7"}`, 400},
		{"bad ip", `{"credential":"x","ip":"localhost"}`, 400},
		{"too large", `{"credential":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ep.post(t, auth, tt.body)
			if a.status != tt.status || a.errorCode() == "" {
				t.Fatalf("status = %d, want %d with a JSON error: %.200s", a.status, tt.status, a.raw)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(ep.srv.URL + "/api/v1/verify")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET = %d", resp.StatusCode)
		}
	})
}

func TestVerifyEndpointFailsClosed(t *testing.T) {
	ep := newEndpoint(t)
	caller, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"verify"}})
	tok, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice})
	if a := ep.post(t, "Bearer "+caller, map[string]string{"credential": secret.NewToken(gatehouse.KindPAT)}); a.status != 200 {
		t.Fatalf("warm-up: %d", a.status) // the caller's token is cached now
	}
	ep.Spy.SetErr(verifytest.ErrUnavailable)

	t.Run("credential lookup fails", func(t *testing.T) {
		a := ep.post(t, "Bearer "+caller, map[string]string{"credential": tok})
		if a.status != 503 || a.errorCode() != gatehouse.EUNAVAILABLE {
			t.Fatalf("status %d: %s", a.status, a.raw)
		}
		if strings.Contains(a.raw, "database unreachable") {
			t.Error("internal error text reached the client")
		}
	})
	t.Run("caller lookup fails", func(t *testing.T) {
		other, _ := ep.Credential(verifytest.Cred{Tenant: ep.Acme, User: ep.Alice, Scopes: []string{"verify"}})
		a := ep.post(t, "Bearer "+other, map[string]string{"credential": tok})
		if a.status != 503 {
			t.Fatalf("status %d: %s", a.status, a.raw)
		}
	})
}
