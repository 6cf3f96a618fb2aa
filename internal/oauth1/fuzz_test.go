package oauth1

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
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
		ps, _, err := Collect(r)
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

// FuzzCollectParams feeds an Authorization header, a query and a form body
// to Collect (RFC 5849 §3.4.1.3.1 and §3.5). It must never panic, and
// must agree with a reference decoding: url.ParseQuery for the query and
// the body, ParseAuthorization for the header (its other names apart). Collect accepts exactly
// when every source decodes, the protocol parameters (oauth_*) are in one
// transport (an OAuth header counts even when empty) and none repeats,
// except that a header parameter may be echoed once in the query and once
// in the body with the same value (Magento's shape), the echo dropped,
// and a header name that is not oauth_* must be in the query or the body
// with the same value (it is then counted once, there); it
// then returns every other parameter of the three sources, says the right
// transport, agrees with Locate, and Strip leaves no protocol parameter in
// the query or body.
func FuzzCollectParams(f *testing.F) {
	f.Add(`OAuth realm="r", oauth_consumer_key="k", oauth_nonce="n"`, "b5=%3D%253D&a3=a&c%40=&a2=r%20b", "c2&a3=2+q", true)
	f.Add("", "oauth_token=t&oauth_nonce=n&x=1&x=1", "y=2", true)
	f.Add("", "x=1", "oauth_token=t&oauth_consumer_key=k", true)
	f.Add("", "x=1", "oauth_token=t", false)
	f.Add(`OAuth oauth_token="t"`, "oauth_nonce=n", "", true)
	f.Add(`OAuth oauth_token="t"`, "", "oauth%5Fnonce=n", true)
	f.Add("", "oauth_token=a", "oauth_nonce=b", true)
	f.Add("", "oauth_nonce=a&oauth_nonce=a", "", true)
	f.Add(`OAuth realm="r"`, "oauth_token=t", "", true)
	f.Add("Bearer x", "oauth_token=t", "a;b", true)
	f.Add("", "a=%zz", "b=%", true)
	f.Add(`OAuth oauth_token="t", oauth_verifier="v"`, "oauth_token=t", "x=1&oauth_verifier=v", true)
	f.Add(`OAuth oauth_verifier="v"`, "", "oauth_verifier=w", true)
	f.Add(`OAuth oauth_verifier="v"`, "oauth_verifier=v&oauth_verifier=v", "", true)
	f.Add(`OAuth oauth_verifier="v"`, "", "oauth_verifier=v&oauth_nonce=n", true)
	f.Add(`OAuth oauth_token="t", sku="a%20b"`, "", "sku=a+b&qty=1", true)
	f.Add(`OAuth oauth_token="t", sku="a"`, "sku=b", "sku=c", true)
	f.Fuzz(func(t *testing.T, auth, query, body string, form bool) {
		if strings.ContainsAny(auth, "\r\n\x00") || strings.ContainsAny(query, " #\r\n\x00") {
			return // not what an HTTP server hands over
		}
		newRequest := func() *http.Request {
			r := httptest.NewRequest("POST", "http://h/p", strings.NewReader(body))
			r.URL.RawQuery = query
			if form {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			return r
		}
		r := newRequest()
		ps, where, err := Collect(r)
		if err != nil {
			if _, ok := err.(*Problem); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
		}

		// The reference.
		valid := true
		var want, h, custom Params
		carriers := map[Transport]bool{}
		if IsOAuthHeader(auth) {
			var herr error
			h, custom, herr = parseAuthorization(auth)
			valid = valid && herr == nil
			want = append(want, h...)
			carriers[Header] = true
		}
		decode := func(s string, t Transport) {
			vs, derr := url.ParseQuery(s)
			valid = valid && derr == nil
			for k, list := range vs {
				hv, echo := "", false
				if strings.HasPrefix(k, "oauth_") {
					hv, echo = h.Get(k)
				}
				if echo {
					// Dropped when it is one copy of the header's value.
					valid = valid && len(list) == 1 && list[0] == hv
					continue
				}
				for _, v := range list {
					want = append(want, Param{k, v})
				}
				if strings.HasPrefix(k, "oauth_") {
					carriers[t] = true
				}
			}
		}
		decode(query, Query)
		if form && body != "" {
			if len(body) > MaxFormBody {
				valid = false
			}
			decode(body, Body)
		}
		// Other names in the header must be in the query or the body, with
		// the same value (Magento's PHPoAuthLib client copies them there).
		for _, c := range custom {
			valid = valid && slices.Contains(want[len(h):], c)
		}
		seen := map[string]bool{}
		for _, p := range want {
			if strings.HasPrefix(p.Name, "oauth_") {
				valid = valid && !seen[p.Name]
				seen[p.Name] = true
			}
		}
		valid = valid && len(carriers) <= 1
		if !valid {
			if err == nil {
				t.Fatalf("accepted %v (transport %v) for header %q query %q body %q", ps, where, auth, query, body)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused header %q query %q body %q: %v", auth, query, body, err)
		}
		less := func(a, b Param) int { return strings.Compare(a.Name+"\x00"+a.Value, b.Name+"\x00"+b.Value) }
		got := slices.SortedFunc(slices.Values(ps), less)
		slices.SortFunc(want, less)
		if !slices.Equal(got, want) {
			t.Fatalf("collected %v, want %v", got, want)
		}
		wantWhere := None
		for tr := range carriers {
			wantWhere = tr
		}
		if where != wantWhere {
			t.Fatalf("transport %v, want %v", where, wantWhere)
		}
		if lw, err := Locate(newRequest()); err != nil || lw != where {
			t.Fatalf("Locate = %v %v, Collect said %v", lw, err, where)
		}
		if b, _ := io.ReadAll(r.Body); string(b) != body {
			t.Fatalf("body put back as %q, want %q", b, body)
		}
		if where != None {
			r := newRequest()
			Locate(r)
			Strip(r, where)
			if HasProtocolParams(r.URL.RawQuery) || (form && func() bool { b, _ := io.ReadAll(r.Body); return HasProtocolParams(string(b)) }()) {
				t.Fatalf("protocol parameters left after Strip: %q", r.URL.RawQuery)
			}
		}
	})
}
