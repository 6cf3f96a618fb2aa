package api

import (
	"net/http"
	"strings"
	"sync"
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

// TestSettingsConcurrentPatches: PATCHes of different switches sent at
// once all stick (each changes only the fields it names, atomically; a
// read-modify-write would let the last one undo the others).
func TestSettingsConcurrentPatches(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		bodies := []string{
			`{"allow_anonymous_guest_access":true}`, `{"enhanced_security":true}`,
			`{"oauth1_tokens_as_bearer":true}`, `{"require_client_header":false}`,
		}
		want := gatehouse.Settings{AllowAnonymousGuestAccess: true, EnhancedSecurity: true, OAuth1TokensAsBearer: true}
		for round := range 10 {
			res := e.do(t, req{method: "PATCH", path: "/api/v1/settings", token: f.token,
				body: `{"allow_anonymous_guest_access":false,"enhanced_security":false,"oauth1_tokens_as_bearer":false,"require_client_header":true}`})
			expect(t, res, http.StatusOK, "")
			var (
				wg       sync.WaitGroup
				start    = make(chan struct{})
				statuses = make([]int, len(bodies))
			)
			for i, b := range bodies {
				wg.Go(func() {
					hr, err := http.NewRequestWithContext(t.Context(), "PATCH", e.srv.URL+"/api/v1/settings", strings.NewReader(b))
					if err != nil {
						t.Error(err)
						return
					}
					hr.Header.Set("Content-Type", "application/json")
					hr.Header.Set("Authorization", "Bearer "+f.token)
					<-start
					res, err := e.srv.Client().Do(hr)
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					statuses[i] = res.StatusCode
				})
			}
			close(start)
			wg.Wait()
			for i, st := range statuses {
				if st != http.StatusOK {
					t.Fatalf("round %d: PATCH %s answered %d", round, bodies[i], st)
				}
			}
			stored, err := e.db.Settings(t.Context(), f.tenant.ID)
			if err != nil || stored != want {
				t.Fatalf("round %d: after 4 concurrent PATCHes of different switches, stored = %+v (%v), want all four applied: %+v", round, stored, err, want)
			}
		}
	})
}
