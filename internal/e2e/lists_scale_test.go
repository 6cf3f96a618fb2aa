package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// scaleRows is how many tokens, and how many API keys, the tenant holds
// in TestListsAtScale (issue 14: "10 000 tokens in a tenant render a page
// in < 100 ms").
const scaleRows = 10_000

// pageBudget is what the first page of a list may take.
const pageBudget = 100 * time.Millisecond

// TestListsAtScale: with 10 000 tokens and 10 000 API keys in a tenant,
// the first page of the console's tokens list and of GET /api/v1/tokens
// and /api/v1/api-keys answers within pageBudget (the best of a few
// tries, on a shared machine), in the default order and sorted by name
// and by expiry, and walking either collection with limit and next sees
// every credential exactly once, in every order (names and expiries
// shared by many tokens, a quarter never expiring).
func TestListsAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 20 000 credentials")
	}
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		e := testenv.New(t, testenv.Options{DatabaseURL: databaseURL})
		ctx := t.Context()
		_, manage, err := e.Server.Admin.CreateCredential(ctx, e.Owner, gatehouse.KindPAT,
			admin.CredentialInput{Name: "manage", Scopes: []string{gatehouse.ScopeManage}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		tokens := insertCredentials(t, ctx, databaseURL, e.Tenant.ID, e.Owner.UserID, gatehouse.KindPAT, scaleRows)
		keys := insertCredentials(t, ctx, databaseURL, e.Tenant.ID, "", gatehouse.KindAPIKey, scaleRows)
		t.Logf("inserted %d credentials in %v", 2*scaleRows, time.Since(start))

		fastest := func(what string, get func() (int, string)) string {
			t.Helper()
			best, body := time.Duration(1<<62), ""
			for range 5 {
				t0 := time.Now()
				status, b := get()
				d := time.Since(t0)
				if status != http.StatusOK {
					t.Fatalf("%s: %d %.300s", what, status, b)
				}
				best, body = min(best, d), b
			}
			t.Logf("%s: first page in %v", what, best)
			// The budget holds for the README's go test ./...; under the
			// race detector the pure-Go SQLite driver runs a search over
			// the 10 000 rows some fifty times slower (0.5 s on an idle
			// machine, 1.3 s on a loaded CI one), so the budget is thirty
			// times wider there (the walk below is what catches a page
			// read whole).
			budget := pageBudget
			if raceDetector {
				budget *= 30
			}
			if best > budget {
				t.Errorf("%s: first page in %v, over %v", what, best, budget)
			}
			return body
		}
		api := func(path string) func() (int, string) {
			return func() (int, string) {
				var raw map[string]any
				status, err := doJSON(ctx, e.HTTP, "GET", e.URL+path, manage, nil, &raw)
				if err != nil {
					t.Fatal(err)
				}
				return status, fmt.Sprint(raw["next"])
			}
		}
		fastest("GET /api/v1/tokens", api("/api/v1/tokens"))
		fastest("GET /api/v1/api-keys", api("/api/v1/api-keys"))
		// A search and a filter read past the rows they skip, within the
		// tenant's and kind's index range.
		fastest("GET /api/v1/tokens?q=", api("/api/v1/tokens?q=scale+4999"))
		fastest("GET /api/v1/tokens?status=revoked", api("/api/v1/tokens?status=revoked"))
		for _, s := range gatehouse.CredentialSorts {
			fastest("GET /api/v1/tokens?sort="+string(s), api("/api/v1/tokens?sort="+string(s)))
		}
		fastest("GET /api/v1/api-keys?sort=expires", api("/api/v1/api-keys?sort=expires"))
		c := e.Console(e.OwnerEmail, testenv.Password)
		page := fastest("console tokens", func() (int, string) {
			res, body := c.Get("/console/tokens")
			return res.StatusCode, body
		})
		if !strings.Contains(page, `rel="next"`) {
			t.Error("the console's first page has no Next page link")
		}
		for _, s := range []string{"name", "expires"} {
			page := fastest("console tokens by "+s, func() (int, string) {
				res, body := c.Get("/console/tokens?sort=" + s)
				return res.StatusCode, body
			})
			if !strings.Contains(page, `rel="next"`) || !strings.Contains(page, "sort="+s) {
				t.Errorf("the console's first page by %s has no Next page link in that order", s)
			}
		}

		walk := func(path string, want map[string]bool, sort string) {
			t.Helper()
			seen := map[string]int{}
			next := ""
			for pages := 0; ; pages++ {
				if pages > scaleRows {
					t.Fatalf("%s: the walk does not end", path)
				}
				q := url.Values{"limit": {"200"}}
				if sort != "" {
					q.Set("sort", sort)
				}
				if next != "" {
					q.Set("next", next)
				}
				var p struct {
					Items []struct{ ID string }
					Next  *string
				}
				status, err := doJSON(ctx, e.HTTP, "GET", e.URL+path+"?"+q.Encode(), manage, nil, &p)
				if err != nil || status != http.StatusOK {
					t.Fatalf("%s: %d %v", path, status, err)
				}
				if len(p.Items) > 200 {
					t.Fatalf("%s: %d items in a page of 200", path, len(p.Items))
				}
				for _, it := range p.Items {
					seen[it.ID]++
				}
				if p.Next == nil {
					break
				}
				next = *p.Next
			}
			for id := range want {
				if seen[id] != 1 {
					t.Errorf("%s by %q: %s seen %d times", path, sort, id, seen[id])
				}
			}
			if len(seen) < len(want) || len(seen) > len(want)+2 { // + the manage token and the owner's console PATs
				t.Errorf("%s by %q: %d seen, want %d", path, sort, len(seen), len(want))
			}
		}
		walk("/api/v1/tokens", tokens, "")
		walk("/api/v1/api-keys", keys, "")
		walk("/api/v1/tokens", tokens, "name")
		walk("/api/v1/tokens", tokens, "expires")
	})
}

