package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// deviceFixture is a code fixture (a tenant, a member who consented, an
// app) with a way to make device authorization requests of the app.
type deviceFixture struct{ *codeFixture }

func newDeviceFixture(t *testing.T, s gatehouse.Store, slug string) deviceFixture {
	if slug == "acme" {
		return deviceFixture{newCodeFixtureIn(t, s, slug)}
	}
	// Client ids are unique across tenants: another tenant's app has its own.
	tn := newTenant(t, s, slug)
	u := newUser(t, s, "ana@"+slug+".example.com")
	newMember(t, s, tn.ID, u.ID, gatehouse.RoleAdmin)
	app := newClient(t, s, tn.ID, "APIK-"+strings.ToUpper(slug), nil)
	must(t, s.SaveConsent(t.Context(), &gatehouse.Consent{TenantID: tn.ID, UserID: u.ID, ClientID: app.ID, Scopes: []string{"catalog"}}), "save consent")
	return deviceFixture{&codeFixture{t: t, s: s, tn: tn, user: u, app: app}}
}

// request stores a pending request of the app, valid for ten minutes
// from base, polled every 5 s.
func (f deviceFixture) request(mod func(d *gatehouse.DeviceAuthorization)) *gatehouse.DeviceAuthorization {
	f.t.Helper()
	d := &gatehouse.DeviceAuthorization{
		DeviceHash: randomHash(), UserHash: randomHash(),
		TenantID: f.tn.ID, ClientID: f.app.ID, Scopes: []string{"catalog"},
		Interval: 5 * time.Second, ExpiresAt: base.Add(10 * time.Minute), CreatedAt: base,
	}
	if mod != nil {
		mod(d)
	}
	must(f.t, f.s.CreateDeviceAuthorization(f.t.Context(), d), "create device authorization")
	return d
}

func (f deviceFixture) approve(d *gatehouse.DeviceAuthorization, at time.Time) string {
	f.t.Helper()
	grant := "grant-" + fmt.Sprint(at.UnixNano())
	must(f.t, f.s.DecideDeviceAuthorization(f.t.Context(), &gatehouse.DeviceDecision{
		TenantID: f.tn.ID, UserHash: d.UserHash, UserID: f.user.ID, Allow: true,
		Scopes: d.Scopes, GrantID: grant, Now: at,
	}), "approve")
	return grant
}

// poll is the app's poll of d at at, issuing an access token.
func (f deviceFixture) poll(d *gatehouse.DeviceAuthorization, at time.Time) *gatehouse.DevicePoll {
	return &gatehouse.DevicePoll{DeviceHash: d.DeviceHash, TenantID: f.tn.ID, ClientID: f.app.ID, Now: at,
		Issue: []*gatehouse.Credential{{TenantID: f.tn.ID, Kind: gatehouse.KindOAuth2Access, Hash: randomHash(), ClientID: f.app.ID}}}
}

func wantPoll(t *testing.T, s gatehouse.Store, r *gatehouse.DevicePoll, want gatehouse.DevicePollResult, what string) {
	t.Helper()
	got, err := s.PollDeviceAuthorization(t.Context(), r)
	must(t, err, what)
	if got != want {
		t.Fatalf("%s: poll = %q, want %q", what, got, want)
	}
}

