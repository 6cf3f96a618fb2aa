package storetest

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// RunConcurrency checks the invariants that must hold however many callers
// race: single use (of marks, authorization codes and refresh tokens), the
// allowlist limit, hash uniqueness, creations that fail alone,
// revocations that no concurrent issue escapes, single-use OAuth 1.0a
// request tokens and one live token per integration; and, with the pool
// set small, every single-use or multi-row operation beyond the pool size
// (pool.go). Run it with -race.
// Run calls it too.
func RunConcurrency(t *testing.T, newStore func(t *testing.T) gatehouse.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s gatehouse.Store)
	}{
		{"ConsumeOnce", testConcurrentConsumeOnce},
		{"ConsumeExpired", testConcurrentConsumeExpired},
		{"AllowListLimit", testConcurrentAllowList},
		{"CreateSameHash", testConcurrentCreateSameHash},
		{"CreateSomeBad", testConcurrentCreateSomeBad},
		{"CredentialLimit", testConcurrentCredentialLimit},
		{"LoginAttempts", testConcurrentLoginAttempts},
		{"RevokeAndTouch", testConcurrentRevokeAndTouch},
		{"RedeemAuthCode", testConcurrentRedeemAuthCode},
		{"RedeemManyCodes", testConcurrentRedeemManyCodes},
		{"DevicePoll", testConcurrentDevicePoll},
		{"PoolDevicePoll", testPoolDevicePoll},
		{"RotateRefreshToken", testConcurrentRotate},
		{"RevokeGrant", testConcurrentRevokeGrant},
		{"DeleteClient", testConcurrentDeleteClient},
		{"UpdateDeleteClient", testConcurrentUpdateDeleteClient},
		{"ConsumeRequestToken", testConcurrentConsumeRequestToken},
		{"IssueIntegrationToken", testConcurrentIssueIntegrationToken},
		{"PoolRedeemAuthCode", testPoolRedeemAuthCode},
		{"PoolRotateRefreshToken", testPoolRotateRefreshToken},
		{"PoolConsumeOnce", testPoolConsumeOnce},
		{"PoolConsumeRequestToken", testPoolConsumeRequestToken},
		{"PoolIssueIntegrationToken", testPoolIssueIntegrationToken},
		{"PoolCreateAudited", testPoolCreateAudited},
		{"PoolIssueTokens", testPoolIssueTokens},
		{"PoolIssueTokensRacingDeletion", testPoolIssueTokensRacingDeletion},
		{"PoolPatchSettings", testPoolPatchSettings},
		{"PoolRotateSigningKey", testConcurrentRotateSigningKey},
		{"AuditSomeBad", testConcurrentAuditSomeBad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// race runs fn n times at once, released together, and returns the errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// count fails t for errors other than code and returns how many were nil.
func count(t *testing.T, errs []error, code string) (ok int) {
	t.Helper()
	for _, err := range errs {
		switch gatehouse.ErrorCode(err) {
		case "":
			ok++
		case code:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok
}

func testConcurrentConsumeOnce(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	for round := range 3 {
		key := fmt.Sprint("code-", round)
		errs := race(20, func(int) error {
			return s.ConsumeOnce(ctx, "oauth2_code", key, base, base.Add(time.Minute))
		})
		if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
			t.Errorf("round %d: %d of 20 racing ConsumeOnce calls succeeded, want exactly 1", round, ok)
		}
	}
}

func testConcurrentConsumeExpired(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	must(t, s.ConsumeOnce(ctx, "nonce", "n", base, base.Add(time.Minute)), "consume")
	later := base.Add(2 * time.Minute) // the mark has expired
	errs := race(20, func(int) error {
		return s.ConsumeOnce(ctx, "nonce", "n", later, later.Add(time.Minute))
	})
	if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
		t.Errorf("%d of 20 racing replacements of an expired mark succeeded, want exactly 1", ok)
	}
}

func testConcurrentAllowList(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	c := newCredential(t, s, tn.ID, func(c *gatehouse.Credential) {
		c.Kind = gatehouse.KindStaff
		c.AllowList = []gatehouse.AllowEntry{{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.0/24")}}
	})
	errs := race(30, func(i int) error {
		return s.AddAllowEntry(ctx, tn.ID, c.ID, &gatehouse.AllowEntry{
			Name:   fmt.Sprint("racer ", i),
			Prefix: netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i)),
		})
	})
	if ok := count(t, errs, gatehouse.EINVALID); ok != gatehouse.MaxAllowEntries-1 {
		t.Errorf("%d of 30 racing adds succeeded, want %d", ok, gatehouse.MaxAllowEntries-1)
	}
	got, err := s.FindCredential(ctx, tn.ID, c.ID)
	must(t, err, "find credential")
	if len(got.AllowList) != gatehouse.MaxAllowEntries {
		t.Errorf("allowlist holds %d entries, want %d", len(got.AllowList), gatehouse.MaxAllowEntries)
	}
}

func testConcurrentCreateSameHash(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	hash := randomHash()
	errs := race(10, func(int) error {
		return s.CreateCredential(ctx, &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindPAT, Hash: hash})
	})
	if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
		t.Errorf("%d of 10 racing creates with one hash succeeded, want exactly 1", ok)
	}
}

