package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysCLI: `keys rotate` makes the first key (signing at once), then a
// pending one; `keys list` shows both with their stages, and the first
// one's retirement at the second's start.
func TestKeysCLI(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "keys.db")
	t.Setenv("GATEHOUSE_SECRET_KEY", strings.Repeat("ab", 32))
	t.Setenv("GATEHOUSE_PUBLIC_URL", "https://id.example")
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(t, "", append(args, "--database", db)...)
		if err != nil {
			t.Fatalf("gatehouse %v: %v", args, err)
		}
		return out
	}
	mustRun("migrate")
	if out := mustRun("keys", "list"); !strings.Contains(out, "no signing keys") {
		t.Errorf("empty list: %q", out)
	}
	var first, second signingKeyJSON
	if err := json.Unmarshal([]byte(mustRun("keys", "rotate", "--json")), &first); err != nil || first.State != "signing" || first.Alg != "ES256" {
		t.Fatalf("first rotate: %+v %v", first, err)
	}
	if err := json.Unmarshal([]byte(mustRun("keys", "rotate", "--json")), &second); err != nil || second.State != "pending" {
		t.Fatalf("second rotate: %+v %v", second, err)
	}
	var list []signingKeyJSON
	if err := json.Unmarshal([]byte(mustRun("keys", "list", "--json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if list[0].KID != second.KID || list[1].KID != first.KID || list[1].RetireAt == nil || !list[1].RetireAt.Equal(second.UseAfter) {
		t.Errorf("list %+v", list)
	}
	if out := mustRun("keys", "list"); !strings.Contains(out, second.KID) || !strings.Contains(out, "pending") {
		t.Errorf("table: %q", out)
	}
	if _, err := run(t, "", "keys", "list", "--database", db, "--json", "x"); err == nil {
		t.Error("an argument was accepted")
	}
}