// insertCredentials stores n credentials of kind in the tenant in one
// transaction of multi-row INSERTs (as internal/bench seeds), three to a
// creation time, two to a name and some hundred to an expiry (a quarter
// with none) so that the ID orders ties, and returns their IDs.
func insertCredentials(t *testing.T, ctx context.Context, databaseURL, tenantID, userID string, kind gatehouse.Kind, n int) map[string]bool {
	t.Helper()
	db, unix, err := sqlstore.OpenRaw(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ids := make(map[string]bool, n)
	var user any
	if userID != "" {
		user = userID
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	const rows = 500
	for start := 0; start < n; start += rows {
		var q strings.Builder
		q.WriteString(`INSERT INTO credentials (id, tenant_id, kind, name, hash, hint, user_id, scopes, created_at, expires_at) VALUES `)
		var args []any
		for i := start; i < min(start+rows, n); i++ {
			if i > start {
				q.WriteByte(',')
			}
			if unix {
				// SQLite: positional parameters; it resolves $N names by a
				// linear search (see internal/bench/seed.go).
				q.WriteString("(?,?,?,?,?,?,?,?,?,?)")
			} else {
				k := len(args)
				fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9, k+10)
			}
			tok := secret.NewToken(kind)
			id := "cred_scale" + secret.RandomString(20, "0123456789abcdefghijklmnopqrstuvwxyz")
			ids[id] = true
			var created any = base.Add(time.Duration(i/3) * time.Millisecond)
			var expires any
			if i%4 != 0 {
				expires = base.Add(48*time.Hour + time.Duration(i%97)*time.Minute)
			}
			if unix {
				created = created.(time.Time).UnixMicro()
				if expires != nil {
					expires = expires.(time.Time).UnixMicro()
				}
			}
			args = append(args, id, tenantID, string(kind), fmt.Sprintf("scale %d", i%(n/2)), secret.HashBytes(tok), secret.Hint(tok), user, "catalog", created, expires)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return ids
}
