package oauth1

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Param is one request parameter (RFC 5849 §3.4.1.3.1), decoded.
type Param struct {
	Name, Value string
}

// Params are the parameters of a request in the order they were found.
// Names may repeat (query and body parameters may); protocol parameters
// (oauth_*) may not.
type Params []Param

// Get returns the value of the first parameter called name.
func (ps Params) Get(name string) (string, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// MaxHeaderLen bounds the Authorization header the parser reads, and
// MaxFormBody the form body read for parameters (SPEC §5's 1 MiB).
const (
	MaxHeaderLen = 8 << 10
	MaxFormBody  = 1 << 20
)

const oauthScheme = "OAuth"

// IsOAuthHeader reports whether an Authorization value uses the OAuth
// scheme (case-insensitive, RFC 7235 §2.1).
func IsOAuthHeader(v string) bool {
	v = strings.TrimLeft(v, " \t")
	return len(v) >= len(oauthScheme) && strings.EqualFold(v[:len(oauthScheme)], oauthScheme) &&
		(len(v) == len(oauthScheme) || v[len(oauthScheme)] == ' ' || v[len(oauthScheme)] == '\t')
}

// ParseAuthorization parses an "Authorization: OAuth …" value (RFC 5849
// §3.5.1): a comma-separated list of name="value" pairs whose names and
// values are percent-encoded (§3.6). It returns the parameters without
// realm, which is ignored (§3.4.1.3.1 leaves it out of the signature).
//
// Decisions: values must be quoted, as §3.5.1 says, except that a bare
// value of token characters is accepted too (some PHP clients send them;
// Magento's parser accepts both); empty list elements are skipped (RFC
// 7230 §7's #rule); a parameter that appears twice is refused (§3.2:
// duplicated protocol parameters are a 400); a name that is not an
// oauth_* parameter or realm is refused, since nothing else belongs in the
// header.
func ParseAuthorization(v string) (Params, error) {
	if len(v) > MaxHeaderLen {
		return nil, problem(ParameterRejected, "the Authorization header is too long")
	}
	v = strings.TrimLeft(v, " \t")
	if !IsOAuthHeader(v) {
		return nil, problem(ParameterRejected, "the Authorization header does not use the OAuth scheme")
	}
	s := v[len(oauthScheme):]
	var ps Params
	seenRealm := false
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return ps, nil
		}
		if s[0] == ',' {
			s = s[1:]
			continue
		}
		i := strings.IndexByte(s, '=')
		if i <= 0 {
			return nil, problem(ParameterRejected, "the Authorization header is malformed: expected name=\"value\"")
		}
		rawName := strings.TrimRight(s[:i], " \t")
		s = strings.TrimLeft(s[i+1:], " \t")
		var rawValue string
		if strings.HasPrefix(s, `"`) {
			j := strings.IndexByte(s[1:], '"')
			if j < 0 {
				return nil, problem(ParameterRejected, "the Authorization header is malformed: unterminated quoted value")
			}
			rawValue, s = s[1:1+j], s[2+j:]
			if strings.IndexByte(rawValue, '\\') >= 0 {
				// Percent-encoded values never need quoted-pair escapes.
				return nil, problem(ParameterRejected, "the Authorization header is malformed: escapes are not allowed in values")
			}
		} else {
			j := strings.IndexAny(s, ", \t")
			if j < 0 {
				j = len(s)
			}
			rawValue, s = s[:j], s[j:]
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" && s[0] != ',' {
			return nil, problem(ParameterRejected, "the Authorization header is malformed: parameters must be separated by commas")
		}
		if !validToken(rawName) {
			return nil, problem(ParameterRejected, "the Authorization header is malformed: bad parameter name")
		}
		name, err := percentDecode(rawName)
		if err != nil {
			return nil, problem(ParameterRejected, "the Authorization header is malformed: bad percent-encoding")
		}
		value, err := percentDecode(rawValue)
		if err != nil {
			return nil, problem(ParameterRejected, "the Authorization header is malformed: bad percent-encoding in "+name)
		}
		if name == "realm" {
			if seenRealm {
				return nil, problem(ParameterRejected, "realm appears twice in the Authorization header")
			}
			seenRealm = true
			continue
		}
		if !strings.HasPrefix(name, "oauth_") {
			return nil, problem(ParameterRejected, "only oauth_* parameters and realm belong in the Authorization header")
		}
		if _, dup := ps.Get(name); dup {
			return nil, problem(ParameterRejected, name+" appears twice in the Authorization header")
		}
		ps = append(ps, Param{name, value})
	}
}

// validToken reports whether s is a non-empty RFC 7230 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// percentDecode undoes RFC 5849 §3.6 encoding: %XX escapes; "+" stays a
// plus sign (it is not a space outside form encoding).
func percentDecode(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	return url.PathUnescape(s)
}

// Collect gathers a request's parameters from the three sources of RFC
// 5849 §3.4.1.3.1: the Authorization header (OAuth scheme, realm left
// out), the query, and a single-part application/x-www-form-urlencoded
// body. The body is read (at most MaxFormBody) and put back, so a proxy
// can still forward it. A protocol parameter (oauth_*) may appear only
// once across all sources (§3.2: 400 for duplicates).
func Collect(r *http.Request) (Params, error) {
	var ps Params
	vals := r.Header.Values("Authorization")
	if len(vals) > 1 {
		return nil, problem(ParameterRejected, "send one Authorization header")
	}
	if len(vals) == 1 && IsOAuthHeader(vals[0]) {
		h, err := ParseAuthorization(vals[0])
		if err != nil {
			return nil, err
		}
		ps = h
	}
	q, err := parseForm(r.URL.RawQuery)
	if err != nil {
		return nil, problem(ParameterRejected, "the query string is malformed")
	}
	ps = append(ps, q...)
	if isForm(r) {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		f, err := parseForm(string(body))
		if err != nil {
			return nil, problem(ParameterRejected, "the form body is malformed")
		}
		ps = append(ps, f...)
	}
	seen := make(map[string]bool, 8)
	for _, p := range ps {
		if !strings.HasPrefix(p.Name, "oauth_") {
			continue
		}
		if seen[p.Name] {
			return nil, problem(ParameterRejected, p.Name+" appears more than once (RFC 5849 §3.5: send protocol parameters in one place)")
		}
		seen[p.Name] = true
	}
	return ps, nil
}

// isForm reports whether the body counts (§3.4.1.3.1): single-part,
// application/x-www-form-urlencoded.
func isForm(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxFormBody+1))
	r.Body.Close()
	if err != nil {
		return nil, problem(ParameterRejected, "the form body could not be read")
	}
	if len(b) > MaxFormBody {
		return nil, problem(ParameterRejected, "the form body is too large to be signed (1 MiB at most)")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

// parseForm decodes application/x-www-form-urlencoded text into
// parameters in order, keeping repeated names and empty values ("c2" is
// the name c2 with an empty value, RFC 5849 §3.4.1.3.1's example).
func parseForm(s string) (Params, error) {
	var ps Params
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" {
			continue
		}
		if strings.IndexByte(kv, ';') >= 0 {
			return nil, errBadForm
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		ps = append(ps, Param{name, value})
	}
	return ps, nil
}

var errBadForm = errors.New("oauth1: malformed form encoding")
