// Package demo is a small in-memory store API — products, orders,
// customers — that `gatehouse serve --demo` puts behind the gateway so one
// command shows the whole product working. It trusts the X-Gatehouse-*
// headers the gateway sets and echoes the caller in every answer, which is
// what the README's curl tour shows.
//
// It is a demonstration, not a shop: data lives in memory, per tenant slug,
// seeded with a few Magento-like sample items on first use.
package demo

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed routes.yaml
var routesYAML []byte

// Routes returns the routes file that guards the demo API: the resource
// each endpoint needs, and the guest store-info route.
func Routes() []byte { return bytes.Clone(routesYAML) }

// Product is a catalog item.
type Product struct {
	SKU   string  `json:"sku"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
	Qty   int     `json:"qty"`
}

// Customer is a shop customer.
type Customer struct {
	ID        int    `json:"id"`
	Email     string `json:"email"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

// Order is a placed order.
type Order struct {
	ID            string      `json:"increment_id"`
	CustomerEmail string      `json:"customer_email"`
	Status        string      `json:"status"`
	Items         []OrderItem `json:"items"`
	GrandTotal    float64     `json:"grand_total"`
	CreatedAt     time.Time   `json:"created_at"`
}

// Caller is who the gateway says is calling.
type Caller struct {
	Tenant  string   `json:"tenant"`
	Subject string   `json:"subject,omitempty"`
	Kind    string   `json:"kind"`
	Scopes  []string `json:"scopes,omitempty"`
}

type shop struct {
	products  []*Product
	customers []*Customer
	orders    []*Order
	nextOrder int
}

// Store is the demo API, an http.Handler. It is safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	shops map[string]*shop // by tenant slug
	now   func() time.Time
	mux   *http.ServeMux
}

// New returns an empty demo store; each tenant's shop is seeded when first
// called.
func New() *Store {
	s := &Store{shops: map[string]*shop{}, now: time.Now, mux: http.NewServeMux()}
	products := func(sh *shop) []*Product { return sh.products }
	orders := func(sh *shop) []*Order { return sh.orders }
	s.mux.HandleFunc("GET /rest/V1/products", list(s, products))
	s.mux.HandleFunc("GET /rest/V1/products/{sku}", get(s, products, "product", "sku",
		func(p *Product, sku string) bool { return p.SKU == sku }, "no product with SKU %q"))
	s.mux.HandleFunc("POST /rest/V1/products", s.createProduct)
	s.mux.HandleFunc("GET /rest/V1/orders", list(s, orders))
	s.mux.HandleFunc("GET /rest/V1/orders/{id}", get(s, orders, "order", "id",
		func(o *Order, id string) bool { return o.ID == id }, "no order %q"))
	s.mux.HandleFunc("POST /rest/V1/orders", s.createOrder)
	s.mux.HandleFunc("GET /rest/V1/customers", list(s, func(sh *shop) []*Customer { return sh.customers }))
	s.mux.HandleFunc("GET /rest/{tenant}/V1/store/info", s.storeInfo)
	return s
}

// ServeHTTP serves the demo API. Calls that did not come through the
// gateway (no X-Gatehouse-Tenant) are refused: the demo has no
// authentication of its own, by design.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Gatehouse-Tenant") == "" {
		writeError(w, http.StatusUnauthorized, "no_gateway", "the demo API is only reachable through the Gatehouse gateway")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func callerOf(r *http.Request) Caller {
	c := Caller{
		Tenant:  r.Header.Get("X-Gatehouse-Tenant"),
		Subject: r.Header.Get("X-Gatehouse-Subject"),
		Kind:    r.Header.Get("X-Gatehouse-Kind"),
	}
	if sc := r.Header.Get("X-Gatehouse-Scopes"); sc != "" {
		c.Scopes = strings.Fields(sc)
	}
	return c
}

// shop returns the caller's tenant's shop, seeding it on first use. The
// caller must hold s.mu.
func (s *Store) shop(tenant string) *shop {
	sh := s.shops[tenant]
	if sh == nil {
		sh = seed(s.now())
		s.shops[tenant] = sh
	}
	return sh
}

