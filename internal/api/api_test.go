package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// testEnv is the API over a real SQLite store, behind a real HTTP server.
type testEnv struct {
	dbPath string // the SQLite file, "" on PostgreSQL
	pgURL  string // the PostgreSQL URL (with its test schema), "" on SQLite
	db     *sqlstore.DB
	tree   *gatehouse.ResourceTree
	svc    *admin.Service
	srv    *httptest.Server
}

// newEnv opens a fresh SQLite database in a temporary file and serves the
// API over it. (sqlstoretest.SQLite does the same but does not tell the
// file's path, which TestTokenSecretAtRest scans for secrets.)
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := sqlstore.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return newEnvOn(t, db, path)
}

// forEachStore runs test, in parallel, against SQLite and against
// PostgreSQL (skipped unless sqlstoretest.PostgresEnv is set).
func forEachStore(t *testing.T, test func(t *testing.T, e *testEnv)) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, newEnv(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, newPostgresEnv(t))
	})
}

// newPostgresEnv serves the API over a fresh PostgreSQL schema (skipped
// unless sqlstoretest.PostgresEnv is set) and remembers its URL, so tests
// can read the rows themselves (rawDB).
func newPostgresEnv(t *testing.T) *testEnv {
	t.Helper()
	u := sqlstoretest.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, u)
	if err != nil {
		t.Fatalf("open test postgres: %v", err)
	}
	// Registered after the schema's cleanup, so it runs first.
	t.Cleanup(func() { db.Close() })
	e := newEnvOn(t, db, "")
	e.pgURL = u
	return e
}

