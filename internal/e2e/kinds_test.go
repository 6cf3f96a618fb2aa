package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// TestEveryKind walks the table of credential kinds (gatehouse.Kinds): a
// credential of every kind is issued through its real flow, verifies
// VALID through the verifier and its cache (twice: the second answer is
// the cache's), is counted under its kind in gatehouse_verify_total, and
// is refused once revoked. A row added to the table without an issuer
// here fails the test, so a kind the verifier's cache or the metrics do
// not know cannot slip in unnoticed.
func TestEveryKind(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		e := newOAuthEnv(t, databaseURL)
		w := newKindWalk(t, e)

		// A kind's credential is used as an API credential (/api/v1/verify),
		// except a refresh token, which only the token endpoint takes
		// (RFC 6749 §1.5): verify answers UNKNOWN for it, without a lookup.
		type issued struct {
			secret string
			use    func(secret string) gatehouse.Code
			revoke func()
		}
		issuers := map[gatehouse.Kind]func() issued{
			gatehouse.KindPAT: func() issued {
				tok, id := w.consolePAT("walk", "catalog")
				return issued{tok, w.verify, func() { w.call("DELETE", "/api/v1/tokens/"+id, nil, 204) }}
			},
			gatehouse.KindAPIKey: func() issued {
				var k struct{ ID, Key string }
				w.call("POST", "/api/v1/api-keys", map[string]any{"description": "walk", "scopes": []string{"catalog"}}, 201, &k)
				return issued{k.Key, w.verify, func() { w.call("DELETE", "/api/v1/api-keys/"+k.ID, nil, 204) }}
			},
			gatehouse.KindStaff: func() issued {
				var u struct{ ID string }
				w.call("POST", "/api/v1/users", map[string]any{"email": "staff@shop.test", "role": "staff"}, 201, &u)
				var tok struct{ Token string }
				path := "/api/v1/users/" + u.ID + "/api-token"
				w.call("POST", path, map[string]any{"scopes": []string{"catalog"}}, 201, &tok)
				return issued{tok.Token, w.verify, func() { w.call("DELETE", path, nil, 204) }}
			},
			gatehouse.KindOAuth2Access: func() issued {
				tok := w.oauthTokens()
				w.clientID = w.conf.ClientID // the X-Gatehouse-Client check (SPEC §5)
				return issued{tok.AccessToken, w.verify, func() { w.oauthRevoke(tok.AccessToken) }}
			},
			gatehouse.KindOAuth2Refresh: func() issued {
				tok := w.oauthTokens()
				return issued{tok.RefreshToken, w.refresh, func() { w.oauthRevoke(tok.RefreshToken) }}
			},
			gatehouse.KindIntegration: func() issued {
				w.call("PATCH", "/api/v1/settings", map[string]any{"oauth1_tokens_as_bearer": true}, 200)
				var in struct{ ID string }
				w.call("POST", "/api/v1/integrations", map[string]any{"name": "walk", "email": "walk@shop.test",
					"resource_access": "custom", "resources": []string{"catalog"}}, 201, &in)
				var act struct {
					AccessToken string `json:"access_token"`
				}
				w.call("POST", "/api/v1/integrations/"+in.ID+"/activate", nil, 200, &act)
				return issued{act.AccessToken, w.verify, func() { w.call("DELETE", "/api/v1/integrations/"+in.ID, nil, 204) }}
			},
		}
		for _, spec := range gatehouse.Kinds() {
			t.Run(string(spec.Kind), func(t *testing.T) {
				w.t = t
				issue, ok := issuers[spec.Kind]
				if !ok {
					t.Fatalf("kind %q has no issuer in this test: add one", spec.Kind)
				}
				c := issue()
				if k, ok := spec.Kind.TokenPrefix(), spec.Prefix != ""; ok && !strings.HasPrefix(c.secret, "gate_"+k+"_") {
					t.Fatalf("secret %.12s… lacks the prefix %q", c.secret, k)
				}
				want := gatehouse.CodeValid
				if spec.Kind == gatehouse.KindOAuth2Refresh {
					want = gatehouse.CodeUnknown
					if got := c.use(c.secret); got != gatehouse.CodeValid {
						t.Fatalf("refresh grant with a fresh refresh token: %s", got)
					}
				}
				before := w.counted(spec.Kind, want)
				for range 2 {
					if got := w.verify(c.secret); got != want {
						t.Fatalf("verify: %s, want %s", got, want)
					}
				}
				n := 2.0
				if spec.Kind == gatehouse.KindPAT {
					n += 2 // the walker's own PAT, which authenticates each call
				}
				if got := w.counted(spec.Kind, want); got != before+n {
					t.Fatalf("gatehouse_verify_total{kind=%q,code=%q}: %v after two verifications, was %v", spec.Kind, want, got, before)
				}
				c.revoke()
				if got := c.use(c.secret); got == gatehouse.CodeValid {
					t.Fatalf("after revocation: %s", got)
				}
			})
		}
	})
}

// kindWalk is TestEveryKind's client: an owner's console session, a PAT
// for the management and verify APIs, and an OAuth app.
type kindWalk struct {
	t       *testing.T
	e       *oauthEnv
	browser *http.Client
	token   string // the owner's PAT: all, manage, verify
	// clientID is sent with every verification once an OAuth 2.0 access
	// token is being verified; other kinds ignore it.
	clientID string
	conf     *oauth2.Config
	codes    chan url.Values
}

