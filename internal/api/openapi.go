package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// openAPISource is the OpenAPI 3.1 description of this API as written.
// What GET /api/v1/openapi.json serves is the same with the Kind schema's
// enum derived from the table of kinds (gatehouse.Kinds), so a new kind
// needs no edit here. A test checks that the served document is valid
// JSON, lists the kinds and describes exactly the registered routes.
//
//go:embed openapi.json
var openAPISource []byte

func (h *handler) openAPIRoutes() []route {
	doc, err := withKindEnum(openAPISource)
	if err != nil {
		panic(err) // the embedded document is the binary's own: a test keeps it valid
	}
	serve := func(w http.ResponseWriter, r *http.Request, _ admin.Actor) error {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write(doc) // a failed write means the client went away
		return nil
	}
	return []route{
		// Public: the document holds no tenant data, and clients and
		// generators fetch it before they have a token.
		{method: http.MethodGet, pattern: Prefix + "/openapi.json", public: true, serve: serve},
	}
}

// withKindEnum returns doc with components.schemas.Kind.enum set to the
// credential kinds, in the table's order.
func withKindEnum(src []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	kind, ok := schemas["Kind"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.json: no Kind schema")
	}
	var kinds []gatehouse.Kind
	for _, s := range gatehouse.Kinds() {
		kinds = append(kinds, s.Kind)
	}
	kind["enum"] = kinds
	return json.MarshalIndent(doc, "", "  ")
}
