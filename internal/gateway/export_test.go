package gateway

// RoutePattern is the ServeMux pattern of rt ("GET /rest/V1/orders"), for
// tests.
func RoutePattern(rt *Route) string { return rt.pattern }
