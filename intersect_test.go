package gatehouse_test

import (
	"slices"
	"strings"
	"testing"
)

// TestIntersect: the scopes both lists grant, as an edited app's refresh
// is narrowed (admin.UpdateClient).
func TestIntersect(t *testing.T) {
	tree := commerce(t)
	for _, tc := range []struct{ a, b, want string }{
		{"catalog sales", "catalog sales", "catalog sales"},
		{"catalog sales", "catalog.products", "catalog.products"},
		{"catalog.products", "catalog", "catalog.products"},
		{"sales", "catalog", ""},
		{"all", "catalog sales.orders verify", "catalog sales.orders"},
		{"catalog", "all", "catalog"},
		{"all", "all", "all"},
		{"catalog verify", "catalog", "catalog"},
		{"catalog verify", "sales verify", "verify"},
		{"sales.orders catalog", "catalog.products catalog.inventory sales", "catalog.products catalog.inventory sales.orders"},
	} {
		got := tree.Intersect(strings.Fields(tc.a), strings.Fields(tc.b))
		if want := strings.Fields(tc.want); !slices.Equal(got, want) || (len(want) == 0) != (got == nil) {
			t.Errorf("Intersect(%q, %q) = %q, want %q", tc.a, tc.b, got, want)
		}
	}
}