func testDeviceAuthorizations(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newDeviceFixture(t, s, "acme")
	d := f.request(nil)

	// Create: a taken device hash or a live user code is ECONFLICT.
	wantCode(t, s.CreateDeviceAuthorization(ctx, &gatehouse.DeviceAuthorization{DeviceHash: d.DeviceHash, UserHash: randomHash(),
		TenantID: f.tn.ID, ClientID: f.app.ID, Interval: 5 * time.Second, ExpiresAt: base.Add(time.Minute), CreatedAt: base}),
		gatehouse.ECONFLICT, "create with a taken device hash")
	wantCode(t, s.CreateDeviceAuthorization(ctx, &gatehouse.DeviceAuthorization{DeviceHash: randomHash(), UserHash: d.UserHash,
		TenantID: f.tn.ID, ClientID: f.app.ID, Interval: 5 * time.Second, ExpiresAt: base.Add(time.Minute), CreatedAt: base}),
		gatehouse.ECONFLICT, "create with a live user code")
	wantCode(t, s.CreateDeviceAuthorization(ctx, &gatehouse.DeviceAuthorization{DeviceHash: randomHash(), UserHash: randomHash(),
		TenantID: f.tn.ID, ClientID: "APIK-MISSING", Interval: 5 * time.Second, ExpiresAt: base.Add(time.Minute), CreatedAt: base}),
		gatehouse.ENOTFOUND, "create for a missing app")

	// Find by user code: pending and live only.
	got, err := s.FindDeviceAuthorizationByUserCode(ctx, d.UserHash, base.Add(time.Second))
	must(t, err, "find by user code")
	if got.ClientID != f.app.ID || got.TenantID != f.tn.ID || got.Status != gatehouse.DevicePending || got.Interval != 5*time.Second ||
		!slices.Equal(got.Scopes, []string{"catalog"}) || !got.ExpiresAt.Equal(d.ExpiresAt) {
		t.Errorf("found %+v, want the request", got)
	}
	_, err = s.FindDeviceAuthorizationByUserCode(ctx, d.UserHash, d.ExpiresAt)
	wantCode(t, err, gatehouse.ENOTFOUND, "find an expired request")
	_, err = s.FindDeviceAuthorizationByUserCode(ctx, randomHash(), base)
	wantCode(t, err, gatehouse.ENOTFOUND, "find an unknown user code")

	// Poll bookkeeping (RFC 8628 §3.5): the first poll is pending; one
	// sooner than the interval is slow_down and the interval grows by
	// 5 s; then the longer interval is the one to wait.
	t0 := base.Add(10 * time.Second)
	wantPoll(t, s, f.poll(d, t0), gatehouse.DevicePollPending, "first poll")
	wantPoll(t, s, f.poll(d, t0.Add(2*time.Second)), gatehouse.DevicePollSlowDown, "poll after 2s")
	wantPoll(t, s, f.poll(d, t0.Add(9*time.Second)), gatehouse.DevicePollSlowDown, "poll 7s later, interval now 10s")
	wantPoll(t, s, f.poll(d, t0.Add(20*time.Second)), gatehouse.DevicePollSlowDown, "poll 11s later, interval now 15s")
	wantPoll(t, s, f.poll(d, t0.Add(45*time.Second)), gatehouse.DevicePollPending, "poll 20s later, interval 20s")
	got, _ = s.FindDeviceAuthorizationByUserCode(ctx, d.UserHash, t0)
	if got == nil || got.Interval != 20*time.Second || got.LastPolledAt == nil || !got.LastPolledAt.Equal(t0.Add(45*time.Second)) {
		t.Errorf("after three slow_downs: %+v, want interval 20s and the last poll", got)
	}

	// Another client's poll is EFORBIDDEN and changes nothing.
	other := newClient(t, s, f.tn.ID, "APIK-OTHER", nil)
	op := f.poll(d, t0.Add(46*time.Second))
	op.ClientID = other.ID
	_, err = s.PollDeviceAuthorization(ctx, op)
	wantCode(t, err, gatehouse.EFORBIDDEN, "poll by another client")
	_, err = s.PollDeviceAuthorization(ctx, &gatehouse.DevicePoll{DeviceHash: randomHash(), TenantID: f.tn.ID, ClientID: f.app.ID, Now: t0})
	wantCode(t, err, gatehouse.ENOTFOUND, "poll an unknown device code")

	// Approve: binds the user; a second decision is ECONFLICT.
	approvedAt := t0.Add(50 * time.Second)
	grant := f.approve(d, approvedAt)
	wantCode(t, s.DecideDeviceAuthorization(ctx, &gatehouse.DeviceDecision{TenantID: f.tn.ID, UserHash: d.UserHash, UserID: f.user.ID, Now: approvedAt}),
		gatehouse.ECONFLICT, "deny after approval")
	_, err = s.FindDeviceAuthorizationByUserCode(ctx, d.UserHash, approvedAt)
	wantCode(t, err, gatehouse.ENOTFOUND, "find a decided request")

	// The poll after approval gets the tokens, bound to the user, grant
	// and scopes; a second poll is ECONFLICT and issues nothing.
	r := f.poll(d, approvedAt.Add(20*time.Second))
	r.Issue[0].Scopes = []string{"ignored"}
	wantPoll(t, s, r, gatehouse.DevicePollIssued, "poll after approval")
	tok, err := s.FindCredentialByHash(ctx, r.Issue[0].Hash)
	must(t, err, "find issued token")
	if tok.UserID != f.user.ID || tok.GrantID != grant || !slices.Equal(tok.Scopes, []string{"catalog"}) {
		t.Errorf("issued token = %+v, want the approval's user, grant and scopes", tok)
	}
	r2 := f.poll(d, approvedAt.Add(40*time.Second))
	_, err = s.PollDeviceAuthorization(ctx, r2)
	wantCode(t, err, gatehouse.ECONFLICT, "poll a used device code")
	if _, err := s.FindCredentialByHash(ctx, r2.Issue[0].Hash); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("a replayed device code stored a token (%v)", err)
	}

	// Deny: access_denied on every poll.
	dn := f.request(nil)
	must(t, s.DecideDeviceAuthorization(ctx, &gatehouse.DeviceDecision{TenantID: f.tn.ID, UserHash: dn.UserHash, UserID: f.user.ID, Now: base.Add(time.Second)}), "deny")
	wantPoll(t, s, f.poll(dn, base.Add(10*time.Second)), gatehouse.DevicePollDenied, "poll after deny")
	wantPoll(t, s, f.poll(dn, base.Add(20*time.Second)), gatehouse.DevicePollDenied, "poll after deny again")

	// Expiry: an expired request cannot be decided and polls expired_token,
	// approved or not; a new request may take its user code.
	ex := f.request(nil)
	wantCode(t, s.DecideDeviceAuthorization(ctx, &gatehouse.DeviceDecision{TenantID: f.tn.ID, UserHash: ex.UserHash, UserID: f.user.ID, Allow: true,
		Scopes: ex.Scopes, GrantID: "g-late", Now: ex.ExpiresAt}), gatehouse.ENOTFOUND, "approve at expiry")
	wantPoll(t, s, f.poll(ex, ex.ExpiresAt), gatehouse.DevicePollExpired, "poll at expiry")
	ea := f.request(nil)
	f.approve(ea, base.Add(time.Second))
	wantPoll(t, s, f.poll(ea, ea.ExpiresAt.Add(time.Second)), gatehouse.DevicePollExpired, "poll an approved request after expiry")
	f.request(func(n *gatehouse.DeviceAuthorization) { n.UserHash = ex.UserHash; n.CreatedAt = ex.ExpiresAt })

	// A withdrawn consent between approval and poll: the request is
	// spent, nothing issued.
	wc := f.request(nil)
	f.approve(wc, base.Add(time.Second))
	must(t, s.DeleteConsent(ctx, f.tn.ID, f.user.ID, f.app.ID, base.Add(2*time.Second)), "delete consent")
	wr := f.poll(wc, base.Add(10*time.Second))
	_, err = s.PollDeviceAuthorization(ctx, wr)
	wantCode(t, err, gatehouse.EINVALID, "poll after the consent was withdrawn")
	if _, err := s.FindCredentialByHash(ctx, wr.Issue[0].Hash); !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t.Errorf("a poll without consent stored a token (%v)", err)
	}
	_, err = s.PollDeviceAuthorization(ctx, f.poll(wc, base.Add(20*time.Second)))
	wantCode(t, err, gatehouse.ECONFLICT, "the refused request is spent")
}

