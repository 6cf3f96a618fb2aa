package oauth2_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	provider "github.com/gatehouse/gatehouse/internal/oauth2"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
	"github.com/gatehouse/gatehouse/internal/verify"
)

// eachBackend runs f once per backend: SQLite always, PostgreSQL when
// GATEHOUSE_TEST_POSTGRES is set.
func eachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) { f(t, newEnv(t, databaseURL)) })
}

// env is a whole Gatehouse (testenv: server.New over a real database,
// served over real HTTP) with an enterprise tenant and its owner, and
// short names for the parts the provider's tests reach into.
type env struct {
	te     *testenv.Env
	t      testing.TB
	ctx    context.Context
	store  *sqlstore.DB
	tree   *gatehouse.ResourceTree
	clock  *testclock.Clock
	admin  *admin.Service
	v      *verify.Verifier
	p      *provider.Provider
	url    string // the server's base URL, the issuer
	tenant *gatehouse.Tenant
	owner  admin.Actor // the owner acting in the tenant
	http   *http.Client
}

// newEnv starts a server on databaseURL ("" for a fresh SQLite file) with
// a clock stopped at the current second.
func newEnv(tb testing.TB, databaseURL string) *env {
	tb.Helper()
	clk := testclock.New(time.Now().UTC().Truncate(time.Second))
	log := slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	te := testenv.New(tb, testenv.Options{DatabaseURL: databaseURL, Clock: clk, Server: server.Options{Log: log}})
	s := te.Server
	return &env{te: te, t: tb, ctx: te.Ctx, store: s.Store, tree: s.Tree, clock: clk, admin: s.Admin, v: s.Verifier, p: s.OAuth2,
		url: te.URL, tenant: te.Tenant, owner: te.Owner, http: te.HTTP}
}

// newTenant creates an enterprise tenant with an owner.
func (e *env) newTenant(slug, email string) (*gatehouse.Tenant, admin.Actor) {
	e.t.Helper()
	return e.te.NewTenant(testenv.Seed{Slug: slug, Name: "Tenant " + slug, Email: email, Plan: gatehouse.PlanEnterprise})
}

const redirectURI = "http://127.0.0.1:9/callback"

// app registers an OAuth app of the owner's tenant and returns it with
// its secret ("" for a public one).
func (e *env) app(a admin.Actor, confidential bool, scopes []string, grants ...string) (*gatehouse.Client, string) {
	e.t.Helper()
	if len(grants) == 0 {
		grants = []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken}
	}
	in := admin.ClientInput{Name: "App", Scopes: scopes, Confidential: confidential, GrantTypes: grants}
	for _, g := range grants {
		if g == gatehouse.GrantAuthorizationCode {
			in.RedirectURIs = []string{redirectURI, "http://localhost:9/other"}
		}
	}
	c, sec, err := e.admin.CreateClient(e.ctx, a, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, sec
}

// verifier is an RFC 7636 code_verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// code obtains an authorization code as the console would: ParseAuthorize
// then Approve by the user.
func (e *env) code(c *gatehouse.Client, userID, scope, challenge string) string {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "scope": {scope}, "state": {"xyz"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	req, err := e.p.ParseAuthorize(e.ctx, q)
	if err != nil {
		e.t.Fatalf("ParseAuthorize: %v", err)
	}
	to, err := e.p.Approve(e.ctx, req, userID)
	if err != nil {
		e.t.Fatalf("Approve: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		e.t.Fatal(err)
	}
	if u.Query().Get("state") != "xyz" || u.Query().Get("code") == "" {
		e.t.Fatalf("redirect %s lacks code or state", to)
	}
	return u.Query().Get("code")
}

// answer is a decoded response of an OAuth 2.0 endpoint.
type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (a answer) str(k string) string { s, _ := a.Body[k].(string); return s }

// post sends a form to path, with HTTP Basic when user is not "".
func (e *env) post(path string, form url.Values, user, pass string) answer {
	e.t.Helper()
	return e.do(path, "application/x-www-form-urlencoded", form.Encode(), func(r *http.Request) {
		if user != "" {
			r.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
		}
	})
}

func (e *env) do(path, contentType, body string, edit func(*http.Request)) answer {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.Body); err != nil {
			e.t.Fatalf("%s: body %q is not JSON: %v", path, raw, err)
		}
	}
	return a
}

// wantError checks an RFC 6749 §5.2 refusal: status, error code and the
// no-store headers.
func wantError(t testing.TB, a answer, status int, code string) {
	t.Helper()
	if a.Status != status || a.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", a.Status, a.Raw, status, code)
	}
	wantNoStore(t, a)
	if status == http.StatusUnauthorized && a.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("401 without WWW-Authenticate")
	}
}

func wantNoStore(t testing.TB, a answer) {
	t.Helper()
	if a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Pragma") != "no-cache" {
		t.Fatalf("Cache-Control %q, Pragma %q; want no-store, no-cache", a.Header.Get("Cache-Control"), a.Header.Get("Pragma"))
	}
}

// wantTokens checks a §5.1 success and returns access and refresh tokens.
func wantTokens(t testing.TB, a answer) (access, refresh string) {
	t.Helper()
	if a.Status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", a.Status, a.Raw)
	}
	wantNoStore(t, a)
	if a.str("token_type") != "Bearer" || a.Body["expires_in"] != float64(3600) || !strings.HasPrefix(a.str("access_token"), "gate_at_") {
		t.Fatalf("bad token response %s", a.Raw)
	}
	return a.str("access_token"), a.str("refresh_token")
}

// check verifies an access token like the gateway does, with the client
// header, and returns the code.
func (e *env) check(tok, clientID string) gatehouse.Code {
	e.t.Helper()
	res, err := e.v.Verify(e.ctx, verify.Request{Credential: tok, ClientID: clientID})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Code
}

func (e *env) wantCode(tok, clientID string, want gatehouse.Code) {
	e.t.Helper()
	if got := e.check(tok, clientID); got != want {
		e.t.Fatalf("verify: %s, want %s", got, want)
	}
}

// exchange redeems a code with client_secret_basic (or none + client_id
// for a public client).
func (e *env) exchange(c *gatehouse.Client, sec, code, verifier string) answer {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if c.Confidential {
		return e.post("/oauth2/token", form, c.ID, sec)
	}
	form.Set("client_id", c.ID)
	return e.post("/oauth2/token", form, "", "")
}

// refresh uses a refresh token, optionally with a scope.
func (e *env) refresh(c *gatehouse.Client, sec, rt, scope string) answer {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if scope != "" {
		form.Set("scope", scope)
	}
	if c.Confidential {
		return e.post("/oauth2/token", form, c.ID, sec)
	}
	form.Set("client_id", c.ID)
	return e.post("/oauth2/token", form, "", "")
}

func verifyReq(tok, clientID, resource string) verify.Request {
	return verify.Request{Credential: tok, ClientID: clientID, Resource: resource}
}
