package verify

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// FuzzParseRequest checks the verify endpoint's hand-written request
// parser against encoding/json (through httpx.DecodeJSONBytes, the rules
// every other endpoint decodes with): whatever parseRequest accepts,
// encoding/json must accept with the same values. What it refuses goes to
// encoding/json in decodeRequest, so refusing more is safe; accepting what
// encoding/json refuses, or reading a value differently, is the bug.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"credential":"gate_pat_x"}`,
		`{"credential":"gate_pat_abc","resource":"catalog.products","ip":"203.0.113.7","client_id":"app_1"}`,
		"\t{\n\"client_id\" : \"c\" ,\r\n \"ip\":\"::1\"}\n ",
		`{"Credential":"x"}`, `{"credential":"x","credential":"y"}`, `{"credential":null}`,
		`{"credential":"a\"b"}`, `{"credential":"\u00e9"}`, `{"credential":"x",}`, `{"credential":"x"}{}`,
		`{"credential":"x"} x`, `[]`, `{"ip":true}`, `{"credential":"x"}}`, "{\"credential\":\"a\x7fb\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast verifyRequest
		if !parseRequest(body, &fast) {
			return
		}
		var slow verifyRequest
		if err := httpx.DecodeJSONBytes(body, &slow); err != nil {
			t.Fatalf("%q: parseRequest accepted %+v; encoding/json refused: %v", body, fast, err)
		}
		if fast != slow {
			t.Fatalf("%q: parseRequest read %+v; encoding/json %+v", body, fast, slow)
		}
	})
}

// FuzzAppendResponse checks the hand-written response encoder against
// json.Encoder byte for byte, for any strings in any field.
func FuzzAppendResponse(f *testing.F) {
	f.Add(true, "VALID", "acme", "usr_1", "pat", "catalog", "sales", int64(1_900_000_000_123_456_789))
	f.Add(false, "UNKNOWN", "", "", "", "", "", int64(0))
	f.Add(false, "X<>&\u2028", "bad\xffutf8", "\x00\x1f\x7f", "k\"\\", "日本語", "🙂", int64(-62135596800_000_000_0))
	f.Fuzz(func(t *testing.T, valid bool, code, tenant, subject, kind, s1, s2 string, exp int64) {
		out := verifyResponse{Valid: valid, Code: gatehouse.Code(code), Tenant: tenant, Subject: subject,
			Kind: gatehouse.Kind(kind), Scopes: []string{s1, s2}}
		if exp != 0 {
			e := time.Unix(0, exp).UTC()
			out.ExpiresAt = &e
		}
		if len(s1)%2 == 1 {
			out.Scopes = nil
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(out); err != nil {
			return // out of encoding/json's range (writeResponse falls back to it)
		}
		if got := appendResponse(nil, &out); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
		}
	})
}
