package oauth1

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
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
// header (Collect accepts Magento's copies of form parameters there, see
// parseAuthorization).
func ParseAuthorization(v string) (Params, error) {
	ps, custom, err := parseAuthorization(v)
	if err == nil && len(custom) > 0 {
		return nil, problem(ParameterRejected, "only oauth_* parameters and realm belong in the Authorization header")
	}
	return ps, err
}

// parseAuthorization is ParseAuthorization that returns the names that
// are not oauth_* parameters or realm apart (custom, each once) instead of
// refusing them: Magento's PHPoAuthLib-based OauthClient copies a signed
// call's form parameters into the header, and Collect accepts them there
// when the body or the query has them too (Magento's server ignores them).
func parseAuthorization(v string) (ps, custom Params, err error) {
	if len(v) > MaxHeaderLen {
		return nil, nil, problem(ParameterRejected, "the Authorization header is too long")
	}
	v = strings.TrimLeft(v, " \t")
	if !IsOAuthHeader(v) {
		return nil, nil, problem(ParameterRejected, "the Authorization header does not use the OAuth scheme")
	}
	s := v[len(oauthScheme):]
	seenRealm := false
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return ps, custom, nil
		}
		if s[0] == ',' {
			s = s[1:]
			continue
		}
		i := strings.IndexByte(s, '=')
		if i <= 0 {
			return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: expected name=\"value\"")
		}
		rawName := strings.TrimRight(s[:i], " \t")
		s = strings.TrimLeft(s[i+1:], " \t")
		var rawValue string
		if strings.HasPrefix(s, `"`) {
			j := strings.IndexByte(s[1:], '"')
			if j < 0 {
				return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: unterminated quoted value")
			}
			rawValue, s = s[1:1+j], s[2+j:]
			if strings.IndexByte(rawValue, '\\') >= 0 {
				// Percent-encoded values never need quoted-pair escapes.
				return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: escapes are not allowed in values")
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
			return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: parameters must be separated by commas")
		}
		if !validToken(rawName) {
			return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: bad parameter name")
		}
		name, err := percentDecode(rawName)
		if err != nil {
			return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: bad percent-encoding")
		}
		value, err := percentDecode(rawValue)
		if err != nil {
			return nil, nil, problem(ParameterRejected, "the Authorization header is malformed: bad percent-encoding in "+name)
		}
		if name == "realm" {
			if seenRealm {
				return nil, nil, problem(ParameterRejected, "realm appears twice in the Authorization header")
			}
			seenRealm = true
			continue
		}
		if _, dup := ps.Get(name); dup {
			return nil, nil, problem(ParameterRejected, name+" appears twice in the Authorization header")
		}
		if _, dup := custom.Get(name); dup {
			return nil, nil, problem(ParameterRejected, name+" appears twice in the Authorization header")
		}
		if !strings.HasPrefix(name, "oauth_") {
			custom = append(custom, Param{name, value})
			continue
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

// Transport is where a request carries its protocol parameters (RFC 5849
// §3.5): the Authorization header, an application/x-www-form-urlencoded
// body, or the query.
type Transport int

// The transports, and None for a request that carries no OAuth parameters.
const (
	None Transport = iota
	Header
	Body
	Query
)

func (t Transport) String() string {
	switch t {
	case Header:
		return "the Authorization header"
	case Body:
		return "the form body"
	case Query:
		return "the query"
	}
	return "nowhere"
}

// errTwoTransports refuses protocol parameters in more than one place.
func errTwoTransports(a, b Transport) error {
	return problem(ParameterRejected, "OAuth parameters were found in "+a.String()+" and in "+b.String()+
		"; send them in exactly one place: the Authorization header, the form body or the query (RFC 5849 §3.5)")
}

// Collect gathers a request's parameters from the three sources of RFC
// 5849 §3.4.1.3.1: the Authorization header (OAuth scheme, realm left
// out), the query, and a single-part application/x-www-form-urlencoded
// body. The body is read (at most MaxFormBody) and put back, so a proxy
// can still forward it. It also says which one transport carried the
// protocol parameters.
//
// RFC 5849 §3.5: the protocol parameters (every oauth_* name) travel in
// one and only one of the header, the body and the query; an
// Authorization: OAuth header is that place even when it is empty, and
// oauth_* names anywhere else then are refused. §3.1: each protocol
// parameter appears once per request (a 400, §3.2). Other parameters may
// repeat and are all signed (§3.4.1.3.2).
//
// Decision (Magento compatibility, docs/oauth1.md): Magento 2's own
// OauthClient sends oauth_verifier in the header and again in the form
// body, and Magento's server ignores body and query oauth_* names when
// the header carries protocol parameters. So, when the header carries a
// parameter, one copy of it in the query and one in the body with the
// very same value are echoes: dropped, neither signed nor counted. A copy
// with another value is refused (which one was signed is ambiguous), and
// an oauth_* name that is not in the header stays a second transport and
// is refused, as before. Likewise a header name that is not oauth_*
// (Magento's PHPoAuthLib-based client copies a signed form there) is
// accepted only when the query or the body has it with the same value,
// and then counted once, there.
func Collect(r *http.Request) (Params, Transport, error) {
	var (
		ps    Params
		where Transport
		h     Params // the header's protocol parameters, for echoes
	)
	carry := func(t Transport, from Params) (Params, error) {
		from, err := dropEchoes(h, from, t)
		if err != nil {
			return nil, err
		}
		for _, p := range from {
			if !strings.HasPrefix(p.Name, "oauth_") {
				continue
			}
			if where != None && where != t {
				return nil, errTwoTransports(where, t)
			}
			where = t
		}
		return from, nil
	}
	vals := r.Header.Values("Authorization")
	if len(vals) > 1 {
		return nil, None, problem(ParameterRejected, "send one Authorization header")
	}
	var custom Params
	if len(vals) == 1 && IsOAuthHeader(vals[0]) {
		var err error
		if h, custom, err = parseAuthorization(vals[0]); err != nil {
			return nil, None, err
		}
		ps, where = h, Header
	}
	q, err := parseForm(r.URL.RawQuery)
	if err != nil {
		return nil, None, problem(ParameterRejected, "the query string is malformed")
	}
	if q, err = carry(Query, q); err != nil {
		return nil, None, err
	}
	ps = append(ps, q...)
	if isForm(r) {
		body, complete, err := peekBody(r)
		if err != nil {
			return nil, None, err
		}
		if !complete {
			return nil, None, bodyTooLarge()
		}
		f, err := parseForm(string(body))
		if err != nil {
			return nil, None, problem(ParameterRejected, "the form body is malformed")
		}
		if f, err = carry(Body, f); err != nil {
			return nil, None, err
		}
		ps = append(ps, f...)
	}
	if len(custom) > 0 {
		// A set, not a scan per name: header and body are both large
		// enough that the product would cost.
		have := make(map[Param]bool, len(ps)-len(h))
		for _, p := range ps[len(h):] {
			have[p] = true
		}
		for _, c := range custom {
			if !have[c] {
				return nil, None, problem(ParameterRejected, "only oauth_* parameters and realm belong in the Authorization header ("+c.Name+" is not in the query or the form body with the same value)")
			}
		}
	}
	seen := make(map[string]bool, 8)
	for _, p := range ps {
		if !strings.HasPrefix(p.Name, "oauth_") {
			continue
		}
		if seen[p.Name] {
			return nil, None, problem(ParameterRejected, p.Name+" appears more than once (RFC 5849 §3.1: each protocol parameter once per request)")
		}
		seen[p.Name] = true
	}
	return ps, where, nil
}

// dropEchoes returns from (the query's or the body's parameters, t says
// which) without the echoes of header parameters h: an oauth_* name that
// h has, with the same value, once (Magento's shape, see Collect). A copy
// with another value, or a second copy, is refused. With no header
// parameters it returns from as it is.
func dropEchoes(h, from Params, t Transport) (Params, error) {
	if len(h) == 0 {
		return from, nil
	}
	// A map: a long header and a long body must not cost their product.
	hm := make(map[string]string, len(h))
	for _, p := range h {
		hm[p.Name] = p.Value
	}
	var (
		out    Params
		echoed map[string]bool
	)
	for i, p := range from {
		hv, inHeader := "", false
		if strings.HasPrefix(p.Name, "oauth_") {
			hv, inHeader = hm[p.Name]
		}
		if !inHeader {
			if out != nil {
				out = append(out, p)
			}
			continue
		}
		if hv != p.Value {
			return nil, problem(ParameterRejected, p.Name+" in "+t.String()+" differs from the one in the Authorization header; send each protocol parameter once, in the header (RFC 5849 §3.1, §3.5)")
		}
		if echoed[p.Name] {
			return nil, problem(ParameterRejected, p.Name+" appears more than once (RFC 5849 §3.1: each protocol parameter once per request)")
		}
		if echoed == nil {
			echoed = make(map[string]bool, 2)
		}
		echoed[p.Name] = true
		if out == nil {
			out = append(make(Params, 0, len(from)-1), from[:i]...)
		}
	}
	if echoed == nil {
		return from, nil
	}
	return out, nil
}

// bodyTooLarge refuses a form body longer than MaxFormBody: its
// parameters are signed (§3.4.1.3.1), so it would have to be held whole.
func bodyTooLarge() error {
	return problem(ParameterRejected, "the form body is too large to be signed (1 MiB at most)")
}

// Locate says where r carries OAuth protocol parameters, for a proxy that
// must decide whether a request is OAuth 1.0a-signed before it checks the
// signature: an Authorization: OAuth header, oauth_* names in the query, or
// oauth_* names in a form body. It reads a form body (at most MaxFormBody)
// and puts it back whole, however long it is. A form body longer than that
// whose first MaxFormBody bytes carry oauth_* names is refused (it could
// not be signed, see Collect); oauth_* names past that point are not
// looked for. Parameters in two places are refused (RFC 5849 §3.5), except
// the echoes of header parameters Collect drops (Magento's shape), which
// Locate judges as Collect does.
func Locate(r *http.Request) (Transport, error) {
	where := None
	var h Params
	found := func(t Transport, s string) error {
		if !HasProtocolParams(s) {
			return nil
		}
		if where == Header && len(h) > 0 {
			// Only echoes of the header are allowed here; a malformed
			// query or body is a second transport, as before.
			if ps, err := parseForm(s); err == nil {
				rest, err := dropEchoes(h, ps, t)
				if err != nil {
					return err
				}
				if !hasProtocol(rest) {
					return nil
				}
			}
		}
		if where != None && where != t {
			return errTwoTransports(where, t)
		}
		where = t
		return nil
	}
	vals := r.Header.Values("Authorization")
	for _, v := range vals {
		if IsOAuthHeader(v) {
			where = Header
		}
	}
	if where == Header && len(vals) == 1 {
		// A header Collect would refuse allows no echoes.
		h, _, _ = parseAuthorization(vals[0])
	}
	if err := found(Query, r.URL.RawQuery); err != nil {
		return None, err
	}
	if isForm(r) {
		body, complete, err := peekBody(r)
		if err != nil {
			return None, err
		}
		if !complete {
			// Only whole pairs of the prefix count.
			if i := strings.LastIndexByte(string(body), '&'); i >= 0 {
				body = body[:i]
			} else {
				body = nil
			}
			if HasProtocolParams(string(body)) {
				return None, bodyTooLarge()
			}
		}
		if err := found(Body, string(body)); err != nil {
			return None, err
		}
	}
	return where, nil
}

// hasProtocol reports whether ps names an oauth_* parameter.
func hasProtocol(ps Params) bool {
	for _, p := range ps {
		if strings.HasPrefix(p.Name, "oauth_") {
			return true
		}
	}
	return false
}

// HasProtocolParams reports whether form-encoded s (a query or a form
// body) names an oauth_* parameter, however its name is encoded.
func HasProtocolParams(s string) bool {
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		k, _, _ := strings.Cut(kv, "=")
		if name, err := url.QueryUnescape(k); err == nil && strings.HasPrefix(name, "oauth_") {
			return true
		}
	}
	return false
}

// Strip removes the protocol parameters (every oauth_* name) from the
// query or the form body of r, whichever where says carried them, leaving
// every other byte as it was; the Authorization header is the caller's to
// remove. With where Header it removes the echoes Collect dropped (the
// only oauth_* names a request it accepted can have there) from both.
// Security: a proxy forwards a verified request without the credential,
// as it drops the header (oauth_token may work as a Bearer token where a
// tenant allows it). The body must be one Collect or Locate read whole.
func Strip(r *http.Request, where Transport) {
	switch where {
	case Query:
		stripQuery(r)
	case Body:
		stripBody(r)
	case Header:
		if HasProtocolParams(r.URL.RawQuery) {
			stripQuery(r)
		}
		if isForm(r) {
			if body, complete, err := peekBody(r); err == nil && complete && HasProtocolParams(string(body)) {
				stripBody(r)
			}
		}
	}
}

func stripQuery(r *http.Request) {
	r.URL.RawQuery = dropProtocol(r.URL.RawQuery)
	r.URL.ForceQuery = false
}

func stripBody(r *http.Request) {
	body, complete, err := peekBody(r)
	if err != nil || !complete {
		return
	}
	b := []byte(dropProtocol(string(body)))
	setBody(r, b)
	r.ContentLength = int64(len(b))
	if r.Header.Get("Content-Length") != "" {
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	}
}

// dropProtocol removes the oauth_* pairs of form-encoded s.
func dropProtocol(s string) string {
	var b strings.Builder
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		k, _, _ := strings.Cut(kv, "=")
		if name, err := url.QueryUnescape(k); err == nil && strings.HasPrefix(name, "oauth_") {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv)
	}
	return b.String()
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

// peekBody reads r's body, at most MaxFormBody bytes of it, and puts it
// back whole: complete is false when there was more, which stays unread
// behind the bytes returned.
func peekBody(r *http.Request) (b []byte, complete bool, err error) {
	if pb, ok := r.Body.(*peekedBody); ok {
		return pb.b, pb.rest == nil, nil
	}
	b, err = io.ReadAll(io.LimitReader(r.Body, MaxFormBody+1))
	if err != nil {
		r.Body.Close()
		return nil, false, problem(ParameterRejected, "the form body could not be read")
	}
	if len(b) > MaxFormBody {
		r.Body = &peekedBody{Reader: io.MultiReader(bytes.NewReader(b), r.Body), b: b, rest: r.Body}
		r.GetBody = nil
		return b, false, nil
	}
	r.Body.Close()
	setBody(r, b)
	return b, true, nil
}

// setBody makes b r's body, readable again through GetBody.
func setBody(r *http.Request, b []byte) {
	r.Body = &peekedBody{Reader: bytes.NewReader(b), b: b}
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// peekedBody is a body already read (b), with what is left of the
// original (rest) when it was longer than MaxFormBody.
type peekedBody struct {
	io.Reader
	b    []byte
	rest io.ReadCloser
}

func (pb *peekedBody) Close() error {
	if pb.rest != nil {
		return pb.rest.Close()
	}
	return nil
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
