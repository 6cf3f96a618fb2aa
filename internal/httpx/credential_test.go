package httpx_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// request is a request with exactly these header values (repeated names
// are several values of one field, as net/http reads them).
func request(headers ...string) *http.Request {
	r := &http.Request{Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// TestCredential: the transport rules the gateway and the middleware
// share. Each case is a rule of httpx.Credential's doc.
func TestCredential(t *testing.T) {
	const tok = "gate_pat_0123456789abcdefghijklmnopqrstuv012345"
	long := "gate_pat_" + strings.Repeat("a", 64<<10)
	for _, tc := range []struct {
		name     string
		headers  []string
		wantCred string
		wantCode gatehouse.Code
	}{
		{"none", nil, "", gatehouse.CodeMissing},
		{"other headers only", []string{"Cookie", "a=b", "X-Gatehouse-Client", "c"}, "", gatehouse.CodeMissing},

		{"bearer", []string{"Authorization", "Bearer " + tok}, tok, ""},
		{"bearer, lower-case scheme", []string{"Authorization", "bearer " + tok}, tok, ""},
		{"bearer, upper-case scheme", []string{"Authorization", "BEARER " + tok}, tok, ""},
		{"bearer, white space around", []string{"Authorization", " \tBearer   " + tok + " \t"}, tok, ""},
		{"bearer, white space inside the token is kept", []string{"Authorization", "Bearer a b"}, "a b", ""},
		{"bearer, long token", []string{"Authorization", "Bearer " + long}, long, ""},
		{"bearer, no token", []string{"Authorization", "Bearer"}, "", gatehouse.CodeMalformed},
		{"bearer, blank token", []string{"Authorization", "Bearer    "}, "", gatehouse.CodeMalformed},
		{"bearer, tab after the scheme", []string{"Authorization", "Bearer\t" + tok}, "", gatehouse.CodeMalformed},
		{"bearer, no space", []string{"Authorization", "Bearer" + tok}, "", gatehouse.CodeMalformed},
		{"empty Authorization", []string{"Authorization", ""}, "", gatehouse.CodeMalformed},
		{"basic", []string{"Authorization", "Basic dXNlcjpwdw=="}, "", gatehouse.CodeMalformed},
		{"oauth", []string{"Authorization", `OAuth oauth_consumer_key="k"`}, "", gatehouse.CodeMalformed},
		{"bare token", []string{"Authorization", tok}, "", gatehouse.CodeMalformed},

		{"api key", []string{"X-Api-Key", tok}, tok, ""},
		{"api key, white space around", []string{"X-Api-Key", "  " + tok + "\t"}, tok, ""},
		{"api key, a Bearer value is the key as sent", []string{"X-Api-Key", "Bearer " + tok}, "Bearer " + tok, ""},
		{"api key, empty", []string{"X-Api-Key", ""}, "", gatehouse.CodeMalformed},
		{"api key, blank", []string{"X-Api-Key", "   "}, "", gatehouse.CodeMalformed},

		{"both", []string{"Authorization", "Bearer " + tok, "X-Api-Key", tok}, "", gatehouse.CodeMalformed},
		{"both, the api key empty", []string{"Authorization", "Bearer " + tok, "X-Api-Key", ""}, "", gatehouse.CodeMalformed},
		{"oauth and api key", []string{"Authorization", "OAuth x", "X-Api-Key", tok}, "", gatehouse.CodeMalformed},
		{"two Authorization", []string{"Authorization", "Bearer " + tok, "Authorization", "Bearer " + tok}, "", gatehouse.CodeMalformed},
		{"two Authorization, one empty", []string{"Authorization", "Bearer " + tok, "Authorization", ""}, "", gatehouse.CodeMalformed},
		{"two X-Api-Key", []string{"X-Api-Key", tok, "X-Api-Key", tok}, "", gatehouse.CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred, code := httpx.Credential(request(tc.headers...))
			if cred != tc.wantCred || code != tc.wantCode {
				t.Errorf("Credential = %.40q, %q; want %.40q, %q", cred, code, tc.wantCred, tc.wantCode)
			}
		})
	}
}

// FuzzCredential: whatever the headers, Credential answers a credential
// or MISSING or MALFORMED, never both; a credential comes from the single
// header value present, trimmed, and from Authorization only after a
// Bearer scheme.
func FuzzCredential(f *testing.F) {
	for _, s := range []struct {
		auth, key   string
		nAuth, nKey uint8
	}{
		{"Bearer tok", "", 1, 0},
		{"bearer tok", "", 1, 0},
		{" BEARER  tok \t", "", 1, 0},
		{"Bearer", "", 1, 0},
		{"Bearer ", "", 1, 0},
		{"Bearer\ttok", "", 1, 0},
		{"Basic dXNlcjpwdw==", "", 1, 0},
		{`OAuth oauth_consumer_key="k"`, "", 1, 0},
		{"", "", 1, 0},
		{"", "key", 0, 1},
		{"", "  key ", 0, 1},
		{"", "", 0, 1},
		{"Bearer tok", "key", 1, 1},
		{"Bearer tok", "", 2, 0},
		{"", "key", 0, 2},
		{"", "", 0, 0},
	} {
		f.Add(s.auth, s.key, s.nAuth, s.nKey)
	}
	f.Fuzz(func(t *testing.T, auth, key string, nAuth, nKey uint8) {
		nAuth, nKey = nAuth%3, nKey%3
		r := &http.Request{Header: http.Header{}}
		for range nAuth {
			r.Header.Add("Authorization", auth)
		}
		for range nKey {
			r.Header.Add("X-Api-Key", key)
		}
		cred, code := httpx.Credential(r)
		switch {
		case code == "" && cred == "":
			t.Fatal("neither a credential nor a code")
		case code != "" && cred != "":
			t.Fatalf("credential %q with code %s", cred, code)
		case code != "" && code != gatehouse.CodeMissing && code != gatehouse.CodeMalformed:
			t.Fatalf("code %s", code)
		case (code == gatehouse.CodeMissing) != (nAuth+nKey == 0):
			t.Fatalf("code %s with %d Authorization and %d X-Api-Key", code, nAuth, nKey)
		case cred == "":
			return
		case nAuth+nKey != 1:
			t.Fatalf("credential %q from %d Authorization and %d X-Api-Key", cred, nAuth, nKey)
		case cred != strings.TrimSpace(cred):
			t.Fatalf("credential %q not trimmed", cred)
		case nKey == 1 && cred != strings.TrimSpace(key):
			t.Fatalf("credential %q from X-Api-Key %q", cred, key)
		}
		if nAuth == 1 {
			v := strings.TrimSpace(auth)
			if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") || strings.TrimSpace(v[7:]) != cred {
				t.Fatalf("credential %q from Authorization %q", cred, auth)
			}
		}
	})
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, tok string
		found       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc ", "abc", true},
		{"bEaReR   abc", "abc", true},
		{"Bearer ", "", true},
		{"Bearer", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	} {
		if tok, found := httpx.BearerToken(tc.header); tok != tc.tok || found != tc.found {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, tok, found, tc.tok, tc.found)
		}
	}
}

