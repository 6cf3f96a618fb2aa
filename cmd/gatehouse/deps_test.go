package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestSupport: test support lives in packages only tests
// import (sqlstoretest, testenv, storetest), so the binary links neither
// the testing package nor any of them (issue 13).
func TestBinaryLinksNoTestSupport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "testing", strings.HasPrefix(pkg, "testing/"),
			strings.HasSuffix(pkg, "/storetest"), strings.HasSuffix(pkg, "/sqlstoretest"),
			strings.Contains(pkg, "/internal/testenv"), strings.HasSuffix(pkg, "/verifytest"):
			t.Errorf("cmd/gatehouse links %s", pkg)
		}
	}
}
