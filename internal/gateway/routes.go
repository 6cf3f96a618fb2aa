package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse"
)

// Routes is a parsed routes file (SPEC §5 "Routes file"): which calls the
// gateway forwards and which resource each needs.
type Routes struct {
	// TenantHosts maps a Host header to a tenant slug, naming the tenant of
	// anonymous guest calls that carry no {tenant} in their path.
	TenantHosts map[string]string `yaml:"tenant_hosts"`
	// Routes are tried in order; the first that matches wins.
	Routes []*Route `yaml:"routes"`
}

// Route is one entry of the routes file.
type Route struct {
	// Method is an HTTP method; "" or "*" matches any. GET also matches
	// HEAD, as in http.ServeMux.
	Method string `yaml:"method"`
	// Path is a Go 1.22 http.ServeMux path pattern ("/rest/V1/orders/{id}",
	// "/static/", "/{tenant}/info/{$}"), optionally with a host.
	Path string `yaml:"path"`
	// Resource is the resource tree id a credential must grant.
	Resource string `yaml:"resource"`
	// Guest routes need no resource; anonymous calls are allowed when the
	// tenant's allow_anonymous_guest_access setting is on (SPEC §4).
	Guest bool `yaml:"guest"`
	// Upgrade names the one protocol upgrade the route allows; only
	// "websocket" may be named. Without it every upgrade is refused
	// (UPGRADE_NOT_ALLOWED), and h2c is refused on every route.
	Upgrade string `yaml:"upgrade"`

	pattern string         // "METHOD /path" as given to ServeMux
	label   string         // metrics route label, computed once
	mux     *http.ServeMux // matches this route's pattern and nothing else
	hasTen  bool           // the pattern has a {tenant} wildcard
	// prefix is the pattern's literal path up to its first wildcard ("" for
	// a host-qualified pattern): a request whose decoded path does not
	// start with it cannot match, and is skipped without running the mux.
	prefix string
}

// LoadRoutes reads and parses a routes file.
func LoadRoutes(path string) (*Routes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	rs, err := ParseRoutes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// ParseRoutes parses a routes file. Unknown keys are errors, so a typo
// ("resouce:") cannot silently turn a route into something else. Resources
// are checked against the tree by Validate (New calls it).
func ParseRoutes(b []byte) (*Routes, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var rs Routes
	if err := dec.Decode(&rs); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("routes: the file is empty")
		}
		return nil, fmt.Errorf("routes: %w", err)
	}
	var problems []string
	for i, rt := range rs.Routes {
		if rt == nil {
			problems = append(problems, fmt.Sprintf("route %d: empty", i+1))
			continue
		}
		if err := rt.compile(); err != nil {
			problems = append(problems, fmt.Sprintf("route %d (%s %s): %v", i+1, rt.Method, rt.Path, err))
		}
	}
	for host, slug := range rs.TenantHosts {
		if err := gatehouse.ValidateSlug(slug); err != nil {
			problems = append(problems, fmt.Sprintf("tenant_hosts: %q: %q is not a tenant slug", host, slug))
		}
	}
	if len(rs.Routes) == 0 {
		problems = append(problems, "no routes")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("routes: %s", strings.Join(problems, "; "))
	}
	hosts := make(map[string]string, len(rs.TenantHosts))
	for h, slug := range rs.TenantHosts {
		hosts[strings.ToLower(h)] = slug
	}
	rs.TenantHosts = hosts
	return &rs, nil
}

