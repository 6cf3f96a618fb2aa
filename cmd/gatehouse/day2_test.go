package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// cli runs gatehouse against one database.
type cli struct {
	t  *testing.T
	db string
}

// ok runs args and fails the test on an error.
func (c cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, err := run(c.t, stdin, append(args, "--database", c.db)...)
	if err != nil {
		c.t.Fatalf("gatehouse %v: %v", args, err)
	}
	return out
}

// json runs args and decodes their --json output into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok("", append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("gatehouse %v --json printed %q: %v", args, out, err)
	}
}

// fails runs args and wants an error mentioning want.
func (c cli) fails(want string, args ...string) {
	c.t.Helper()
	_, err := run(c.t, "", append(args, "--database", c.db)...)
	if err == nil || !strings.Contains(err.Error(), want) {
		c.t.Fatalf("gatehouse %v: error = %v, want one mentioning %q", args, err, want)
	}
}

// The --json documents of the list commands (README "Command line").
type (
	tenantDoc struct {
		ID        string `json:"id"`
		Slug      string `json:"slug"`
		Name      string `json:"name"`
		Plan      string `json:"plan"`
		Disabled  bool   `json:"disabled"`
		CreatedAt string `json:"created_at"`
	}
	memberDoc struct {
		ID        string `json:"id"`
		Email     string `json:"email"`
		Role      string `json:"role"`
		CreatedAt string `json:"created_at"`
	}
	credDoc struct {
		ID          string   `json:"id"`
		Kind        string   `json:"kind"`
		Name        string   `json:"name"`
		Description string   `json:"description"`
		UserID      string   `json:"user_id"`
		Email       string   `json:"email"`
		Hint        string   `json:"hint"`
		Scopes      []string `json:"scopes"`
		ExpiresAt   *string  `json:"expires_at"`
		LastUsedAt  *string  `json:"last_used_at"`
		CreatedAt   string   `json:"created_at"`
		Token       string   `json:"token"`
		Key         string   `json:"key"`
	}
)

