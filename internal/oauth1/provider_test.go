package oauth1

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// env is a provider over a real SQLite store with one Pending integration
// whose activation POST the fake deliverer captured.
type env struct {
	t        *testing.T
	ctx      context.Context
	st       *sqlstore.DB
	svc      *admin.Service
	p        *Provider
	srv      *httptest.Server
	clock    *testclock.Clock
	op       admin.Actor
	integ    *gatehouse.Integration
	key, sec string // consumer key and secret
	verifier string

	mu        sync.Mutex
	delivered []url.Values
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvOn(t, sqlstoretest.SQLite(t)) }

func newEnvOn(t *testing.T, st *sqlstore.DB) *env {
	t.Helper()
	// The real time: the store expires single-use marks by its own clock.
	e := &env{t: t, ctx: context.Background(), st: st, clock: testclock.New(time.Now().Truncate(time.Second))}
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeyring(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = admin.New(e.st, tree, admin.Options{
		Now:       e.clock.Now,
		Keys:      keys,
		PublicURL: "https://gatehouse.test",
		Deliver: func(_ context.Context, _ string, form url.Values) (int, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.delivered = append(e.delivered, form)
			return http.StatusOK, nil
		},
	})
	ten, err := e.svc.CreateTenant(e.ctx, "shop", "Shop", gatehouse.PlanEnterprise)
	if err != nil {
		t.Fatal(err)
	}
	e.op = admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
	e.p = New(Config{Store: e.st, Keys: keys, Admin: e.svc, Now: e.clock.Now})
	mux := http.NewServeMux()
	mux.Handle("/oauth/token/request", e.p.RequestTokenHandler())
	mux.Handle("/oauth/token/access", e.p.AccessTokenHandler())
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		tok, code, err := e.p.Authenticate(r)
		switch {
		case code != "":
			w.WriteHeader(httpx.CodeStatus(code))
			io.WriteString(w, string(code)+" "+err.Error())
		case err != nil:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, "token="+tok+"&body="+string(b))
		}
	})
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.integ = e.newIntegration("Sync")
	e.key, e.sec, e.verifier = e.activate(e.integ)
	return e
}

