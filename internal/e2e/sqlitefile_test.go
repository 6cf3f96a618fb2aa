package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSQLiteFilesGone deletes, and separately moves away and back, the
// SQLite files under a running server: from the first request after the
// deletion no token creation is acknowledged (503, never 201), /readyz
// fails within 5 s, an uncached verification answers 503 while a cached
// one stays VALID, and the log says why. Moved back, the server recovers
// without a restart, and every acknowledged creation is there after one.
func TestSQLiteFilesGone(t *testing.T) {
	for _, mode := range []string{"moved", "deleted"} {
		t.Run(mode, func(t *testing.T) { sqliteFilesGone(t, mode) })
	}
}

func sqliteFilesGone(t *testing.T, mode string) {
	dir, away := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "gatehouse.db")
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite:" + path
	cfg.SecretKey = testenv.SecretKey
	cfg.CacheTTL = time.Minute
	cfg.MaxTokensPerUser = 100_000 // the writers below create many
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := &syncBuffer{}
	start := func() (*server.Server, *httptest.Server) {
		s, err := server.New(ctx, cfg, server.Options{Log: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s, httptest.NewServer(s.Handler)
	}
	s, srv := start()
	defer func() { srv.Close(); s.Close() }()

	ten, err := s.Admin.CreateTenant(ctx, "files", "Files", gatehouse.PlanStandard)
	if err != nil {
		t.Fatal(err)
	}
	op := admin.Actor{TenantID: ten.ID, Name: admin.OperatorName, Operator: true}
	m, err := s.Admin.AddMember(ctx, op, admin.NewMember{Email: "o@files.test", Role: gatehouse.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Admin.ActorFor(ctx, ten.ID, m.UserID, "")
	_, boot, err := s.Admin.CreateCredential(ctx, a, gatehouse.KindPAT, admin.CredentialInput{Name: "boot", Scopes: []string{"manage", "verify", "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var acked []string // tokens whose creation was acknowledged
	create := func(name string) (int, string) {
		t.Helper()
		var out struct {
			Token string `json:"token"`
		}
		status, err := doJSON(ctx, client, "POST", srv.URL+"/api/v1/tokens", boot,
			map[string]any{"name": name, "scopes": []string{"sales"}}, &out)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if status == http.StatusCreated {
			acked = append(acked, out.Token)
		}
		return status, out.Token
	}
	verify := func(tok string) (int, bool) {
		t.Helper()
		var ans verifyAnswer
		status, err := doJSON(ctx, client, "POST", srv.URL+"/api/v1/verify", boot, map[string]string{"credential": tok}, &ans)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		return status, ans.Valid
	}
	ready := func() int {
		resp, err := client.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if st, _ := create("cached"); st != http.StatusCreated {
		t.Fatalf("create before: %d", st)
	}
	cached := acked[len(acked)-1]
	if st, ok := verify(cached); st != 200 || !ok {
		t.Fatalf("verify before: %d %v", st, ok)
	}
	if st, _ := create("uncached"); st != http.StatusCreated {
		t.Fatalf("create before: %d", st)
	}
	uncached := acked[len(acked)-1]
	if st := ready(); st != 200 {
		t.Fatalf("/readyz before: %d", st)
	}

	// Writers keep creating tokens throughout; in the moved case every
	// creation they see acknowledged must be there after a restart.
	var loadMu sync.Mutex
	var loadAcked []string
	loadBad := map[int]int{} // statuses other than 201 and 503
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	for w := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				var out struct {
					Token string `json:"token"`
				}
				status, err := doJSON(loadCtx, client, "POST", srv.URL+"/api/v1/tokens", boot,
					map[string]any{"name": fmt.Sprintf("load-%d-%d", w, i), "scopes": []string{"sales"}}, &out)
				loadMu.Lock()
				switch {
				case err != nil:
				case status == http.StatusCreated:
					loadAcked = append(loadAcked, out.Token)
				case status != http.StatusServiceUnavailable:
					loadBad[status]++
				}
				loadMu.Unlock()
			}
		}()
	}
	defer func() { stopLoad(); load.Wait() }()
	time.Sleep(200 * time.Millisecond)

	files := []string{path, path + "-wal", path + "-shm"}
	for _, f := range files {
		var err error
		if mode == "deleted" {
			err = os.Remove(f)
		} else {
			err = os.Rename(f, filepath.Join(away, filepath.Base(f)))
		}
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	gone := time.Now()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/tokens", strings.NewReader(`{"name":"during","scopes":["sales"]}`))
	req.Header.Set("Authorization", "Bearer "+boot)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("create right after the files went: %d, Retry-After %q; want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// No write is acknowledged from the first request on, before any
	// periodic check could have run.
	for i := range 5 {
		if st, _ := create("during"); st != http.StatusServiceUnavailable {
			t.Fatalf("create %d after the files went: %d, want 503", i, st)
		}
	}
	for ready() != http.StatusServiceUnavailable {
		if time.Since(gone) > 5*time.Second {
			t.Fatal("/readyz still passes 5 s after the files went")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := verify(uncached); st != http.StatusServiceUnavailable {
		t.Fatalf("uncached verify: %d, want 503", st)
	}
	if st, ok := verify(cached); st != 200 || !ok {
		t.Fatalf("cached verify: %d %v, want 200 VALID", st, ok)
	}
	if st, _ := create("during"); st != http.StatusServiceUnavailable {
		t.Fatalf("create after /readyz failed: %d, want 503", st)
	}
	if !strings.Contains(logs.String(), path) {
		t.Fatalf("the log does not name the database file:\n%s", logs.String())
	}
	if mode == "deleted" {
		return
	}

	for _, f := range files {
		if err := os.Rename(filepath.Join(away, filepath.Base(f)), f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	back := time.Now()
	for ready() != 200 {
		if time.Since(back) > 5*time.Second {
			t.Fatal("/readyz did not recover within 5 s of the files' return")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := create("after"); st != http.StatusCreated {
		t.Fatalf("create after the files returned: %d, want 201", st)
	}
	if st, ok := verify(uncached); st != 200 || !ok {
		t.Fatalf("uncached verify after recovery: %d %v", st, ok)
	}
	if !strings.Contains(logs.String(), "database file") {
		t.Fatalf("the log does not say the database returned:\n%s", logs.String())
	}

	time.Sleep(200 * time.Millisecond)
	stopLoad()
	load.Wait()
	if len(loadBad) > 0 {
		t.Fatalf("creations under load answered %v", loadBad)
	}
	acked = append(acked, loadAcked...)
	t.Logf("%d creations acknowledged in all", len(acked))

	srv.Close()
	s.Close()
	s, srv = start()
	for _, tok := range acked {
		if st, ok := verify(tok); st != 200 || !ok {
			t.Fatalf("an acknowledged token does not verify after restart: %d %v", st, ok)
		}
	}
}