// TestDay2 walks the day-2 commands on a real store: tenant, user, token
// and apikey lists, token and API key revocation by id, API key creation,
// in text and --json, and their refusals.
func TestDay2(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, db string) {
		c := cli{t, db}
		c.ok("", "tenant", "create", "acme", "--name", "Acme", "--plan", "enterprise")
		c.ok("", "tenant", "create", "beta", "--name", "Beta")
		var beta tenantDoc
		c.json(&beta, "tenant", "disable", "beta")
		if beta.Slug != "beta" || !beta.Disabled || beta.ID == "" {
			t.Fatalf("tenant disable --json = %+v", beta)
		}
		c.ok("long enough password\n", "user", "create", "--tenant", "acme", "--email", "owner@acme.test", "--role", "owner", "--password-stdin")
		c.ok("", "user", "create", "--tenant", "acme", "--email", "staff@acme.test", "--role", "staff")
		c.ok("", "user", "create", "--tenant", "beta", "--email", "b@beta.test", "--role", "admin")

		var tenants []tenantDoc
		c.json(&tenants, "tenant", "list")
		if len(tenants) != 2 || tenants[0].Slug != "acme" || tenants[0].Plan != "enterprise" || tenants[0].Disabled ||
			tenants[1].Slug != "beta" || !tenants[1].Disabled || tenants[0].ID == "" || tenants[0].CreatedAt == "" {
			t.Fatalf("tenant list --json = %+v", tenants)
		}
		if out := c.ok("", "tenant", "list"); !strings.Contains(out, "SLUG") || !strings.Contains(out, "acme") || !strings.Contains(out, "disabled") {
			t.Fatalf("tenant list printed %q", out)
		}

		var members []memberDoc
		c.json(&members, "user", "list", "--tenant", "acme")
		emails := []string{}
		for _, m := range members {
			emails = append(emails, m.Email+" "+m.Role)
		}
		slices.Sort(emails)
		if !slices.Equal(emails, []string{"owner@acme.test owner", "staff@acme.test staff"}) || members[0].ID == "" {
			t.Fatalf("user list --json = %+v", members)
		}
		if out := c.ok("", "user", "list", "--tenant", "acme"); !strings.Contains(out, "owner@acme.test") || strings.Contains(out, "b@beta.test") {
			t.Fatalf("user list printed %q", out)
		}

		var pat credDoc
		c.json(&pat, "token", "create", "--tenant", "acme", "--email", "owner@acme.test", "--name", "ci", "--scopes", "verify sales")
		var pats []credDoc
		c.json(&pats, "token", "list", "--tenant", "acme")
		if len(pats) != 1 || pats[0].ID != pat.ID || pats[0].Kind != "pat" || pats[0].Name != "ci" || pats[0].Email != "owner@acme.test" ||
			pats[0].UserID == "" || !strings.HasPrefix(pats[0].Hint, "gate_pat_") || len(pats[0].Scopes) != 2 || pats[0].ExpiresAt != nil || pats[0].Token != "" {
			t.Fatalf("token list --json = %+v (created %+v)", pats, pat)
		}
		if out := c.ok("", "token", "list", "--tenant", "acme"); !strings.Contains(out, pat.ID) || !strings.Contains(out, "owner@acme.test") || strings.Contains(out, pat.Token) {
			t.Fatalf("token list printed %q", out)
		}

		var key credDoc
		c.json(&key, "apikey", "create", "--tenant", "acme", "--description", "portal", "--scopes", "catalog", "--expires", "720h")
		if !strings.HasPrefix(key.Key, "gate_key_") || key.ID == "" || key.Description != "portal" || key.ExpiresAt == nil {
			t.Fatalf("apikey create --json = %+v", key)
		}
		if out := c.ok("", "apikey", "create", "--tenant", "acme", "--description", "all"); !strings.Contains(out, "gate_key_") || !strings.Contains(out, "shown only once") {
			t.Fatalf("apikey create printed %q", out)
		}
		var keys []credDoc
		c.json(&keys, "apikey", "list", "--tenant", "acme")
		if len(keys) != 2 || keys[1].ID != key.ID || keys[1].Kind != "apikey" || keys[1].Description != "portal" || keys[1].Key != "" || keys[0].Scopes[0] != "all" {
			t.Fatalf("apikey list --json = %+v", keys)
		}
		if out := c.ok("", "apikey", "list", "--tenant", "acme"); !strings.Contains(out, "portal") || strings.Contains(out, key.Key) {
			t.Fatalf("apikey list printed %q", out)
		}

		var acme tenantDoc
		c.json(&acme, "tenant", "enable", "acme")
		if acme.Slug != "acme" || acme.Disabled {
			t.Fatalf("tenant enable --json = %+v", acme)
		}

		// Kinds and tenants stay apart: a PAT is no API key, acme's key is
		// not beta's.
		c.fails("no such", "apikey", "revoke", pat.ID, "--tenant", "acme")
		c.fails("no such", "token", "revoke", key.ID, "--tenant", "acme")
		c.fails("not found", "apikey", "revoke", key.ID, "--tenant", "beta")
		c.fails("not found", "token", "revoke", "nope", "--tenant", "acme")

		if out := c.ok("", "token", "revoke", pat.ID, "--tenant", "acme"); !strings.Contains(out, "revoked") {
			t.Fatalf("token revoke printed %q", out)
		}
		c.ok("", "token", "revoke", pat.ID, "--tenant", "acme") // again: a no-op
		c.json(&pats, "token", "list", "--tenant", "acme")
		if len(pats) != 0 {
			t.Fatalf("token list after revoke = %+v", pats)
		}
		var revoked map[string]any
		c.json(&revoked, "apikey", "revoke", key.ID, "--tenant", "acme")
		if revoked["id"] != key.ID || revoked["revoked"] != true {
			t.Fatalf("apikey revoke --json = %v", revoked)
		}
		c.json(&keys, "apikey", "list", "--tenant", "acme")
		if len(keys) != 1 || keys[0].ID == key.ID {
			t.Fatalf("apikey list after revoke = %+v", keys)
		}
		// An empty list is [] in JSON, a line saying so in text.
		var none []credDoc
		c.json(&none, "token", "list", "--tenant", "beta")
		if none == nil || len(none) != 0 {
			t.Fatalf("empty token list --json = %#v", none)
		}
		if out := c.ok("", "token", "list", "--tenant", "beta"); !strings.Contains(out, "no personal access tokens") {
			t.Fatalf("empty token list printed %q", out)
		}

		for _, bad := range []struct {
			want string
			args []string
		}{
			{"no tenant", []string{"user", "list", "--tenant", "nope"}},
			{"no tenant", []string{"apikey", "list", "--tenant", "nope"}},
			{"tenant", []string{"token", "list"}},
			{"manage", []string{"apikey", "create", "--tenant", "acme", "--description", "x", "--scopes", "manage"}},
			{"unknown resource", []string{"apikey", "create", "--tenant", "acme", "--description", "x", "--scopes", "nope"}},
			{"description", []string{"apikey", "create", "--tenant", "acme", "--description", " "}},
			{"expires", []string{"apikey", "create", "--tenant", "acme", "--description", "x", "--expires", "-1h"}},
			{"accepts 1 arg", []string{"token", "revoke", "--tenant", "acme"}},
		} {
			c.fails(bad.want, bad.args...)
		}
	})
}