// Validate checks every route's resource against the tree: a resource that
// does not exist could never be granted, so the route would refuse every
// call — better to refuse to start.
func (rs *Routes) Validate(tree *gatehouse.ResourceTree) error {
	var problems []string
	for i, rt := range rs.Routes {
		if rt.Guest {
			continue
		}
		if _, ok := tree.Find(rt.Resource); !ok {
			problems = append(problems, fmt.Sprintf("route %d (%s): resource %q is not in the resource tree", i+1, rt.pattern, rt.Resource))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("routes: %s", strings.Join(problems, "; "))
	}
	return nil
}

// compile checks a route and builds its matcher. Each route gets a
// ServeMux of its own holding only its pattern: ServeMux alone would pick
// the most specific of overlapping patterns (and refuse to register
// conflicting ones), but SPEC §5 says the first match wins, so routes are
// tried in file order, each with ServeMux's exact matching rules.
func (rt *Route) compile() (err error) {
	switch {
	case rt.Path == "":
		return errors.New("path is required")
	case rt.Guest && rt.Resource != "":
		return errors.New("a guest route names no resource")
	case !rt.Guest && rt.Resource == "":
		return errors.New("resource is required (or guest: true)")
	case strings.ContainsAny(rt.Method, " \t/"):
		return fmt.Errorf("invalid method %q", rt.Method)
	case strings.ContainsAny(rt.Path, " \t"):
		return errors.New("path must not contain spaces")
	case rt.Upgrade != "" && !strings.EqualFold(rt.Upgrade, upgradeWebSocket):
		return fmt.Errorf("upgrade %q: only %q may be allowed", rt.Upgrade, upgradeWebSocket)
	}
	rt.Upgrade = strings.ToLower(rt.Upgrade)
	method := strings.ToUpper(rt.Method)
	if method == "*" {
		method = ""
	}
	rt.Method = method
	rt.pattern = strings.TrimSpace(method + " " + rt.Path)
	rt.label = "gateway " + rt.pattern
	mux := http.NewServeMux()
	defer func() {
		// ServeMux panics on an invalid pattern; turn that into an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("invalid pattern: %v", p)
		}
	}()
	mux.Handle(rt.pattern, matched{})
	rt.mux = mux
	rt.hasTen = strings.Contains(rt.Path, "{tenant}") || strings.Contains(rt.Path, "{tenant...}")
	if strings.HasPrefix(rt.Path, "/") {
		rt.prefix, _, _ = strings.Cut(rt.Path, "{")
	}
	return nil
}

// match reports whether r matches the route and, if so, the {tenant}
// wildcard's value. ServeMux sets Pattern and path values on r itself.
func (rt *Route) match(r *http.Request) (ok bool, tenant string) {
	// Cheap refusals first: a route mux that does not match writes a 404
	// or a 405 (with its Allow list) into the matchWriter, a dozen
	// allocations per route tried. They only skip routes the mux would
	// refuse: ServeMux matches the method exactly (GET also HEAD), and its
	// literal segments against the decoded path (canonicalPath has already
	// refused encoded slashes, so decoding per segment is decoding the
	// whole path).
	if rt.Method != "" && rt.Method != r.Method && !(rt.Method == http.MethodGet && r.Method == http.MethodHead) {
		return false, ""
	}
	if !strings.HasPrefix(r.URL.Path, rt.prefix) {
		return false, ""
	}
	if r.RequestURI == "*" {
		return false, "" // ServeMux answers 400 to "OPTIONS *"
	}
	if !rt.hasTen {
		// Without a wildcard to read, asking the mux which handler it
		// would run is the same match (ServeHTTP runs what Handler
		// finds), without a matchWriter on the heap.
		h, _ := rt.mux.Handler(r)
		_, ok = h.(matched)
		return ok, ""
	}
	var mw matchWriter
	rt.mux.ServeHTTP(&mw, r)
	if !mw.ok {
		return false, ""
	}
	return true, r.PathValue("tenant")
}

// match finds the first route matching r.
func (rs *Routes) match(r *http.Request) (*Route, string) {
	for _, rt := range rs.Routes {
		if ok, tenant := rt.match(r); ok {
			return rt, tenant
		}
	}
	return nil, ""
}

// matched is the only handler of a route's mux: being called is the match.
// Anything else the mux might do — 404, 405, the redirects for unclean
// paths ("/a/../b") or a missing trailing slash — writes to the
// matchWriter instead and so counts as no match. Security: a path is only
// ever matched in its canonical form, so dot segments cannot slip a call
// past a guest route to a protected upstream path.
type matched struct{}

func (matched) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if mw, ok := w.(*matchWriter); ok {
		mw.ok = true
	}
}

// matchWriter swallows whatever a route mux writes when it does not match.
type matchWriter struct {
	ok bool
	h  http.Header
}

func (w *matchWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *matchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *matchWriter) WriteHeader(int)             {}
