package demo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/demo"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/verify"
	"github.com/gatehouse/gatehouse/internal/verify/verifytest"
)

// TestDemoBehindGateway is the README's curl tour as a test: the demo API
// with its own routes file behind the gateway.
func TestDemoBehindGateway(t *testing.T) {
	e := verifytest.New(t)
	e.SetSettings(e.Acme, gatehouse.Settings{AllowAnonymousGuestAccess: true, RequireClientHeader: true})
	api := httptest.NewServer(demo.New())
	defer api.Close()
	routes, err := gateway.ParseRoutes(demo.Routes())
	if err != nil {
		t.Fatalf("demo routes: %v", err)
	}
	v := verify.New(e.DB, e.Tree, verify.Options{})
	defer v.Close()
	u, _ := url.Parse(api.URL)
	g, err := gateway.New(gateway.Config{Upstream: u, Routes: routes, Verifier: v})
	if err != nil {
		t.Fatalf("demo routes against the commerce tree: %v", err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()

	catalog, _ := e.Credential(verifytest.Cred{Tenant: e.Acme, User: e.Alice, Scopes: []string{"catalog", "sales"}})
	bobs, _ := e.Credential(verifytest.Cred{Tenant: e.Globex, User: e.Bob, Scopes: []string{"all"}})

	call := func(method, path, tok, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
		return resp.StatusCode, out
	}
	caller := func(m map[string]any) map[string]any { c, _ := m["caller"].(map[string]any); return c }

	status, out := call("GET", "/rest/V1/products", catalog, "")
	if status != 200 || out["total_count"].(float64) < 3 {
		t.Fatalf("products: %d %v", status, out)
	}
	if c := caller(out); c["tenant"] != "acme" || c["subject"] != e.Alice.ID || c["kind"] != "pat" {
		t.Errorf("caller = %v", c)
	}
	if status, _ := call("GET", "/rest/V1/products/24-MB01", catalog, ""); status != 200 {
		t.Errorf("one product: %d", status)
	}
	if status, _ := call("GET", "/rest/V1/products/NOPE", catalog, ""); status != 404 {
		t.Errorf("missing product: %d", status)
	}
	status, out = call("POST", "/rest/V1/orders", catalog, `{"customer_email":"roni_cost@example.com","items":[{"sku":"24-MB01","qty":2}]}`)
	if status != 201 {
		t.Fatalf("create order: %d %v", status, out)
	}
	order := out["order"].(map[string]any)
	if order["grand_total"].(float64) != 68 {
		t.Errorf("grand total = %v", order["grand_total"])
	}
	if status, _ := call("GET", "/rest/V1/orders/"+order["increment_id"].(string), catalog, ""); status != 200 {
		t.Errorf("get new order: %d", status)
	}
	if status, out := call("GET", "/rest/V1/customers", catalog, ""); status != 403 || out["error"].(map[string]any)["code"] != "INSUFFICIENT_SCOPE" {
		t.Errorf("customers without scope: %d %v", status, out)
	}
	// Tenants have separate shops: globex does not see acme's new order.
	_, out = call("GET", "/rest/V1/orders", bobs, "")
	if n := out["total_count"].(float64); n != 2 {
		t.Errorf("globex sees %v orders, want its 2 seeded ones", n)
	}
	// Guest route: anonymous, allowed by acme's setting.
	status, out = call("GET", "/rest/acme/V1/store/info", "", "")
	if status != 200 || caller(out)["kind"] != "guest" || caller(out)["tenant"] != "acme" {
		t.Errorf("guest store info: %d %v", status, out)
	}
	if status, _ := call("GET", "/rest/globex/V1/store/info", "", ""); status != 401 {
		t.Errorf("guest store info of globex (setting off): %d", status)
	}
	if status, _ := call("GET", "/rest/V1/products", "", ""); status != 401 {
		t.Errorf("anonymous products: %d", status)
	}
}

func TestDemoRefusesDirectCalls(t *testing.T) {
	rec := httptest.NewRecorder()
	demo.New().ServeHTTP(rec, httptest.NewRequest("GET", "/rest/V1/products", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("direct call = %d, want 401", rec.Code)
	}
}

func TestDemoValidation(t *testing.T) {
	s := demo.New()
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/rest/V1/products", `{"product":{"sku":"X1","name":"Thing","price":3,"qty":1}}`, 201},
		{"POST", "/rest/V1/products", `{"product":{"sku":"X1","name":"Thing","price":3,"qty":1}}`, 409},
		{"POST", "/rest/V1/products", `{"product":{"sku":""}}`, 422},
		{"POST", "/rest/V1/products", `{"nope":1}`, 400},
		{"POST", "/rest/V1/orders", `{"customer_email":"a@b.test","items":[{"sku":"X1","qty":1},{"sku":"X1","qty":1}]}`, 409},
		{"POST", "/rest/V1/orders", `{"customer_email":"a@b.test","items":[{"sku":"ZZ","qty":1}]}`, 422},
		{"GET", "/rest/V1/orders/000000999", "", 404},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		req.Header.Set("X-Gatehouse-Tenant", "acme")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s %s = %d, want %d: %s", c.method, c.path, c.body, rec.Code, c.want, rec.Body)
		}
	}
}
