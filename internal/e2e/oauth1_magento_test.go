package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dghubble/oauth1"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// magentoShape sits under dghubble/oauth1's access token request and
// turns it into exactly what Magento 2's OauthClient sends (the
// PHPoAuthLib form and the 2.4.7+ rewrite alike): the Authorization header
// as signed, oauth_verifier among its parameters, and the verifier again
// as the form body, "oauth_verifier=…", unsigned a second time (the
// client's signature covers it once). body overrides the body sent.
type magentoShape struct {
	verifier string
	body     string
	t        *testing.T
}

func (m magentoShape) RoundTrip(r *http.Request) (*http.Response, error) {
	auth := r.Header.Get("Authorization")
	if !strings.Contains(auth, `oauth_verifier="`+m.verifier+`"`) || r.ContentLength > 0 {
		m.t.Errorf("dghubble/oauth1 sent %q with %d bytes of body; the test expects the verifier in the header only", auth, r.ContentLength)
	}
	body := "oauth_verifier=" + url.QueryEscape(m.verifier)
	if m.body != "" {
		body = m.body
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return http.DefaultTransport.RoundTrip(r)
}

// TestOAuth1MagentoClientShape is issue 15's done-means 2: a client that
// sends Magento's OauthClient request shape (oauth_verifier in the header
// and in the form body) runs the whole integration handshake against a
// real Gatehouse — activation POSTs the consumer and the verifier to the
// callback URL, request token, access token — and calls the demo store
// API through the gateway with the access token. A body verifier that
// differs from the header's is refused (400 parameter_rejected) without
// spending the request token.
func TestOAuth1MagentoClientShape(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		ctx := context.Background()
		node := newOAuth1Node(t, databaseURL, testclock.Running())
		s, base := node.s, node.base
		tenant, err := s.Admin.CreateTenant(ctx, "shop", "Luma Shop", gatehouse.PlanEnterprise)
		if err != nil {
			t.Fatal(err)
		}
		op := admin.Actor{TenantID: tenant.ID, Name: admin.OperatorName, Operator: true}
		cb := newPartner(t)
		integ, err := s.Admin.CreateIntegration(ctx, op, admin.IntegrationInput{
			Name: "Magento Partner", Email: "dev@partner.test", CallbackURL: cb.srv.URL + "/endpoint",
			Resources: []string{"catalog"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if act, err := s.Admin.ActivateIntegration(ctx, op, integ.ID); err != nil || !act.Delivered() {
			t.Fatalf("activate: %v %+v", err, act)
		}
		form := cb.last(t)
		key, sec, verifier := form.Get("oauth_consumer_key"), form.Get("oauth_consumer_secret"), form.Get("oauth_verifier")

		// Magento's client signs with HMAC-SHA256 (2.4.7+; SHA-1 before).
		conf := &oauth1.Config{
			ConsumerKey: key, ConsumerSecret: sec, CallbackURL: base,
			Endpoint: oauth1.Endpoint{RequestTokenURL: base + "/oauth/token/request", AccessTokenURL: base + "/oauth/token/access"},
			Signer:   &oauth1.HMAC256Signer{ConsumerSecret: sec},
		}
		rt, rs, err := conf.RequestToken()
		if err != nil {
			t.Fatal(err)
		}

		wrong := *conf
		wrong.HTTPClient = &http.Client{Transport: magentoShape{verifier: verifier, body: "oauth_verifier=" + strings.Repeat("0", 32), t: t}}
		if _, _, err := wrong.AccessToken(rt, rs, verifier); err == nil || !strings.Contains(err.Error(), "400") ||
			!strings.Contains(err.Error(), "parameter_rejected") || !strings.Contains(err.Error(), "differs") {
			t.Fatalf("a different verifier in the body: %v", err)
		}

		magento := *conf
		magento.HTTPClient = &http.Client{Transport: magentoShape{verifier: verifier, t: t}}
		at, as, err := magento.AccessToken(rt, rs, verifier)
		if err != nil {
			t.Fatalf("Magento-shaped access token request: %v", err)
		}
		if i, err := s.Admin.Integration(ctx, op, integ.ID); err != nil || i.Status != gatehouse.IntegrationActive {
			t.Fatalf("integration after the exchange: %+v %v", i, err)
		}
		// The request token went with the exchange, the shape aside.
		if _, _, err := magento.AccessToken(rt, rs, verifier); err == nil || !strings.Contains(err.Error(), "token_used") {
			t.Fatalf("second exchange: %v", err)
		}

		api := conf.Client(ctx, oauth1.NewToken(at, as))
		if status, ref := get(t, api, base+"/rest/V1/products"); status != http.StatusOK {
			t.Fatalf("signed GET /rest/V1/products through the gateway: %d %+v", status, ref)
		}
		status, ref := get(t, api, base+"/rest/V1/orders")
		wantRefused(t, "GET /rest/V1/orders", status, ref, 403, "INSUFFICIENT_SCOPE", "")

		// The PHPoAuthLib-based client's form-encoded POST: the form is
		// signed, and copied into the header too.
		formCopy := conf.Client(context.WithValue(ctx, oauth1.HTTPClient, &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", r.Header.Get("Authorization")+`, sku="24-MB01", name="Joust%20Duffle%20Bag"`)
			return http.DefaultTransport.RoundTrip(r)
		})}), oauth1.NewToken(at, as))
		body := url.Values{"sku": {"24-MB01"}, "name": {"Joust Duffle Bag"}}.Encode()
		resp, err := formCopy.Post(base+"/rest/V1/products", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Past the gateway, the demo API answers itself (it wants JSON).
		var got oauth1Refusal
		json.Unmarshal(b, &got)
		if got.Error.Code != "bad_request" {
			t.Fatalf("form POST with the form in the header: %d %s", resp.StatusCode, b)
		}
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