// rawDB opens a connection of its own to the env's database, for tests
// that look at what is stored beneath the store's API.
func (e *testEnv) rawDB(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", e.dbPath
	if e.pgURL != "" {
		driver, dsn = "pgx", e.pgURL
	}
	if dsn == "" {
		t.Fatal("rawDB: the env's database is unknown")
	}
	db, err := sql.Open(driver, dsn) // drivers registered by sqlstore
	if err != nil {
		t.Fatalf("open raw database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newEnvOn serves the API over db behind a real HTTP server. The test
// server's loopback peer is a trusted proxy, so tests can set the client
// address with X-Forwarded-For.
func newEnvOn(t *testing.T, db *sqlstore.DB, path string) *testEnv {
	t.Helper()
	e := &testEnv{dbPath: path, db: db}
	var err error
	e.tree, err = gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	// Integrations need a keyring and a Deliverer (the server wires
	// oauth1.NewDeliverer; tests use deliverHTTP, a small real one).
	key := make([]byte, secret.KeyLen)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	// The callback receivers are httptest servers on loopback, as
	// GATEHOUSE_ALLOW_HTTP_CALLBACKS allows in development.
	e.svc = admin.New(db, e.tree, admin.Options{Keys: keys, Deliver: deliverHTTP, PublicURL: testPublicURL,
		Callbacks: admin.CallbackPolicy{AllowHTTP: true}})
	e.srv = httptest.NewServer(New(Config{
		Admin:          e.svc,
		Authenticate:   storeAuthenticator(db, e.tree, time.Now),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Log:            slog.New(slog.NewTextHandler(t.Output(), nil)),
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// storeAuthenticator is a small real Authenticator over the store: the
// checks internal/verify makes, minus its cache.
func storeAuthenticator(store gatehouse.Store, tree *gatehouse.ResourceTree, now func() time.Time) Authenticator {
	return func(ctx context.Context, tok string, ip netip.Addr) (*gatehouse.Principal, gatehouse.Code, error) {
		kind, ok := secret.ParseToken(tok)
		if !ok {
			return nil, gatehouse.CodeMalformed, nil
		}
		c, err := store.FindCredentialByHash(ctx, secret.HashBytes(tok))
		switch {
		case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
			return nil, gatehouse.CodeUnknown, nil
		case err != nil:
			return nil, "", err
		case c.Kind != kind:
			return nil, gatehouse.CodeUnknown, nil
		case c.Revoked():
			return nil, gatehouse.CodeRevoked, nil
		case c.Expired(now()):
			return nil, gatehouse.CodeExpired, nil
		}
		tenant, err := store.FindTenantByID(ctx, c.TenantID)
		if err != nil {
			return nil, "", err
		}
		if tenant.Disabled {
			return nil, gatehouse.CodeTenantDisabled, nil
		}
		if !gatehouse.AllowListPermits(c.AllowList, ip) {
			return nil, gatehouse.CodeIPNotAllowed, nil
		}
		if !tree.Grants(c.Scopes, gatehouse.ScopeManage) {
			return nil, gatehouse.CodeInsufficientScope, nil
		}
		return &gatehouse.Principal{
			TenantID:     c.TenantID,
			TenantSlug:   tenant.Slug,
			Subject:      c.UserID,
			Kind:         c.Kind,
			CredentialID: c.ID,
			Scopes:       c.Scopes,
			ExpiresAt:    c.ExpiresAt,
		}, gatehouse.CodeValid, nil
	}
}

// fixture is a tenant with an owner who holds a manage token.
type fixture struct {
	tenant  *gatehouse.Tenant
	ownerID string
	email   string
	token   string // plaintext PAT with scopes "manage", "verify" and "all"
	tokenID string
}

// operator is the CLI's actor in a tenant, for seeding.
func operator(tenantID string) admin.Actor {
	return admin.Actor{TenantID: tenantID, Name: admin.OperatorName, Operator: true}
}

// newTenant seeds a tenant, its owner and the owner's manage token through
// admin.Service, as the CLI would.
func (e *testEnv) newTenant(t *testing.T, slug string) *fixture {
	t.Helper()
	ctx := t.Context()
	ten, err := e.svc.CreateTenant(ctx, slug, "Tenant "+slug, "")
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	f := &fixture{tenant: ten, email: "owner@" + slug + ".test"}
	m, err := e.svc.AddMember(ctx, operator(ten.ID), admin.NewMember{Email: f.email, Role: gatehouse.RoleOwner, Password: "correct horse battery"})
	if err != nil {
		t.Fatalf("add owner: %v", err)
	}
	f.ownerID = m.UserID
	f.tokenID, f.token = e.newPAT(t, ten.ID, m.UserID, "manage", "verify", "all")
	return f
}

// addMember adds a user to a tenant as the operator and returns its id.
func (e *testEnv) addMember(t *testing.T, tenantID, email string, role gatehouse.Role) string {
	t.Helper()
	m, err := e.svc.AddMember(t.Context(), operator(tenantID), admin.NewMember{Email: email, Role: role})
	if err != nil {
		t.Fatalf("add member %s: %v", email, err)
	}
	return m.UserID
}

// newPAT makes a PAT for a member, acting as that member.
func (e *testEnv) newPAT(t *testing.T, tenantID, userID string, scopes ...string) (id, token string) {
	t.Helper()
	a, err := e.svc.ActorFor(t.Context(), tenantID, userID, "")
	if err != nil {
		t.Fatalf("actor: %v", err)
	}
	c, tok, err := e.svc.CreateCredential(t.Context(), a, gatehouse.KindPAT, admin.CredentialInput{Name: "seed " + strings.Join(scopes, " "), Scopes: scopes})
	if err != nil {
		t.Fatalf("create pat: %v", err)
	}
	return c.ID, tok
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// req describes a test request. body is sent as is when it is a string or
// []byte and as JSON otherwise; nil sends no body.
type req struct {
	method, path, token string
	body                any
	header              map[string]string
}

// do sends r to the test server with a real client.
func (e *testEnv) do(t *testing.T, r req) response {
	t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequestWithContext(t.Context(), r.method, e.srv.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

// get is a GET that must answer 200; it returns the body.
func (e *testEnv) get(t *testing.T, path, token string) []byte {
	t.Helper()
	res := e.do(t, req{method: http.MethodGet, path: path, token: token})
	if res.status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, res.status, res.body)
	}
	return res.body
}

// decode unmarshals a response body.
func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// expect checks a response's status and, for errors, its error code and the
// headers every answer carries.
func expect(t *testing.T, res response, status int, code string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d; body %s", res.status, status, res.body)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if status == http.StatusNoContent {
		return
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	if code != "" {
		got := decode[httpx.ErrorBody](t, res.body)
		if got.Error.Code != code {
			t.Errorf("error code = %q, want %q (message %q)", got.Error.Code, code, got.Error.Message)
		}
		if got.Error.Message == "" {
			t.Error("error message is empty")
		}
	}
}
