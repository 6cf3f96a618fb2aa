package oauth2_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	provider "github.com/gatehouse/gatehouse/internal/oauth2"
)

// TestAuthorizeStateCapped: a state longer than MaxStateLen is refused
// with invalid_request and not echoed, so a request cannot make the
// redirect (its Location header) arbitrarily large.
func TestAuthorizeStateCapped(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, _ := e.app(e.owner, true, []string{"catalog"})
		q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "scope": {"catalog"}}
		q.Set("state", strings.Repeat("s", provider.MaxStateLen))
		if _, err := e.p.ParseAuthorize(e.ctx, q); err != nil {
			t.Fatalf("state of %d bytes: %v", provider.MaxStateLen, err)
		}
		q.Set("state", strings.Repeat("s", 900<<10))
		_, err := e.p.ParseAuthorize(e.ctx, q)
		var ae *provider.AuthorizeError
		if !errors.As(err, &ae) || ae.Code != "invalid_request" {
			t.Fatalf("state of 900 KiB: %v", err)
		}
		if len(ae.RedirectURL) > 1024 || strings.Contains(ae.RedirectURL, "state=") {
			t.Fatalf("the refusal echoes the state: %d bytes", len(ae.RedirectURL))
		}
	})
}
