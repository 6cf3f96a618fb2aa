package oauth1

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// magentoHeader is the Authorization header of Magento's OauthClient at
// /oauth/token/access: oauth_verifier among the protocol parameters.
const magentoHeader = `OAuth oauth_consumer_key="k", oauth_nonce="n", oauth_signature_method="HMAC-SHA256", oauth_timestamp="1", oauth_version="1.0", oauth_token="t", oauth_verifier="v", oauth_signature="s%3D"`

func magentoRequest(target, body, auth string) *http.Request {
	r := httptest.NewRequest("POST", "http://h"+target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

// TestCollectMagentoEchoes: when the header carries the protocol
// parameters, one copy of a header parameter in the body and one in the
// query with the same value are dropped (Magento's
// Helper\Request::_processRequest ignores them; docs/oauth1.md), and the
// rest of the query and body still counts.
func TestCollectMagentoEchoes(t *testing.T) {
	header, err := ParseAuthorization(magentoHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, target, body string
		rest               Params // after the header's parameters
	}{
		{"body echo (Magento's access token request)", "/oauth/token/access", "oauth_verifier=v", nil},
		{"query echo", "/p?oauth_verifier=v", "", nil},
		{"echo in both, among other parameters", "/p?a=1&oauth_token=t&b=2", "x=1&oauth_verifier=v&oauth_nonce=n&y=", Params{{"a", "1"}, {"b", "2"}, {"x", "1"}, {"y", ""}}},
		{"encoded name and value", "/p?oauth%5Fsignature=s%3D", "oauth_verifier=%76", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := magentoRequest(c.target, c.body, magentoHeader)
			ps, where, err := Collect(r)
			if err != nil || where != Header {
				t.Fatalf("Collect = %v %v, want the header", where, err)
			}
			if diff := cmp.Diff(append(append(Params{}, header...), c.rest...), ps); diff != "" {
				t.Fatalf("params (-want +got):\n%s", diff)
			}
			if got, err := Locate(magentoRequest(c.target, c.body, magentoHeader)); err != nil || got != Header {
				t.Fatalf("Locate = %v %v, want the header", got, err)
			}
			if b, _ := io.ReadAll(r.Body); string(b) != c.body {
				t.Fatalf("body put back as %q", b)
			}
		})
	}
}

// TestCollectMagentoEchoRefusals: nothing but a same-valued single copy
// of a header parameter is let through; every other mixture keeps its
// old answer, 400 parameter_rejected, from Collect and Locate alike.
func TestCollectMagentoEchoRefusals(t *testing.T) {
	for _, c := range []struct{ name, target, body, auth, advice string }{
		{"different value in the body", "/p", "oauth_verifier=w", magentoHeader, "differs"},
		{"different value in the query", "/p?oauth_token=u", "", magentoHeader, "differs"},
		{"empty value against a value", "/p", "oauth_verifier=", magentoHeader, "differs"},
		{"echo twice in the body", "/p", "oauth_verifier=v&oauth_verifier=v", magentoHeader, "more than once"},
		{"echo twice in the query", "/p?oauth_nonce=n&oauth_nonce=n", "", magentoHeader, "more than once"},
		{"echo and another protocol parameter in the body", "/p", "oauth_verifier=v&oauth_callback=x", magentoHeader, "RFC 5849 §3.5"},
		{"header and body without duplicates", "/p", "oauth_token=t", `OAuth oauth_consumer_key="k"`, "RFC 5849 §3.5"},
		{"header and query without duplicates", "/p?oauth_verifier=v", "", `OAuth oauth_consumer_key="k"`, "RFC 5849 §3.5"},
		{"an empty OAuth header and the body", "/p", "oauth_verifier=v", `OAuth realm="r"`, "RFC 5849 §3.5"},
		{"query and body echo each other", "/p?oauth_verifier=v", "oauth_verifier=v", "", "RFC 5849 §3.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Collect(magentoRequest(c.target, c.body, c.auth))
			if p, ok := err.(*Problem); !ok || p.Name != ParameterRejected || p.Status() != 400 || !strings.Contains(p.Advice, c.advice) {
				t.Fatalf("Collect error %v, want 400 parameter_rejected (%q)", err, c.advice)
			}
			where, lerr := Locate(magentoRequest(c.target, c.body, c.auth))
			if p, ok := lerr.(*Problem); !ok || p.Name != ParameterRejected || !strings.Contains(p.Advice, c.advice) {
				t.Fatalf("Locate = %v %v, want parameter_rejected (%q)", where, lerr, c.advice)
			}
		})
	}
	// Two Authorization headers, even one a copy of the other.
	r := magentoRequest("/p", "oauth_verifier=v", magentoHeader)
	r.Header.Add("Authorization", magentoHeader)
	if _, _, err := Collect(r); err == nil {
		t.Fatal("two Authorization headers accepted")
	}
	r = magentoRequest("/p", "oauth_verifier=v", magentoHeader)
	r.Header.Add("Authorization", magentoHeader)
	if _, err := Locate(r); err == nil {
		t.Fatal("Locate: two Authorization headers and a body parameter accepted")
	}
	// A header Collect refuses allows no echo.
	if _, err := Locate(magentoRequest("/p", "oauth_verifier=v", magentoHeader+`, oauth_verifier="v"`)); err == nil {
		t.Fatal("Locate: an echo of a malformed header accepted")
	}
}

