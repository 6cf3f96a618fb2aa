package middleware_test

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/middleware"
)

// A resource server protects its routes with Gatehouse: each route names
// the resource it needs, handlers read the caller from the context, and a
// background goroutine follows Gatehouse's invalidation stream so that a
// revocation takes effect at once.
func Example() {
	v, err := middleware.New(middleware.Config{
		Endpoint: "https://gatehouse.internal",
		// A token holding the "verify" resource, or the operator's
		// GATEHOUSE_SERVICE_TOKEN.
		Token: os.Getenv("GATEHOUSE_VERIFY_TOKEN"),
		// The load balancer in front of this service.
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go v.Run(ctx) // revocations arrive here; without it, answers are cached for 5 s

	products := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]any{
			"sku":    r.PathValue("sku"),
			"tenant": p.Tenant, // the caller's tenant: scope the data to it
		})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /rest/V1/products/{sku}", v.Require("catalog.products")(products))
	mux.Handle("POST /rest/V1/orders", v.Require("sales.orders")(http.NotFoundHandler()))
	mux.Handle("GET /rest/V1/me", v.Require("")(http.NotFoundHandler())) // any valid credential

	srv := &http.Server{Addr: "127.0.0.1:9000", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv // srv.ListenAndServe() in a real service
}
