package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dghubble/oauth1"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// oauth1Node is one Gatehouse (testenv: server.New with the demo store
// API behind the gateway and http callbacks allowed on loopback), its
// clock the real time plus an offset tests move to expire handshakes and
// push timestamps out of the window.
type oauth1Node struct {
	s    *server.Server
	base string
}

func newOAuth1Node(t *testing.T, databaseURL string, clock *testclock.Clock) *oauth1Node {
	t.Helper()
	te := testenv.New(t, testenv.Options{
		DatabaseURL: databaseURL,
		Config:      func(c *config.Config) { c.AllowHTTPCallbacks = true },
		Server:      server.Options{Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))},
		Clock:       clock,
		Demo:        true,
		NoTenant:    true,
	})
	return &oauth1Node{s: te.Server, base: te.URL}
}

// partner is the third party's callback URL: it records every activation
// POST, as a Magento extension's endpoint would.
type partner struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []url.Values
	errs []string
}

func newPartner(t *testing.T) *partner {
	p := &partner{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			p.errs = append(p.errs, r.Method+" "+r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(b))
		if err != nil {
			p.errs = append(p.errs, err.Error())
		}
		p.got = append(p.got, v)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *partner) last(t *testing.T) url.Values {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 || len(p.got) == 0 {
		t.Fatalf("callback: %d deliveries, errors %v", len(p.got), p.errs)
	}
	return p.got[len(p.got)-1]
}

// capture remembers the last request a client sent, for replays.
type capture struct {
	mu   sync.Mutex
	last *http.Request
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.last = r.Clone(context.Background())
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// oauth1Refusal is a gateway refusal's body.
type oauth1Refusal struct {
	Error struct{ Code, Message string } `json:"error"`
}

func get(t *testing.T, client *http.Client, u string, hdr ...string) (int, oauth1Refusal) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ref oauth1Refusal
	json.Unmarshal(b, &ref)
	return resp.StatusCode, ref
}

func wantRefused(t *testing.T, what string, status int, ref oauth1Refusal, wantStatus int, wantCode, wantInMessage string) {
	t.Helper()
	if status != wantStatus || ref.Error.Code != wantCode || !strings.Contains(ref.Error.Message, wantInMessage) {
		t.Fatalf("%s: %d %+v, want %d %s (%q)", what, status, ref, wantStatus, wantCode, wantInMessage)
	}
}

// TestOAuth1IntegrationFlow plays a Magento-style third party against a
// real Gatehouse with github.com/dghubble/oauth1 (issue 5 done-means 1
// and 2): the activation POST reaches the callback, the client gets a
// request token and an access token, a signed call through the gateway to
// the demo store API passes, one outside the integration's resources is
// 403; and every refusal of done-means 2.
func TestOAuth1IntegrationFlow(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		ctx := context.Background()
		clock := testclock.Running()
		node := newOAuth1Node(t, databaseURL, clock)
		s, base := node.s, node.base
		tenant, err := s.Admin.CreateTenant(ctx, "shop", "Luma Shop", gatehouse.PlanEnterprise)
		if err != nil {
			t.Fatal(err)
		}
		op := admin.Actor{TenantID: tenant.ID, Name: admin.OperatorName, Operator: true}
		m, err := s.Admin.AddMember(ctx, op, admin.NewMember{Email: "owner@shop.test", Role: gatehouse.RoleOwner, Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		owner, err := s.Admin.ActorFor(ctx, tenant.ID, m.UserID, "")
		if err != nil {
			t.Fatal(err)
		}
		cb := newPartner(t)
		integ, err := s.Admin.CreateIntegration(ctx, owner, admin.IntegrationInput{
			Name: "ERP Sync", Email: "dev@erp.test", CallbackURL: cb.srv.URL + "/magento/callback",
			Resources: []string{"catalog"}, // Resource Access: Custom
		})
		if err != nil {
			t.Fatal(err)
		}

		// Activate › Allow: the callback gets exactly Magento's four fields.
		act, err := s.Admin.ActivateIntegration(ctx, owner, integ.ID)
		if err != nil || !act.Delivered() {
			t.Fatalf("activate: %v %+v", err, act)
		}
		form := cb.last(t)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range form {
				if !yield(k) {
					return
				}
			}
		})
		if want := []string{"oauth_consumer_key", "oauth_consumer_secret", "oauth_verifier", "store_base_url"}; !slices.Equal(keys, want) {
			t.Fatalf("callback fields %v, want %v", keys, want)
		}
		if form.Get("store_base_url") != base+"/" || form.Get("oauth_consumer_key") != integ.ConsumerKey {
			t.Fatalf("callback form %v", form)
		}
		for _, k := range keys {
			if len(form[k]) != 1 || (k != "store_base_url" && !gatehouse.IsOAuth1Value(form.Get(k))) {
				t.Fatalf("callback field %s = %q", k, form[k])
			}
		}
		consumerKey, consumerSecret, verifier := form.Get("oauth_consumer_key"), form.Get("oauth_consumer_secret"), form.Get("oauth_verifier")

		endpoint := oauth1.Endpoint{RequestTokenURL: base + "/oauth/token/request", AccessTokenURL: base + "/oauth/token/access"}
		conf := &oauth1.Config{
			ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, CallbackURL: "oob", Endpoint: endpoint,
			Signer: &oauth1.HMAC256Signer{ConsumerSecret: consumerSecret},
		}

		t.Run("wrong consumer secret at the token endpoint", func(t *testing.T) {
			bad := *conf
			bad.ConsumerSecret = strings.Repeat("x", 32)
			bad.Signer = nil // HMAC-SHA1 with the wrong secret
			if _, _, err := bad.RequestToken(); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "signature_invalid") {
				t.Fatalf("RequestToken = %v", err)
			}
		})

		// Two request tokens, to show the verifier works only once.
		rt, rs, err := conf.RequestToken()
		if err != nil {
			t.Fatal(err)
		}
		rt2, rs2, err := conf.RequestToken()
		if err != nil {
			t.Fatal(err)
		}
		at, as, err := conf.AccessToken(rt, rs, verifier)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{rt, rs, at, as} {
			if !gatehouse.IsOAuth1Value(v) {
				t.Fatalf("token %q is not 32 [a-z0-9]", v)
			}
		}
		if i, err := s.Admin.Integration(ctx, owner, integ.ID); err != nil || i.Status != gatehouse.IntegrationActive {
			t.Fatalf("integration after the exchange: %+v %v", i, err)
		}

		cap := &capture{}
		api := conf.Client(context.WithValue(ctx, oauth1.HTTPClient, &http.Client{Transport: cap}), oauth1.NewToken(at, as))
		if status, ref := get(t, api, base+"/rest/V1/products"); status != 200 {
			t.Fatalf("signed GET /rest/V1/products: %d %+v", status, ref)
		}
		status, ref := get(t, api, base+"/rest/V1/orders")
		wantRefused(t, "GET /rest/V1/orders", status, ref, 403, "INSUFFICIENT_SCOPE", "")

		t.Run("reused verifier", func(t *testing.T) {
			_, _, err := conf.AccessToken(rt2, rs2, verifier)
			if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "verifier_invalid") {
				t.Fatalf("AccessToken with a used verifier = %v", err)
			}
		})
		t.Run("reused request token", func(t *testing.T) {
			_, _, err := conf.AccessToken(rt, rs, verifier)
			if err == nil || !strings.Contains(err.Error(), "token_used") {
				t.Fatalf("AccessToken with a used request token = %v", err)
			}
		})
		t.Run("request token used as an access token", func(t *testing.T) {
			status, ref := get(t, conf.Client(ctx, oauth1.NewToken(rt2, rs2)), base+"/rest/V1/products")
			wantRefused(t, "request token", status, ref, 401, "UNKNOWN", "token_rejected")
		})
		t.Run("bad signature", func(t *testing.T) {
			status, ref := get(t, conf.Client(ctx, oauth1.NewToken(at, strings.Repeat("y", 32))), base+"/rest/V1/products")
			wantRefused(t, "wrong token secret", status, ref, 401, "UNKNOWN", "signature_invalid")
		})
		t.Run("wrong consumer secret", func(t *testing.T) {
			bad := *conf
			bad.Signer = &oauth1.HMAC256Signer{ConsumerSecret: strings.Repeat("z", 32)}
			status, ref := get(t, bad.Client(ctx, oauth1.NewToken(at, as)), base+"/rest/V1/products")
			wantRefused(t, "wrong consumer secret", status, ref, 401, "UNKNOWN", "signature_invalid")
		})
		t.Run("replayed nonce", func(t *testing.T) {
			if status, _ := get(t, api, base+"/rest/V1/products?page=1"); status != 200 {
				t.Fatal(status)
			}
			cap.mu.Lock()
			replay := cap.last.Clone(ctx)
			cap.mu.Unlock()
			replay.RequestURI = ""
			resp, err := http.DefaultClient.Do(replay)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ref oauth1Refusal
			json.Unmarshal(b, &ref)
			wantRefused(t, "replay", resp.StatusCode, ref, 401, "UNKNOWN", "nonce_used")

			t.Run("on a second node", func(t *testing.T) {
				if strings.HasPrefix(databaseURL, "sqlite:") {
					t.Skip("a second node needs the shared PostgreSQL (GATEHOUSE_TEST_POSTGRES)")
				}
				node2 := newOAuth1Node(t, databaseURL, clock)
				// A fresh signed call, made for node 1, then replayed to
				// node 2 with node 1's Host: the signature matches there,
				// and only the shared nonce refuses it.
				if status, _ := get(t, api, base+"/rest/V1/products?page=2"); status != 200 {
					t.Fatal(status)
				}
				cap.mu.Lock()
				replay := cap.last.Clone(ctx)
				cap.mu.Unlock()
				replay.RequestURI = ""
				u2, _ := url.Parse(node2.base)
				replay.URL.Host = u2.Host
				replay.Host = strings.TrimPrefix(base, "http://")
				resp, err := http.DefaultClient.Do(replay)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var ref oauth1Refusal
				json.Unmarshal(b, &ref)
				wantRefused(t, "replay on node 2", resp.StatusCode, ref, 401, "UNKNOWN", "nonce_used")
				// And node 2 does accept a fresh call with the same token.
				if status, ref := get(t, api, node2.base+"/rest/V1/products"); status != 200 {
					t.Fatalf("node 2 fresh call: %d %+v", status, ref)
				}
			})
		})
		t.Run("timestamp outside the window", func(t *testing.T) {
			defer clock.SetOffset(0)
			for _, d := range []time.Duration{601 * time.Second, -601 * time.Second} {
				clock.SetOffset(d) // the client's clock is now 601 s off the server's
				status, ref := get(t, api, base+"/rest/V1/products")
				wantRefused(t, "skew "+d.String(), status, ref, 401, "UNKNOWN", "timestamp_refused")
			}
			clock.SetOffset(590 * time.Second)
			if status, ref := get(t, api, base+"/rest/V1/products"); status != 200 {
				t.Fatalf("within the window: %d %+v", status, ref)
			}
		})

		verifyCaller, verifyToken, err := s.Admin.CreateCredential(ctx, owner, gatehouse.KindPAT, admin.CredentialInput{Name: "resource server", Scopes: []string{gatehouse.ScopeVerify}})
		if err != nil || verifyCaller == nil {
			t.Fatal(err)
		}
		verifyAt := func() verifyAnswer {
			t.Helper()
			var out verifyAnswer
			st, err := doJSON(ctx, http.DefaultClient, http.MethodPost, base+"/api/v1/verify", verifyToken,
				map[string]string{"credential": at, "resource": "catalog.products"}, &out)
			if err != nil || st != 200 {
				t.Fatalf("/api/v1/verify: %d %v", st, err)
			}
			return out
		}
		t.Run("bearer follows oauth1_tokens_as_bearer", func(t *testing.T) {
			status, ref := get(t, http.DefaultClient, base+"/rest/V1/products", "Authorization", "Bearer "+at)
			wantRefused(t, "bearer while off", status, ref, 401, "UNKNOWN", "oauth1_tokens_as_bearer")
			if a := verifyAt(); a.Valid || a.Code != "UNKNOWN" {
				t.Fatalf("verify while off: %+v", a)
			}
			set := gatehouse.DefaultSettings()
			set.OAuth1TokensAsBearer = true
			if err := s.Admin.UpdateSettings(ctx, owner, set); err != nil {
				t.Fatal(err)
			}
			if status, ref := get(t, http.DefaultClient, base+"/rest/V1/products", "Authorization", "Bearer "+at); status != 200 {
				t.Fatalf("bearer while on: %d %+v", status, ref)
			}
			status, ref = get(t, http.DefaultClient, base+"/rest/V1/orders", "Authorization", "Bearer "+at)
			wantRefused(t, "bearer outside the resources", status, ref, 403, "INSUFFICIENT_SCOPE", "")
			if a := verifyAt(); !a.Valid || a.Kind != "integration" || a.Subject != integ.ID || a.Tenant != "shop" {
				t.Fatalf("verify while on: %+v", a)
			}
			if err := s.Admin.UpdateSettings(ctx, owner, gatehouse.DefaultSettings()); err != nil {
				t.Fatal(err)
			}
			status, ref = get(t, http.DefaultClient, base+"/rest/V1/products", "Authorization", "Bearer "+at)
			wantRefused(t, "bearer off again", status, ref, 401, "UNKNOWN", "")
		})
		t.Run("guest routes follow the setting", func(t *testing.T) {
			status, ref := get(t, http.DefaultClient, base+"/rest/shop/V1/store/info")
			wantRefused(t, "anonymous while off", status, ref, 401, "MISSING", "")
			set := gatehouse.DefaultSettings()
			set.AllowAnonymousGuestAccess = true
			if err := s.Admin.UpdateSettings(ctx, owner, set); err != nil {
				t.Fatal(err)
			}
			if status, ref := get(t, http.DefaultClient, base+"/rest/shop/V1/store/info"); status != 200 {
				t.Fatalf("anonymous while on: %d %+v", status, ref)
			}
			if err := s.Admin.UpdateSettings(ctx, owner, gatehouse.DefaultSettings()); err != nil {
				t.Fatal(err)
			}
			status, ref = get(t, http.DefaultClient, base+"/rest/shop/V1/store/info")
			wantRefused(t, "anonymous off again", status, ref, 401, "MISSING", "")
		})

		t.Run("expired handshake", func(t *testing.T) {
			defer clock.SetOffset(0)
			other, err := s.Admin.CreateIntegration(ctx, owner, admin.IntegrationInput{
				Name: "Late Partner", CallbackURL: cb.srv.URL + "/late", Resources: []string{"catalog"}})
			if err != nil {
				t.Fatal(err)
			}
			if act, err := s.Admin.ActivateIntegration(ctx, owner, other.ID); err != nil || !act.Delivered() {
				t.Fatalf("activate: %v", err)
			}
			f := cb.last(t)
			late := &oauth1.Config{ConsumerKey: f.Get("oauth_consumer_key"), ConsumerSecret: f.Get("oauth_consumer_secret"),
				CallbackURL: "oob", Endpoint: endpoint}
			// 301 s later by the server's clock; the client's timestamps
			// stay within the window (it is the handshake that expired).
			clock.SetOffset(301 * time.Second)
			_, _, err = late.RequestToken()
			if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "consumer_key_rejected") ||
				!strings.Contains(err.Error(), "Consumer+key+has+expired") {
				t.Fatalf("RequestToken after the expiry = %v", err)
			}
		})

		t.Run("reauthorized token", func(t *testing.T) {
			if _, err := s.Admin.ReauthorizeIntegration(ctx, owner, integ.ID); err != nil {
				t.Fatal(err)
			}
			status, ref := get(t, api, base+"/rest/V1/products")
			wantRefused(t, "old token", status, ref, 401, "REVOKED", "revoked")
			// The new verifier reached the callback; the old one is refused.
			f := cb.last(t)
			if f.Get("oauth_verifier") == verifier {
				t.Fatal("reauthorize delivered the old verifier")
			}
			rt3, rs3, err := conf.RequestToken()
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := conf.AccessToken(rt3, rs3, verifier); err == nil || !strings.Contains(err.Error(), "verifier_invalid") {
				t.Fatalf("old verifier = %v", err)
			}
			at4, as4, err := conf.AccessToken(rt3, rs3, f.Get("oauth_verifier"))
			if err != nil {
				t.Fatal(err)
			}
			fresh := conf.Client(ctx, oauth1.NewToken(at4, as4))
			if status, ref := get(t, fresh, base+"/rest/V1/products"); status != 200 {
				t.Fatalf("new token: %d %+v", status, ref)
			}

			t.Run("deleted integration", func(t *testing.T) {
				if err := s.Admin.DeleteIntegration(ctx, owner, integ.ID); err != nil {
					t.Fatal(err)
				}
				status, ref := get(t, fresh, base+"/rest/V1/products")
				wantRefused(t, "after delete", status, ref, 401, "UNKNOWN", "consumer_key_rejected")
				if _, _, err := conf.RequestToken(); err == nil || !strings.Contains(err.Error(), "consumer_key_rejected") {
					t.Fatalf("RequestToken after delete = %v", err)
				}
			})
		})

		// The four secrets never sit in the database in plaintext.
		wantNoPlaintext(t, databaseURL, consumerSecret, as, rs, verifier)
	})
}