// TestStripHeaderEchoes: a proxy forwards the query and body of a
// header-signed request without the echoes, every other byte kept.
func TestStripHeaderEchoes(t *testing.T) {
	r := magentoRequest("/p?a=1&oauth_token=t&b=%20", "x=1&oauth%5Fverifier=v&y=", magentoHeader)
	if where, err := Locate(r); err != nil || where != Header {
		t.Fatal(where, err)
	}
	Strip(r, Header)
	if r.URL.RawQuery != "a=1&b=%20" {
		t.Fatalf("query %q", r.URL.RawQuery)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != "x=1&y=" || r.ContentLength != 6 {
		t.Fatalf("body %q, length %d", b, r.ContentLength)
	}
	// Without echoes nothing changes, not even an odd query.
	r = magentoRequest("/p?a=1&&b", "x=1&&y", magentoHeader)
	Locate(r)
	Strip(r, Header)
	if b, _ := io.ReadAll(r.Body); r.URL.RawQuery != "a=1&&b" || string(b) != "x=1&&y" {
		t.Fatalf("query %q body %q", r.URL.RawQuery, b)
	}
}

// TestMagentoAccessTokenShape runs Magento's OauthClient request shape
// through the provider: the signature covers oauth_verifier once (the
// header's), the body repeats it; the access token is issued, and the
// signed API call with an echo of oauth_token in the query passes too.
func TestMagentoAccessTokenShape(t *testing.T) {
	e := newEnv(t)
	rt, rs := e.requestToken(call{})
	magento := call{path: "/oauth/token/access", key: e.key, sec: e.sec, token: rt, tsec: rs,
		extra: map[string]string{"oauth_verifier": e.verifier}}

	t.Run("a different verifier in the body", func(t *testing.T) {
		c := magento
		c.echoBody = url.Values{"oauth_verifier": {strings.Repeat("0", 32)}}
		status, v, body := e.do(c)
		wantProblem(t, status, v, body, 400, ParameterRejected)
	})
	t.Run("signed over the verifier twice", func(t *testing.T) {
		// What Magento's server does not accept either: it signs the
		// header's verifier only.
		c := magento
		c.form = url.Values{"oauth_verifier": {e.verifier}}
		status, v, body := e.do(c)
		wantProblem(t, status, v, body, 401, SignatureInvalid)
	})

	c := magento
	c.echoBody = url.Values{"oauth_verifier": {e.verifier}}
	status, v, body := e.do(c)
	if status != http.StatusOK {
		t.Fatalf("Magento-shaped access token request: %d %s", status, body)
	}
	at, as := v.Get("oauth_token"), v.Get("oauth_token_secret")
	status, _, body = e.do(call{path: "/api/products?page=1", method: http.MethodGet, key: e.key, sec: e.sec, token: at, tsec: as,
		echoQuery: url.Values{"oauth_token": {at}}})
	if status != http.StatusOK || !strings.HasPrefix(body, "token="+at) {
		t.Fatalf("API call with an echo: %d %s", status, body)
	}
	// The PHPoAuthLib-based client's signed form POST: its form
	// parameters in the header too, signed once.
	status, _, body = e.do(call{path: "/api/products", key: e.key, sec: e.sec, token: at, tsec: as,
		form: url.Values{"sku": {"24-MB01"}, "name": {"Joust Duffle Bag"}}, formInHeader: true})
	if status != http.StatusOK || !strings.Contains(body, "sku=24-MB01") {
		t.Fatalf("API call with its form in the header: %d %s", status, body)
	}
}

// TestCollectHeaderCustomEchoes: a name that is not oauth_* may stand in
// the header only as a copy of a query or body parameter with the same
// value (Magento's PHPoAuthLib-based OauthClient); it is counted once,
// where it is repeated. Anything else is refused as before.
func TestCollectHeaderCustomEchoes(t *testing.T) {
	auth := `OAuth oauth_consumer_key="k", oauth_token="t", sku="24-MB01", name="Joust%20Duffle%20Bag"`
	r := magentoRequest("/p?sku=24-MB01", "name=Joust+Duffle+Bag&qty=1", auth)
	ps, where, err := Collect(r)
	if err != nil || where != Header {
		t.Fatalf("Collect = %v %v", where, err)
	}
	want := Params{{"oauth_consumer_key", "k"}, {"oauth_token", "t"}, {"sku", "24-MB01"}, {"name", "Joust Duffle Bag"}, {"qty", "1"}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Fatalf("params (-want +got):\n%s", diff)
	}
	if where, err := Locate(magentoRequest("/p?sku=24-MB01", "name=Joust+Duffle+Bag&qty=1", auth)); err != nil || where != Header {
		t.Fatalf("Locate = %v %v", where, err)
	}
	for _, c := range []struct{ name, target, body, auth string }{
		{"not repeated anywhere", "/p", "qty=1", auth},
		{"another value", "/p?sku=24-MB02", "name=Joust+Duffle+Bag", auth},
		{"twice in the header", "/p?sku=1", "", `OAuth oauth_token="t", sku="1", sku="1"`},
		{"a JSON body is no copy", "/p", "", `OAuth oauth_token="t", sku="1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := magentoRequest(c.target, c.body, c.auth)
			if c.name == "a JSON body is no copy" {
				r = httptest.NewRequest("POST", "http://h/p", strings.NewReader("sku=1"))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", c.auth)
			}
			_, _, err := Collect(r)
			if p, ok := err.(*Problem); !ok || p.Name != ParameterRejected || p.Status() != 400 {
				t.Fatalf("Collect error %v, want 400 parameter_rejected", err)
			}
		})
	}
	// ParseAuthorization itself still refuses them.
	if _, err := ParseAuthorization(auth); err == nil {
		t.Fatal("ParseAuthorization accepted a custom name")
	}
}
