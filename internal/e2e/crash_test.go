package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestCrashSafety creates and revokes PATs over the management API while
// the server is killed with SIGKILL at random moments and restarted on the
// same database: every acknowledged creation and revocation must survive.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "crash.db")
		crashLoop(t, "sqlite:"+path)
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var res string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Fatalf("integrity_check = %q, %v", res, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		crashLoop(t, sqlstoretest.PostgresURL(t))
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running `gatehouse serve`.
type process struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan struct{}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// startBinary runs `gatehouse serve` and waits for /healthz.
func startBinary(t *testing.T, db string) (*process, string) {
	t.Helper()
	addr := freeAddr(t)
	p := &process{stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(gatehouseBinary(t), "serve", "--addr", addr, "--database", db, "--log-level", "warn")
	// A fixed key keeps the binary from writing a key file into the
	// package directory when the database is PostgreSQL.
	p.cmd.Env = append(os.Environ(), "GATEHOUSE_SECRET_KEY="+testenv.SecretKey)
	p.cmd.Dir = t.TempDir()
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, base
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("gatehouse serve exited: %s", p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("server did not come up: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func crashLoop(t *testing.T, db string) {
	boot := bootstrap(t, db, "crash", "owner@crash.test", "manage verify sales")
	var mu sync.Mutex
	created := map[string]string{} // acknowledged: id -> token
	revoked := map[string]bool{}   // acknowledged revocations
	client := &http.Client{Timeout: 5 * time.Second}

	for round := 0; round < 4; round++ {
		proc, base := startBinary(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					var out struct {
						ID    string `json:"id"`
						Token string `json:"token"`
					}
					status, err := doJSON(ctx, client, "POST", base+"/api/v1/tokens", boot.Token,
						map[string]any{"name": fmt.Sprintf("crash-%d-%d", round, i), "scopes": []string{"sales"}}, &out)
					if err != nil || status != http.StatusCreated {
						continue
					}
					mu.Lock()
					created[out.ID] = out.Token
					mu.Unlock()
					if rand.IntN(2) == 0 {
						status, err := doJSON(ctx, client, "DELETE", base+"/api/v1/tokens/"+out.ID, boot.Token, nil, nil)
						if err == nil && status == http.StatusNoContent {
							mu.Lock()
							revoked[out.ID] = true
							mu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		proc.kill() // SIGKILL: no chance to flush anything.
		cancel()
		wg.Wait()
	}
	if len(created) == 0 || len(revoked) == 0 {
		t.Fatalf("nothing acknowledged (%d created, %d revoked): the loop did not exercise the server", len(created), len(revoked))
	}

	// Every acknowledged write holds, in the database and over the wire.
	st, err := sqlstore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten, err := st.FindTenantBySlug(context.Background(), "crash")
	if err != nil {
		t.Fatal(err)
	}
	for id := range created {
		c, err := st.FindCredential(context.Background(), ten.ID, id)
		if err != nil {
			t.Fatalf("acknowledged token %s lost: %v", id, err)
		}
		if revoked[id] && !c.Revoked() {
			t.Fatalf("acknowledged revocation of %s lost", id)
		}
	}
	proc, base := startBinary(t, db)
	defer proc.kill()
	checked := 0
	for id, tok := range created {
		var ans verifyAnswer
		status, err := doJSON(context.Background(), client, "POST", base+"/api/v1/verify", boot.Token,
			map[string]any{"credential": tok, "resource": "sales.orders"}, &ans)
		if err != nil || status != 200 {
			t.Fatalf("verify: %d %v", status, err)
		}
		want := string(gatehouse.CodeValid)
		if revoked[id] {
			want = string(gatehouse.CodeRevoked)
		}
		if ans.Code != want && !(want == string(gatehouse.CodeValid) && ans.Code == string(gatehouse.CodeRevoked)) {
			// A revocation whose 204 was lost in the crash may have committed: REVOKED is
			// then correct for a token we did not see revoked; the reverse never is.
			t.Fatalf("token %s: code %s, want %s", id, ans.Code, want)
		}
		if checked++; checked > 200 {
			break
		}
	}
	t.Logf("%d creations and %d revocations acknowledged across 4 SIGKILLs; all held", len(created), len(revoked))
}

// TestGracefulShutdown: SIGTERM lets an in-flight request finish and the
// process exit 0; last-use times are flushed on the way out.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "term.db")
	boot := bootstrap(t, db, "term", "owner@term.test", "verify sales")
	proc, base := startBinary(t, db)
	var ans verifyAnswer
	if status, err := doJSON(context.Background(), http.DefaultClient, "POST", base+"/api/v1/verify", boot.Token,
		map[string]string{"credential": boot.Token}, &ans); err != nil || status != 200 || !ans.Valid {
		t.Fatalf("verify before shutdown: %d %v %+v", status, err, ans)
	}
	proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-proc.exited:
	case <-time.After(15 * time.Second):
		proc.kill()
		t.Fatal("gatehouse did not exit within 15 s of SIGTERM")
	}
	if code := proc.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, proc.stderr)
	}
	st, err := sqlstore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten, _ := st.FindTenantBySlug(context.Background(), "term")
	c, err := st.FindCredential(context.Background(), ten.ID, boot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.LastUsedAt == nil {
		t.Fatal("last_used_at was not flushed at shutdown")
	}
}
