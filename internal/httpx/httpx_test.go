package httpx_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// TestReadJSONBodyLimit: a body over MaxBody is 413 whether its length was
// declared or not (chunked), and a declared length within the limit is
// read whole.
func TestReadJSONBodyLimit(t *testing.T) {
	big := `"` + strings.Repeat("a", httpx.MaxBody) + `"`
	for _, tc := range []struct {
		name     string
		body     string
		length   int64 // -1: unknown (chunked)
		wantCode string
	}{
		{"declared, within", `{"a":1}`, 7, ""},
		{"unknown, within", `{"a":1}`, -1, ""},
		{"declared, over", big, int64(len(big)), "too_large"},
		{"unknown, over", big, -1, "too_large"},
		{"exactly the limit", big[:httpx.MaxBody], httpx.MaxBody, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(tc.body)))
			r.ContentLength = tc.length
			r.Header.Set("Content-Type", "application/json")
			b, err := httpx.ReadJSONBody(httptest.NewRecorder(), r)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer b.Release()
				if string(b.B) != tc.body {
					t.Fatalf("read %d bytes, want %d", len(b.B), len(tc.body))
				}
				return
			}
			var se *httpx.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusRequestEntityTooLarge || se.Code != tc.wantCode {
				t.Fatalf("err = %v, want 413 %s", err, tc.wantCode)
			}
		})
	}
}
