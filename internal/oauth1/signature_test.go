package oauth1

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func goldenRequest(t *testing.T) *http.Request {
	t.Helper()
	raw := strings.ReplaceAll(readGolden(t, "rfc5849_3.4.1.1_request.txt"), "\n", "\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	r.RemoteAddr = "192.0.2.1:1234"
	return r
}

// TestRFC5849Example checks the base string and HMAC-SHA1 signature of
// RFC 5849 §3.4.1.1's example request against golden files.
func TestRFC5849Example(t *testing.T) {
	r := goldenRequest(t)
	ps, _, err := Collect(r)
	if err != nil {
		t.Fatal(err)
	}
	uri := SignedURL(r, nil)
	if uri != "http://example.com/request" {
		t.Fatalf("base string URI = %q", uri)
	}
	base := BaseString(r.Method, uri, ps, ByteOrder)
	if want := readGolden(t, "rfc5849_3.4.1.1_base_string.txt"); base != want {
		t.Fatalf("base string:\n got %s\nwant %s", base, want)
	}
	sig := Sign(HMACSHA1, "j49sk3j29djd", "dh893hdasih9", base)
	if want := readGolden(t, "rfc5849_3.4.1.1_signature.txt"); sig != want {
		t.Fatalf("signature = %s, want %s", sig, want)
	}
	if !checkSignature(r.Method, uri, ps, "j49sk3j29djd", "dh893hdasih9") {
		t.Fatal("the RFC example does not verify")
	}
	if checkSignature(r.Method, uri, ps, "j49sk3j29djd", "wrong") {
		t.Fatal("verified with a wrong token secret")
	}
	// The body was put back for a proxy to forward.
	b := new(strings.Builder)
	if _, err := bufio.NewReader(r.Body).WriteTo(b); err != nil || b.String() != "c2&a3=2+q" {
		t.Fatalf("body after Collect = %q, %v", b.String(), err)
	}
}

// TestRFC5849Normalization is §3.4.1.3.2's own example.
func TestRFC5849Normalization(t *testing.T) {
	r := goldenRequest(t)
	ps, _, err := Collect(r)
	if err != nil {
		t.Fatal(err)
	}
	want := "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"
	if got := NormalizedParams(ps, ByteOrder); got != want {
		t.Fatalf("normalized:\n got %s\nwant %s", got, want)
	}
}

func TestEncode(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"abcXYZ019-._~": "abcXYZ019-._~",
		"a b":           "a%20b",
		"=%3D":          "%3D%253D",
		"c@":            "c%40",
		"+/":            "%2B%2F",
		"ü":             "%C3%BC",
		"*'()!":         "%2A%27%28%29%21",
	} {
		if got := Encode(in); got != want {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBaseStringURI(t *testing.T) {
	for _, c := range []struct{ scheme, host, path, want string }{
		{"HTTP", "EXAMPLE.COM:80", "/r%20v/X", "http://example.com/r%20v/X"}, // §3.4.1.2's example
		{"https", "www.example.net:8080", "/?q=1", "https://www.example.net:8080/?q=1"},
		{"https", "Example.com:443", "/a", "https://example.com/a"},
		{"http", "example.com:443", "/a", "http://example.com:443/a"},
		{"https", "example.com:80", "/a", "https://example.com:80/a"},
		{"http", "[::1]:80", "/a", "http://[::1]/a"},
		{"http", "[::1]:8080", "", "http://[::1]:8080/"},
	} {
		if got := BaseStringURI(c.scheme, c.host, c.path); got != c.want {
			t.Errorf("BaseStringURI(%q, %q, %q) = %q, want %q", c.scheme, c.host, c.path, got, c.want)
		}
	}
}

func TestSignedURLScheme(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := httptest.NewRequest("GET", "http://shop.test/rest/V1/products?x=1", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.RemoteAddr = "203.0.113.9:555"
	if got := SignedURL(r, trusted); got != "http://shop.test/rest/V1/products" {
		t.Fatalf("untrusted peer: %s", got)
	}
	r.RemoteAddr = "10.1.2.3:555"
	if got := SignedURL(r, trusted); got != "https://shop.test/rest/V1/products" {
		t.Fatalf("trusted proxy: %s", got)
	}
	r.Header.Set("X-Forwarded-Proto", "gopher")
	if got := SignedURL(r, trusted); got != "http://shop.test/rest/V1/products" {
		t.Fatalf("bogus proto: %s", got)
	}
}

func TestSignatureMethods(t *testing.T) {
	base := readGolden(t, "rfc5849_3.4.1.1_base_string.txt")
	// HMAC-SHA256 of the same base string, computed independently with
	// openssl dgst -sha256 -hmac 'j49sk3j29djd&dh893hdasih9' -binary | base64.
	if got, want := Sign(HMACSHA256, "j49sk3j29djd", "dh893hdasih9", base), "lIfydhbOitvsm4DvUwgM0NdR1Mzd08HnXI+q+EG0QKo="; got != want {
		t.Fatalf("HMAC-SHA256 = %s, want %s", got, want)
	}
	for _, m := range []string{"PLAINTEXT", "RSA-SHA1", "hmac-sha1", ""} {
		if got := Sign(m, "a", "b", base); got != "" {
			t.Fatalf("Sign(%q) = %q, want nothing", m, got)
		}
	}
	// Secrets are encoded into the key (§3.4.2).
	if Sign(HMACSHA1, "a&b", "", "x") == Sign(HMACSHA1, "a", "b", "x") {
		t.Fatal("the key is not encoded")
	}
}

func TestNaturalOrder(t *testing.T) {
	ps := Params{{"a10", "x"}, {"a9", "y"}, {"oauth_nonce", "n"}, {"b", "v10"}, {"b", "v9"}}
	if got, want := NormalizedParams(ps, ByteOrder), "a10=x&a9=y&b=v10&b=v9&oauth_nonce=n"; got != want {
		t.Fatalf("byte order: %s", got)
	}
	if got, want := NormalizedParams(ps, NaturalOrder), "a9=y&a10=x&b=v9&b=v10&oauth_nonce=n"; got != want {
		t.Fatalf("natural order: %s", got)
	}
	// A signature made over the natural order (a Magento PHP client) verifies.
	ps = append(ps, Param{"oauth_signature_method", HMACSHA1})
	sig := Sign(HMACSHA1, "cs", "ts", BaseString("GET", "http://h/x", ps, NaturalOrder))
	ps = append(ps, Param{"oauth_signature", sig})
	if !checkSignature("GET", "http://h/x", ps, "cs", "ts") {
		t.Fatal("natural-order signature refused")
	}
}

func TestNatCompare(t *testing.T) {
	// Expected values are PHP's strnatcmp results.
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a1", "a2", -1},
		{"a2", "a10", -1},
		{"a10", "a2", 1},
		{"abc1", "abc15", -1},
		{"x01", "x1", -1}, // fractional: "01" < "1"
		{"x1.5", "x1.10", -1},
		{"img12", "img10", 1},
		{"a", "ab", -1},
		{"oauth_consumer_key", "oauth_nonce", -1},
		{"007", "7", 0}, // leading zeros at the start are skipped
	} {
		if got := natCompare(c.a, c.b); got != c.want {
			t.Errorf("natCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	ok := []struct {
		in   string
		want Params
	}{
		{`OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_signature="r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D"`,
			Params{{"oauth_consumer_key", "9djdj82h48djs9d2"}, {"oauth_signature", "r6/TJjbCOr97/+UU0NsvSne7s5g="}}},
		{`oauth oauth_nonce="a+b%20c"`, Params{{"oauth_nonce", "a+b c"}}},
		{"OAuth\toauth_token=abc,,oauth_nonce=\"\" ,", Params{{"oauth_token", "abc"}, {"oauth_nonce", ""}}},
		{`OAuth`, nil},
		{`OAuth realm=""`, nil},
	}
	for _, c := range ok {
		got, err := ParseAuthorization(c.in)
		if err != nil {
			t.Errorf("ParseAuthorization(%q): %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParseAuthorization(%q) (-want +got):\n%s", c.in, diff)
		}
	}
	bad := []string{
		`Bearer abc`,
		`OAuthx oauth_token="a"`,
		`OAuth oauth_token="a", oauth_token="b"`,
		`OAuth realm="a", realm="b"`,
		`OAuth oauth_token="a" oauth_nonce="b"`,
		`OAuth oauth_token="a`,
		`OAuth oauth_token="a\"b"`,
		`OAuth ="a"`,
		`OAuth oauth_token`,
		`OAuth oauth_token="%zz"`,
		`OAuth x_custom="1"`,
		`OAuth oauth token="1"`,
		"OAuth " + strings.Repeat("a", MaxHeaderLen),
	}
	for _, in := range bad {
		if ps, err := ParseAuthorization(in); err == nil {
			t.Errorf("ParseAuthorization(%q) = %v, want an error", in, ps)
		} else if p, ok := err.(*Problem); !ok || p.Name != ParameterRejected || p.Status() != 400 {
			t.Errorf("ParseAuthorization(%q) error = %v, want a 400 parameter_rejected", in, err)
		}
	}
}

func TestCollectSources(t *testing.T) {
	// RFC 5849 §3.4.1.3.1: header (realm left out), query and form body
	// are all signed; §3.5: the protocol parameters travel in exactly one.
	for _, c := range []struct {
		name, target, body, auth string
		where                    Transport
		want                     Params
	}{
		{"header", "/p?q=1", "f=2&f=1", `OAuth realm="r", oauth_consumer_key="k", oauth_nonce="n1"`, Header,
			Params{{"oauth_consumer_key", "k"}, {"oauth_nonce", "n1"}, {"q", "1"}, {"f", "2"}, {"f", "1"}}},
		{"query", "/p?oauth_nonce=n1&q=1&oauth_consumer_key=k", "f=2&f=1", "", Query,
			Params{{"oauth_nonce", "n1"}, {"q", "1"}, {"oauth_consumer_key", "k"}, {"f", "2"}, {"f", "1"}}},
		{"body", "/p?q=1", "oauth_token=t&f=2&f=1&oauth_consumer_key=k", "", Body,
			Params{{"q", "1"}, {"oauth_token", "t"}, {"f", "2"}, {"f", "1"}, {"oauth_consumer_key", "k"}}},
		{"none", "/p?q=1", "f=2", "", None, Params{{"q", "1"}, {"f", "2"}}},
		{"a Bearer header is not a source", "/p?oauth_nonce=n", "", "Bearer x", Query, Params{{"oauth_nonce", "n"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://h"+c.target, strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			ps, where, err := Collect(r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, ps); diff != "" || where != c.where {
				t.Fatalf("transport %v, want %v; params (-want +got):\n%s", where, c.where, diff)
			}
			if got, err := Locate(r); err != nil || got != c.where {
				t.Fatalf("Locate = %v %v, want %v", got, err, c.where)
			}
			if b, _ := io.ReadAll(r.Body); string(b) != c.body {
				t.Fatalf("body put back as %q", b)
			}
		})
	}
	for _, c := range []struct{ name, target, body, auth string }{
		{"header and query", "/p?oauth_token=t", "", `OAuth oauth_consumer_key="k"`},
		{"header and body", "/p", "oauth_token=t", `OAuth oauth_consumer_key="k"`},
		{"query and body", "/p?oauth_consumer_key=k", "oauth_token=t", ""},
		{"an empty OAuth header and the query", "/p?oauth_consumer_key=k", "", `OAuth realm="r"`},
		{"encoded name in the query", "/p?oauth%5Ftoken=t", "", `OAuth oauth_consumer_key="k"`},
		{"twice in the query", "/p?oauth_nonce=a&oauth_nonce=a", "", ""},
		{"twice in the body", "/p", "oauth_nonce=a&oauth_nonce=b", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://h"+c.target, strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			_, _, err := Collect(r)
			if p, ok := err.(*Problem); !ok || p.Name != ParameterRejected {
				t.Fatalf("Collect error %v, want parameter_rejected", err)
			}
		})
	}
	// A JSON body is not a parameter source.
	r := httptest.NewRequest("POST", "http://h/p", strings.NewReader(`oauth_token=t`))
	r.Header.Set("Content-Type", "application/json")
	if ps, _, err := Collect(r); err != nil || len(ps) != 0 {
		t.Fatalf("json body: %v %v", ps, err)
	}
	// Two Authorization headers are refused.
	r = httptest.NewRequest("GET", "http://h/p", nil)
	r.Header.Add("Authorization", `OAuth oauth_nonce="b"`)
	r.Header.Add("Authorization", `OAuth oauth_token="b"`)
	if _, _, err := Collect(r); err == nil {
		t.Fatal("two Authorization headers accepted")
	}
	// A form body over the limit is refused.
	r = httptest.NewRequest("POST", "http://h/p", strings.NewReader("a="+strings.Repeat("x", MaxFormBody)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, _, err := Collect(r); err == nil {
		t.Fatal("huge body accepted")
	}
	// Locate puts a body over the limit back whole, and refuses one whose
	// first MiB names a protocol parameter.
	big := "a=" + strings.Repeat("x", MaxFormBody) + "&oauth_token=t"
	r = httptest.NewRequest("POST", "http://h/p", strings.NewReader(big))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if where, err := Locate(r); err != nil || where != None {
		t.Fatalf("Locate on a huge body: %v %v", where, err)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != big {
		t.Fatalf("huge body put back with %d bytes, want %d", len(b), len(big))
	}
	r = httptest.NewRequest("POST", "http://h/p", strings.NewReader("oauth_token=t&"+big))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := Locate(r); err == nil {
		t.Fatal("Locate accepted a huge signed body")
	}
}

func TestStrip(t *testing.T) {
	r := httptest.NewRequest("POST", "http://h/p?a=1&oauth_token=t&oauth%5Fnonce=n&b=%20", strings.NewReader("x=1&oauth_signature=s%3D&y=&oauth_token=t"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	Strip(r, Query)
	if r.URL.RawQuery != "a=1&b=%20" {
		t.Fatalf("query %q", r.URL.RawQuery)
	}
	if _, _, err := Collect(r); err != nil {
		t.Fatal(err)
	}
	Strip(r, Body)
	if b, _ := io.ReadAll(r.Body); string(b) != "x=1&y=" || r.ContentLength != 6 {
		t.Fatalf("body %q, length %d", b, r.ContentLength)
	}
}

func TestProblemBody(t *testing.T) {
	p := &Problem{Name: ConsumerKeyRejected, Advice: ConsumerKeyExpired}
	if got, want := p.Body(), "oauth_problem=consumer_key_rejected&oauth_problem_advice=Consumer+key+has+expired"; got != want {
		t.Fatalf("Body = %s", got)
	}
	p = &Problem{Name: ParameterAbsent, Advice: "missing", Absent: []string{"oauth_nonce", "oauth_token"}}
	if got, want := p.Body(), "oauth_problem=parameter_absent&oauth_problem_advice=missing&oauth_parameters_absent=oauth_nonce%26oauth_token"; got != want {
		t.Fatalf("Body = %s", got)
	}
}
