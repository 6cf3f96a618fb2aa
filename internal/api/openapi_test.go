package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestOpenAPI: the document is valid JSON, served without a token, and
// describes exactly the registered routes.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(t, req{method: "GET", path: "/api/v1/openapi.json"})
	expect(t, res, http.StatusOK, "")

	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       struct{ Title, Version string }       `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas   map[string]json.RawMessage `json:"schemas"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if !json.Valid(res.body) {
		t.Fatal("openapi.json is not valid JSON")
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || doc.Info.Title == "" || doc.Info.Version == "" {
		t.Errorf("openapi = %q, info = %+v", doc.OpenAPI, doc.Info)
	}

	h := New(Config{Admin: e.svc, Authenticate: storeAuthenticator(e.db, e.tree, time.Now)}).(*handler)
	registered := map[string]bool{}
	for _, rt := range h.routes {
		op := strings.ToLower(rt.method)
		registered[rt.pattern+" "+op] = true
		if _, ok := doc.Paths[rt.pattern][op]; !ok {
			t.Errorf("openapi.json does not describe %s %s", rt.method, rt.pattern)
		}
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(methods, key) && !registered[path+" "+key] {
				t.Errorf("openapi.json describes %s %s, which is not served", strings.ToUpper(key), path)
			}
		}
	}

	// Every $ref points at something that exists.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				_, inSchemas := doc.Components.Schemas[name]
				if !found {
					name, found = strings.CutPrefix(ref, "#/components/responses/")
					_, inSchemas = doc.Components.Responses[name]
				}
				if !found || !inSchemas {
					t.Errorf("dangling $ref %q", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var all any
	json.Unmarshal(res.body, &all)
	walk(all)

	// The served Kind schema lists exactly the table of kinds, in its
	// order (withKindEnum derives it).
	var kind struct{ Enum []gatehouse.Kind }
	if err := json.Unmarshal(doc.Components.Schemas["Kind"], &kind); err != nil {
		t.Fatalf("Kind schema: %v", err)
	}
	var want []gatehouse.Kind
	for _, s := range gatehouse.Kinds() {
		want = append(want, s.Kind)
	}
	if !slices.Equal(kind.Enum, want) {
		t.Errorf("Kind enum = %q, want gatehouse.Kinds() %q", kind.Enum, want)
	}
}

func TestRouting(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *testEnv) {
		f := e.newTenant(t, "acme")
		tests := []struct {
			name         string
			method, path string
			token        string
			status       int
			code         string
			allow        string
		}{
			{"unknown path", "GET", "/api/v1/nope", f.token, 404, "not_found", ""},
			{"unknown path without token", "GET", "/api/v1/nope", "", 404, "not_found", ""},
			{"trailing slash", "GET", "/api/v1/tokens/", f.token, 404, "not_found", ""},
			{"too deep", "GET", "/api/v1/tokens/a/b", f.token, 404, "not_found", ""},
			{"root of the API", "GET", "/api/v1/", f.token, 404, "not_found", ""},
			{"wrong method on collection", "PUT", "/api/v1/tokens", f.token, 405, "method_not_allowed", "GET, HEAD, POST"},
			{"wrong method on item", "POST", "/api/v1/tokens/x", f.token, 405, "method_not_allowed", "DELETE, GET, HEAD"},
			{"wrong method on users", "PUT", "/api/v1/users/x", "", 405, "method_not_allowed", "DELETE, GET, HEAD, PATCH"},
			{"wrong method on settings", "POST", "/api/v1/settings", f.token, 405, "method_not_allowed", "GET, HEAD, PATCH"},
			{"wrong method on audit", "DELETE", "/api/v1/audit-events", f.token, 405, "method_not_allowed", "GET, HEAD"},
			{"wrong method on api-token", "PUT", "/api/v1/users/x/api-token", f.token, 405, "method_not_allowed", "DELETE, GET, HEAD, POST"},
			{"wrong method on ip-allowlist", "DELETE", "/api/v1/users/x/api-token/ip-allowlist", f.token, 405, "method_not_allowed", "GET, HEAD, POST"},
			{"wrong method on an ip-allowlist entry", "GET", "/api/v1/users/x/api-token/ip-allowlist/y", f.token, 405, "method_not_allowed", "DELETE"},
			{"wrong method on api-keys", "PATCH", "/api/v1/api-keys", f.token, 405, "method_not_allowed", "GET, HEAD, POST"},
			{"wrong method on an api key", "PATCH", "/api/v1/api-keys/x", f.token, 405, "method_not_allowed", "DELETE, GET, HEAD"},
			{"wrong method on openapi", "POST", "/api/v1/openapi.json", "", 405, "method_not_allowed", "GET, HEAD"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(t, req{method: tt.method, path: tt.path, token: tt.token})
				expect(t, res, tt.status, tt.code)
				if got := res.header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow = %q, want %q", got, tt.allow)
				}
			})
		}
		t.Run("HEAD", func(t *testing.T) {
			res := e.do(t, req{method: "HEAD", path: "/api/v1/settings", token: f.token})
			if res.status != http.StatusOK || res.header.Get("Cache-Control") != "no-store" {
				t.Errorf("HEAD = %d %v", res.status, res.header)
			}
		})
	})
}

// TestOpenAPIPaging: every paged collection (SPEC §9) documents limit and
// next and the next member of its answer, and the filters it reads.
func TestOpenAPIPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(t, req{method: "GET", path: "/api/v1/openapi.json"})
	expect(t, res, http.StatusOK, "")
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	type operation struct {
		Parameters []struct{ Name, In string }
		Responses  map[string]struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]json.RawMessage
				}
			}
		}
	}
	for path, params := range map[string][]string{
		"/api/v1/tokens":                       {"limit", "next", "status", "q", "user_id"},
		"/api/v1/api-keys":                     {"limit", "next", "status", "q"},
		"/api/v1/users":                        {"limit", "next", "q", "role"},
		"/api/v1/oauth-clients":                {"limit", "next", "q"},
		"/api/v1/integrations":                 {"limit", "next", "q"},
		"/api/v1/integrations/{id}/deliveries": {"limit", "next"},
	} {
		var op operation
		if err := json.Unmarshal(doc.Paths[path]["get"], &op); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		for _, name := range params {
			if !slices.ContainsFunc(op.Parameters, func(p struct{ Name, In string }) bool { return p.Name == name && p.In == "query" }) {
				t.Errorf("GET %s does not document ?%s", path, name)
			}
		}
		if _, ok := op.Responses["200"].Content["application/json"].Schema.Properties["next"]; !ok {
			t.Errorf("GET %s does not document the next member", path)
		}
		if _, ok := op.Responses["400"]; !ok {
			t.Errorf("GET %s does not document 400", path)
		}
	}
}
