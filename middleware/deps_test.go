package middleware_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies: the public middleware is embedded by resource servers,
// so it must not compile Gatehouse's server into them (issue 13): no
// verifier, store, password hashing or metrics. Outside the standard
// library it may use only the packages listed here (a new one is added
// deliberately): of Gatehouse's internal packages only httpx, which itself
// imports the standard library and the domain alone.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/gatehouse/gatehouse"
	allowed := []string{
		module, // the domain
		module + "/internal/httpx",
		module + "/middleware",
		"golang.org/x/sync/singleflight",
	}
	forbidden := []string{
		"golang.org/x/crypto/argon2",
		module + "/internal/store",
		module + "/internal/verify",
		module + "/internal/secret",
		"github.com/prometheus/",
	}
	for _, pkg := range strings.Fields(string(out)) {
		bad := false
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("middleware depends on %s", pkg)
				bad = true
			}
		}
		if !bad && !slices.Contains(allowed, pkg) {
			t.Errorf("middleware depends on %s, which is not among the packages it may use (%s)", pkg, strings.Join(allowed, ", "))
		}
	}
	if t.Failed() {
		t.Logf("go list -deps ./middleware, outside the standard library:\n%s", out)
	}
}