// testDeviceTenantIsolation: another tenant can neither decide nor poll a
// request, and deleting the app removes its requests.
func testDeviceTenantIsolation(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a := newDeviceFixture(t, s, "acme")
	b := newDeviceFixture(t, s, "globex")
	d := a.request(nil)
	wantCode(t, s.DecideDeviceAuthorization(ctx, &gatehouse.DeviceDecision{TenantID: b.tn.ID, UserHash: d.UserHash, UserID: b.user.ID, Allow: true,
		Scopes: d.Scopes, GrantID: "g-b", Now: base}), gatehouse.ENOTFOUND, "approve another tenant's request")
	bp := b.poll(d, base)
	_, err := s.PollDeviceAuthorization(ctx, bp)
	wantCode(t, err, gatehouse.EFORBIDDEN, "poll another tenant's request")
	// Still pending for its own tenant.
	wantPoll(t, s, a.poll(d, base.Add(time.Second)), gatehouse.DevicePollPending, "own poll")
	must(t, s.DeleteClient(ctx, a.tn.ID, a.app.ID, base), "delete app")
	_, err = s.PollDeviceAuthorization(ctx, a.poll(d, base.Add(10*time.Second)))
	wantCode(t, err, gatehouse.ENOTFOUND, "poll after the app was deleted")
}

// testConcurrentDevicePoll: of 20 polls of an approved request racing,
// exactly one gets the tokens; the others find it used.
func testConcurrentDevicePoll(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	f := newDeviceFixture(t, s, "acme")
	for round := range 3 {
		d := f.request(nil)
		grant := f.approve(d, base.Add(time.Duration(round+1)*time.Second))
		errs := race(20, func(i int) error {
			res, err := s.PollDeviceAuthorization(ctx, f.poll(d, base.Add(time.Minute)))
			if err == nil && res != gatehouse.DevicePollIssued {
				return fmt.Errorf("poll %d: %s", i, res)
			}
			return err
		})
		if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
			t.Errorf("round %d: %d of 20 racing polls got tokens, want exactly 1", round, ok)
		}
		if n := len(f.grantCreds(grant)); n != 1 {
			t.Errorf("round %d: %d tokens stored, want 1", round, n)
		}
	}
}

// testPoolDevicePoll races polls of distinct approved requests and of one
// at and past a small pool.
func testPoolDevicePoll(t *testing.T, s gatehouse.Store) {
	f := newDeviceFixture(t, s, "acme")
	ctx, n := smallPool(t, s)
	ds := make([]*gatehouse.DeviceAuthorization, n)
	for i := range ds {
		ds[i] = f.request(nil)
		f.approve(ds[i], base.Add(time.Duration(i)*time.Millisecond))
	}
	one := f.request(nil)
	grant := f.approve(one, base.Add(2*time.Minute))
	d, r := overPool(t, ctx, n,
		func(i int) error {
			_, err := s.PollDeviceAuthorization(ctx, f.poll(ds[i], base.Add(time.Minute)))
			return err
		},
		func(i int) error {
			_, err := s.PollDeviceAuthorization(ctx, f.poll(one, base.Add(time.Minute)))
			return err
		})
	wantOK(t, d, "", n, "distinct polls")
	wantOK(t, r, gatehouse.ECONFLICT, 1, "polls of one request")
	if got := len(f.grantCreds(grant)); got != 1 {
		t.Errorf("%d tokens stored for the raced request, want 1", got)
	}
}
