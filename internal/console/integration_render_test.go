package console

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/web"
)

// TestIntegrationActivatedVariants renders the answer to Allow for a
// delivery that was accepted and one that failed, in every language
// (TestEveryPageRenders covers the tokens variant).
func TestIntegrationActivatedVariants(t *testing.T) {
	cat, err := loadCatalog(web.Locales())
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{cat: cat, version: "test"}
	if c.pages, err = parseTemplates(web.Templates(), c.baseFuncs()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	row := integrationRow{ID: "int_1", Name: "Shop", Status: "pending", CallbackURL: "https://x.test/cb"}
	views := map[string]*integrationActivatedView{
		"delivered": {Integration: row, Delivered: true, Delivery: &deliveryRow{Time: now, URL: "https://x.test/cb", Status: 200},
			IdentityLinkURL: "https://x.test/login?oauth_consumer_key=k&success_call_back=y", Expiry: 300 * time.Second},
		"failed": {Integration: row, Delivery: &deliveryRow{Time: now, URL: "https://x.test/cb", Error: "dial tcp: refused"}, Nonce: "n"},
	}
	for _, tag := range cat.tags {
		for name, v := range views {
			t.Run(tag.String()+"/"+name, func(t *testing.T) {
				var logs bytes.Buffer
				loc := cat.localizer(tag, slog.New(slog.NewTextHandler(&logs, nil)))
				v.Base = Base{Title: "integration.delivery.title", Lang: loc.Lang(), CSRF: "csrf-token-value"}
				var buf bytes.Buffer
				if err := c.execute(&buf, "integration_activated", loc, v); err != nil {
					t.Fatal(err)
				}
				if logs.Len() > 0 {
					t.Errorf("missing messages:\n%s", logs.String())
				}
				out := buf.String()
				want := map[string]string{"delivered": `id="identity-link"`, "failed": `id="retry"`}[name]
				if !bytes.Contains(buf.Bytes(), []byte(want)) {
					t.Errorf("lacks %s:\n%s", want, out)
				}
			})
		}
	}
}
