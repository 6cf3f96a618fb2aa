package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gateway"
)

func TestParseRoutes(t *testing.T) {
	rs, err := gateway.ParseRoutes([]byte(testRoutes))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Routes) != 6 || rs.TenantHosts["shop.example.test"] != "open-shop" {
		t.Fatalf("parsed %+v", rs)
	}
	for i, want := range []string{
		"GET /rest/V1/products/{sku}", "GET /rest/V1/products/special", "POST /rest/V1/orders",
		"/rest/V1/customers", "GET /rest/{tenant}/V1/store/info", "/public/{rest...}",
	} {
		if got := gateway.RoutePattern(rs.Routes[i]); got != want {
			t.Errorf("route %d pattern = %q, want %q", i+1, got, want)
		}
	}
}

func TestParseRoutesErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty"},
		{"no routes", "routes: []\n", "no routes"},
		{"unknown key", "routes:\n  - path: /x\n    resouce: sales\n", "resouce"},
		{"unknown top key", "rotues:\n  - path: /x\n", "rotues"},
		{"missing path", "routes:\n  - resource: sales\n", "path is required"},
		{"no resource", "routes:\n  - path: /x\n", "resource is required"},
		{"guest with resource", "routes:\n  - path: /x\n    resource: sales\n    guest: true\n", "names no resource"},
		{"bad pattern", "routes:\n  - path: /x/{a\n    resource: sales\n", "invalid pattern"},
		{"duplicate wildcard", "routes:\n  - path: /{a}/{a}\n    resource: sales\n", "invalid pattern"},
		{"relative path", "routes:\n  - path: x\n    resource: sales\n", "invalid pattern"},
		{"bad method", "routes:\n  - method: GET /x\n    path: /x\n    resource: sales\n", "invalid method"},
		{"bad tenant slug", "tenant_hosts:\n  a.test: Not A Slug\nroutes:\n  - path: /x\n    resource: sales\n", "not a tenant slug"},
		{"not yaml", "routes: [\n", "routes:"},
		{"wrong type", "routes:\n  - path: /x\n    resource: sales\n    guest: maybe\n", "routes:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gateway.ParseRoutes([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestLoadRoutes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(p, []byte(testRoutes), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.LoadRoutes(p); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.LoadRoutes(p + ".missing"); err == nil {
		t.Error("LoadRoutes of a missing file succeeded")
	}
}

func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte(testRoutes))
	f.Add([]byte("routes:\n  - path: /{x...}\n    guest: true\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gateway.ParseRoutes(b) // must not panic, whatever the pattern
	})
}
