package httpx_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// TestDecodeJSONDuplicateKeys: an object naming a member twice, at any
// depth (or twice under names encoding/json matches alike), is 400, not
// "the last one wins"; the same body through DecodeJSONBytes too.
func TestDecodeJSONDuplicateKeys(t *testing.T) {
	type inner struct {
		Role string `json:"role"`
	}
	type body struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
		Inner  inner    `json:"inner"`
		List   []inner  `json:"list"`
	}
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"distinct", `{"name":"a","scopes":["x","x"],"inner":{"role":"staff"},"list":[{"role":"a"},{"role":"b"}]}`, true},
		{"top level", `{"name":"a","name":"b"}`, false},
		{"nested object", `{"inner":{"role":"staff","role":"owner"}}`, false},
		{"in an array", `{"list":[{"role":"a"},{"role":"b","role":"c"}]}`, false},
		{"after a nested value", `{"inner":{"role":"x"},"scopes":[],"inner":{}}`, false},
		{"case-folded field", `{"name":"a","NAME":"b"}`, false},
		{"escaped name", `{"name":"a","n\u0061me":"b"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			var v body
			err := httpx.DecodeJSON(httptest.NewRecorder(), r, &v)
			errBytes := httpx.DecodeJSONBytes([]byte(tc.body), &body{})
			if tc.ok {
				if err != nil || errBytes != nil {
					t.Fatalf("DecodeJSON = %v, DecodeJSONBytes = %v", err, errBytes)
				}
				return
			}
			for _, err := range []error{err, errBytes} {
				var se *httpx.StatusError
				if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(se.Message, "duplicate") {
					t.Fatalf("err = %v, want 400 naming the duplicate", err)
				}
			}
		})
	}
}

// TestDecodeJSONInvalidUTF8: RFC 8259 §8.1 JSON text is UTF-8; a body that
// is not (which encoding/json would silently turn into U+FFFD) is 400.
func TestDecodeJSONInvalidUTF8(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{\"name\":\"a\xffb\"}"))
	var v struct {
		Name string `json:"name"`
	}
	err := httpx.DecodeJSON(httptest.NewRecorder(), r, &v)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
		t.Fatalf("err = %v (name %q), want 400", err, v.Name)
	}
}

// TestRetryAfter: an ETOOMANY carrying RetryAfter answers 429 with
// Retry-After in whole seconds, rounded up.
func TestRetryAfter(t *testing.T) {
	e := gatehouse.Errorf(gatehouse.ETOOMANY, "too many failed logins")
	e.RetryAfter = 1500 * time.Millisecond
	rec := httptest.NewRecorder()
	httpx.WriteJSONError(rec, httptest.NewRequest(http.MethodPost, "/", nil), nil, e)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("status %d, Retry-After %q; want 429 and 2", rec.Code, rec.Header().Get("Retry-After"))
	}
}