var patRE = regexp.MustCompile(`gate_pat_[0-9A-Za-z]{38}`)

func newKindWalk(t *testing.T, e *oauthEnv) *kindWalk {
	jar, _ := cookiejar.New(nil)
	w := &kindWalk{t: t, e: e, browser: &http.Client{Jar: jar, Timeout: 10 * time.Second}, codes: make(chan url.Values, 4)}
	_, page := readPage(t)(w.browser.Get(e.base + "/console/login"))
	login := formFields(t, page, "/console/login")
	login.Set("email", e.email)
	login.Set("password", e.pass)
	if resp, page := readPage(t)(w.browser.PostForm(e.base+"/console/login", login)); resp.StatusCode != 200 || resp.Request.URL.Path == "/console/login" {
		t.Fatalf("login: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	w.token, _ = w.consolePAT("walker", "all", "manage", "verify")

	cb := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.codes <- r.URL.Query()
		io.WriteString(rw, "ok")
	}))
	t.Cleanup(cb.Close)
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	w.call("POST", "/api/v1/oauth-clients", map[string]any{"name": "Walk", "redirect_uris": []string{cb.URL + "/cb"},
		"scopes": []string{"catalog"}, "confidential": true}, 201, &app)
	w.conf = &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: cb.URL + "/cb",
		Scopes: []string{"catalog"}, Endpoint: oauth2.Endpoint{AuthURL: e.base + "/oauth2/authorize",
			TokenURL: e.base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	return w
}

// consolePAT generates a PAT on the console's form and returns its
// plaintext, read from the page that shows it once, and its id.
func (w *kindWalk) consolePAT(name string, scopes ...string) (token, id string) {
	t := w.t
	t.Helper()
	_, page := readPage(t)(w.browser.Get(w.e.base + "/console/tokens"))
	f := formFields(t, page, "/console/tokens")
	f.Set("name", name)
	f["scopes"] = scopes
	resp, page := readPage(t)(w.browser.PostForm(w.e.base+"/console/tokens", f))
	token = patRE.FindString(page)
	if resp.StatusCode != 200 || token == "" {
		t.Fatalf("generate PAT: %d, no token in:\n%s", resp.StatusCode, page)
	}
	if w.token == "" {
		return token, ""
	}
	var list struct {
		Items []struct{ ID, Name string }
	}
	w.call("GET", "/api/v1/tokens", nil, 200, &list)
	for _, c := range list.Items {
		if c.Name == name {
			return token, c.ID
		}
	}
	t.Fatalf("PAT %q not listed: %+v", name, list)
	return "", ""
}

// call sends a management API request with the walker's PAT and decodes
// the answer into out[0], failing unless it has status want.
func (w *kindWalk) call(method, path string, body any, want int, out ...any) {
	t := w.t
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.e.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+w.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, page := readPage(t)(http.DefaultClient.Do(req))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, page)
	}
	if len(out) > 0 {
		if err := json.Unmarshal([]byte(page), out[0]); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, page)
		}
	}
}

// verify asks /api/v1/verify about secret for the catalog resource.
func (w *kindWalk) verify(secret string) gatehouse.Code {
	var res struct{ Code gatehouse.Code }
	w.call("POST", "/api/v1/verify", map[string]any{"credential": secret, "resource": "catalog", "client_id": w.clientID}, 200, &res)
	return res.Code
}

// oauthTokens runs the authorization code flow in the owner's session
// (consent remembered after the first) and exchanges the code.
func (w *kindWalk) oauthTokens() *oauth2.Token {
	t := w.t
	t.Helper()
	v := oauth2.GenerateVerifier()
	resp, page := readPage(t)(w.browser.Get(w.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v))))
	if resp.Request.URL.Path == "/oauth2/authorize" {
		consent := formFields(t, page, "/oauth2/authorize")
		consent.Set("decision", "allow")
		readPage(t)(w.browser.PostForm(w.e.base+"/oauth2/authorize", consent))
	}
	var q url.Values
	select {
	case q = <-w.codes:
	case <-time.After(5 * time.Second):
		t.Fatalf("no code reached the redirect URI (landed at %s)", resp.Request.URL)
	}
	tok, err := w.conf.Exchange(w.e.ctx, q.Get("code"), oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v %+v", err, tok)
	}
	return tok
}

// refresh uses a refresh token at the token endpoint: VALID when it
// yields a new access token, else the OAuth error code.
func (w *kindWalk) refresh(rt string) gatehouse.Code {
	_, err := w.conf.TokenSource(w.e.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return gatehouse.Code(err.Error())
	}
	return gatehouse.CodeValid
}

func (w *kindWalk) oauthRevoke(tok string) {
	revoke(w.t, w.e.base, w.conf.ClientID, w.conf.ClientSecret, tok)
}

// counted reads gatehouse_verify_total{kind,code} from the metrics.
func (w *kindWalk) counted(kind gatehouse.Kind, code gatehouse.Code) float64 {
	rec := httptest.NewRecorder()
	w.e.s.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	line := regexp.MustCompile(fmt.Sprintf(`(?m)^gatehouse_verify_total\{code="%s",kind="%s"\} (\S+)$`, code, kind)).FindStringSubmatch(rec.Body.String())
	if line == nil {
		return 0
	}
	var n float64
	fmt.Sscan(line[1], &n)
	return n
}
