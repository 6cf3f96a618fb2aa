package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// insertRows is how many credentials one INSERT statement carries (8
// parameters each, well under both databases' parameter limits).
const insertRows = 500

// insertAPIKeys stores n fresh API keys (scopes "all") of the tenant in
// one transaction and returns their plaintext.
//
// gatehouse.Store creates credentials one transaction at a time: 100 000
// of them would take far longer than a benchmark's set-up may. So the
// keys go in with multi-row INSERTs on a connection of our own, which
// couples this set-up (not the measurement) to the credentials table's
// columns; the verifier then reads them through the store like any other.
func insertAPIKeys(ctx context.Context, databaseURL, tenantID string, n int) ([]string, error) {
	db, unix, err := sqlstore.OpenRaw(databaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = secret.NewToken(gatehouse.KindAPIKey)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var created any = now
	if unix {
		created = now.UnixMicro()
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var q strings.Builder
	args := make([]any, 0, 8*insertRows)
	for start := 0; start < n; start += insertRows {
		end := min(start+insertRows, n)
		q.Reset()
		q.WriteString(`INSERT INTO credentials (id, tenant_id, kind, name, hash, hint, scopes, created_at) VALUES `)
		args = args[:0]
		for i := start; i < end; i++ {
			if i > start {
				q.WriteByte(',')
			}
			if unix {
				// SQLite: positional parameters; it resolves $N names by a
				// linear search, which makes long statements quadratic.
				q.WriteString("(?,?,?,?,?,?,?,?)")
			} else {
				k := len(args)
				fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8)
			}
			tok := tokens[i]
			args = append(args, "cred_bench"+secret.RandomString(20, "0123456789abcdefghijklmnopqrstuvwxyz"), tenantID,
				string(gatehouse.KindAPIKey), fmt.Sprintf("bench key %d", i), secret.HashBytes(tok), secret.Hint(tok),
				gatehouse.ScopeAll, created)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return tokens, nil
}