func (e *env) newIntegration(name string) *gatehouse.Integration {
	e.t.Helper()
	i, err := e.svc.CreateIntegration(e.ctx, e.op, admin.IntegrationInput{
		Name: name, CallbackURL: "https://partner.test/cb", Resources: []string{"catalog"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return i
}

// activate runs Activate › Allow and returns what the callback received.
func (e *env) activate(i *gatehouse.Integration) (key, sec, verifier string) {
	e.t.Helper()
	act, err := e.svc.ActivateIntegration(e.ctx, e.op, i.ID)
	if err != nil || !act.Delivered() {
		e.t.Fatalf("activate: %v %+v", err, act)
	}
	e.mu.Lock()
	f := e.delivered[len(e.delivered)-1]
	e.mu.Unlock()
	return f.Get("oauth_consumer_key"), f.Get("oauth_consumer_secret"), f.Get("oauth_verifier")
}

// placement says where the client puts the protocol parameters.
type placement int

const (
	inHeader placement = iota
	inQuery
	inForm
)

// call is one signed request a test client makes.
type call struct {
	method, path string
	key, sec     string // consumer
	token, tsec  string
	sigMethod    string
	extra        map[string]string // more oauth_* parameters (verifier, version)
	drop         string            // a protocol parameter to leave out
	ts           int64             // 0: the clock's now
	nonce        string            // "": a fresh one
	where        placement
	form         url.Values // non-protocol body parameters
	tamper       bool       // change a signed parameter after signing
	order        Order
	// echoBody and echoQuery are added to the form body and the query
	// after signing, unsigned: Magento's OauthClient repeats
	// oauth_verifier in the body this way.
	echoBody, echoQuery url.Values
	// formInHeader copies form into the header as well, as the
	// PHPoAuthLib-based Magento OauthClient does for a signed call.
	formInHeader bool
}

var nonceN atomic.Int64

func (e *env) do(c call) (int, url.Values, string) {
	e.t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.sigMethod == "" {
		c.sigMethod = HMACSHA256
	}
	if c.ts == 0 {
		c.ts = e.clock.Now().Unix()
	}
	if c.nonce == "" {
		c.nonce = "n" + strconv.FormatInt(nonceN.Add(1), 10)
	}
	proto := Params{
		{"oauth_consumer_key", c.key},
		{"oauth_signature_method", c.sigMethod},
		{"oauth_timestamp", strconv.FormatInt(c.ts, 10)},
		{"oauth_nonce", c.nonce},
		{"oauth_version", "1.0"},
	}
	if c.token != "" {
		proto = append(proto, Param{"oauth_token", c.token})
	}
	for k, v := range c.extra {
		replaced := false
		for i := range proto {
			if proto[i].Name == k {
				proto[i].Value, replaced = v, true
			}
		}
		if !replaced {
			proto = append(proto, Param{k, v})
		}
	}
	kept := proto[:0]
	for _, p := range proto {
		if p.Name != c.drop {
			kept = append(kept, p)
		}
	}
	proto = kept
	u, _ := url.Parse(e.srv.URL + c.path)
	all := append(Params{}, proto...)
	for k, vs := range u.Query() {
		for _, v := range vs {
			all = append(all, Param{k, v})
		}
	}
	for k, vs := range c.form {
		for _, v := range vs {
			all = append(all, Param{k, v})
		}
	}
	sig := Sign(c.sigMethod, c.sec, c.tsec, BaseString(c.method, BaseStringURI("http", u.Host, u.EscapedPath()), all, c.order))
	if sig == "" {
		sig = "c2lnbmF0dXJl"
	}
	if c.drop != "oauth_signature" {
		proto = append(proto, Param{"oauth_signature", sig})
	}
	if c.tamper {
		c.form = url.Values{"tampered": {"1"}}
	}
	body := url.Values{}
	for k, vs := range c.form {
		body[k] = vs
	}
	var header string
	switch c.where {
	case inHeader:
		parts := []string{`realm="x"`}
		for _, p := range proto {
			parts = append(parts, Encode(p.Name)+`="`+Encode(p.Value)+`"`)
		}
		if c.formInHeader {
			for k, vs := range c.form {
				parts = append(parts, Encode(k)+`="`+Encode(vs[0])+`"`)
			}
		}
		header = "OAuth " + strings.Join(parts, ", ")
	case inQuery:
		q := u.Query()
		for _, p := range proto {
			q.Add(p.Name, p.Value)
		}
		u.RawQuery = q.Encode()
	case inForm:
		for _, p := range proto {
			body.Add(p.Name, p.Value)
		}
	}
	for k, vs := range c.echoBody {
		for _, v := range vs {
			body.Add(k, v)
		}
	}
	if len(c.echoQuery) > 0 {
		u.RawQuery = strings.TrimPrefix(u.RawQuery+"&"+c.echoQuery.Encode(), "&")
	}
	req, _ := http.NewRequest(c.method, u.String(), strings.NewReader(body.Encode()))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, _ := url.ParseQuery(string(b))
	return resp.StatusCode, v, string(b)
}

func (e *env) requestToken(c call) (tok, sec string) {
	e.t.Helper()
	c.path, c.key, c.sec = "/oauth/token/request", e.key, e.sec
	status, v, body := e.do(c)
	if status != http.StatusOK || v.Get("oauth_callback_confirmed") != "true" {
		e.t.Fatalf("request token: %d %s", status, body)
	}
	tok, sec = v.Get("oauth_token"), v.Get("oauth_token_secret")
	if !gatehouse.IsOAuth1Value(tok) || !gatehouse.IsOAuth1Value(sec) {
		e.t.Fatalf("request token %q secret %q: not 32 [a-z0-9]", tok, sec)
	}
	return tok, sec
}

func (e *env) accessToken(rt, rs string) (tok, sec string) {
	e.t.Helper()
	status, v, body := e.do(call{path: "/oauth/token/access", key: e.key, sec: e.sec, token: rt, tsec: rs,
		extra: map[string]string{"oauth_verifier": e.verifier}})
	if status != http.StatusOK {
		e.t.Fatalf("access token: %d %s", status, body)
	}
	tok, sec = v.Get("oauth_token"), v.Get("oauth_token_secret")
	if !gatehouse.IsOAuth1Value(tok) || !gatehouse.IsOAuth1Value(sec) {
		e.t.Fatalf("access token %q secret %q: not 32 [a-z0-9]", tok, sec)
	}
	return tok, sec
}

func wantProblem(t *testing.T, status int, v url.Values, body string, wantStatus int, wantProblem string) {
	t.Helper()
	if status != wantStatus || v.Get("oauth_problem") != wantProblem {
		t.Fatalf("got %d %s, want %d oauth_problem=%s", status, body, wantStatus, wantProblem)
	}
	if v.Get("oauth_problem_advice") == "" {
		t.Fatalf("no oauth_problem_advice in %s", body)
	}
}

func TestExchangeAllPlacements(t *testing.T) {
	for _, c := range []struct {
		name  string
		where placement
		sm    string
		order Order
	}{
		{"header sha256", inHeader, HMACSHA256, ByteOrder},
		{"header sha1", inHeader, HMACSHA1, ByteOrder},
		{"query", inQuery, HMACSHA1, ByteOrder},
		{"form", inForm, HMACSHA256, ByteOrder},
		{"natural order", inHeader, HMACSHA256, NaturalOrder},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			rt, rs := e.requestToken(call{where: c.where, sigMethod: c.sm, order: c.order})
			status, v, body := e.do(call{path: "/oauth/token/access", key: e.key, sec: e.sec, token: rt, tsec: rs,
				extra: map[string]string{"oauth_verifier": e.verifier}, where: c.where, sigMethod: c.sm, order: c.order})
			if status != 200 {
				t.Fatalf("access: %d %s", status, body)
			}
			at, as := v.Get("oauth_token"), v.Get("oauth_token_secret")
			i, err := e.st.FindIntegration(e.ctx, e.integ.TenantID, e.integ.ID)
			if err != nil || i.Status != gatehouse.IntegrationActive || i.VerifierHash != nil {
				t.Fatalf("integration after the exchange: %+v %v", i, err)
			}
			// A signed API call, with a form body the upstream still gets.
			status, v, body = e.do(call{method: "POST", path: "/api/products?page=2", key: e.key, sec: e.sec, token: at, tsec: as,
				where: c.where, sigMethod: c.sm, order: c.order, form: url.Values{"sku": {"24-MB01"}, "a10": {"x"}, "a9": {"y"}}})
			if status != 200 || v.Get("token") != at || !strings.Contains(body, "sku=24-MB01") {
				t.Fatalf("signed call: %d %s", status, body)
			}
		})
	}
}

// TestExchangePostgres runs the exchange and the single-use rules on
// PostgreSQL (skipped without GATEHOUSE_TEST_POSTGRES).
func TestExchangePostgres(t *testing.T) {
	e := newEnvOn(t, sqlstoretest.Postgres(t))
	rt, rs := e.requestToken(call{})
	rt2, rs2 := e.requestToken(call{})
	at, as := e.accessToken(rt, rs)
	status, v, body := e.do(call{path: "/oauth/token/access", key: e.key, sec: e.sec, token: rt, tsec: rs,
		extra: map[string]string{"oauth_verifier": e.verifier}})
	wantProblem(t, status, v, body, 401, TokenUsed)
	status, v, body = e.do(call{path: "/oauth/token/access", key: e.key, sec: e.sec, token: rt2, tsec: rs2,
		extra: map[string]string{"oauth_verifier": e.verifier}})
	wantProblem(t, status, v, body, 401, VerifierInvalid)
	ts := e.clock.Now().Unix()
	for i, want := range []int{200, 401} {
		if status, _, body := e.do(call{method: "GET", path: "/api/x", key: e.key, sec: e.sec, token: at, tsec: as, nonce: "pg", ts: ts}); status != want {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
}

func TestRequestTokenRefusals(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now().Unix()
	base := call{path: "/oauth/token/request"}
	for _, c := range []struct {
		name    string
		mod     func(c *call)
		status  int
		problem string
	}{
		{"missing nonce", func(c *call) { c.drop = "oauth_nonce" }, 400, ParameterAbsent},
		{"missing signature", func(c *call) { c.drop = "oauth_signature" }, 400, ParameterAbsent},
		{"missing consumer key", func(c *call) { c.drop = "oauth_consumer_key" }, 400, ParameterAbsent},
		{"version 2.0", func(c *call) { c.extra = map[string]string{"oauth_version": "2.0"} }, 400, VersionRejected},
		{"plaintext", func(c *call) { c.sigMethod = "PLAINTEXT" }, 400, SignatureMethodRejected},
		{"rsa-sha1", func(c *call) { c.sigMethod = "RSA-SHA1" }, 400, SignatureMethodRejected},
		{"short consumer key", func(c *call) { c.key = "abc" }, 400, ParameterRejected},
		{"token of bad length", func(c *call) { c.token = "abc" }, 400, ParameterRejected},
		{"timestamp not a number", func(c *call) { c.extra = map[string]string{"oauth_timestamp": "soon"} }, 400, ParameterRejected},
		{"timestamp too far ahead", func(c *call) { c.ts = now + 601 }, 401, TimestampRefused},
		{"timestamp too old", func(c *call) { c.ts = now - 601 }, 401, TimestampRefused},
		{"unknown consumer", func(c *call) { c.key = strings.Repeat("a", 32) }, 401, ConsumerKeyRejected},
		{"wrong consumer secret", func(c *call) { c.sec = strings.Repeat("b", 32) }, 401, SignatureInvalid},
		{"tampered", func(c *call) { c.tamper = true }, 401, SignatureInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := base
			cl.key, cl.sec = e.key, e.sec
			c.mod(&cl)
			status, v, body := e.do(cl)
			wantProblem(t, status, v, body, c.status, c.problem)
		})
	}
	t.Run("window edges accepted", func(t *testing.T) {
		e.requestToken(call{ts: now + 600})
		e.requestToken(call{ts: now - 600})
	})
	t.Run("replayed nonce", func(t *testing.T) {
		e.requestToken(call{nonce: "once", ts: now})
		status, v, body := e.do(call{path: "/oauth/token/request", key: e.key, sec: e.sec, nonce: "once", ts: now})
		wantProblem(t, status, v, body, 401, NonceUsed)
		// The same nonce with another timestamp is another pair.
		e.requestToken(call{nonce: "once", ts: now + 1})
	})
	t.Run("a bad signature does not burn the nonce", func(t *testing.T) {
		status, v, body := e.do(call{path: "/oauth/token/request", key: e.key, sec: "wrong", nonce: "kept", ts: now})
		wantProblem(t, status, v, body, 401, SignatureInvalid)
		e.requestToken(call{nonce: "kept", ts: now})
	})
	t.Run("not pending", func(t *testing.T) {
		i := e.newIntegration("Never activated")
		sec, _ := e.p.keys.Open(i.ConsumerSecret, secret.ConsumerSecretAAD(i.ConsumerKey))
		status, v, body := e.do(call{path: "/oauth/token/request", key: i.ConsumerKey, sec: string(sec)})
		wantProblem(t, status, v, body, 401, ConsumerKeyRejected)
	})
	t.Run("handshake expired", func(t *testing.T) {
		e.clock.Advance(admin.DefaultHandshakeExpiry)
		status, v, body := e.do(call{path: "/oauth/token/request", key: e.key, sec: e.sec})
		wantProblem(t, status, v, body, 401, ConsumerKeyRejected)
		if v.Get("oauth_problem_advice") != ConsumerKeyExpired {
			t.Fatalf("advice %q, want Magento's %q", v.Get("oauth_problem_advice"), ConsumerKeyExpired)
		}
		if status, _, _ := e.do(call{method: "GET", path: "/oauth/token/request", key: e.key, sec: e.sec}); status != http.StatusMethodNotAllowed {
			t.Fatalf("GET: %d", status)
		}
	})
}

func TestAccessTokenRefusals(t *testing.T) {
	e := newEnv(t)
	rt, rs := e.requestToken(call{})
	access := func(mod func(c *call)) (int, url.Values, string) {
		c := call{path: "/oauth/token/access", key: e.key, sec: e.sec, token: rt, tsec: rs,
			extra: map[string]string{"oauth_verifier": e.verifier}}
		if mod != nil {
			mod(&c)
		}
		return e.do(c)
	}
	for _, c := range []struct {
		name    string
		mod     func(c *call)
		status  int
		problem string
	}{
		{"missing verifier", func(c *call) { c.extra = nil }, 400, ParameterAbsent},
		{"missing token", func(c *call) { c.token = "" }, 400, ParameterAbsent},
		{"verifier of bad length", func(c *call) { c.extra = map[string]string{"oauth_verifier": "123"} }, 400, ParameterRejected},
		{"wrong verifier", func(c *call) { c.extra = map[string]string{"oauth_verifier": strings.Repeat("0", 32)} }, 401, VerifierInvalid},
		{"unknown request token", func(c *call) { c.token = strings.Repeat("c", 32) }, 401, TokenRejected},
		{"wrong request token secret", func(c *call) { c.tsec = "nope" }, 401, SignatureInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, v, body := access(c.mod)
			wantProblem(t, status, v, body, c.status, c.problem)
		})
	}
	// A second request token, to try the verifier twice.
	rt2, rs2 := e.requestToken(call{})
	at, as := e.accessToken(rt, rs)
	t.Run("request token reused", func(t *testing.T) {
		status, v, body := access(nil)
		wantProblem(t, status, v, body, 401, TokenUsed)
	})
	t.Run("verifier reused", func(t *testing.T) {
		status, v, body := access(func(c *call) { c.token, c.tsec = rt2, rs2 })
		wantProblem(t, status, v, body, 401, VerifierInvalid)
	})
	t.Run("access token as request token", func(t *testing.T) {
		status, v, body := access(func(c *call) { c.token, c.tsec = at, as })
		wantProblem(t, status, v, body, 401, TokenRejected)
	})
	t.Run("request token expired", func(t *testing.T) {
		e2 := newEnv(t)
		rt, rs := e2.requestToken(call{})
		e2.clock.Advance(admin.DefaultHandshakeExpiry + time.Second)
		status, v, body := e2.do(call{path: "/oauth/token/access", key: e2.key, sec: e2.sec, token: rt, tsec: rs,
			extra: map[string]string{"oauth_verifier": e2.verifier}})
		wantProblem(t, status, v, body, 401, TokenExpired)
	})
	t.Run("another consumer's request token", func(t *testing.T) {
		i := e.newIntegration("Other")
		key, sec, verifier := e.activate(i)
		status, v, body := e.do(call{path: "/oauth/token/access", key: key, sec: sec, token: rt2, tsec: rs2,
			extra: map[string]string{"oauth_verifier": verifier}})
		wantProblem(t, status, v, body, 401, TokenRejected)
	})
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	rt, rs := e.requestToken(call{})
	at, as := e.accessToken(rt, rs)
	api := func(c call) (int, string) {
		t.Helper()
		c.method, c.path = "GET", "/api/products"
		if c.key == "" {
			c.key = e.key
		}
		if c.sec == "" {
			c.sec = e.sec
		}
		status, _, body := e.do(c)
		return status, body
	}
	if status, body := api(call{token: at, tsec: as}); status != 200 || !strings.Contains(body, "token="+at) {
		t.Fatalf("signed call: %d %s", status, body)
	}
	for _, c := range []struct {
		name string
		c    call
		want string
	}{
		{"no token", call{}, "MALFORMED parameter_absent"},
		{"bad signature", call{token: at, tsec: "wrong"}, "UNKNOWN signature_invalid"},
		{"wrong consumer secret", call{token: at, tsec: as, sec: strings.Repeat("d", 32)}, "UNKNOWN signature_invalid"},
		{"request token as access token", call{token: rt, tsec: rs}, "UNKNOWN token_rejected"},
		{"unknown token", call{token: strings.Repeat("e", 32), tsec: as}, "UNKNOWN token_rejected"},
		{"plaintext", call{token: at, tsec: as, sigMethod: "PLAINTEXT"}, "MALFORMED signature_method_rejected"},
		{"old timestamp", call{token: at, tsec: as, ts: e.clock.Now().Unix() - 3600}, "UNKNOWN timestamp_refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := api(c.c)
			if status != 401 || !strings.HasPrefix(body, c.want) {
				t.Fatalf("got %d %s, want 401 %s", status, body, c.want)
			}
		})
	}
	t.Run("replayed nonce", func(t *testing.T) {
		ts := e.clock.Now().Unix()
		if status, body := api(call{token: at, tsec: as, nonce: "api-once", ts: ts}); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		if status, body := api(call{token: at, tsec: as, nonce: "api-once", ts: ts}); status != 401 || !strings.HasPrefix(body, "UNKNOWN nonce_used") {
			t.Fatalf("replay: %d %s", status, body)
		}
	})
	t.Run("another consumer's access token", func(t *testing.T) {
		i := e.newIntegration("Other")
		key, sec, _ := e.activate(i)
		if status, body := api(call{key: key, sec: sec, token: at, tsec: as}); status != 401 || !strings.HasPrefix(body, "UNKNOWN token_rejected") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("reauthorized", func(t *testing.T) {
		if _, err := e.svc.ReauthorizeIntegration(e.ctx, e.op, e.integ.ID); err != nil {
			t.Fatal(err)
		}
		// Security: without the token secret nobody learns that the token
		// was revoked — the signature is checked first.
		if status, body := api(call{token: at, tsec: "wrong"}); status != 401 || !strings.HasPrefix(body, "UNKNOWN signature_invalid") {
			t.Fatalf("%d %s", status, body)
		}
		// With a good signature Authenticate passes the token on, and the
		// verifier answers REVOKED (internal/e2e/oauth1_flow_test.go).
		if status, _ := api(call{token: at, tsec: as}); status != 200 {
			t.Fatalf("a well-signed call with the old token: %d, want it handed to the verifier", status)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		if err := e.svc.DeleteIntegration(e.ctx, e.op, e.integ.ID); err != nil {
			t.Fatal(err)
		}
		if status, body := api(call{token: at, tsec: as}); status != 401 || !strings.HasPrefix(body, "UNKNOWN consumer_key_rejected") {
			t.Fatalf("%d %s", status, body)
		}
	})
}

func TestDeliverer(t *testing.T) {
	var got url.Values
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.ParseForm()
		got = r.PostForm
	}))
	defer cb.Close()
	form := url.Values{"oauth_consumer_key": {"k"}, "oauth_consumer_secret": {"s3cr3t"}, "store_base_url": {"https://g.test/"}, "oauth_verifier": {"v"}}
	ctx := context.Background()

	if status, err := NewDeliverer(DeliverOptions{})(ctx, cb.URL+"/cb", form); err == nil || status != 0 {
		t.Fatalf("http without allowHTTP: %d %v", status, err)
	}
	d := NewDeliverer(DeliverOptions{Callbacks: admin.CallbackPolicy{AllowHTTP: true}})
	if status, err := d(ctx, cb.URL+"/cb", form); err != nil || status != 200 {
		t.Fatalf("loopback http: %d %v", status, err)
	}
	if got.Encode() != form.Encode() {
		t.Fatalf("delivered %v, want %v", got, form)
	}
	if status, err := d(ctx, cb.URL+"/redirect", form); err == nil || status != http.StatusFound {
		t.Fatalf("redirect: %d %v", status, err)
	}
	if _, err := d(ctx, "http://example.com/cb", form); err == nil {
		t.Fatal("http to a non-loopback host allowed")
	}
	if _, err := d(ctx, "ftp://127.0.0.1/cb", form); err == nil {
		t.Fatal("ftp allowed")
	}
	// A TLS callback with a certificate the system does not trust fails,
	// and the error never carries the consumer secret.
	tlsCB := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsCB.Close()
	private := NewDeliverer(DeliverOptions{Callbacks: admin.CallbackPolicy{AllowPrivate: true}})
	if _, err := private(ctx, tlsCB.URL+"/s3cr3t", form); err == nil || err.Error() != "the callback could not be reached" {
		t.Fatalf("untrusted TLS: %v", err)
	}
}

