package oauth2_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// poolSize is the PostgreSQL pool the concurrency tests run with: smaller
// than the number of concurrent requests, so that a store method that
// waits for a second connection while it holds one (issue 12) deadlocks.
const poolSize = 4

// postTimeout is post with a deadline: a request stuck on the pool fails
// instead of hanging the test.
func (e *env) postTimeout(d time.Duration, path string, form url.Values, user, pass string) (answer, error) {
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	return answer{Status: resp.StatusCode, Header: resp.Header}, nil
}

// TestRedemptionsBeyondPool redeems 12 distinct codes at once through a
// pool of 4 connections: all succeed within seconds.
func TestRedemptionsBeyondPool(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.store.SetPoolSize(poolSize)
		c, sec := e.app(e.owner, true, []string{"catalog"})
		verifier, challenge := pkce("pl")
		const n = 12
		codes := make([]string, n)
		for i := range codes {
			codes[i] = e.code(c, e.owner.UserID, "catalog", challenge)
		}
		var wg sync.WaitGroup
		answers, errs := make([]answer, n), make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				form := url.Values{"grant_type": {gatehouse.GrantAuthorizationCode}, "code": {codes[i]}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
				answers[i], errs[i] = e.postTimeout(10*time.Second, "/oauth2/token", form, c.ID, sec)
			})
		}
		began := time.Now()
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || answers[i].Status != http.StatusOK {
				t.Errorf("redemption %d: %d %v", i, answers[i].Status, errs[i])
			}
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("%d redemptions took %s", n, d)
		}
	})
}