// TestCodeStatus was gatehouse.Code.Status's test (the root package's
// TestCodeStatus) before the status moved to the HTTP layer.
func TestCodeStatus(t *testing.T) {
	for code, want := range map[gatehouse.Code]int{
		gatehouse.CodeValid: 200, gatehouse.CodeMissing: 401, gatehouse.CodeMalformed: 401, gatehouse.CodeUnknown: 401,
		gatehouse.CodeExpired: 401, gatehouse.CodeRevoked: 401, gatehouse.CodeIPNotAllowed: 403, gatehouse.CodeInsufficientScope: 403,
		gatehouse.CodeClientMismatch: 403, gatehouse.CodeTenantDisabled: 403, gatehouse.CodeRouteNotFound: 404,
	} {
		if got := httpx.CodeStatus(code); got != want {
			t.Errorf("CodeStatus(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestBearerChallenge(t *testing.T) {
	for _, tc := range []struct {
		code  gatehouse.Code
		scope string
		want  string
	}{
		{gatehouse.CodeMissing, "orders", `Bearer realm="gatehouse"`},
		{gatehouse.CodeRevoked, "orders", `Bearer realm="gatehouse", error="invalid_token", error_description="` + gatehouse.CodeRevoked.Message() + `"`},
		{gatehouse.CodeInsufficientScope, "orders", `Bearer realm="gatehouse", error="insufficient_scope", error_description="` + gatehouse.CodeInsufficientScope.Message() + `", scope="orders"`},
		{gatehouse.CodeInsufficientScope, "", `Bearer realm="gatehouse", error="insufficient_scope", error_description="` + gatehouse.CodeInsufficientScope.Message() + `"`},
		{gatehouse.CodeIPNotAllowed, "orders", `Bearer realm="gatehouse", error="insufficient_scope", error_description="` + gatehouse.CodeIPNotAllowed.Message() + `"`},
		{gatehouse.CodeRouteNotFound, "orders", ""},
		{gatehouse.CodeValid, "orders", ""},
	} {
		if got := httpx.BearerChallenge(tc.code, tc.scope); got != tc.want {
			t.Errorf("BearerChallenge(%s, %q) = %q\nwant %q", tc.code, tc.scope, got, tc.want)
		}
	}
}

// TestWriteRefusal: the status of the code, the challenge on 401 and 403
// only, and the code's message unless another is given.
func TestWriteRefusal(t *testing.T) {
	for _, tc := range []struct {
		code               gatehouse.Code
		challenge, message string
		wantStatus         int
		wantChallenge      string
		wantMessage        string
	}{
		{gatehouse.CodeExpired, "Bearer x", "", 401, "Bearer x", gatehouse.CodeExpired.Message()},
		{gatehouse.CodeClientMismatch, "Bearer y", "", 403, "Bearer y", gatehouse.CodeClientMismatch.Message()},
		{gatehouse.CodeMalformed, `OAuth realm="gatehouse"`, "bad signature", 401, `OAuth realm="gatehouse"`, "bad signature"},
		{gatehouse.CodeRouteNotFound, "Bearer z", "", 404, "", gatehouse.CodeRouteNotFound.Message()},
		{gatehouse.CodeMissing, "", "", 401, "", gatehouse.CodeMissing.Message()},
	} {
		rec := httptest.NewRecorder()
		httpx.WriteRefusal(rec, tc.code, tc.challenge, tc.message)
		var body httpx.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", tc.code, rec.Body, err)
		}
		if rec.Code != tc.wantStatus || rec.Header().Get("WWW-Authenticate") != tc.wantChallenge ||
			body.Error.Code != string(tc.code) || body.Error.Message != tc.wantMessage {
			t.Errorf("%s: %d, WWW-Authenticate %q, body %s; want %d, %q, %q",
				tc.code, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body, tc.wantStatus, tc.wantChallenge, tc.wantMessage)
		}
		if _, ok := rec.Header()["Www-Authenticate"]; ok != (tc.wantChallenge != "") {
			t.Errorf("%s: WWW-Authenticate present = %v", tc.code, ok)
		}
	}
}
