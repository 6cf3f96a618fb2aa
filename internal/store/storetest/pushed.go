package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
)

// pushed stores a pushed authorization request of the app, pushed at base
// and expiring 90 s later.
func pushed(t *testing.T, s gatehouse.Store, app *gatehouse.Client) *gatehouse.PushedRequest {
	t.Helper()
	r := &gatehouse.PushedRequest{
		Hash:      randomHash(),
		TenantID:  app.TenantID,
		ClientID:  app.ID,
		Params:    "client_id=" + app.ID + "&response_type=code&scope=catalog&state=s%201",
		ExpiresAt: base.Add(90 * time.Second),
		CreatedAt: base,
	}
	must(t, s.CreatePushedRequest(t.Context(), r), "create pushed request")
	return r
}

// testPushedRequests: a pushed request opens (the first opening moves its
// expiry to the round trip's end, later ones change nothing), is consumed
// once, and is refused when used, expired or unknown.
func testPushedRequests(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	app := newClient(t, s, tn.ID, "APIK-PAR", func(c *gatehouse.Client) { c.RequirePAR = true })
	if got, err := s.FindClient(ctx, app.ID); err != nil || !got.RequirePAR {
		t.Fatalf("FindClient = %+v, %v; want RequirePAR", got, err)
	}
	r := pushed(t, s, app)
	wantCode(t, s.CreatePushedRequest(ctx, &gatehouse.PushedRequest{Hash: r.Hash, TenantID: tn.ID, ClientID: app.ID, ExpiresAt: base}),
		gatehouse.ECONFLICT, "the same hash again")
	wantCode(t, s.CreatePushedRequest(ctx, &gatehouse.PushedRequest{Hash: randomHash(), TenantID: tn.ID, ClientID: "APIK-NONE", ExpiresAt: base}),
		gatehouse.ENOTFOUND, "an unknown app")

	open := base.Add(30 * time.Second)
	until := open.Add(10 * time.Minute)
	got, err := s.OpenPushedRequest(ctx, tn.ID, app.ID, r.Hash, open, until)
	must(t, err, "open")
	want := *r
	want.OpenedAt, want.ExpiresAt = &open, until
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("opened (-want +got):\n%s", diff)
	}
	// Later openings (the login's return, the consent form) keep both.
	again := base.Add(5 * time.Minute)
	got, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, r.Hash, again, again.Add(10*time.Minute))
	must(t, err, "open again")
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("opened again (-want +got):\n%s", diff)
	}
	used := base.Add(6 * time.Minute)
	must(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, r.Hash, used), "consume")
	wantCode(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, r.Hash, used), gatehouse.ECONFLICT, "consume again")
	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, r.Hash, used, used.Add(time.Minute))
	wantCode(t, err, gatehouse.ECONFLICT, "open after use")

	// Expiry: not opened within expires_in; opened but the round trip
	// outlasted; the expiry instant itself is past.
	late := pushed(t, s, app)
	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, late.Hash, late.ExpiresAt, late.ExpiresAt.Add(time.Minute))
	wantCode(t, err, gatehouse.EINVALID, "open at the expiry")
	wantCode(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, late.Hash, late.ExpiresAt), gatehouse.EINVALID, "consume at the expiry")
	slow := pushed(t, s, app)
	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, slow.Hash, base, base.Add(time.Minute))
	must(t, err, "open slow")
	wantCode(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, slow.Hash, base.Add(time.Minute)), gatehouse.EINVALID, "consume after the round trip")
	// Never opened: consumable within expires_in (the covered-consent
	// path opens and consumes in one request, but the store does not
	// require the order).
	direct := pushed(t, s, app)
	must(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, direct.Hash, base.Add(time.Second)), "consume unopened")

	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, randomHash(), base, base)
	wantCode(t, err, gatehouse.ENOTFOUND, "open unknown")
	wantCode(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, randomHash(), base), gatehouse.ENOTFOUND, "consume unknown")

	// Deleting the app deletes its pushed requests.
	fresh := pushed(t, s, app)
	must(t, s.DeleteClient(ctx, tn.ID, app.ID, base), "delete client")
	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, fresh.Hash, base, base.Add(time.Minute))
	wantCode(t, err, gatehouse.ENOTFOUND, "open after the app's deletion")
}

