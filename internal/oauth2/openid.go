package oauth2

import (
	"context"
	"net/http"
	"slices"
)

// OpenIDMetadata is the OpenID Provider Metadata (OpenID Connect Discovery
// 1.0 §3): the RFC 8414 document plus the fields OpenID Connect requires.
// The userinfo and end_session endpoints are listed only once they exist.
type OpenIDMetadata struct {
	Metadata
	// Discovery §3: the scopes; openid is added with ID tokens.
	ScopesSupported []string `json:"scopes_supported"`
	// Discovery §3 (required): subjects are the same for every client
	// ("public", Core §8).
	SubjectTypesSupported []string `json:"subject_types_supported"`
	// Discovery §3 (required): the algorithms the JWKS's keys sign with.
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
}

// OpenIDMetadata returns the discovery document; ok is false when the
// provider has no signing keys (Config.SigningAlgs unset).
func (p *Provider) OpenIDMetadata(ctx context.Context) (OpenIDMetadata, bool) {
	if p.signingAlgs == nil {
		return OpenIDMetadata{}, false
	}
	m := p.Metadata()
	// openid joins the scopes once the authorization endpoint issues ID
	// tokens for it (issue 15, item 3): a document that lists it before
	// would send a relying party into a login that cannot finish.
	return OpenIDMetadata{
		Metadata:                         m,
		ScopesSupported:                  slices.Clone(m.ScopesSupported),
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: p.signingAlgs(ctx),
	}, true
}

// OpenIDConfigurationHandler serves GET /.well-known/openid-configuration
// (OpenID Connect Discovery 1.0 §4): the document at the issuer's path
// plus /.well-known/openid-configuration, whose issuer is exactly the
// issuer a client used to find it (§4.3). 404 when the provider has no
// signing keys.
//
// Who controls the input: nobody — only the method is read.
func (p *Provider) OpenIDConfigurationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		m, ok := p.OpenIDMetadata(r.Context())
		if !ok {
			http.NotFound(w, r)
			return
		}
		// As the RFC 8414 document's: the algorithms change only with
		// the configuration, and a key of a new one pre-publishes longer.
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeJSON(w, http.StatusOK, m)
	})
}