// TestOAuth1FormBodySigned signs a POST whose OAuth parameters
// and data travel in the form body (a PHP client's habit), through the
// token endpoint, checking that body parameters count and are forwarded.
func TestOAuth1FormBodySigned(t *testing.T) {
	ctx := context.Background()
	clock := testclock.Running()
	node := newOAuth1Node(t, "sqlite:"+filepath.Join(t.TempDir(), "gatehouse.db"), clock)
	tenant, err := node.s.Admin.CreateTenant(ctx, "shop", "Shop", gatehouse.PlanEnterprise)
	if err != nil {
		t.Fatal(err)
	}
	op := admin.Actor{TenantID: tenant.ID, Name: admin.OperatorName, Operator: true}
	integ, err := node.s.Admin.CreateIntegration(ctx, op, admin.IntegrationInput{Name: "No callback", AllResources: true})
	if err != nil {
		t.Fatal(err)
	}
	// Without a callback URL the tokens come at once (shown in the console).
	act, err := node.s.Admin.ActivateIntegration(ctx, op, integ.ID)
	if err != nil || act.AccessToken == "" {
		t.Fatalf("activate: %v %+v", err, act)
	}
	conf := oauth1.NewConfig(act.ConsumerKey, act.ConsumerSecret)
	client := conf.Client(ctx, oauth1.NewToken(act.AccessToken, act.AccessTokenSecret))
	body := url.Values{"sku": {"24-MB01"}, "name": {"Joust Duffle Bag"}}.Encode()
	resp, err := client.Post(node.base+"/rest/V1/products?store=default", "application/x-www-form-urlencoded", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The gateway let it through: the demo API itself answers (it wants
	// JSON, so a form body is its 400, not a gateway refusal).
	var ref oauth1Refusal
	json.Unmarshal(b, &ref)
	if resp.StatusCode == 401 || resp.StatusCode == 403 || ref.Error.Code != "bad_request" {
		t.Fatalf("signed form POST: %d %s", resp.StatusCode, b)
	}
}
