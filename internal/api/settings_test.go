package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestSettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")

		t.Run("defaults", func(t *testing.T) {
			got := decode[gatehouse.Settings](t, e.get(t, "/api/v1/settings", f.token))
			if got != gatehouse.DefaultSettings() {
				t.Errorf("settings = %+v, want defaults", got)
			}
		})
		tests := []struct {
			name string
			body string
			want gatehouse.Settings
		}{
			{"one field", `{"enhanced_security":true}`,
				gatehouse.Settings{EnhancedSecurity: true, RequireClientHeader: true}},
			{"two fields", `{"require_client_header":false,"allow_anonymous_guest_access":true}`,
				gatehouse.Settings{EnhancedSecurity: true, AllowAnonymousGuestAccess: true}},
			{"null keeps", `{"oauth1_tokens_as_bearer":true,"enhanced_security":null}`,
				gatehouse.Settings{EnhancedSecurity: true, AllowAnonymousGuestAccess: true, OAuth1TokensAsBearer: true}},
			{"empty object keeps all", `{}`,
				gatehouse.Settings{EnhancedSecurity: true, AllowAnonymousGuestAccess: true, OAuth1TokensAsBearer: true}},
			{"all four", `{"allow_anonymous_guest_access":false,"enhanced_security":false,"oauth1_tokens_as_bearer":false,"require_client_header":true}`,
				gatehouse.DefaultSettings()},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, body: tt.body})
				expect(t, res, http.StatusOK, "")
				if got := decode[gatehouse.Settings](t, res.body); got != tt.want {
					t.Errorf("PATCH answer = %+v, want %+v", got, tt.want)
				}
				for _, k := range []string{"allow_anonymous_guest_access", "enhanced_security", "oauth1_tokens_as_bearer", "require_client_header"} {
					if !strings.Contains(string(res.body), `"`+k+`":`) {
						t.Errorf("answer lacks %s: %s", k, res.body)
					}
				}
				if got := decode[gatehouse.Settings](t, e.get(t, "/api/v1/settings", f.token)); got != tt.want {
					t.Errorf("GET after PATCH = %+v, want %+v", got, tt.want)
				}
				stored, err := e.db.Settings(t.Context(), f.tenant.ID)
				if err != nil || stored != tt.want {
					t.Errorf("stored = %+v, %v", stored, err)
				}
			})
		}
	})
}

func TestSettingsValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		tests := []struct {
			name   string
			body   string
			status int
			code   string
		}{
			{"wrong type", `{"enhanced_security":"yes"}`, 400, "bad_request"},
			{"unknown field", `{"enhanced_security":true,"debug":true}`, 400, "bad_request"},
			{"malformed", `{"enhanced_security":tru}`, 400, "bad_request"},
			{"not an object", `[true]`, 400, "bad_request"},
			{"oversized", `{"enhanced_security":true,` + strings.Repeat(" ", 1<<20) + `}`, 413, "too_large"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := snapshot(t, e, f.token)
				expect(t, e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token, body: tt.body}), tt.status, tt.code)
				assertUnchanged(t, before, snapshot(t, e, f.token))
			})
		}
	})
}
