package oauth2

import (
	"context"
	"net/url"
	"slices"

	"github.com/gatehouse/gatehouse"
)

// grantClientCredentials issues an access token to the app itself (RFC
// 6749 §4.4): only confidential clients allowed the grant; the token's
// subject is the app (no user) and it gets no refresh token (§4.4.3). The
// scope defaults to every scope the app may have; it may be narrower,
// never wider. Each token stands alone: it belongs to no grant, since
// nothing revokes a client_credentials grant as a whole (revoking an
// access token revokes it alone), and a grant row with its index entries
// was a third of what issuing a token wrote.
func (p *Provider) grantClientCredentials(ctx context.Context, client *gatehouse.Client, form url.Values) (*tokenResponse, error) {
	if !client.Confidential || !client.AllowsGrant(gatehouse.GrantClientCredentials) {
		return nil, unauthorizedClient("the client may not use the client_credentials grant")
	}
	scopes, err := p.scopeParam(form)
	if err != nil {
		return nil, err
	}
	// SPEC §9: never manage, whatever the app's registration says.
	allowed := gatehouse.AppScopes(client.Scopes)
	switch {
	case scopes == nil:
		scopes = allowed
	case slices.Contains(scopes, gatehouse.ScopeAll):
		// "all" means the app's resource-tree scopes (SPEC §3), as at
		// authorization.
		rest := without(scopes, gatehouse.ScopeAll)
		if !p.tree.Subset(rest, allowed) {
			return nil, invalidScope("the requested scope exceeds the app's scopes")
		}
		scopes = p.expandAll(allowed, rest)
	case !p.tree.Subset(scopes, allowed):
		return nil, invalidScope("the requested scope exceeds the app's scopes")
	}
	access := p.newAccess(client, "", "", scopes, p.clock())
	if err := p.issueTokens(ctx, client, "", access); err != nil {
		return nil, err
	}
	return response(access, nil), nil
}

func without(s []string, v string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(x string) bool { return x == v })
}