// testConcurrentCreateSomeBad races many creations, a few of which must
// fail (a hash taken, a revoked grant, a missing tenant): each fails alone,
// and every other one is stored when its call returns. (A store that
// commits concurrent creations together must not let one bad creation
// fail or lose the others.)
func testConcurrentCreateSomeBad(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	taken := newCredential(t, s, tn.ID, nil)
	must(t, s.RevokeGrant(ctx, tn.ID, "grant-revoked", base), "revoke grant")
	bad := map[int]string{
		7:  gatehouse.ECONFLICT, // hash taken
		19: gatehouse.ECONFLICT, // grant revoked
		31: gatehouse.ENOTFOUND, // no such tenant
	}
	creds := make([]*gatehouse.Credential, 40)
	for i := range creds {
		creds[i] = &gatehouse.Credential{TenantID: tn.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(),
			ClientID: "app", GrantID: fmt.Sprint("grant-", i)}
	}
	creds[7].Hash = taken.Hash
	creds[19].GrantID = "grant-revoked"
	creds[31].TenantID = "ten_missing"
	errs := race(len(creds), func(i int) error {
		err := s.CreateCredential(ctx, creds[i])
		if err == nil {
			if _, ferr := s.FindCredentialByHash(ctx, creds[i].Hash); ferr != nil {
				return fmt.Errorf("created, then not found: %w", ferr)
			}
		}
		return err
	})
	for i, err := range errs {
		if code := gatehouse.ErrorCode(err); code != bad[i] {
			t.Errorf("creation %d: %v, want code %q", i, err, bad[i])
		}
	}
}

// testConcurrentRevokeAndTouch races revocations against last-use batches
// (which on PostgreSQL lock the same rows): neither may deadlock or undo
// the other.
func testConcurrentRevokeAndTouch(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	var creds []*gatehouse.Credential
	for range 8 {
		creds = append(creds, newCredential(t, s, tn.ID, nil))
	}
	errs := race(16, func(i int) error {
		if i%2 == 0 {
			return s.RevokeCredential(ctx, tn.ID, creds[i/2].ID, base)
		}
		used := make(map[string]time.Time)
		for j, c := range creds {
			used[c.ID] = base.Add(time.Duration(i*len(creds)+j) * time.Millisecond)
		}
		return s.TouchCredentials(ctx, used)
	})
	for _, err := range errs {
		must(t, err, "revoke or touch")
	}
	for _, c := range creds {
		got, err := s.FindCredential(ctx, tn.ID, c.ID)
		must(t, err, "find credential")
		if got.RevokedAt == nil || !got.RevokedAt.Equal(base) || got.LastUsedAt == nil {
			t.Errorf("credential %s: RevokedAt %v, LastUsedAt %v", got.ID, got.RevokedAt, got.LastUsedAt)
		}
	}
}
