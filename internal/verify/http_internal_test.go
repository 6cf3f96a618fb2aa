package verify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

func TestResponseEncodingMatchesEncodingJSON(t *testing.T) {
	exp := time.Date(2031, 2, 3, 4, 5, 6, 789000000, time.UTC)
	whole := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	nanos := time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC)
	year0 := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	strs := []string{"", "acme", "usr_01J9Z", "émilie", "日本語", "a\"b\\c", "<script>&amp;</script>",
		"tab\tnl\nret\rbs\bff\f", "\x00\x01\x1f\x7f", "bad\xffutf8\xc3", "sep\u2028par\u2029", "emoji 🙂", "'single'"}
	var cases []verifyResponse
	for i, s := range strs {
		cases = append(cases, verifyResponse{
			Valid: i%2 == 0, Code: gatehouse.CodeValid, Tenant: s, Subject: strs[(i+3)%len(strs)],
			Kind: gatehouse.KindPAT, Scopes: []string{s, "catalog", strs[(i+5)%len(strs)]}, ExpiresAt: &exp,
		})
	}
	cases = append(cases,
		verifyResponse{Code: gatehouse.CodeUnknown, Scopes: []string{}},
		verifyResponse{Code: gatehouse.CodeMalformed},
		verifyResponse{Valid: true, Code: gatehouse.CodeValid, Tenant: "t", Subject: "s", Kind: gatehouse.KindAPIKey, Scopes: []string{"a"}, ExpiresAt: &whole},
		verifyResponse{Valid: true, Code: gatehouse.CodeValid, Scopes: []string{}, ExpiresAt: &nanos},
		verifyResponse{Code: gatehouse.CodeExpired, Scopes: []string{}, ExpiresAt: &year0},
		verifyResponse{Code: gatehouse.Code("X<>&\u2028"), Kind: gatehouse.Kind("k\x00"), Scopes: []string{}},
	)
	for i, c := range cases {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(c); err != nil {
			t.Fatal(err)
		}
		got := appendResponse(nil, &c)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
		// And through the handler's writer, headers included.
		rec := httptest.NewRecorder()
		writeResponse(rec, c)
		if !bytes.Equal(rec.Body.Bytes(), want.Bytes()) || rec.Code != 200 ||
			rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("case %d via writeResponse: %d %v %s", i, rec.Code, rec.Header(), rec.Body.Bytes())
		}
	}
	// Years encoding/json refuses keep its behaviour (no body).
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := httptest.NewRecorder()
	writeResponse(rec, verifyResponse{Scopes: []string{}, ExpiresAt: &far})
	if rec.Body.Len() != 0 {
		t.Errorf("year 10000: %s", rec.Body.Bytes())
	}
}

func TestParseRequestAgreesWithEncodingJSON(t *testing.T) {
	bodies := []string{
		`{}`, ` { } `, `{"credential":"ghp_x"}`,
		`{"credential":"gh_pat_abc","resource":"catalog.products","ip":"203.0.113.7","client_id":"app_1"}`,
		"\t{\n\"client_id\" : \"c\" ,\r\n \"ip\":\"::1\"}\n ",
		`{"credential":""}`,
		// Everything below must fall back to encoding/json.
		`{"Credential":"x"}`, `{"credential":"x","credential":"y"}`, `{"credential":null}`,
		`{"credential":"a\"b"}`, `{"credential":"\u00e9"}`, `{"credential":"é"}`, `{"credential":42}`,
		`{"credential":"x",}`, `{"credential":"x"}{}`, `{"credential":"x"} x`, `[]`, `"x"`, `null`, ``,
		`{"credential":"x","scope":"y"}`, `{"credential":"x"`, `{"credential" "x"}`, `{credential:"x"}`,
		"{\"credential\":\"a\tb\"}", `{"credential":"x"}}`, `{,}`, `{"ip":true}`,
	}
	for _, body := range bodies {
		var fast verifyRequest
		ok := parseRequest([]byte(body), &fast)
		var slow verifyRequest
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		err := dec.Decode(&slow)
		if err == nil {
			if _, e := dec.Token(); e == nil || e.Error() != "EOF" {
				err = e
				if err == nil {
					err = errTrailing
				}
			}
		}
		if ok && (err != nil || fast != slow) {
			t.Errorf("%q: fast path accepted %+v; encoding/json: %+v, %v", body, fast, slow, err)
		}
		// Through the handler's decoder, fast path or not, the outcome is
		// httpx.DecodeJSON's: encoding/json's, but repeated member names
		// (and bodies that are not UTF-8) refused.
		r := httptest.NewRequest(http.MethodPost, "/api/v1/verify", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		got, gerr := decodeRequest(httptest.NewRecorder(), r)
		var want verifyRequest
		werr := httpx.DecodeJSONBytes([]byte(body), &want)
		if (gerr == nil) != (werr == nil) || (werr == nil && got != want) {
			t.Errorf("%q: decodeRequest = %+v, %v; httpx.DecodeJSONBytes: %+v, %v", body, got, gerr, want, werr)
		}
	}
}

var errTrailing = &json.SyntaxError{}

func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(`{"credential":"gh_pat_0123456789abcdef0123456789abcdef","resource":"catalog.products"}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/verify", bytes.NewReader(body))
		if _, err := decodeRequest(httptest.NewRecorder(), r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	exp := time.Now().UTC()
	out := verifyResponse{Valid: true, Code: gatehouse.CodeValid, Tenant: "acme", Subject: "usr_01J9Z", Kind: gatehouse.KindPAT,
		Scopes: []string{"catalog", "sales"}, ExpiresAt: &exp}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendResponse(buf[:0], &out)
	}
}
