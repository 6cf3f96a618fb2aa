package api

import (
	_ "embed"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/admin"
)

// openAPIDoc is the OpenAPI 3.1 description of this API. A test checks
// that it is valid JSON and describes exactly the registered routes.
//
//go:embed openapi.json
var openAPIDoc []byte

func (h *handler) openAPIRoutes() []route {
	return []route{
		// Public: the document holds no tenant data, and clients and
		// generators fetch it before they have a token.
		{method: http.MethodGet, pattern: Prefix + "/openapi.json", public: true, serve: serveOpenAPI},
	}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request, _ admin.Actor) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDoc) // a failed write means the client went away
	return nil
}