// testPrunePushedRequests: the janitor's batch deletes pushed requests
// that expired before the cutoff, used or not, and keeps the others.
func testPrunePushedRequests(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	app := newClient(t, s, tn.ID, "APIK-PAR", nil)
	used, unused := pushed(t, s, app), pushed(t, s, app)
	must(t, s.ConsumePushedRequest(ctx, tn.ID, app.ID, used.Hash, base), "consume")
	live := pushed(t, s, app)
	_, err := s.OpenPushedRequest(ctx, tn.ID, app.ID, live.Hash, base, base.Add(time.Hour))
	must(t, err, "open")
	wantPruned(t, s, gatehouse.PrunePushedRequests, used.ExpiresAt, 0) // not before the expiry
	wantPruned(t, s, gatehouse.PrunePushedRequests, unused.ExpiresAt.Add(time.Microsecond), 2)
	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, unused.Hash, base, base.Add(time.Hour))
	wantCode(t, err, gatehouse.ENOTFOUND, "open a pruned request")
	_, err = s.OpenPushedRequest(ctx, tn.ID, app.ID, live.Hash, base.Add(time.Minute), base.Add(time.Hour))
	must(t, err, "open the kept request")
}

// testPushedRequestIsolation: another app's (and another tenant's app's)
// pushed request is not known to an app, and the refusal changes nothing.
func testPushedRequestIsolation(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s, "acme"), newTenant(t, s, "bolt")
	mine := newClient(t, s, a.ID, "APIK-MINE", nil)
	sibling := newClient(t, s, a.ID, "APIK-SIBLING", nil)
	other := newClient(t, s, b.ID, "APIK-OTHER", nil)
	r := pushed(t, s, mine)
	for _, c := range []struct {
		name             string
		tenant, clientID string
	}{
		{"same tenant, other app", a.ID, sibling.ID},
		{"other tenant's app", b.ID, other.ID},
		{"other tenant, the app's id", b.ID, mine.ID},
	} {
		_, err := s.OpenPushedRequest(ctx, c.tenant, c.clientID, r.Hash, base, base.Add(time.Minute))
		wantCode(t, err, gatehouse.ENOTFOUND, "open: "+c.name)
		wantCode(t, s.ConsumePushedRequest(ctx, c.tenant, c.clientID, r.Hash, base), gatehouse.ENOTFOUND, "consume: "+c.name)
	}
	wantCode(t, s.CreatePushedRequest(ctx, &gatehouse.PushedRequest{Hash: randomHash(), TenantID: b.ID, ClientID: mine.ID, ExpiresAt: base}),
		gatehouse.ENOTFOUND, "a request of another tenant's app")
	got, err := s.OpenPushedRequest(ctx, a.ID, mine.ID, r.Hash, base, base.Add(time.Minute))
	must(t, err, "open by its own app")
	if got.UsedAt != nil || !got.OpenedAt.Equal(base) {
		t.Errorf("after the refusals: %+v, want unused and first opened now", got)
	}
}

// testConcurrentConsumePushed: of 20 racing consumptions of one pushed
// request exactly one succeeds (RFC 9126 §4: one-time use).
func testConcurrentConsumePushed(t *testing.T, s gatehouse.Store) {
	ctx := t.Context()
	tn := newTenant(t, s, "acme")
	app := newClient(t, s, tn.ID, "APIK-PAR", nil)
	for round := range 3 {
		r := pushed(t, s, app)
		errs := race(20, func(i int) error {
			if i%2 == 0 {
				if _, err := s.OpenPushedRequest(ctx, tn.ID, app.ID, r.Hash, base, base.Add(time.Minute)); err != nil && !gatehouse.IsCode(err, gatehouse.ECONFLICT) {
					return err
				}
			}
			return s.ConsumePushedRequest(ctx, tn.ID, app.ID, r.Hash, base.Add(time.Second))
		})
		if ok := count(t, errs, gatehouse.ECONFLICT); ok != 1 {
			t.Errorf("round %d: %d of 20 racing consumptions succeeded, want exactly 1", round, ok)
		}
	}
}

func testPoolConsumePushed(t *testing.T, s gatehouse.Store) {
	tn := newTenant(t, s, "acme")
	app := newClient(t, s, tn.ID, "APIK-PAR", nil)
	ctx, n := smallPool(t, s)
	rs := make([]*gatehouse.PushedRequest, n)
	for i := range rs {
		rs[i] = pushed(t, s, app)
	}
	one := pushed(t, s, app)
	d, r := overPool(t, ctx, n,
		func(i int) error { return s.ConsumePushedRequest(ctx, tn.ID, app.ID, rs[i].Hash, base) },
		func(i int) error { return s.ConsumePushedRequest(ctx, tn.ID, app.ID, one.Hash, base) })
	wantOK(t, d, "", n, "distinct consumptions")
	wantOK(t, r, gatehouse.ECONFLICT, 1, "consumptions of one request")
}
