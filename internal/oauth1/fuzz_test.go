package oauth1

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseAuthorization feeds arbitrary Authorization values to the
// header parser. It must never panic; what it accepts must be oauth_*
// parameters only, each once, and must survive re-encoding: parsing the
// header rebuilt from the result gives the same parameters.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		`OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D"`,
		`OAuth oauth_consumer_key="k",oauth_nonce="n"`,
		`oauth oauth_token=abc`,
		"OAuth\t,, oauth_nonce=\"\" ,",
		`OAuth oauth_token="a", oauth_token="b"`,
		`OAuth oauth_token="a\"b"`,
		`OAuth oauth_token="%zz"`,
		`OAuth oauth_token="%E2%82%AC"`,
		`OAuth realm`,
		`OAuth =`,
		`OAuth "`,
		`Bearer x`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ParseAuthorization(in)
		if err != nil {
			if _, ok := err.(*Problem); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		seen := map[string]bool{}
		var b strings.Builder
		b.WriteString("OAuth ")
		for i, p := range ps {
			if !strings.HasPrefix(p.Name, "oauth_") || seen[p.Name] {
				t.Fatalf("accepted %q (duplicate or not a protocol parameter) from %q", p.Name, in)
			}
			seen[p.Name] = true
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(Encode(p.Name) + `="` + Encode(p.Value) + `"`)
		}
		if b.Len() > MaxHeaderLen {
			return // re-encoding may grow it past the limit
		}
		again, err := ParseAuthorization(b.String())
		if err != nil {
			t.Fatalf("re-encoded header %q refused: %v", b.String(), err)
		}
		if len(again) != len(ps) {
			t.Fatalf("round trip: %v != %v", again, ps)
		}
		for i := range ps {
			if again[i] != ps[i] {
				t.Fatalf("round trip: %v != %v", again, ps)
			}
		}
	})
}

// FuzzBaseString feeds arbitrary requests (method, host, target, form
// body) through parameter collection and base string construction. It
// must never panic; after the method, a base string must have exactly two
// "&"-separated parts made only of unreserved characters and "%", and signing with
// either HMAC must verify.
func FuzzBaseString(f *testing.F) {
	f.Add("POST", "example.com", "/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", "c2&a3=2+q", `OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_nonce="7d8f3e4a"`)
	f.Add("GET", "Example.COM:80", "/", "", "")
	f.Add("GET", "[::1]:443", "/a%2Fb?x=%zz", "", "")
	f.Add("PUT", "h", "/p?a=1&a=1&a=0", "a=%FF&b", `OAuth oauth_token="t"`)
	f.Add("get", "h:8080", "/p?;", "x=1;y=2", "OAuth")
	f.Fuzz(func(t *testing.T, method, host, target, body, auth string) {
		if !validToken(method) || strings.ContainsAny(host, " \r\n\t/?#") || host == "" ||
			!strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") ||
			strings.ContainsAny(auth, "\r\n\x00") {
			return // not a request an HTTP server would hand over
		}
		r := httptest.NewRequest("GET", "http://placeholder/", strings.NewReader(body))
		r.Method = method
		r.Host = host
		r.RequestURI = target
		path, query, _ := strings.Cut(target, "?")
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, path, query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		ps, err := Collect(r)
		if err != nil {
			return
		}
		uri := SignedURL(r, nil)
		for _, order := range []Order{ByteOrder, NaturalOrder} {
			base := BaseString(r.Method, uri, ps, order)
			// The method is a token and may itself hold "&"; the URI and
			// the parameters never do.
			parts := strings.Split(strings.TrimPrefix(base, strings.ToUpper(r.Method)+"&"), "&")
			if len(parts) != 2 {
				t.Fatalf("base string %q has %d encoded parts", base, len(parts))
			}
			for _, c := range []byte(parts[0] + parts[1]) {
				if !unreserved(c) && c != '%' {
					t.Fatalf("base string %q has an unencoded %q", base, c)
				}
			}
		}
		for _, m := range []string{HMACSHA1, HMACSHA256} {
			signedPs := append(Params{{"oauth_signature_method", m}}, ps...)
			if _, dup := ps.Get("oauth_signature_method"); dup {
				continue
			}
			sig := Sign(m, "cs", "ts", BaseString(r.Method, uri, signedPs, ByteOrder))
			signedPs = append(signedPs, Param{"oauth_signature", sig})
			if _, dup := ps.Get("oauth_signature"); dup {
				continue
			}
			if !checkSignature(r.Method, uri, signedPs, "cs", "ts") {
				t.Fatalf("own %s signature does not verify", m)
			}
		}
	})
}
