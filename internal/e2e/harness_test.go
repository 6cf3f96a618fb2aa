package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// gatehouseBinary builds cmd/gatehouse once per test run.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gatehouse")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/gatehouse")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build gatehouse: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// cli runs the gatehouse binary with args and stdin and returns stdout.
func cli(t *testing.T, stdin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(gatehouseBinary(t), args...)
	cmd.Stdin = bytes.NewBufferString(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gatehouse %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// createdToken is what `gatehouse token create --json` prints.
type createdToken struct {
	ID        string   `json:"id"`
	Token     string   `json:"token"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
}

// bootstrap creates tenant, owner and a token with the CLI.
func bootstrap(t *testing.T, db, tenant, email, scopes string, extra ...string) createdToken {
	t.Helper()
	cli(t, "", "tenant", "create", tenant, "--name", "Tenant "+tenant, "--database", db)
	cli(t, "correct horse battery\n", "user", "create", "--tenant", tenant, "--email", email, "--role", "owner", "--password-stdin", "--database", db)
	args := append([]string{"token", "create", "--tenant", tenant, "--email", email, "--name", "bootstrap", "--scopes", scopes, "--json", "--database", db}, extra...)
	var tok createdToken
	if err := json.Unmarshal(cli(t, "", args...), &tok); err != nil {
		t.Fatalf("token create --json: %v", err)
	}
	return tok
}

// doJSON sends a JSON request and decodes a JSON answer into out (if non-nil).
func doJSON(ctx context.Context, client *http.Client, method, url, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// verifyAnswer is the body of /api/v1/verify.
type verifyAnswer struct {
	Valid     bool     `json:"valid"`
	Code      string   `json:"code"`
	Tenant    string   `json:"tenant"`
	Subject   string   `json:"subject"`
	Kind      string   `json:"kind"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
}

// wantNoPlaintext fails if any secret appears in the database: in the
// SQLite file and its WAL, or in any row of PostgreSQL's tables.
func wantNoPlaintext(t *testing.T, databaseURL string, secrets ...string) {
	t.Helper()
	var dump []byte
	if path, ok := strings.CutPrefix(databaseURL, "sqlite:"); ok {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			dump = append(dump, b...)
		}
	} else {
		db, err := sql.Open("pgx", databaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, table := range []string{"credentials", "oauth_clients", "oauth_codes", "oauth_consents", "audit_events", "sessions",
			"integrations", "oauth1_request_tokens", "integration_deliveries", "notifications"} {
			rows, err := db.Query("SELECT t::text FROM " + table + " t")
			if err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			for rows.Next() {
				var row string
				if err := rows.Scan(&row); err != nil {
					t.Fatal(err)
				}
				dump = append(dump, row...)
			}
			rows.Close()
		}
	}
	if len(dump) == 0 {
		t.Fatal("the database dump is empty: the check checked nothing")
	}
	for _, s := range secrets {
		if s == "" || bytes.Contains(dump, []byte(s)) {
			t.Fatalf("the database holds a secret in plaintext (or it is empty): %.12s…", s)
		}
	}
}
