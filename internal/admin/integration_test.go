package admin_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstoretest"
)

// integrationFixture is setupOn with what integrations need: a keyring,
// a deliverer that accepts every POST and the callback policy p.
func integrationFixture(t *testing.T, databaseURL string, p admin.CallbackPolicy) *fixture {
	t.Helper()
	keys, err := secret.NewKeyring(make([]byte, secret.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(context.Context, string, url.Values) (int, error) { return 200, nil }
	return setupOn(t, databaseURL, admin.Options{Keys: keys, Deliver: deliver, Callbacks: p, PublicURL: "https://gate.example"})
}

// TestIntegrationSaveRefusesHTTP: an http callback or identity link URL
// is refused when the integration is saved, created or edited, with the
// reason in the admin's words on the field (issue 14): never at Activate
// only, and never naming an operator setting. The operator's development
// switch (AllowHTTP) allows http to loopback hosts only, as the deliverer
// does; AllowPrivate (every host) allows no http. The SSRF rules hold at
// save too.
func TestIntegrationSaveRefusesHTTP(t *testing.T) {
	policies := map[string]admin.CallbackPolicy{
		"default":       {},
		"AllowHTTP":     {AllowHTTP: true},
		"AllowPrivate":  {AllowPrivate: true},
		"AllowHTTP+Any": {AllowHTTP: true, AllowPrivate: true},
	}
	https := func(field string) string {
		return map[string]string{"callback_url": "the callback URL must start with https://",
			"identity_link_url": "the identity link URL must start with https://"}[field]
	}
	const private = "must name a public host"
	cases := map[string]map[string]saveCase{
		"default": {
			"https":                  {callback: "https://erp.example/cb", identity: "https://erp.example/login"},
			"http callback":          {callback: "http://erp.example/cb", field: "callback_url", message: https("callback_url")},
			"HTTP callback":          {callback: "HTTP://erp.example/cb", field: "callback_url", message: https("callback_url")},
			"http identity link":     {identity: "http://erp.example/login", field: "identity_link_url", message: https("identity_link_url")},
			"http loopback":          {callback: "http://127.0.0.1:8080/cb", field: "callback_url", message: https("callback_url")},
			"https metadata address": {callback: "https://169.254.169.254/latest/meta-data/", field: "callback_url", message: private},
			"https internal name":    {identity: "https://metadata.google.internal/", field: "identity_link_url", message: private},
		},
		"AllowHTTP": {
			"http loopback":        {callback: "http://127.0.0.1:8080/cb", identity: "http://localhost:8080/login"},
			"http public host":     {callback: "http://erp.example/cb", field: "callback_url", message: https("callback_url")},
			"http private address": {callback: "http://10.0.0.1/cb", field: "callback_url", message: https("callback_url")},
			"https loopback":       {callback: "https://127.0.0.1/cb", field: "callback_url", message: private},
		},
		"AllowPrivate": {
			"https private":    {callback: "https://10.0.0.1/cb", identity: "https://printer.local/"},
			"http public host": {callback: "http://erp.example/cb", field: "callback_url", message: https("callback_url")},
			"http loopback":    {identity: "http://127.0.0.1/login", field: "identity_link_url", message: https("identity_link_url")},
		},
		"AllowHTTP+Any": {
			"http loopback":    {callback: "http://[::1]:9/cb"},
			"http public host": {callback: "http://erp.example/cb", field: "callback_url", message: https("callback_url")},
		},
	}
	for pname, p := range policies {
		t.Run(pname, func(t *testing.T) { testSaveRefusesHTTP(t, pname, p, cases[pname]) })
	}
}

// saveCase is a save of TestIntegrationSaveRefusesHTTP.
type saveCase struct {
	callback, identity string
	field              string // "" = saved
	message            string // the refusal's message, when field is set
}

func testSaveRefusesHTTP(t *testing.T, pname string, p admin.CallbackPolicy, cases map[string]saveCase) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		f := integrationFixture(t, databaseURL, p)
		ctx := context.Background()
		// The integration every edit below starts from.
		base, err := f.svc.CreateIntegration(ctx, f.owner, admin.IntegrationInput{Name: "Base " + pname, CallbackURL: "", AllResources: true})
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				in := admin.IntegrationInput{Name: name, CallbackURL: c.callback, IdentityLinkURL: c.identity, AllResources: true}
				check := func(op string, err error) {
					t.Helper()
					if c.field == "" {
						if err != nil {
							t.Fatalf("%s: %v, want saved", op, err)
						}
						return
					}
					var ge *gatehouse.Error
					if !errors.As(err, &ge) || ge.Code != gatehouse.EINVALID || ge.Field != c.field || !strings.Contains(ge.Message, c.message) {
						t.Fatalf("%s: %v, want EINVALID on %s saying %q", op, err, c.field, c.message)
					}
					if strings.Contains(ge.Message, "GATEHOUSE_") || strings.Contains(ge.Message, c.field) {
						t.Fatalf("%s: the message %q names an operator setting or a field name", op, ge.Message)
					}
				}
				created, err := f.svc.CreateIntegration(ctx, f.owner, in)
				check("create", err)
				_, err = f.svc.UpdateIntegration(ctx, f.owner, base.ID, in)
				check("edit", err)
				got, err := f.svc.Integration(ctx, f.owner, base.ID)
				if err != nil {
					t.Fatal(err)
				}
				if c.field != "" {
					if got.CallbackURL != "" || got.IdentityLinkURL != "" {
						t.Fatalf("a refused edit was stored: %q %q", got.CallbackURL, got.IdentityLinkURL)
					}
					return
				}
				if created.CallbackURL != c.callback || got.CallbackURL != c.callback {
					t.Fatalf("saved callback %q / %q, want %q", created.CallbackURL, got.CallbackURL, c.callback)
				}
				// Put the base back for the next case.
				if _, err := f.svc.UpdateIntegration(ctx, f.owner, base.ID, admin.IntegrationInput{Name: base.Name, AllResources: true}); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// TestIntegrationSavedMeansDeliverable: whatever a policy lets an
// integration save, the same policy's scheme check at delivery accepts
// (admin.CallbackPolicy.CheckScheme, which the oauth1 deliverer applies),
// so no saved integration fails Activate for its scheme.
func TestIntegrationSavedMeansDeliverable(t *testing.T) {
	urls := []string{"https://erp.example/cb", "http://erp.example/cb", "http://127.0.0.1:9/cb", "http://localhost/cb",
		"http://app.localhost/cb", "http://[::1]/cb", "http://10.0.0.1/cb", "https://10.0.0.1/cb", "HTTP://127.0.0.1/cb"}
	for _, p := range []admin.CallbackPolicy{{}, {AllowHTTP: true}, {AllowPrivate: true}, {AllowHTTP: true, AllowPrivate: true}} {
		refused := 0
		for _, raw := range urls {
			saved := p.CheckURL("callback_url", raw) == nil
			u, _ := url.Parse(raw)
			deliverable := p.CheckScheme("callback_url", u) == nil
			if saved && !deliverable {
				t.Errorf("%+v: %s is saved but refused at delivery", p, raw)
			}
			if !deliverable {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("%+v: every URL is deliverable, http://erp.example/cb too", p)
		}
	}
}

// TestIntegrationReauthorizedNotice: the notification that ends a
// handshake says what started it: "authorized" after Activate,
// "reauthorized" after Reauthorize, its own message, whether the tokens
// are issued at once (no callback URL) or at the end of the token
// exchange (the oauth1 provider's IssueIntegrationAccess).
func TestIntegrationReauthorizedNotice(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, databaseURL string) {
		f := integrationFixture(t, databaseURL, admin.CallbackPolicy{})
		ctx := context.Background()
		latest := func(t *testing.T) *gatehouse.Notification {
			t.Helper()
			ns, err := f.svc.Notifications(ctx, f.owner)
			if err != nil || len(ns) == 0 {
				t.Fatalf("notifications: %v, %v", ns, err)
			}
			return ns[0]
		}
		dismiss := func(t *testing.T) {
			t.Helper()
			if err := f.svc.DismissNotifications(ctx, f.owner); err != nil {
				t.Fatal(err)
			}
		}
		want := func(t *testing.T, step, id, text string) {
			t.Helper()
			n := latest(t)
			if n.MessageID != id || n.Args["Name"] == "" || !strings.Contains(n.Message, text) {
				t.Fatalf("%s: notification %s %q, want %s saying %q", step, n.MessageID, n.Message, id, text)
			}
			dismiss(t)
		}

		t.Run("without a callback", func(t *testing.T) {
			i, err := f.svc.CreateIntegration(ctx, f.owner, admin.IntegrationInput{Name: "Direct", AllResources: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.ActivateIntegration(ctx, f.owner, i.ID); err != nil {
				t.Fatal(err)
			}
			want(t, "activate", gatehouse.NoticeIntegrationAuthorized, "has been authorized")
			for range 2 {
				act, err := f.svc.ReauthorizeIntegration(ctx, f.owner, i.ID)
				if err != nil || act.AccessToken == "" || act.Integration.Status != gatehouse.IntegrationActive {
					t.Fatalf("reauthorize: %+v, %v", act, err)
				}
				want(t, "reauthorize", gatehouse.NoticeIntegrationReauthorized, "has been reauthorized")
			}
		})
		t.Run("with a callback", func(t *testing.T) {
			i, err := f.svc.CreateIntegration(ctx, f.owner, admin.IntegrationInput{Name: "Called back", CallbackURL: "https://erp.example/cb", AllResources: true})
			if err != nil {
				t.Fatal(err)
			}
			act, err := f.svc.ActivateIntegration(ctx, f.owner, i.ID)
			if err != nil || !act.Delivered() {
				t.Fatalf("activate: %+v, %v", act, err)
			}
			// The consumer's token exchange ends in IssueIntegrationAccess.
			if _, _, err := f.svc.IssueIntegrationAccess(ctx, act.Integration, "integration Called back", ""); err != nil {
				t.Fatal(err)
			}
			want(t, "activate", gatehouse.NoticeIntegrationAuthorized, "has been authorized")
			act, err = f.svc.ReauthorizeIntegration(ctx, f.owner, i.ID)
			if err != nil || !act.Delivered() {
				t.Fatalf("reauthorize: %+v, %v", act, err)
			}
			// An edit while the exchange is pending changes nothing.
			if _, err := f.svc.UpdateIntegration(ctx, f.owner, i.ID, admin.IntegrationInput{Name: "Called back", CallbackURL: "https://erp.example/cb2", AllResources: true}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.svc.IssueIntegrationAccess(ctx, act.Integration, "integration Called back", ""); err != nil {
				t.Fatal(err)
			}
			want(t, "reauthorize", gatehouse.NoticeIntegrationReauthorized, "has been reauthorized")
		})
	})
}
