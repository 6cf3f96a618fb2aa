package e2e

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// burstSize and burstWithin are issue 12's done-means 1: 64 distinct
// authorization codes redeemed at once on one node, all within 2 s.
const (
	burstSize   = 64
	burstWithin = 2 * time.Second
)

// TestRedeemBurstPostgres redeems 64 distinct authorization codes at the
// same moment on one node on PostgreSQL, with the default pool and with
// the pool capped at 4 connections: every redemption succeeds within 2 s,
// and verification, asked all along, keeps answering VALID (issue 12,
// done-means 1). On the old code the code's issue callback read the
// membership on a second pooled connection inside ConsumeAuthCode's
// transaction: with the pool taken by open transactions, every one waited
// for a connection only its own completion would free.
func TestRedeemBurstPostgres(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool int // 0: the store's default
	}{{"default-pool", 0}, {"pool-4", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			n := startFaultNode(t, sqlstoretest.PostgresURL(t), func(c *config.Config) {
				// Short enough that verification goes to the database
				// several times during the burst.
				c.CacheTTL = 200 * time.Millisecond
			})
			if tc.pool > 0 {
				n.s.Store.SetPoolSize(tc.pool)
			}
			ft := newFaultTenant(t, n, "burst").withApp()
			codes := ft.mintCodes(burstSize)
			ctx := context.Background()
			_, pat, err := n.s.Admin.CreateCredential(ctx, ft.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "watched", Scopes: []string{"sales"}})
			if err != nil {
				t.Fatal(err)
			}

			// Verification runs before, during and after the burst.
			vclient := &http.Client{Timeout: 5 * time.Second}
			stop := make(chan struct{})
			var verified atomic.Int64
			var vwg sync.WaitGroup
			var vmu sync.Mutex
			var badVerify []string
			for range 2 {
				vwg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						start := time.Now()
						got := verifyCode(ctx, vclient, n, pat)
						if got != string(gatehouse.CodeValid) || time.Since(start) > burstWithin {
							vmu.Lock()
							badVerify = append(badVerify, got+" after "+time.Since(start).Round(time.Millisecond).String())
							vmu.Unlock()
						}
						verified.Add(1)
						time.Sleep(10 * time.Millisecond)
					}
				})
			}

			// The clients wait 3 s at most: long enough to see a 2 s
			// bound missed, short enough not to hang the test.
			client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: burstSize}}
			gate := make(chan struct{})
			var wg sync.WaitGroup
			var ok atomic.Int64
			errs := make([]error, burstSize)
			took := make([]time.Duration, burstSize)
			for i, c := range codes {
				wg.Go(func() {
					<-gate
					start := time.Now()
					tok, err := ft.exchange(ctx, client, c)
					took[i] = time.Since(start)
					if err == nil && tok.AccessToken == "" {
						err = errNoAccessToken
					}
					if errs[i] = err; err == nil {
						ok.Add(1)
					}
				})
			}
			time.Sleep(50 * time.Millisecond) // the verify loops are running
			start := time.Now()
			close(gate)
			wg.Wait()
			elapsed := time.Since(start)
			time.Sleep(100 * time.Millisecond)
			close(stop)
			vwg.Wait()

			var slowest time.Duration
			for i, err := range errs {
				slowest = max(slowest, took[i])
				if err != nil {
					t.Errorf("redemption %d failed after %v: %v", i, took[i].Round(time.Millisecond), err)
				}
			}
			t.Logf("%s: %d/%d redemptions succeeded; the burst took %v (slowest %v); %d verifications meanwhile",
				tc.name, ok.Load(), burstSize, elapsed.Round(time.Millisecond), slowest.Round(time.Millisecond), verified.Load())
			if slowest > burstWithin {
				t.Errorf("the slowest redemption took %v, want within %v", slowest.Round(time.Millisecond), burstWithin)
			}
			if len(badVerify) > 0 {
				t.Errorf("verification during the burst: %d of %d answers not VALID in time, first %q",
					len(badVerify), verified.Load(), badVerify[0])
			}
		})
	}
}

type burstError string

func (e burstError) Error() string { return string(e) }

const errNoAccessToken = burstError("200 without an access token")