func seed(now time.Time) *shop {
	products := []*Product{
		{SKU: "24-MB01", Name: "Joust Duffle Bag", Price: 34, Qty: 100},
		{SKU: "24-MB04", Name: "Strive Shoulder Pack", Price: 32, Qty: 42},
		{SKU: "24-UG06", Name: "Affirm Water Bottle", Price: 7, Qty: 250},
		{SKU: "MH01", Name: "Chaz Kangeroo Hoodie", Price: 52, Qty: 18},
		{SKU: "WS12", Name: "Radiant Tee", Price: 22, Qty: 75},
	}
	customers := []*Customer{
		{ID: 1, Email: "roni_cost@example.com", Firstname: "Veronica", Lastname: "Costello"},
		{ID: 2, Email: "john.smith@example.com", Firstname: "John", Lastname: "Smith"},
		{ID: 3, Email: "ana.lima@example.com", Firstname: "Ana", Lastname: "Lima"},
	}
	orders := []*Order{
		{ID: "000000001", CustomerEmail: "roni_cost@example.com", Status: "complete",
			Items:      []OrderItem{{SKU: "24-MB01", Qty: 1, Price: 34}, {SKU: "24-UG06", Qty: 2, Price: 7}},
			GrandTotal: 48, CreatedAt: now.Add(-72 * time.Hour).UTC().Truncate(time.Second)},
		{ID: "000000002", CustomerEmail: "john.smith@example.com", Status: "processing",
			Items:      []OrderItem{{SKU: "MH01", Qty: 1, Price: 52}},
			GrandTotal: 52, CreatedAt: now.Add(-5 * time.Hour).UTC().Truncate(time.Second)},
	}
	return &shop{products: products, customers: customers, orders: orders, nextOrder: 3}
}

// list answers copies of the caller's items of one collection.
func list[T any](s *Store, items func(*shop) []*T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		s.mu.Lock()
		out := cloneAll(items(s.shop(c.Tenant)))
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"caller": c, "items": out, "total_count": len(out)})
	}
}

// get answers a copy of the caller's item whose path value param matches,
// as field, or 404 with notFound (a format of the value).
func get[T any](s *Store, items func(*shop) []*T, field, param string, match func(*T, string) bool, notFound string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		key := r.PathValue(param)
		s.mu.Lock()
		var found *T
		if i := slices.IndexFunc(items(s.shop(c.Tenant)), func(x *T) bool { return match(x, key) }); i >= 0 {
			cp := *items(s.shop(c.Tenant))[i]
			found = &cp
		}
		s.mu.Unlock()
		if found == nil {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf(notFound, key))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"caller": c, field: found})
	}
}

func (s *Store) createProduct(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var in struct {
		Product Product `json:"product"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	p := in.Product
	if p.SKU == "" || p.Name == "" || p.Price < 0 || p.Qty < 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "product needs sku, name, price ≥ 0 and qty ≥ 0")
		return
	}
	s.mu.Lock()
	sh := s.shop(c.Tenant)
	if slices.ContainsFunc(sh.products, func(x *Product) bool { return x.SKU == p.SKU }) {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "conflict", fmt.Sprintf("a product with SKU %q exists", p.SKU))
		return
	}
	sh.products = append(sh.products, &p)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"caller": c, "product": p})
}

func (s *Store) createOrder(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var in struct {
		CustomerEmail string `json:"customer_email"`
		Items         []struct {
			SKU string `json:"sku"`
			Qty int    `json:"qty"`
		} `json:"items"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if in.CustomerEmail == "" || len(in.Items) == 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "an order needs customer_email and at least one item")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shop(c.Tenant)
	o := &Order{CustomerEmail: in.CustomerEmail, Status: "pending", CreatedAt: s.now().UTC().Truncate(time.Second)}
	need := map[string]int{} // a SKU may appear on several lines
	for _, it := range in.Items {
		i := slices.IndexFunc(sh.products, func(p *Product) bool { return p.SKU == it.SKU })
		if i < 0 || it.Qty <= 0 {
			writeError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("unknown SKU %q or quantity below 1", it.SKU))
			return
		}
		p := sh.products[i]
		need[p.SKU] += it.Qty
		if p.Qty < need[p.SKU] {
			writeError(w, http.StatusConflict, "out_of_stock", fmt.Sprintf("only %d of %q left", p.Qty, p.SKU))
			return
		}
		o.Items = append(o.Items, OrderItem{SKU: p.SKU, Qty: it.Qty, Price: p.Price})
		o.GrandTotal += p.Price * float64(it.Qty)
	}
	for _, it := range o.Items {
		sh.products[slices.IndexFunc(sh.products, func(p *Product) bool { return p.SKU == it.SKU })].Qty -= it.Qty
	}
	o.ID = fmt.Sprintf("%09d", sh.nextOrder)
	sh.nextOrder++
	sh.orders = append(sh.orders, o)
	writeJSON(w, http.StatusCreated, map[string]any{"caller": c, "order": o})
}

// storeInfo is the guest route. The tenant is the gateway's, never the
// path's: the gateway lets the credential's tenant win (SPEC §5).
func (s *Store) storeInfo(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"caller": c,
		"store": map[string]any{
			"code":          c.Tenant,
			"name":          "Demo store of " + c.Tenant,
			"base_currency": "USD",
			"locale":        "en_US",
			"timezone":      "UTC",
		},
	})
}

func cloneAll[T any](in []*T) []T {
	out := make([]T, len(in))
	for i, p := range in {
		out[i] = *p
	}
	return out
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the body is empty")
		}
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ") // read by people in the README's curl tour
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
