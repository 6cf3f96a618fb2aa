package console

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/web"
	"golang.org/x/text/language"
)

// TestCredentialPagesShowEveryColumn renders each fact that a kind's
// pages list (its list or tab, result and confirmation) for a credential
// that has every field and for one that lacks the optional ones: each
// must come out as a value, so a column whose Field the credential_value
// partial does not know, or whose Empty message is missing, fails here
// rather than rendering an empty cell. The flash after a revocation must
// be one the console accepts back.
func TestCredentialPagesShowEveryColumn(t *testing.T) {
	cat, err := loadCatalog(web.Locales())
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{cat: cat, version: "test"}
	if c.pages, err = parseTemplates(web.Templates(), c.baseFuncs()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	full := credentialRow{ID: "crd_1", Name: "Export", Hint: "gate_pat_AbCd…", Holder: "owner@acme.test",
		Scopes: []string{"sales"}, CreatedAt: now, ExpiresAt: &now, LastUsedAt: &now, AllowEntries: 2}
	never := credentialRow{ID: "crd_2", Name: "Forever", Hint: "gate_pat_XyZw…", Holder: "owner@acme.test",
		Scopes: []string{"all"}, CreatedAt: now}
	for _, p := range []*credentialPage{&patPage, &apiKeyPage, &staffPage} {
		if spec, ok := p.Kind.Spec(); !ok || spec.Created == "" {
			t.Errorf("%s: pages for a kind the management path does not create", p.Kind)
		}
		// takeFlash drops an ID it does not know: the list would say nothing.
		if !flashMessages[p.Revoke.Flash] {
			t.Errorf("%s: flash %q is not in flashMessages", p.Kind, p.Revoke.Flash)
		}
		for _, cols := range [][]column{p.Columns, p.Shown, p.Facts} {
			if len(cols) == 0 && cols != nil {
				t.Errorf("%s: an empty column list", p.Kind)
			}
			for _, row := range []credentialRow{full, never} {
				for _, cl := range row.Cells(cols) {
					var logs bytes.Buffer
					loc := cat.localizer(language.English, slog.New(slog.NewTextHandler(&logs, nil)))
					tmpl, err := c.pages["credentials"].Clone()
					if err != nil {
						t.Fatal(err)
					}
					tmpl.Funcs(map[string]any{"T": loc.T})
					var buf bytes.Buffer
					if err := tmpl.ExecuteTemplate(&buf, "credential_value", cl); err != nil {
						t.Fatalf("%s %s: %v", p.Kind, cl.Field, err)
					}
					if strings.TrimSpace(buf.String()) == "" || logs.Len() > 0 {
						t.Errorf("%s: column %q of %s renders %q (missing messages: %s)", p.Kind, cl.Field, row.Name, buf.String(), logs.String())
					}
				}
			}
		}
	}
}
