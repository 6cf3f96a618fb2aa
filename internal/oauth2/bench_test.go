package oauth2_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// benchClients is the concurrency of issue 4's done-means 5.
const benchClients = 16

// BenchmarkIssuance measures tokens/s over real HTTP with 16 concurrent
// clients, per backend: client_credentials, refresh_token for a
// confidential app (no rotation: the seed's path), refresh_token for a
// public app (rotation: each client refreshes its own chain), and — in the
// same run, for the ratio — POST /api/v1/verify of a cached valid token.
//
//	go test -run '^$' -bench Issuance -benchtime 5s ./internal/oauth2/
//	GATEHOUSE_TEST_POSTGRES=postgres://… go test -run '^$' -bench Issuance ./internal/oauth2/
func BenchmarkIssuance(b *testing.B) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be.URL(b))
			e.http = &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
			b.Cleanup(e.http.CloseIdleConnections)
			grants := []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials}
			c, sec := e.app(e.owner, true, []string{"catalog", "sales"}, grants...)
			pub, _ := e.app(e.owner, false, []string{"catalog", "sales"})
			verifier, challenge := pkce("bn")
			at, rt := wantTokens(b, e.exchange(c, sec, e.code(c, e.owner.UserID, "catalog sales", challenge), verifier))
			_, caller, err := e.admin.CreateCredential(e.ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "bench", Scopes: []string{"verify"}})
			if err != nil {
				b.Fatal(err)
			}

			b.Run("client_credentials", func(b *testing.B) {
				body := url.Values{"grant_type": {"client_credentials"}}.Encode()
				parallel(b, "tokens/s", func(int) func() {
					return func() { e.benchPost(b, "/oauth2/token", body, func(r *http.Request) { r.SetBasicAuth(c.ID, sec) }) }
				})
			})
			b.Run("refresh_token", func(b *testing.B) {
				body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
				parallel(b, "tokens/s", func(int) func() {
					return func() { e.benchPost(b, "/oauth2/token", body, func(r *http.Request) { r.SetBasicAuth(c.ID, sec) }) }
				})
			})
			b.Run("refresh_token_rotating", func(b *testing.B) {
				parallel(b, "tokens/s", func(int) func() {
					_, cur := wantTokens(b, e.exchange(pub, "", e.code(pub, e.owner.UserID, "catalog", challenge), verifier))
					return func() {
						body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cur}, "client_id": {pub.ID}}.Encode()
						var out struct {
							RefreshToken string `json:"refresh_token"`
						}
						json.Unmarshal(e.benchPost(b, "/oauth2/token", body, nil), &out)
						cur = out.RefreshToken
					}
				})
			})
			b.Run("verify", func(b *testing.B) {
				body, _ := json.Marshal(map[string]string{"credential": at, "resource": "catalog.products", "client_id": c.ID})
				parallel(b, "verifications/s", func(int) func() {
					return func() {
						e.benchDo(b, "/api/v1/verify", "application/json", body, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+caller) })
					}
				})
			})
		})
	}
}

// parallel runs b.N operations on benchClients goroutines, each with its
// own state made by setup (outside the timer), and reports operations per
// second in unit.
func parallel(b *testing.B, unit string, setup func(worker int) func()) {
	ops := make([]func(), benchClients)
	for i := range ops {
		ops[i] = setup(i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				op()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

func (e *env) benchPost(b *testing.B, path, body string, edit func(*http.Request)) []byte {
	return e.benchDo(b, path, "application/x-www-form-urlencoded", []byte(body), edit)
}

func (e *env) benchDo(b *testing.B, path, contentType string, body []byte, edit func(*http.Request)) []byte {
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return nil
	}
	req.Header.Set("Content-Type", contentType)
	if edit != nil {
		edit(req)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		b.Error(err)
		return nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(out), `"valid":false`) {
		b.Errorf("%s: %d %s", path, resp.StatusCode, out)
	}
	return out
}
