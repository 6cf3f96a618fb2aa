package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI in-process and returns stdout and the error.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(strings.NewReader(stdin), &out, &errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCLI(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(t, stdin, append(args, "--database", db)...)
		if err != nil {
			t.Fatalf("gatehouse %v: %v", args, err)
		}
		return out
	}
	mustRun("", "migrate")
	mustRun("", "tenant", "create", "acme", "--name", "Acme", "--plan", "enterprise")
	mustRun("long enough password\n", "user", "create", "--tenant", "acme", "--email", "Owner@Acme.test", "--role", "owner", "--password-stdin")
	out := mustRun("", "token", "create", "--tenant", "acme", "--email", "owner@acme.test", "--name", "ci",
		"--scopes", "manage verify sales", "--expires", "720h", "--json")
	var tok struct {
		ID        string   `json:"id"`
		Token     string   `json:"token"`
		Scopes    []string `json:"scopes"`
		ExpiresAt *string  `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if tok.ID == "" || !strings.HasPrefix(tok.Token, "gate_pat_") || len(tok.Scopes) != 3 || tok.ExpiresAt == nil {
		t.Fatalf("token create --json = %+v", tok)
	}

	// A server on this SQLite file is another process the CLI cannot
	// notify: it sees the change when its cached tenant expires, and the
	// CLI says so rather than "at once".
	if out := mustRun("", "tenant", "disable", "acme"); !strings.Contains(out, "disabled") || !strings.Contains(out, "GATEHOUSE_CACHE_TTL") {
		t.Fatalf("tenant disable printed %q, want when it takes effect", out)
	}
	if help := mustRun("", "tenant", "disable", "--help"); strings.Contains(help, "at once") || !strings.Contains(help, "within a second with PostgreSQL") {
		t.Fatalf("tenant disable --help promises %q", help)
	}
	mustRun("", "tenant", "enable", "acme")

	bad := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"duplicate tenant", "", []string{"tenant", "create", "acme", "--name", "Again"}, "already exists"},
		{"bad slug", "", []string{"tenant", "create", "Not A Slug", "--name", "X"}, "slug"},
		{"bad plan", "", []string{"tenant", "create", "b", "--name", "B", "--plan", "gold"}, "plan"},
		{"missing name", "", []string{"tenant", "create", "c"}, "name"},
		{"unknown tenant", "", []string{"user", "create", "--tenant", "nope", "--email", "a@b.test", "--role", "admin"}, "no tenant"},
		{"bad role", "", []string{"user", "create", "--tenant", "acme", "--email", "a@b.test", "--role", "king"}, "role"},
		{"bad email", "", []string{"user", "create", "--tenant", "acme", "--email", "nope", "--role", "admin"}, "email"},
		{"short password", "short\n", []string{"user", "create", "--tenant", "acme", "--email", "a@b.test", "--role", "admin", "--password-stdin"}, "password"},
		{"empty password", "", []string{"user", "create", "--tenant", "acme", "--email", "a@b.test", "--role", "admin", "--password-stdin"}, "password"},
		{"unknown scope", "", []string{"token", "create", "--tenant", "acme", "--email", "owner@acme.test", "--name", "x", "--scopes", "sales nope"}, "unknown resource"},
		{"unknown user", "", []string{"token", "create", "--tenant", "acme", "--email", "ghost@acme.test", "--name", "x", "--scopes", "sales"}, "no user"},
		{"negative expiry", "", []string{"token", "create", "--tenant", "acme", "--email", "owner@acme.test", "--name", "x", "--scopes", "sales", "--expires", "-1h"}, "expires"},
		{"unknown command", "", []string{"frobnicate"}, "unknown command"},
		{"disable unknown tenant", "", []string{"tenant", "disable", "nope"}, "no tenant"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := run(t, c.stdin, append(c.args, "--database", db)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
