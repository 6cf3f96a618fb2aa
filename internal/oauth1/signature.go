package oauth1

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Signature methods (RFC 5849 §3.4). Magento supports the two HMACs;
// PLAINTEXT and RSA-SHA1 are refused as unsupported (400
// signature_method_rejected), as Magento refuses them.
const (
	HMACSHA1   = "HMAC-SHA1"
	HMACSHA256 = "HMAC-SHA256"
)

// Encode percent-encodes s as RFC 5849 §3.6 says: every byte except the
// unreserved characters ALPHA, DIGIT, "-", ".", "_", "~" becomes %XX with
// upper-case hex digits.
func Encode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// BaseStringURI builds the base string URI of RFC 5849 §3.4.1.2 from a
// scheme, a Host header value and the request path as sent: scheme and
// host lower-cased, the default port (80 for http, 443 for https) left
// out, no query or fragment, and "/" for an empty path.
func BaseStringURI(scheme, host, path string) string {
	scheme = strings.ToLower(scheme)
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
			if strings.IndexByte(h, ':') >= 0 {
				host = "[" + h + "]" // IPv6 keeps its brackets
			}
		}
	}
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// Order is how normalized parameters are sorted.
type Order int

const (
	// ByteOrder is RFC 5849 §3.4.1.3.2: by encoded name, then encoded
	// value, in ascending byte order.
	ByteOrder Order = iota
	// NaturalOrder is Magento's: PHP's strnatcmp over the encoded names
	// (uksort), then over the values of a repeated name (natsort).
	// Accepted as a second try so that requests signed by Magento's own
	// PHP libraries verify.
	NaturalOrder
)

// NormalizedParams is the normalized parameter string of RFC 5849
// §3.4.1.3.2: names and values encoded (§3.6), sorted, joined as
// name=value pairs with "&". oauth_signature is left out.
func NormalizedParams(ps Params, order Order) string {
	enc := make([]Param, 0, len(ps))
	for _, p := range ps {
		if p.Name == "oauth_signature" {
			continue
		}
		enc = append(enc, Param{Encode(p.Name), Encode(p.Value)})
	}
	cmp := func(a, b Param) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	}
	if order == NaturalOrder {
		cmp = func(a, b Param) int {
			if c := natCompare(a.Name, b.Name); c != 0 {
				return c
			}
			if c := natCompare(a.Value, b.Value); c != 0 {
				return c
			}
			return strings.Compare(a.Name+"="+a.Value, b.Name+"="+b.Value)
		}
	}
	slices.SortStableFunc(enc, cmp)
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String()
}

// BaseString is the signature base string of RFC 5849 §3.4.1.1: the
// upper-case method, the encoded base string URI and the encoded
// normalized parameters, joined with "&".
func BaseString(method, baseURI string, ps Params, order Order) string {
	return strings.ToUpper(method) + "&" + Encode(baseURI) + "&" + Encode(NormalizedParams(ps, order))
}

// Sign computes the signature of a base string (RFC 5849 §3.4.2) with the
// key "consumerSecret&tokenSecret" (both encoded), base64-encoded. method
// must be HMACSHA1 or HMACSHA256.
func Sign(method, consumerSecret, tokenSecret, base string) string {
	var h func() hash.Hash
	switch method {
	case HMACSHA1:
		h = sha1.New
	case HMACSHA256:
		h = sha256.New
	default:
		return ""
	}
	m := hmac.New(h, []byte(Encode(consumerSecret)+"&"+Encode(tokenSecret)))
	m.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignedURL is what a client signed: the scheme of the connection (TLS,
// or X-Forwarded-Proto when the peer is a trusted proxy), the Host header
// and the request path as sent.
func SignedURL(r *http.Request, trusted []netip.Prefix) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if fp := r.Header.Get("X-Forwarded-Proto"); fp != "" && httpx.PeerTrusted(r, trusted) {
		// Security: only a trusted proxy may say the client used https;
		// anyone else could make a signature for another URL verify.
		first, _, _ := strings.Cut(fp, ",")
		if p := strings.ToLower(strings.TrimSpace(first)); p == "https" || p == "http" {
			scheme = p
		}
	}
	return BaseStringURI(scheme, r.Host, requestPath(r))
}

// requestPath is the path of the request target exactly as the client
// sent it (still percent-encoded), which is what it signed.
func requestPath(r *http.Request) string {
	if ru := r.RequestURI; strings.HasPrefix(ru, "/") {
		p, _, _ := strings.Cut(ru, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// checkSignature verifies ps's oauth_signature against the request's
// method and base string URI, trying RFC 5849's byte order first and
// Magento's natural order second. Comparison is constant-time.
func checkSignature(method, baseURI string, ps Params, consumerSecret, tokenSecret string) bool {
	sig, _ := ps.Get("oauth_signature")
	sm, _ := ps.Get("oauth_signature_method")
	ok := false
	for _, order := range []Order{ByteOrder, NaturalOrder} {
		want := Sign(sm, consumerSecret, tokenSecret, BaseString(method, baseURI, ps, order))
		if want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(sig)) == 1 {
			ok = true
		}
	}
	return ok
}