// TestReplayAtWindowEdge replays a signed API call around the end of its
// timestamp's window (issue 11, hole 5), on SQLite and PostgreSQL: every
// replay is refused, by the window or by the nonce, and a first use is
// accepted exactly while the window (±MaxSkew, inclusive, at full
// resolution) accepts it.
func TestReplayAtWindowEdge(t *testing.T) {
	backends := map[string]func(testing.TB) *sqlstore.DB{
		"sqlite":   func(tb testing.TB) *sqlstore.DB { return sqlstoretest.SQLite(tb) },
		"postgres": func(tb testing.TB) *sqlstore.DB { return sqlstoretest.Postgres(tb) },
	}
	edges := []struct {
		after  time.Duration // since oauth_timestamp
		inside bool          // the window accepts it
	}{
		{DefaultMaxSkew - time.Nanosecond, true},
		{DefaultMaxSkew, true},
		{DefaultMaxSkew + 500*time.Millisecond, false},
		{DefaultMaxSkew + time.Second, false},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			e := newEnvOn(t, open(t))
			rt, rs := e.requestToken(call{})
			at, as := e.accessToken(rt, rs)
			start := e.clock.Now()
			api := func(ts int64, nonce string) (int, string) {
				status, _, body := e.do(call{method: "GET", path: "/api/products", key: e.key, sec: e.sec,
					token: at, tsec: as, ts: ts, nonce: nonce})
				return status, body
			}
			// A request first used at the edge: accepted once (when the
			// window still accepts it), then never again at that instant.
			for i, edge := range edges {
				ts := start.Unix() - 601
				e.clock.Set(time.Unix(ts, 0).Add(edge.after))
				nonce := "edge-" + strconv.Itoa(i)
				status, body := api(ts, nonce)
				if edge.inside != (status == 200) {
					t.Fatalf("first use at ts+%v: %d %s (inside the window: %v)", edge.after, status, body, edge.inside)
				}
				for n := range 3 {
					if status, body := api(ts, nonce); status != 401 {
						t.Fatalf("replay %d at ts+%v: %d %s, want 401", n+1, edge.after, status, body)
					}
				}
			}
			// A request used at its timestamp, replayed at each edge.
			ts := start.Unix() + 3600
			e.clock.Set(time.Unix(ts, 0))
			if status, body := api(ts, "early"); status != 200 {
				t.Fatalf("first use: %d %s", status, body)
			}
			for _, edge := range edges {
				e.clock.Set(time.Unix(ts, 0).Add(edge.after))
				if status, body := api(ts, "early"); status != 401 {
					t.Fatalf("replay at ts+%v: %d %s, want 401", edge.after, status, body)
				}
			}
			// And the window's other side: at most MaxSkew ahead.
			e.clock.Set(time.Unix(ts, 0))
			if status, body := api(ts+600, "ahead"); status != 200 {
				t.Fatalf("600 s ahead: %d %s", status, body)
			}
			e.clock.Set(time.Unix(ts, 0).Add(-time.Nanosecond))
			if status, body := api(ts+600, "ahead-1ns"); status != 401 || !strings.HasPrefix(body, "UNKNOWN timestamp_refused") {
				t.Fatalf("600 s and 1 ns ahead: %d %s", status, body)
			}
		})
	}
}
